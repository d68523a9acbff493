"""verify.domain.codes: one test per docs/RULES.md §7.1 rule (1–12, 15–19) and rule 70, plus worked examples of valid and invalid numbers.

Rules 13 and 14 (duplicates and serial gaps) need a batch or the database and are tested there.
"""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from typing import Any

import pytest

from verify.domain.codes import (
    HENAN_CITIES,
    LEVEL_NAMES,
    NUMBER_PROVINCES,
    REFERENCE_VERSION,
    CertificateNumber,
    CodeCheck,
    CodeKind,
    check_certificate_number,
    check_code,
    institution_key_parts,
    normalize,
    parse_certificate_number,
)
from verify.domain.errors import InvalidCode, Problem

TODAY = date(2026, 11, 25)


def check(raw: str) -> CodeCheck:
    return check_code(raw, today=TODAY)


def parse(raw: str) -> CertificateNumber:
    return parse_certificate_number(raw, today=TODAY)


def codes_of(problems: tuple[Problem, ...]) -> list[str]:
    return [p.code for p in problems]


def only_problem(result: CodeCheck) -> Problem:
    assert not result.valid
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def reference_json() -> dict[str, Any]:
    text = (files("verify.domain") / "data" / "codes-v2.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# --------------------------------------------------------------------------------------------- rule 1


def test_rule_01_fullwidth_and_spaces_normalised() -> None:
    raw = "\u3000ｙ００００　４１０１－００１２ 22\t4—000007\n"
    assert normalize(raw) == "Y000041010012224000007"
    result = check(raw)
    assert result.valid
    assert result.input == raw
    assert result.canonical == "Y000041010012224000007"
    assert parse(raw).canonical == "Y000041010012224000007"


@pytest.mark.parametrize("dash", ["-", "\u2010", "\u2011", "\u2013", "\u2014", "\uff0d", "\u2212"])
def test_rule_01_every_dash_is_removed(dash: str) -> None:
    assert normalize(f"Y0000{dash}11{dash}000001{dash}21{dash}3{dash}000015") == "Y000011000001213000015"


def test_rule_01_normalize_never_raises_and_keeps_unknown_text() -> None:
    assert normalize("") == ""
    assert normalize("证书 编号") == "证书编号"
    assert normalize("\ud800") == "\ud800"  # a lone surrogate is odd input, not a crash


# --------------------------------------------------------------------------------------------- rule 2


def test_rule_02_length_reports_found_and_expected_and_still_checks_the_rest() -> None:
    result = check("X0000190000012160000")  # 20 characters, bad letter, bad province, level 6
    assert result.kind is CodeKind.SKILL_LEVEL
    assert codes_of(result.problems) == [
        "length",
        "category_letter",
        "province_unknown",
        "level_out_of_range",
    ]
    length = result.problems[0]
    assert (length.found, length.allowed, length.rule) == ("20", "22", 2)
    assert "22" in length.message_zh and "20" in length.message_zh
    assert "22" in length.message_en and "20" in length.message_en


def test_rule_02_non_digit_is_reported_at_its_position() -> None:
    problem = only_problem(check("Y0000110A0001213000015"))
    assert (problem.code, problem.position, problem.found, problem.rule) == ("non_digit", 9, "A", 2)


def test_rule_02_non_ascii_digits_are_not_digits() -> None:
    arabic_indic_one = "\u0661"  # NFKC leaves it alone; \d would accept it, the rule does not
    result = check(f"Y00001100000{arabic_indic_one}213000015")
    assert codes_of(result.problems) == ["non_digit"]
    with pytest.raises(InvalidCode):
        parse(f"Y00001100000{arabic_indic_one}213000015")


# --------------------------------------------------------------------------------------------- rule 3


def test_rule_03_category_letter_must_be_y_or_s() -> None:
    problem = only_problem(check("X000011000001213000015"))
    assert (problem.code, problem.position, problem.found, problem.rule) == ("category_letter", 1, "X", 3)
    assert problem.allowed == "Y 或 S / Y or S"
    assert check("S000011000001213000015").parts["category"] == {
        "code": "S",
        "name_zh": "社会培训评价组织",
        "name_en": "Social training and assessment organisation",
    }


# --------------------------------------------------------------------------------------------- rule 4


def test_rule_04_institution_code_0000_is_province_filed_else_mohrss() -> None:
    national = check("Y000011000001213000015").parts["institution_code"]
    assert (national["code"], national["filed_with"]) == ("0000", "province")
    mohrss = check("Y000123000001213000015").parts["institution_code"]
    assert (mohrss["code"], mohrss["filed_with"], mohrss["filed_with_zh"]) == (
        "0001",
        "mohrss",
        "人力资源社会保障部",
    )
    henan = check("Y000041010012224000007").parts["institution_code"]
    assert henan["filed_with"] == "province_or_city"
    assert check("S999941010012224000007").valid


# --------------------------------------------------------------------------------------------- rule 5


def test_rule_05_province_14_is_shanxi() -> None:
    assert NUMBER_PROVINCES["14"] == "山西省"
    assert NUMBER_PROVINCES["61"] == "陕西省"
    assert list(NUMBER_PROVINCES.values()).count("陕西省") == 1
    assert check("Y000014000001213000015").parts["province"] == {"code": "14", "name": "山西省"}


def test_rule_05_unknown_province_rejected() -> None:
    problem = only_problem(check("Y000019000001213000015"))
    assert (problem.code, problem.position, problem.found, problem.rule) == ("province_unknown", 6, "19", 5)


# --------------------------------------------------------------------------------------------- rule 6


@pytest.mark.parametrize("level", ["0", "6", "9"])
def test_rule_06_level_outside_1_to_5_rejected(level: str) -> None:
    problem = only_problem(check(f"Y00001100000121{level}000015"))
    assert (problem.code, problem.position, problem.found, problem.rule) == (
        "level_out_of_range",
        16,
        level,
        6,
    )


def test_rule_06_level_names_are_the_national_ones() -> None:
    assert dict(LEVEL_NAMES) == {
        1: "一级/高级技师",
        2: "二级/技师",
        3: "三级/高级工",
        4: "四级/中级工",
        5: "五级/初级工",
    }
    assert check("Y000011000001214000015").parts["level"]["name"] == "四级/中级工"
    assert parse("Y000011000001214000015").level == 4


# --------------------------------------------------------------------------------------------- rule 7


def test_rule_07_serial_zero_rejected() -> None:
    problem = only_problem(check("Y000011000001213000000"))
    assert (problem.code, problem.position, problem.found, problem.rule) == ("serial_zero", 17, "000000", 7)
    assert problem.allowed == "000001–999999"
    assert parse("Y000011000001213000001").serial == 1
    assert parse("Y000011000001213999999").serial == 999999


# --------------------------------------------------------------------------------------------- rule 8


def test_rule_08_placeholder_x_rejected() -> None:
    problem = only_problem(check("Y000123XXXXXX195000001"))  # the seed's own example
    assert (problem.code, problem.position, problem.found, problem.rule) == ("placeholder_x", 8, "XXXXXX", 8)
    henan = only_problem(check("Y 0000 41 12 XXXX 19 5 000001"))
    assert (henan.code, henan.position, henan.found) == ("placeholder_x", 10, "XXXX")
    assessor = check("16015xxx")  # the seed's 专项 example
    assert codes_of(assessor.problems) == ["placeholder_x"]
    assert assessor.problems[0].position == 6


# --------------------------------------------------------------------------------------------- rule 9


def test_rule_09_year_after_today_rejected() -> None:
    problem = only_problem(check("Y000011000001273000015"))
    assert (problem.code, problem.position, problem.found, problem.rule) == ("year_in_future", 14, "27", 9)
    assert "2027" in problem.message_zh and "2026" in problem.message_en
    assert check("Y000011000001263000015").valid  # the current year itself is fine
    assert parse_certificate_number("Y000011000001273000015", today=date(2027, 1, 1)).year == 2027


def test_rule_09_year_before_2019_is_a_warning_only() -> None:
    result = check("Y000011000001183000015")
    assert result.valid
    assert codes_of(result.warnings) == ["year_before_rule"]
    assert result.warnings[0].severity == "warning" and result.warnings[0].rule == 9
    assert parse("Y000011000001183000015").year == 2018


def test_rule_09_year_19_accepted_in_henan_codes() -> None:
    result = check("Y000041120012195000001")
    assert result.valid and result.warnings == ()
    assert result.parts["year"] == 2019


# --------------------------------------------------------------------------------------------- rule 10


def test_rule_10_henan_city_29_rejected() -> None:
    problem = only_problem(check("Y000041290012224000007"))
    assert (problem.code, problem.position, problem.found, problem.rule) == (
        "henan_city_unknown",
        8,
        "29",
        10,
    )


def test_rule_10_every_henan_city_00_to_28_accepted() -> None:
    assert sorted(HENAN_CITIES) == [f"{i:02d}" for i in range(29)]
    for city, name in HENAN_CITIES.items():
        number = parse(f"Y000041{city}0012224000007")
        assert (number.kind, number.province_code, number.city_code) == (
            CodeKind.SKILL_LEVEL_HENAN,
            "41",
            city,
        )
        assert check(number.canonical).parts["city"] == {"code": city, "name": name}


def test_rule_10_henan_split_only_applies_to_province_41() -> None:
    national = check("Y000011990012224000007")  # "99" would be a bad Henan city; outside Henan it is opaque
    assert national.valid and national.kind is CodeKind.SKILL_LEVEL
    assert national.parts["site_sequence"] == "990012" and "city" not in national.parts
    henan = check("Y000041010012224000007")
    assert henan.parts["city"] == {"code": "01", "name": "郑州市"}
    assert henan.parts["site_sequence"] == "0012"


# --------------------------------------------------------------------------------------------- rule 11


def test_rule_11_henan_y_position10_nine_is_a_warning() -> None:
    result = check("Y000041009003215000101")
    assert result.valid
    warning = result.warnings[0]
    assert (warning.code, warning.position, warning.found, warning.rule) == ("position10_school", 10, "9", 11)
    assert "技工院校认定中心" in warning.message_zh
    assert result.parts["site_kind"]["code"] == "technical_school"


def test_rule_11_no_position10_warning_for_s_or_national_numbers() -> None:
    assert check("S000041009003215000101").warnings == ()
    assert check("Y000011009003215000101").warnings == ()
    ordinary = check("Y000041018003215000101")
    assert ordinary.warnings == () and ordinary.parts["site_kind"]["code"] == "employer"


# --------------------------------------------------------------------------------------------- rule 12


def test_rule_12_institution_key_is_positions_1_to_13() -> None:
    assert parse("Y000041010012224000007").institution_key == "Y000041010012"
    assert check("S000123456789213000015").parts["institution_key"] == "S000123456789"
    parts = institution_key_parts(" y0000 4101 0012 ")
    assert parts["institution_key"] == "Y000041010012"
    assert parts["category"]["name_zh"] == "用人单位"
    assert parts["province"] == {"code": "41", "name": "河南省"}
    assert parts["city"] == {"code": "01", "name": "郑州市"}
    assert parts["site_sequence"] == "0012"


def test_rule_12_bad_institution_key_raises_with_every_problem() -> None:
    with pytest.raises(InvalidCode) as caught:
        institution_key_parts("X00004129001")
    assert codes_of(caught.value.problems) == ["length", "category_letter", "henan_city_unknown"]
    assert caught.value.problems[0].rule == 12


def test_rule_12_no_institution_key_when_positions_1_to_13_are_wrong() -> None:
    assert "institution_key" not in check("Y000019000001213000015").parts


# --------------------------------------------------------------------------------------------- rule 15


def test_rule_15_special_ability_number_parsed() -> None:
    result = check("211601500100001")
    assert result.valid and result.kind is CodeKind.SPECIAL_ABILITY
    assert result.parts["year"] == 2021
    assert result.parts["serial"] == "00001"
    assert result.parts["assessor"] == {
        "region": {"code": "1601", "name": "郑州市"},
        "fixed": "5",
        "sequence": "001",
        "is_city_centre": False,
        "code": "16015001",
    }
    number = parse("211601500100001")
    assert number == CertificateNumber(
        "211601500100001", CodeKind.SPECIAL_ABILITY, "16015001", 2021, None, 1, None, None
    )


def test_rule_15_special_ability_position7_must_be_5_and_serial_nonzero() -> None:
    result = check("211601400100000")
    assert [(p.code, p.position, p.rule) for p in result.problems] == [
        ("assessor_fixed_5", 7, 15),
        ("serial_zero", 11, 15),
    ]
    assert codes_of(check("2116015001000011").problems) == ["length"]


def test_rule_15_unknown_region_is_not_rejected() -> None:
    result = check("219999500100001")
    assert result.valid
    assert result.parts["assessor"]["region"] == {"code": "9999", "name": None}


# --------------------------------------------------------------------------------------------- rule 16


def test_rule_16_assessor_code_fifth_digit_5() -> None:
    ok = check("16015001")
    assert ok.valid and ok.kind is CodeKind.SPECIAL_ASSESSOR
    assert ok.parts["institution_key"] == "16015001"
    problem = only_problem(check("16014001"))
    assert (problem.code, problem.position, problem.found, problem.rule) == ("assessor_fixed_5", 5, "4", 16)


def test_rule_16_assessor_suffix_000_is_a_warning() -> None:
    centre = check("16015000")
    assert centre.valid
    warning = centre.warnings[0]
    assert (warning.code, warning.position, warning.rule, warning.severity) == (
        "assessor_suffix_000",
        6,
        16,
        "warning",
    )
    assert centre.parts["assessor"]["is_city_centre"] is True
    inside = check("211601500000001")
    assert inside.valid and codes_of(inside.warnings) == ["assessor_suffix_000"]
    assert inside.warnings[0].position == 8


# --------------------------------------------------------------------------------------------- rule 17


def test_rule_17_external_supervisor_card() -> None:
    result = check("R41210001")
    assert result.valid and result.kind is CodeKind.SUPERVISOR_EXTERNAL
    assert result.parts["category"]["code"] == "R"
    assert result.parts["issuer"] == {"code": "41", "name": "河南省"}
    assert (result.parts["year"], result.parts["serial"]) == (2021, "0001")
    assert check("R00210001").parts["issuer"] == {"code": "00", "name": "人力资源社会保障部"}
    bad = check("R19210000")
    assert [(p.code, p.position, p.rule) for p in bad.problems] == [
        ("issuer_unknown", 2, 17),
        ("serial_zero", 6, 17),
    ]


def test_rule_17_internal_supervisor_issuer_is_not_unique() -> None:
    result = check("S000012210001")
    assert result.valid and result.kind is CodeKind.SUPERVISOR_INTERNAL
    issuer = result.parts["issuer"]
    assert issuer["code"] == "000012" and issuer["unique_across_provinces"] is False
    assert len(issuer["possible_meanings"]) == 2  # MOHRSS code 0012, or a province-filed site sequence
    assert check("H123456210001").parts["category"]["name_zh"] == "行业部门"
    problem = only_problem(check("Y123456210000"))
    assert (problem.code, problem.position, problem.rule) == ("serial_zero", 10, 17)


# --------------------------------------------------------------------------------------------- rule 18


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("Y000011000001213000015", CodeKind.SKILL_LEVEL),
        ("S000041010012224000007", CodeKind.SKILL_LEVEL_HENAN),
        ("211601500100001", CodeKind.SPECIAL_ABILITY),
        ("16015001", CodeKind.SPECIAL_ASSESSOR),
        ("R41210001", CodeKind.SUPERVISOR_EXTERNAL),
        ("H000012210001", CodeKind.SUPERVISOR_INTERNAL),
        ("Y000012210001", CodeKind.SUPERVISOR_INTERNAL),
        ("123456789012345678", None),
        ("ABC", None),
    ],
)
def test_rule_18_classified_by_format(raw: str, kind: CodeKind | None) -> None:
    assert check(raw).kind is kind


