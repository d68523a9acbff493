"""Versioned code tables for certificate numbers (docs/RULES.md rules 19 and 70).

The tables live in ``verify/domain/data/codes-v2.json`` so that a table change is a reviewed data change
with a new version, not a code edit; the superseded ``codes-v1.json`` stays published unchanged, so a
verifier that pinned it still reads the bytes it pinned. They are read once, at import, and exposed as read-only mappings;
``verify.codes`` re-exports the ones the rest of the service uses. The bilingual wording of every
code problem (``PROBLEM_TEXTS``) lives here too, beside the tables it quotes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Any

REFERENCE_FILE = "codes-v2.json"
# Earlier versions of REFERENCE_FILE: never edited, still served (v2 added the 职业资格证书 kind).
SUPERSEDED_TABLES: tuple[str, ...] = ("codes-v1.json",)
OCCUPATIONS_FILE = "occupations-v1.json"
# 准入类 occupations, the classification's major groups, the 专项 naming rule (rules 26, 27, 72, 73).
OCCUPATION_RULES_FILE = "occupation-rules-v1.json"
# The tables the service publishes as they are (``GET /api/v1/reference/<file>``), so an independent
# verifier can read the same versioned data: the file name carries the version.
PUBLISHED_TABLES: tuple[str, ...] = (
    REFERENCE_FILE,
    OCCUPATIONS_FILE,
    OCCUPATION_RULES_FILE,
    *SUPERSEDED_TABLES,
)


@dataclass(frozen=True, slots=True)
class Label:
    """A coded value with its Chinese and English names, as shown in ``CodeCheck.parts``."""

    code: str
    name_zh: str
    name_en: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "name_zh": self.name_zh, "name_en": self.name_en}


@dataclass(frozen=True, slots=True)
class KindInfo:
    """One entry of the certificate-kind table; ``code`` is a ``verify.codes.CodeKind`` value."""

    code: str
    name_zh: str
    name_en: str
    length: int | None  # None: no fixed length (职业资格证书 numbers, rule 18)
    format: str
    certificate: bool


@dataclass(frozen=True, slots=True)
class CardLetter:
    """A 督导员 card category letter; ``card`` is ``"external"`` (外督) or ``"internal"`` (内督)."""

    code: str
    card: str
    name_zh: str
    name_en: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "card": self.card, "name_zh": self.name_zh, "name_en": self.name_en}


def table_bytes(name: str) -> bytes:
    """The bytes of one of ``PUBLISHED_TABLES``. Raises KeyError for any other name."""
    if name not in PUBLISHED_TABLES:
        raise KeyError(name)
    return (files("verify.domain") / "data" / name).read_bytes()


def load_table(name: str) -> dict[str, Any]:
    """One of ``PUBLISHED_TABLES``, parsed. Raises KeyError for any other name."""
    data: dict[str, Any] = json.loads(table_bytes(name).decode("utf-8"))
    return data


def _load() -> dict[str, Any]:
    return load_table(REFERENCE_FILE)


def _labels(table: Mapping[str, Any]) -> Mapping[str, Label]:
    return MappingProxyType({k: Label(k, v["name_zh"], v["name_en"]) for k, v in table.items()})


_DATA = _load()

REFERENCE_VERSION: str = _DATA["version"]

# Province codes of certificate numbers (positions 6-7) and institution records: 35 entries, 14 = 山西省.
# Not the table of ID-number prefixes, which is ``holder_ids.ID_PROVINCES``.
NUMBER_PROVINCES: Mapping[str, str] = MappingProxyType(dict(_DATA["provinces"]["codes"]))
HENAN_CITIES: Mapping[str, str] = MappingProxyType(dict(_DATA["henan_cities"]["codes"]))

LEVEL_NAMES: Mapping[int, str] = MappingProxyType(
    {int(k): v["name_zh"] for k, v in _DATA["levels"]["codes"].items()}
)
LEVEL_NAMES_EN: Mapping[int, str] = MappingProxyType(
    {int(k): v["name_en"] for k, v in _DATA["levels"]["codes"].items()}
)

INSTITUTION_CATEGORIES: Mapping[str, Label] = _labels(_DATA["institution_categories"]["codes"])

# Keys: "mohrss", "province", "province_or_city" (what positions 2-5 say about where the institution filed).
FILING_AUTHORITIES: Mapping[str, Label] = _labels(
    {k: v for k, v in _DATA["institution_filing"].items() if k != "source"}
)

# Keys: "employer", "technical_school" (Henan Y numbers, position 10, since 2021-01-14).
HENAN_SITE_KINDS: Mapping[str, Label] = _labels(
    {k: _DATA["henan_position10"][k] for k in ("employer", "technical_school")}
)
HENAN_POSITION10_SINCE: str = _DATA["henan_position10"]["since"]

CERTIFICATE_KINDS: Mapping[str, KindInfo] = MappingProxyType(
    {
        k: KindInfo(k, v["name_zh"], v["name_en"], v["length"], v["format"], v["certificate"])
        for k, v in _DATA["certificate_kinds"]["codes"].items()
    }
)

SPECIAL_REGIONS: Mapping[str, str] = MappingProxyType(dict(_DATA["special_regions"]["codes"]))

SUPERVISOR_CARD_LETTERS: Mapping[str, CardLetter] = MappingProxyType(
    {
        k: CardLetter(k, v["card"], v["name_zh"], v["name_en"])
        for k, v in _DATA["supervisor_card_letters"]["codes"].items()
    }
)

# 外督 issuers (positions 2-3): 00 = MOHRSS plus every province code (人社职司便函〔2020〕53号 表3).
SUPERVISOR_ISSUERS: Mapping[str, str] = MappingProxyType(
    {
        **_DATA["supervisor_issuers"]["codes"],
        **(NUMBER_PROVINCES if _DATA["supervisor_issuers"]["includes_provinces"] else {}),
    }
)

del _DATA

# Every problem's wording in one place, so translators and reviewers read it without the parsing code:
# slug -> (Chinese, English, allowed). {at_zh}/{at_en} name the position span and {found} the offending
# text; verify.codes fills in the other fields.
PROBLEM_TEXTS: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "length": (
            "{what_zh}应为 {expected} 位，实际为 {found} 位{hint_zh}",
            "{what_en}: expected {expected} characters, found {found}{hint_en}",
            "{expected}",
        ),
        "non_digit": (
            "{at_zh}（{what_zh}）应为数字，实际为「{found}」",
            "{at_en} ({what_en}) must be digits; found '{found}'",
            "数字 0–9 / digits 0–9",
        ),
        "placeholder_x": (
            "{at_zh}（{what_zh}）「{found}」是示例中的占位符 X，不是真实编号，请填写实际数字",
            "{at_en} ({what_en}): '{found}' is the placeholder X from the published examples, not a real "
            "number; enter the actual digits",
            "数字 0–9 / digits 0–9",
        ),
        "category_letter": (
            "{at_zh}评价机构类别代码应为 Y（用人单位）或 S（社会培训评价组织），实际为「{found}」",
            "{at_en} (institution category) must be Y (employer) or S (social training and assessment "
            "organisation); found '{found}'",
            "Y 或 S / Y or S",
        ),
        "province_unknown": (
            "{at_zh}省级代码「{found}」不在省级代码表中",
            "{at_en}: province code '{found}' is not in the province table",
            "省级代码表中的 35 个代码（11–82）/ one of the 35 province codes (11–82)",
        ),
        "henan_city_unknown": (
            "{at_zh}河南省直或市级代码「{found}」不在代码表（00–28）中（第 6–7 位为 41，按河南规则解析）",
            "{at_en}: Henan city code '{found}' is not in the city table (00–28); positions 6–7 are 41, "
            "so the Henan layout applies",
            "00–28（河南省直和市级代码表）/ 00–28 (Henan city table)",
        ),
        "position10_school": (
            "河南 Y 类编号{at_zh}为 9，表示技工院校认定中心（为本校学生评价）；自 2021-01-14 起普通用人单位"
            "只能使用 0–8，请核实发证机构确为技工院校认定中心",
            "Henan Y number with 9 in position 10, which marks a technical school assessment centre "
            "assessing its own students; since 2021-01-14 ordinary employers use 0–8 only, so check that "
            "the issuer really is a technical school centre",
            "0–8（用人单位）或 9（技工院校认定中心）/ 0–8 (employer) or 9 (technical school centre)",
        ),
        "year_in_future": (
            "{at_zh}年份「{found}」表示 {year} 年，晚于当前年份 {this_year} 年",
            "{at_en}: year '{found}' means {year}, later than the current year {this_year}",
            "不晚于 {this_year} 年 / no later than {this_year}",
        ),
        "year_before_rule": (
            "{at_zh}年份 {year} 早于编码规则施行的 {rule_year} 年，请核实该证书确实采用此编码规则",
            "{at_en}: the year {year} is before the numbering rule took effect ({rule_year}); check that "
            "the certificate really uses this format",
            "{rule_year} 年及以后 / {rule_year} or later",
        ),
        "level_out_of_range": (
            "{at_zh}职业技能等级代码应为 1–5，实际为「{found}」",
            "{at_en} (skill level) must be 1–5; found '{found}'",
            "1–5",
        ),
        "serial_zero": (
            "{at_zh}序列码不能全为 0，应在 {first}–{last} 之间",
            "{at_en}: the serial cannot be all zeros; it runs from {first} to {last}",
            "{first}–{last}",
        ),
        "assessor_fixed_5": (
            "{at_zh}应为固定数字 5（代表专项职业能力），实际为「{found}」",
            "{at_en} must be the fixed digit 5 (special vocational ability); found '{found}'",
            "5",
        ),
        "assessor_suffix_000": (
            "{at_zh}流水码为 000，这是市鉴定中心自身的机构编码，而非下属考核机构",
            "{at_en}: sequence 000 is the city appraisal centre's own code, not one of its assessment "
            "institutions",
            "001–999",
        ),
        "issuer_unknown": (
            "{at_zh}证卡颁发机构代码「{found}」既不是 00（人力资源社会保障部）也不是省级代码",
            "{at_en}: issuer code '{found}' is neither 00 (MOHRSS) nor a province code",
            "00（人力资源社会保障部）或省级代码 / 00 (MOHRSS) or a province code",
        ),
        "unknown_format": (
            "无法识别的编号格式（{length} 位）：不是职业技能等级证书（22 位）、专项职业能力证书（15 位）、"
            "专项考核机构（8 位）或质量督导员证卡编码；可能是职业资格证书或其他证件，其编号格式未公布",
            "Unrecognised format ({length} characters): not a skill level certificate number (22), special "
            "ability certificate number (15), special assessor code (8) or supervisor card code; it may be a "
            "vocational qualification certificate or another document whose number format is not published",
            "22 位职业技能等级证书编号、15 位专项证书编号、8 位考核机构代码或督导员证卡编码 / a 22-character "
            "skill level number, 15-digit special ability number, 8-digit assessor code or supervisor card "
            "code",
        ),
        "empty": ("未输入编号", "No code was entered", "编号 / a code"),
        "not_certificate_number": (
            "这是{what_zh}，不是证书编号",
            "Not a certificate number ({what_en})",
            "职业技能等级证书（22 位）或专项职业能力证书（15 位）编号 / a skill level (22) or special "
            "ability (15) certificate number",
        ),
    }
)
