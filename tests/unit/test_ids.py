"""verify.domain.holder_ids: GB 11643 check digit, the other ID types, normalisation and masking.

The check digit is tested against an independent implementation written straight from the
standard's weight and remainder tables (docs/SECURITY.md §2.4), not against the module's own shortcut.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.domain.errors import InvalidId, Problem
from verify.domain.holder_ids import (
    ID_TAIL_LENGTH,
    ID_TYPE_LABELS_ZH,
    IdType,
    _validate_full,
    gb11643_check_char,
    id_tail,
    make_resident_id,
    mask_id,
    normalize_id,
    validate_id,
)

TODAY = date(2026, 11, 25)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
Y_TO_CHECK = "10X98765432"  # the table in GB 11643-1999: remainder Y -> check character


def reference_check(first17: str) -> str:
    return Y_TO_CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


PROVINCES = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
]  # fmt: skip

regions = st.builds(lambda p, rest: f"{p}{rest:04d}", st.sampled_from(PROVINCES), st.integers(0, 9999))
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(0, 999)
resident_ids = st.builds(make_resident_id, regions, births, sequences)


def codes(exc: pytest.ExceptionInfo[InvalidId]) -> set[str]:
    return {p.code for p in exc.value.problems}


def all_text(exc: InvalidId) -> list[str]:
    """Everything an error could leak into a log or an API answer."""
    texts = [str(exc), exc.message_zh, exc.message_en, repr(exc.to_json())]
    for p in exc.problems:
        texts += [str(v) for v in p.to_json().values()]
    return texts


def assert_no_leak(exc: InvalidId, *secrets: str) -> None:
    for text in all_text(exc):
        for secret in secrets:
            assert secret not in text


# ---------------------------------------------------------------------------------------------------------
# GB 11643 examples and check digit


@pytest.mark.parametrize(
    ("number", "total", "y"),
    [("11010519491231002X", 167, 2), ("440524188001010014", 195, 8), ("360426199101010071", None, None)],
)
def test_worked_examples_check_digit(number: str, total: int | None, y: int | None) -> None:
    first17 = number[:17]
    if total is not None:
        assert sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) == total
        assert total % 11 == y
    assert gb11643_check_char(first17) == number[17] == reference_check(first17)


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "360426199101010071"])
def test_worked_examples_validate(number: str) -> None:
    assert validate_id(number, today=TODAY) == number


def test_births_before_1850_are_typos() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id(make_resident_id("440524", date(1849, 12, 31), 1), today=TODAY)
    assert codes(exc) == {"id_birth_too_early"}


def test_lower_case_x_and_full_width_are_normalised() -> None:
    assert validate_id("11010519491231002x", today=TODAY) == "11010519491231002X"
    assert validate_id("１１０１０５１９４９１２３１００２Ｘ", today=TODAY) == "11010519491231002X"
    assert validate_id("１１０１０５１９４９１２３１００２ｘ", today=TODAY) == "11010519491231002X"
    assert validate_id(" 110105 19491231 002X\u3000", today=TODAY) == "11010519491231002X"
    assert validate_id("110105\u200b19491231002X\ufeff", today=TODAY) == "11010519491231002X"


def test_normalize_id() -> None:
    assert normalize_id("ｅ１２３４５６７８") == "E12345678"
    assert normalize_id(" h 1234 5678 ") == "H12345678"
    assert normalize_id("") == ""


@pytest.mark.parametrize(
    ("birth", "code"),
    [
        ("19990230", "id_birth_date"),
        ("19990229", "id_birth_date"),  # 1999 is not a leap year
        ("19001301", "id_birth_date"),  # month 13
        ("19000229", "id_birth_date"),  # 1900 is not a leap year (century rule)
        ("19900100", "id_birth_date"),
        ("19900431", "id_birth_date"),
        ("20261126", "id_birth_future"),  # one day after TODAY
        ("20270101", "id_birth_future"),
        ("18491231", "id_birth_too_early"),
    ],
)
def test_impossible_and_out_of_range_birth_dates(birth: str, code: str) -> None:
    first17 = f"110105{birth}002"
    number = first17 + reference_check(first17)
    with pytest.raises(InvalidId) as exc:
        validate_id(number, today=TODAY)
    assert codes(exc) == {code}
    assert_no_leak(exc.value, number, birth)


@pytest.mark.parametrize("birth", [date(2000, 2, 29), date(1900, 1, 1), TODAY])
def test_edge_birth_dates_accepted(birth: date) -> None:
    number = make_resident_id("110105", birth, 2)
    assert validate_id(number, today=TODAY) == number


def test_today_is_a_parameter() -> None:
    number = make_resident_id("110105", date(2030, 1, 1), 1)
    with pytest.raises(InvalidId):
        validate_id(number, today=TODAY)
    assert validate_id(number, today=date(2030, 1, 1)) == number


def test_length_and_characters_all_reported() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id("11A10519491231002", today=TODAY)
    problems = exc.value.problems
    assert {p.code for p in problems} == {"id_length", "id_char"}
    char = next(p for p in problems if p.code == "id_char")
    assert (char.position, char.found) == (3, "A")
    length = next(p for p in problems if p.code == "id_length")
    assert (length.found, length.allowed) == ("17", "18")


def test_x_only_in_last_position() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id("1101051949123100X2", today=TODAY)
    assert [(p.code, p.position) for p in exc.value.problems] == [("id_char", 17)]


def test_check_digit_problem_says_found_and_expected() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id("110105194912310021", today=TODAY)
    (problem,) = exc.value.problems
    assert problem == Problem(
        "id_check_digit",
        problem.message_zh,
        problem.message_en,
        position=18,
        found="1",
        allowed="X",
    )


def test_messages_are_chinese_then_english() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id("110105194912310021", today=TODAY)
    assert "居民身份证" in exc.value.message_zh
    assert "Resident" in exc.value.message_en
    assert exc.value.to_json()["message"] == {"zh": exc.value.message_zh, "en": exc.value.message_en}


def test_region_codes() -> None:
    permit = make_resident_id("810000", date(1990, 1, 1), 11)
    with pytest.raises(InvalidId) as exc:
        validate_id(permit, today=TODAY)
    assert codes(exc) == {"id_region"}
    assert "港澳台居民居住证" in exc.value.message_zh
    with pytest.raises(InvalidId) as exc:
        validate_id(make_resident_id("990000", date(1990, 1, 1), 11), today=TODAY)
    assert codes(exc) == {"id_region"}


def test_input_far_too_long_is_rejected_without_scanning() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id("1" * 10_000, today=TODAY)
    assert codes(exc) == {"id_length"}


def test_empty_and_unknown_type() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id("   ", today=TODAY)
    assert codes(exc) == {"id_empty"}
    with pytest.raises(InvalidId) as exc:
        validate_id("11010519491231002X", "driving_licence", today=TODAY)  # type: ignore[arg-type]
    assert codes(exc) == {"id_type"}


def test_plain_string_type_is_accepted() -> None:
    assert validate_id("11010519491231002X", "resident_id", today=TODAY) == "11010519491231002X"  # type: ignore[arg-type]


def test_gb11643_check_char_rejects_bad_input() -> None:
    for bad in [
        "",
        "1101051949123100",
        "110105194912310021",
        "1101051949123100A",
        "１１０１０５１９４９１２３１００２",
    ]:
        with pytest.raises(ValueError):
            gb11643_check_char(bad)


def test_make_resident_id_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        make_resident_id("11010", date(1990, 1, 1), 1)
    with pytest.raises(ValueError):
        make_resident_id("110105", date(1990, 1, 1), 1000)
    with pytest.raises(ValueError):
        make_resident_id("110105", date(1990, 1, 1), -1)


# ---------------------------------------------------------------------------------------------------------
# Property tests (docs/SECURITY.md §5 P6)


@given(regions, births, sequences)
def test_make_resident_id_round_trips(region: str, birth: date, sequence: int) -> None:
    number = make_resident_id(region, birth, sequence)
    assert len(number) == 18
    assert number[:6] == region
    assert number[6:14] == birth.strftime("%Y%m%d")
    assert number[17] == reference_check(number[:17])
    assert validate_id(number, today=TODAY) == number
    assert validate_id(number.lower(), today=TODAY) == number


@given(resident_ids)
def test_every_single_substitution_is_rejected(number: str) -> None:
    for i in range(18):
        for c in "0123456789X":
            if c == number[i]:
                continue
            mutated = number[:i] + c + number[i + 1 :]
            with pytest.raises(InvalidId) as exc:
                validate_id(mutated, today=TODAY)
            if c != "X" or i == 17:
                # MOD 11-2 itself catches it, whatever else (date, region) also went wrong.
                assert "id_check_digit" in codes(exc)
            assert_no_leak(exc.value, mutated, number, mutated[:17])


@given(resident_ids)
def test_every_adjacent_transposition_is_rejected(number: str) -> None:
    for i in range(17):
        if number[i] == number[i + 1]:
            continue
        mutated = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        with pytest.raises(InvalidId) as exc:
            validate_id(mutated, today=TODAY)
        if "X" not in mutated[:17]:
            assert "id_check_digit" in codes(exc)
        assert_no_leak(exc.value, mutated, number)


hkmotw_ids = st.builds(make_resident_id, st.sampled_from(["810000", "820000", "830000"]), births, sequences)


@given(hkmotw_ids)
def test_hkmotw_permits_use_the_same_check_digit(number: str) -> None:
    assert validate_id(number, IdType.HKMOTW_RESIDENCE, today=TODAY) == number
    bad = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(InvalidId) as exc:
        validate_id(bad, IdType.HKMOTW_RESIDENCE, today=TODAY)
    assert codes(exc) == {"id_check_digit"}


near_ids = st.one_of(
    st.text(alphabet="0123456789Xx ", min_size=15, max_size=20),
    st.builds(
        lambda n, i, c: n[:i] + c + n[i + 1 :],
        resident_ids,
        st.integers(0, 17),
        st.sampled_from("0123456789X"),
    ),
    resident_ids,
    hkmotw_ids,
)


@settings(max_examples=500)
@given(near_ids, st.sampled_from([IdType.RESIDENT, IdType.HKMOTW_RESIDENCE]))
def test_fast_path_agrees_with_full_check(raw: str, id_type: IdType) -> None:
    # The fast path may only accept; it must never accept anything the full check rejects.
    try:
        expected: str | None = _validate_full(raw, id_type, TODAY)
    except InvalidId:
        expected = None
    try:
        got: str | None = validate_id(raw, id_type, today=TODAY)
    except InvalidId:
        got = None
    assert got == expected


# ---------------------------------------------------------------------------------------------------------
# Other ID types


@pytest.mark.parametrize(
    ("id_type", "raw", "canonical"),
    [
        (IdType.HKMOTW_RESIDENCE, "810000199001010035", "810000199001010035"),
        (IdType.HK_MACAO_PASS, "H12345678", "H12345678"),
        (IdType.HK_MACAO_PASS, "m 1234 5678", "M12345678"),
        (IdType.HK_MACAO_PASS, "H1234567801", "H12345678"),  # old card: + 2-digit renewal count
        (IdType.TAIWAN_PASS, "12345678", "12345678"),
        (IdType.TAIWAN_PASS, "1234567801", "12345678"),  # old card: + 2-digit issue count
        (IdType.TAIWAN_PASS, "1234567801（B）", "12345678"),  # old card with issuing-office code
        (IdType.FOREIGN_PERMANENT, "USA123456789012", "USA123456789012"),
        (IdType.FOREIGN_PERMANENT, "usa123456789012", "USA123456789012"),
        (IdType.FOREIGN_PERMANENT, "911156199001010010", "911156199001010010"),
        (IdType.PASSPORT, "E12345678", "E12345678"),
        (IdType.PASSPORT, "123456789", "123456789"),  # all-digit passports exist
        (IdType.PASSPORT, "ea1234567", "EA1234567"),
        (IdType.PASSPORT, "C01X00T47", "C01X00T47"),
        (IdType.PASSPORT, "ABCDE", "ABCDE"),
        (IdType.PASSPORT, "A1234567890123456", "A1234567890123456"),
    ],
)
def test_other_types_valid(id_type: IdType, raw: str, canonical: str) -> None:
    assert validate_id(raw, id_type, today=TODAY) == canonical


def test_foreign_example_check_digit() -> None:
    assert gb11643_check_char("91115619900101001") == "0" == reference_check("91115619900101001")


@pytest.mark.parametrize(
    ("id_type", "raw", "expected_codes"),
    [
        (IdType.HKMOTW_RESIDENCE, "110105199001010037", {"id_region"}),
        (IdType.HKMOTW_RESIDENCE, "810000199001010034", {"id_check_digit"}),
        (IdType.HK_MACAO_PASS, "X12345678", {"id_char"}),
        (IdType.HK_MACAO_PASS, "H1234567", {"id_length"}),
        (IdType.HK_MACAO_PASS, "H123456789", {"id_length"}),
        (IdType.HK_MACAO_PASS, "H1234A678", {"id_char"}),
        (IdType.TAIWAN_PASS, "1234567", {"id_length"}),
        (IdType.TAIWAN_PASS, "123456789", {"id_length"}),
        (IdType.TAIWAN_PASS, "1234567A", {"id_char"}),
        (IdType.TAIWAN_PASS, "1234567801(BB)", {"id_char"}),
        (IdType.FOREIGN_PERMANENT, "US1123456789012", {"id_char"}),
        (IdType.FOREIGN_PERMANENT, "USA12345678901", {"id_length"}),
        (IdType.FOREIGN_PERMANENT, "911156199001010018", {"id_check_digit"}),
        (IdType.FOREIGN_PERMANENT, "110105199001010037", {"id_char"}),  # a citizen number, not 9xxx
        (IdType.FOREIGN_PERMANENT, "9111561990010100", {"id_length"}),
        (IdType.PASSPORT, "E123", {"id_length"}),
        (IdType.PASSPORT, "E12345678901234567", {"id_length"}),
        (IdType.PASSPORT, "E1234-5678", {"id_char"}),
    ],
)
def test_other_types_invalid(id_type: IdType, raw: str, expected_codes: set[str]) -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id(raw, id_type, today=TODAY)
    assert codes(exc) == expected_codes
    assert_no_leak(exc.value, raw, normalize_id(raw))


def test_labels() -> None:
    for t in IdType:
        assert ID_TYPE_LABELS_ZH[t.label_zh] is t
        assert t.label_en
    assert ID_TYPE_LABELS_ZH["台胞证"] is IdType.TAIWAN_PASS
    assert ID_TYPE_LABELS_ZH["回乡证"] is IdType.HK_MACAO_PASS
    assert IdType("resident_id") is IdType.RESIDENT
    assert str(IdType.PASSPORT) == "passport"
    with pytest.raises(TypeError):
        ID_TYPE_LABELS_ZH["x"] = IdType.PASSPORT  # type: ignore[index]


# ---------------------------------------------------------------------------------------------------------
# Error messages never carry the number


def test_name_typed_into_the_id_field_is_not_quoted() -> None:
    with pytest.raises(InvalidId) as exc:
        validate_id("张三", today=TODAY)
    assert_no_leak(exc.value, "张", "三")


def test_only_a_few_characters_are_ever_quoted() -> None:
    raw = "ZHANGSANFENGABCDEF"
    with pytest.raises(InvalidId) as exc:
        validate_id(raw, today=TODAY)
    quoted = [p.found for p in exc.value.problems if p.code == "id_char" and p.found]
    assert len(quoted) <= 3
    assert_no_leak(exc.value, raw, raw[:4])


def test_arabic_indic_digits_are_not_echoed() -> None:
    raw = "".join(chr(0x0660 + int(c)) for c in "110105194912310021")
    with pytest.raises(InvalidId) as exc:
        validate_id(raw, today=TODAY)
    for text in all_text(exc.value):
        assert not any("\u0660" <= ch <= "\u0669" for ch in text)


@given(resident_ids, st.integers(0, 17), st.integers(1, 3))
def test_no_leak_for_truncated_and_padded_numbers(number: str, cut: int, pad: int) -> None:
    for raw in (number[:cut], number + "7" * pad, number[:cut] + "Q" + number[cut:]):
        if len(raw) < 8:
            continue  # too short to be "the" number; a 1-character input is quoted by design
        with pytest.raises(InvalidId) as exc:
            validate_id(raw, today=TODAY)
        assert_no_leak(exc.value, raw, number)


# ---------------------------------------------------------------------------------------------------------
# Display


def test_tail_and_mask() -> None:
    assert id_tail("11010519491231002X") == "002X" and ID_TAIL_LENGTH == 4
    assert mask_id(IdType.RESIDENT, id_tail("11010519491231002X")) == "*" * 14 + "002X"
    assert mask_id(IdType.HKMOTW_RESIDENCE, "0019") == "*" * 14 + "0019"
    assert mask_id(IdType.HK_MACAO_PASS, id_tail("H12345678")) == "*****5678"
    assert mask_id(IdType.TAIWAN_PASS, "5678") == "****5678"
    assert mask_id(IdType.PASSPORT, id_tail("E123456789")) == "****6789"
    assert mask_id(IdType.FOREIGN_PERMANENT, "1234") == "****1234"
    assert mask_id(None, "123X") == "****123X"  # a QR record does not say which type
    assert mask_id("resident_id", "002X") == mask_id(IdType.RESIDENT, "002X")
    assert mask_id("no_such_type", "002X") == "****002X"
    assert mask_id(IdType.RESIDENT, "34") == "****"  # a short tail is masked completely
    assert mask_id(IdType.RESIDENT, "") == "****"


@given(resident_ids)
def test_mask_reveals_neither_region_nor_birth_date(number: str) -> None:
    masked = mask_id(IdType.RESIDENT, id_tail(number))
    assert len(masked) == len(number)
    assert masked.endswith(id_tail(number))
    assert set(masked[:-4]) == {"*"}


@pytest.mark.parametrize("id_type", [*IdType, None])
def test_every_id_type_masks_all_but_the_tail(id_type: IdType | None) -> None:
    masked = mask_id(id_type, "AB12")
    assert masked.endswith("AB12") and set(masked[:-4]) == {"*"} and len(masked) >= 8
