"""verify.domain.names: storage form and match key of holder names (docs/SECURITY.md §2.3, §5 S15)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from verify.domain.errors import InvalidName
from verify.domain.names import DOT_VARIANTS, MAX_NAME_LENGTH, MIDDLE_DOT, name_key, normalize_name

DOTS = [
    "\u00b7",  # the correct one (GB18030 A1A4)
    "\u0387",
    "\u1427",
    "\u16eb",
    "\u2022",
    "\u2027",
    "\u2219",
    "\u22c5",
    "\u25cf",
    "\u2981",
    "\u2e31",
    "\u2e33",
    "\u30fb",
    "\ua78f",
    "\uff0e",
    "\uff65",
]

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
BIDI = ["\u200e", "\u200f", "\u061c", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"]
BIDI += ["\u2066", "\u2067", "\u2068", "\u2069"]
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x1c"]


def test_dot_table_is_complete() -> None:
    assert set(DOTS) == DOT_VARIANTS


# ---------------------------------------------------------------------------------------------------------
# Middle dots


@pytest.mark.parametrize("dot", DOTS)
def test_every_dot_variant_is_stored_as_u00b7(dot: str) -> None:
    assert normalize_name(f"艾力{dot}买买提") == "艾力·买买提"
    assert normalize_name(f"阿沛{dot}阿旺晋美") == "阿沛·阿旺晋美"


@pytest.mark.parametrize("a", DOTS)
@pytest.mark.parametrize("b", ["\u00b7", "\u2022", "\u30fb", "\uff0e", "\u25cf", "\u2027"])
def test_dot_matrix_keys_match(a: str, b: str) -> None:
    assert name_key(f"艾力{a}买买提") == name_key(f"艾力{b}买买提")


def test_spaces_around_dots_are_dropped_on_storage() -> None:
    assert normalize_name("艾力 · 买买提") == "艾力·买买提"
    assert normalize_name("艾力\u3000•\u3000买买提") == "艾力·买买提"


def test_key_ignores_separators() -> None:
    # Clerks drop the dot, or type a space or an ASCII full stop instead.
    k = name_key("艾力·买买提")
    assert name_key("艾力买买提") == k
    assert name_key("艾力 买买提") == k
    assert name_key("艾力.买买提") == k


def test_key_keeps_different_names_apart() -> None:
    assert name_key("张三") != name_key("张四")
    assert name_key("艾力·买买提") != name_key("买买提·艾力")


# ---------------------------------------------------------------------------------------------------------
# Whitespace, width, case, normal forms


def test_whitespace() -> None:
    assert normalize_name("  张三  ") == "张三"
    assert normalize_name("Zhang \t\n  San") == "Zhang San"
    assert normalize_name("张\u3000三") == "张 三"
    assert normalize_name("Zhang\u00a0San") == "Zhang San"
    assert name_key("张三") == name_key("张 三") == name_key(" 张\u3000三 ")


def test_full_width_and_case_match_for_matching_only() -> None:
    assert normalize_name("ＺＨＡＮＧ San") == "ＺＨＡＮＧ San"  # storage keeps what was written
    assert name_key("ＺＨＡＮＧ　ＳＡＮ") == name_key("zhang san") == name_key("Zhang San") == "zhangsan"
    assert name_key("STRASSE") == name_key("straße")


def test_nfc_and_nfd_are_equal() -> None:
    nfc = "Zoë Müller"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert normalize_name(nfd) == nfc
    assert name_key(nfd) == name_key(nfc)
    assert normalize_name("Nguyễn Thị Ánh") == unicodedata.normalize("NFC", "Nguyễn Thị Ánh")


def test_compatibility_ideograph_matches_its_unified_form() -> None:
    # U+F900 is canonically equivalent to U+8C48; NFC already folds it.
    assert normalize_name("\uf900") == "\u8c48"


def test_variation_selectors_stay_in_storage_but_not_in_the_key() -> None:
    with_ivs = "葛\U000e0100西"
    assert normalize_name(with_ivs) == with_ivs
    assert name_key(with_ivs) == name_key("葛西")


# ---------------------------------------------------------------------------------------------------------
# Rare characters and length


@pytest.mark.parametrize("name", ["𠮷田", "𠀀", "王𪚥", "\U00031350\u4e00", "李\U0002a6a5"])
def test_supplementary_plane_round_trips_byte_exact(name: str) -> None:
    out = normalize_name(name)
    assert out == name
    assert out.encode("utf-8") == name.encode("utf-8")
    assert out.encode("gb18030").decode("gb18030") == name
    assert name_key(name) == name


def test_private_use_characters_are_kept() -> None:
    # Legacy GB18030-2005 data carries some 生僻字 in the private use area.
    assert normalize_name("张\ue000") == "张\ue000"


def test_fifty_and_hundred_character_names_accepted() -> None:
    fifty = "阿" * 25 + "·" + "买" * 24
    assert len(fifty) == 50
    assert normalize_name(fifty) == fifty
    hundred = "𠮷" * MAX_NAME_LENGTH
    assert normalize_name(hundred) == hundred


def test_too_long() -> None:
    with pytest.raises(InvalidName) as exc:
        normalize_name("张" * (MAX_NAME_LENGTH + 1))
    assert [p.code for p in exc.value.problems] == ["name_too_long"]
    with pytest.raises(InvalidName):
        normalize_name("张" * 1_000_000)
    # Whitespace that collapses does not count.
    assert normalize_name("张" + " " * 500 + "三") == "张 三"


# ---------------------------------------------------------------------------------------------------------
# Rejections


@pytest.mark.parametrize("bad", ZERO_WIDTH + BIDI + CONTROLS)
def test_invisible_and_control_characters_rejected(bad: str) -> None:
    raw = f"张{bad}三丰"
    for fn in (normalize_name, name_key):
        with pytest.raises(InvalidName) as exc:
            fn(raw)
        (problem,) = exc.value.problems
        assert problem.code == "name_char"
        assert problem.position == 2
        assert problem.found == f"U+{ord(bad):04X}"


def test_every_bad_character_is_reported_with_its_position() -> None:
    with pytest.raises(InvalidName) as exc:
        normalize_name("\u202e张\u200b三\x00")
    assert [p.position for p in exc.value.problems] == [1, 3, 5]


def test_replacement_character_points_at_the_file_encoding() -> None:
    with pytest.raises(InvalidName) as exc:
        normalize_name("张\ufffd")
    assert "编码" in exc.value.message_zh
    assert "encoding" in exc.value.message_en


def test_lone_surrogate_rejected() -> None:
    with pytest.raises(InvalidName):
        normalize_name("张\ud842")


@pytest.mark.parametrize(
    "raw", ["", " ", "\u3000\t\n", "·", " • ", "．", "...", "\u2024", "\ufe00", "!?", "\u0301"]
)
def test_empty_or_no_letters(raw: str) -> None:
    with pytest.raises(InvalidName):
        normalize_name(raw)
    with pytest.raises(InvalidName):
        name_key(raw)


def test_error_never_contains_the_name() -> None:
    for raw in ["欧阳\u200b娜娜", "欧阳娜娜" * 30, "欧阳\x00娜娜"]:
        with pytest.raises(InvalidName) as exc:
            normalize_name(raw)
        texts = [str(exc.value), exc.value.message_zh, exc.value.message_en, repr(exc.value.to_json())]
        for text in texts:
            assert "欧阳" not in text
            assert "娜娜" not in text


# ---------------------------------------------------------------------------------------------------------
# Properties

names = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(DOTS + [" ", "\u3000", "\t", "·", "."]),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0x20000, max_codepoint=0x2A6DF),
    ),
    max_size=60,
)


def _normalized_or_none(raw: str) -> str | None:
    try:
        return normalize_name(raw)
    except InvalidName:
        return None


@given(names)
def test_normalize_name_is_idempotent(raw: str) -> None:
    once = _normalized_or_none(raw)
    assume(once is not None)
    assert once is not None
    assert normalize_name(once) == once
    assert name_key(once) == name_key(raw)
    assert unicodedata.is_normalized("NFC", once)
    assert once == once.strip()
    assert "  " not in once
    assert not (set(once) & (DOT_VARIANTS - {MIDDLE_DOT}))


@given(names)
def test_name_key_is_idempotent_and_never_crashes(raw: str) -> None:
    try:
        key = name_key(raw)
    except InvalidName:
        return
    assert name_key(key) == key
    assert " " not in key
    assert MIDDLE_DOT not in key


@given(
    st.lists(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=2, max_size=6),
    st.lists(st.sampled_from(["", " ", "\u3000", *DOTS]), min_size=5, max_size=5),
)
def test_key_is_invariant_under_separators(chars: list[str], seps: list[str]) -> None:
    plain = "".join(chars)
    spaced = "".join(c + seps[i % len(seps)] for i, c in enumerate(chars))
    assume(spaced.strip())
    assert name_key(spaced) == name_key(plain) == plain


@given(st.text(max_size=40))
def test_only_invalid_name_escapes(raw: str) -> None:
    try:
        normalize_name(raw)
    except InvalidName as exc:
        assert exc.problems


def test_key_recomposes_after_dropping_separators() -> None:
    # U+00B4 becomes space + combining acute under NFKC; once the space goes, the mark joins the "a".
    key = name_key("A´")
    assert key == "\u00e1"
    assert name_key(key) == key


def test_a_name_that_nfkc_turns_into_a_lone_mark_has_no_key() -> None:
    # Found by the fuzzer (tests/fuzz): halfwidth ﾟ (Lm) passes normalize_name, but NFKC makes it the
    # combining U+309A, a key with no letter that name_key itself would refuse: not a fixed point.
    for raw in ("\uff9f", "\uff9e", "\uff9f+"):
        with pytest.raises(InvalidName):
            name_key(raw)