def test_rule_18_unknown_format_and_empty_input() -> None:
    unknown = only_problem(check("20190101123"))
    assert (unknown.code, unknown.rule) == ("unknown_format", 18)
    assert "职业资格" in unknown.message_zh
    assert only_problem(check("  ")).code == "empty"


@pytest.mark.parametrize("raw", ["16015001", "R41210001", "S000012210001"])
def test_rule_18_assessor_codes_and_cards_are_not_certificate_numbers(raw: str) -> None:
    assert check(raw).valid
    result = check_certificate_number(raw, today=TODAY)
    assert not result.valid
    assert codes_of(result.problems) == ["not_certificate_number"]
    with pytest.raises(InvalidCode) as caught:
        parse(raw)
    assert codes_of(caught.value.problems) == ["not_certificate_number"]


# --------------------------------------------------------------------------------------------- rules 19, 70


def test_rule_19_tables_are_versioned_with_seed_labels() -> None:
    data = reference_json()
    assert REFERENCE_VERSION == data["version"] == "codes-v2"
    assert data["source"] and data["provinces"]["source"] and data["henan_cities"]["source"]
    assert len(NUMBER_PROVINCES) == 35 and dict(NUMBER_PROVINCES) == data["provinces"]["codes"]
    assert "陕西省" in data["provinces"]["fixes"][0]  # the one deviation from the seed is documented
    assert dict(HENAN_CITIES) == data["henan_cities"]["codes"]
    assert (HENAN_CITIES["00"], HENAN_CITIES["18"], HENAN_CITIES["23"], HENAN_CITIES["28"]) == (
        "省直",
        "济源市",
        "长垣县",
        "新蔡县",
    )
    assert check("Y000011000001213000015").to_json()["reference_version"] == "codes-v2"


def test_rule_70_reference_has_kinds_card_letters_and_issuers() -> None:
    data = reference_json()
    assert set(data["certificate_kinds"]["codes"]) == {k.value for k in CodeKind}
    certificate_kinds = {k for k, v in data["certificate_kinds"]["codes"].items() if v["certificate"]}
    assert certificate_kinds == {"skill_level", "skill_level_henan", "special_ability", "qualification"}
    assert set(data["supervisor_card_letters"]["codes"]) == {"R", "H", "Y", "S"}
    assert data["supervisor_issuers"]["codes"]["00"] == "人力资源社会保障部"
    assert {k: v["name_zh"] for k, v in data["institution_categories"]["codes"].items()} == {
        "Y": "用人单位",
        "S": "社会培训评价组织",
    }
    assert {int(k): v["name_zh"] for k, v in data["levels"]["codes"].items()} == dict(LEVEL_NAMES)


# --------------------------------------------------------------------------------------------- worked examples

WORKED_EXAMPLES: list[tuple[str, CodeKind | None, list[str]]] = [
    ("Y000011000001213000015", CodeKind.SKILL_LEVEL, []),
    ("Y000041010012224000007", CodeKind.SKILL_LEVEL_HENAN, []),
    ("Y000041009003215000101", CodeKind.SKILL_LEVEL_HENAN, []),
    (" y0000 4101 0012 22 4 000007 ", CodeKind.SKILL_LEVEL_HENAN, []),
    ("Y000041290012224000007", CodeKind.SKILL_LEVEL_HENAN, ["henan_city_unknown"]),
    ("Y000019000001213000015", CodeKind.SKILL_LEVEL, ["province_unknown"]),
    ("X000011000001213000015", CodeKind.SKILL_LEVEL, ["category_letter"]),
    ("Y000011000001216000015", CodeKind.SKILL_LEVEL, ["level_out_of_range"]),
    ("Y000011000001210000015", CodeKind.SKILL_LEVEL, ["level_out_of_range"]),
    ("Y000011000001213000000", CodeKind.SKILL_LEVEL, ["serial_zero"]),
    ("Y000123XXXXXX195000001", CodeKind.SKILL_LEVEL, ["placeholder_x"]),
    ("Y00001100000121300001", CodeKind.SKILL_LEVEL, ["length"]),
    ("Y000011000001993000015", CodeKind.SKILL_LEVEL, ["year_in_future"]),
]


@pytest.mark.parametrize(("raw", "kind", "problems"), WORKED_EXAMPLES)
def test_worked_examples_from_rules_2_3(raw: str, kind: CodeKind | None, problems: list[str]) -> None:
    result = check_certificate_number(raw, today=TODAY)
    assert (result.kind, codes_of(result.problems), result.valid) == (kind, problems, not problems)
    if problems:
        with pytest.raises(InvalidCode) as caught:
            parse(raw)
        assert caught.value.problems == result.problems
    else:
        assert parse(raw).canonical == result.canonical


def test_worked_example_parts_as_documented() -> None:
    parts = check("Y000041010012224000007").parts
    assert parts["category"] == {"code": "Y", "name_zh": "用人单位", "name_en": "Employer"}
    assert parts["institution_code"]["code"] == "0000"
    assert parts["institution_code"]["filed_with"] == "province_or_city"
    assert parts["province"] == {"code": "41", "name": "河南省"}
    assert parts["city"] == {"code": "01", "name": "郑州市"}
    assert parts["site_sequence"] == "0012"
    assert parts["institution_key"] == "Y000041010012"
    assert parts["year"] == 2022
    assert parts["level"]["code"] == 4 and parts["level"]["name"] == "四级/中级工"
    assert parts["serial"] == "000007"


# --------------------------------------------------------------------------------------------- reporting


def test_every_problem_reported_at_once() -> None:
    raw = "X000019000001210000000"  # bad letter, bad province, level 0, serial zero
    result = check(raw)
    assert [(p.code, p.position, p.rule) for p in result.problems] == [
        ("category_letter", 1, 3),
        ("province_unknown", 6, 5),
        ("level_out_of_range", 16, 6),
        ("serial_zero", 17, 7),
    ]
    with pytest.raises(InvalidCode) as caught:
        parse(raw)
    assert caught.value.problems == result.problems
    assert caught.value.to_json()["error"] == "invalid_code"


def test_problem_json_is_bilingual_and_positioned() -> None:
    problem = check("Y000019000001213000015").to_json()["problems"][0]
    assert list(problem) == [
        "code",
        "message_zh",
        "message_en",
        "position",
        "found",
        "allowed",
        "rule",
        "severity",
    ]
    assert problem["severity"] == "error"


def test_to_json_has_exactly_the_documented_keys() -> None:
    body = check("Y000041009003215000101").to_json()
    assert set(body) == {"valid", "kind", "canonical", "parts", "problems", "warnings", "reference_version"}
    assert body["kind"] == "skill_level_henan"
    assert body["warnings"][0]["code"] == "position10_school"
    json.dumps(body, ensure_ascii=False)
    assert check("hello").to_json()["kind"] is None


def test_parse_returns_the_decoded_number() -> None:
    assert parse("S000123456789213000015") == CertificateNumber(
        "S000123456789213000015", CodeKind.SKILL_LEVEL, "S000123456789", 2021, 3, 15, "23", None
    )
    assert parse("Y000041010012224000007") == CertificateNumber(
        "Y000041010012224000007", CodeKind.SKILL_LEVEL_HENAN, "Y000041010012", 2022, 4, 7, "41", "01"
    )
