"""Certificate numbers and institution codes: normalise, classify, check and parse (docs/RULES.md §2, §7.1).

Two paths share one set of tables (``verify.reference``):

- ``check_code`` / ``check_certificate_number`` never raise. They explain an input part by part and
  report every problem at once, in Chinese and English, for lookup pages, the API and batch reports.
- ``parse_certificate_number`` is the batch-import fast path: one precompiled regex and a few set
  lookups for a valid number. Only when that fails does it run the explaining path to build the
  ``InvalidCode`` problems.

Positions in problems are 1-based and point at the first character of the offending part; ``found``
holds the offending text, so ``position .. position + len(found) - 1`` is the span it covers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from verify.domain.errors import InvalidCode, Problem
from verify.domain.reference import CERTIFICATE_KINDS as KIND_INFO
from verify.domain.reference import (
    FILING_AUTHORITIES,
    HENAN_CITIES,
    HENAN_POSITION10_SINCE,
    HENAN_SITE_KINDS,
    INSTITUTION_CATEGORIES,
    LEVEL_NAMES,
    LEVEL_NAMES_EN,
    NUMBER_PROVINCES,
    PROBLEM_TEXTS,
    REFERENCE_VERSION,
    SPECIAL_REGIONS,
    SUPERVISOR_CARD_LETTERS,
    SUPERVISOR_ISSUERS,
)

__all__ = [
    "HENAN_CITIES",
    "LEVEL_NAMES",
    "NUMBER_PROVINCES",
    "REFERENCE_VERSION",
    "CertificateNumber",
    "CodeCheck",
    "CodeKind",
    "check_certificate_number",
    "check_code",
    "check_qualification_number",
    "institution_key_parts",
    "normalize",
    "parse_certificate_number",
]


class CodeKind(StrEnum):
    SKILL_LEVEL = "skill_level"
    SKILL_LEVEL_HENAN = "skill_level_henan"
    SPECIAL_ABILITY = "special_ability"
    SPECIAL_ASSESSOR = "special_assessor"
    SUPERVISOR_EXTERNAL = "supervisor_external"
    SUPERVISOR_INTERNAL = "supervisor_internal"
    # 职业资格证书 issued before the 2019-2020 reform (rule 44). Never read from an input's shape
    # (rule 18): only a legacy import names it, and a lookup falls back to it
    # (``check_qualification_number``, docs/DECISIONS.md D49).
    QUALIFICATION = "qualification"


# The national rule dates from 2019-04-19 and the Henan 专项 rule from 2020-03-12; earlier years
# predate the format, so they are suspicious but not wrong (rule 9).
SKILL_LEVEL_RULE_YEAR = 2019
SPECIAL_RULE_YEAR = 2020

_ASCII_DIGITS = frozenset("0123456789")
# Hyphens and dashes people type or paste between groups (rule 1), plus the soft hyphen and the
# zero-width characters that copies from PDF and Word files carry invisibly.
_DROP = str.maketrans(
    "",
    "",
    "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u200b\u200c\u200d\u2060\ufeff",
)

# Certificate kinds only; [0-9] rather than \d because \d also matches non-ASCII digits.
_CERTIFICATE_RE = re.compile(
    r"([YS])[0-9]{4}([0-9]{2})([0-9]{2})[0-9]{4}([0-9]{2})([1-5])([0-9]{6})"
    r"|([0-9]{2})([0-9]{4}5[0-9]{3})([0-9]{5})"
)
# frozensets: membership on a mappingproxy costs an extra indirection on the fast path.
_PROVINCE_SET = frozenset(NUMBER_PROVINCES)
_HENAN_CITY_SET = frozenset(HENAN_CITIES)


def normalize(raw: str) -> str:
    """Return the canonical form of a typed or pasted code (rule 1). Never raises.

    NFKC (full-width → half-width), then every whitespace character (including U+3000) and every
    hyphen or dash is removed, and letters are upper-cased.
    """
    text = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    text = "".join(text.split()).translate(_DROP).upper()
    if not text.isascii():
        # upper() can produce text that NFKC changes again (e.g. 'ΐ'); a second pass keeps normalize
        # idempotent, so a stored canonical form normalises to itself.
        text = "".join(unicodedata.normalize("NFKC", text).split()).translate(_DROP)
    return text


@dataclass(frozen=True)
class CodeCheck:
    """The full explanation of one input: the kind it looks like, its decoded parts, what is wrong.

    ``kind`` is the format the input was judged against, also when it is invalid (so a page can say
    "looks like a 职业技能等级证书 number, but …"); it is ``None`` when no known format fits.
    """

    input: str
    canonical: str
    kind: CodeKind | None
    valid: bool
    parts: dict[str, Any] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "kind": None if self.kind is None else self.kind.value,
            "canonical": self.canonical,
            "parts": self.parts,
            "problems": [p.to_json() for p in self.problems],
            "warnings": [w.to_json() for w in self.warnings],
            "reference_version": REFERENCE_VERSION,
        }


@dataclass(frozen=True, slots=True)
class CertificateNumber:
    """A valid certificate number, decoded.

    ``institution_key`` is positions 1–13 of a 22-character number (rule 12) or the 8-digit 考核机构
    code of a 专项 number. ``level`` is ``None`` for 专项, which has no level (rule 29).
    ``province_code`` and ``city_code`` are ``None`` where the format has no such part.
    """

    canonical: str
    kind: CodeKind
    institution_key: str
    year: int
    level: int | None
    serial: int
    province_code: str | None
    city_code: str | None


def _problem(
    code: str, rule: int, position: int | None, found: str, severity: str = "error", **fields: Any
) -> Problem:
    zh, en, allowed = PROBLEM_TEXTS[code]
    if position is not None:
        end = position + max(len(found), 1) - 1
        fields["at_zh"] = f"第 {position} 位" if end == position else f"第 {position}–{end} 位"
        fields["at_en"] = f"Position {position}" if end == position else f"Positions {position}–{end}"
    fields["found"] = found
    return Problem(
        code,
        zh.format(**fields),
        en.format(**fields),
        position=position,
        found=found,
        allowed=allowed.format(**fields),
        rule=rule,
        severity=severity,
    )


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class _Checker:
    """Collects problems, warnings and decoded parts while one input is checked part by part."""

    __slots__ = ("parts", "problems", "rule", "text", "warnings")

    def __init__(self, text: str, rule: int) -> None:
        self.text = text
        self.rule = rule  # the format rule a non-digit breaks in this kind of code
        self.parts: dict[str, Any] = {}
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, code: str, rule: int, position: int | None, found: str, **fields: Any) -> None:
        self.problems.append(_problem(code, rule, position, found, **fields))

    def warn(self, code: str, rule: int, position: int, found: str, **fields: Any) -> None:
        self.warnings.append(_problem(code, rule, position, found, "warning", **fields))

    def length(
        self, expected: int, rule: int, what_zh: str, what_en: str, hint_zh: str = "", hint_en: str = ""
    ) -> None:
        if len(self.text) != expected:
            fields = {"what_zh": what_zh, "what_en": what_en, "hint_zh": hint_zh, "hint_en": hint_en}
            self.error("length", rule, None, str(len(self.text)), expected=expected, **fields)

    def digits(self, position: int, length: int, what_zh: str, what_en: str) -> str | None:
        """Return the part at ``position`` when it is complete and all ASCII digits.

        Otherwise report every run of non-digits that is present (the placeholder X gets its own slug,
        rule 8) and return ``None``; characters that are missing are the length problem's business.
        """
        start = position - 1
        end = min(start + length, len(self.text))
        chunk = self.text[start:end]
        if len(chunk) == length and chunk.isascii() and chunk.isdigit():
            return chunk
        i = start
        while i < end:
            if self.text[i] in _ASCII_DIGITS:
                i += 1
                continue
            is_x = self.text[i] == "X"
            j = i + 1
            while j < end and self.text[j] not in _ASCII_DIGITS and (self.text[j] == "X") == is_x:
                j += 1
            code, rule = ("placeholder_x", 8) if is_x else ("non_digit", self.rule)
            self.error(code, rule, i + 1, self.text[i:j], what_zh=what_zh, what_en=what_en)
            i = j
        return None

    def year(self, position: int, rule: int, today: date, rule_year: int | None) -> None:
        yy = self.digits(position, 2, "年份", "year")
        if yy is None:
            return
        year = 2000 + int(yy)
        self.parts["year"] = year
        if year > today.year:
            self.error("year_in_future", rule, position, yy, year=year, this_year=today.year)
        elif rule_year is not None and year < rule_year:
            self.warn("year_before_rule", rule, position, yy, year=year, rule_year=rule_year)

    def serial(self, position: int, length: int, rule: int) -> None:
        serial = self.digits(position, length, "序列码", "serial")
        if serial is None:
            return
        self.parts["serial"] = serial
        if serial.strip("0") == "":
            self.error("serial_zero", rule, position, serial, first=serial[1:] + "1", last="9" * length)


# ---------------------------------------------------------------------------------------------------
# 22-character 职业技能等级证书编号 (national, and the Henan city variant when positions 6–7 are 41)


def _check_institution_key(c: _Checker) -> None:
    """Check positions 1–13, the part 人社 assigns (rule 12), and decode them into ``c.parts``."""
    before = len(c.problems)
    letter = c.text[:1]
    category = INSTITUTION_CATEGORIES.get(letter)
    if category is not None:
        c.parts["category"] = category.to_json()
    else:
        c.error("category_letter", 3, 1, letter)
    code = c.digits(2, 4, "评价机构代码", "institution code")
    province = c.digits(6, 2, "省级代码", "province code")
    henan = province == "41"
    if code is not None:
        # Henan lets a city, not only the province, take the 0000 filing (豫职鉴〔2020〕2号 附件1 二（二）).
        filed = "mohrss" if code != "0000" else "province_or_city" if henan else "province"
        authority = FILING_AUTHORITIES[filed]
        c.parts["institution_code"] = {
            "code": code,
            "filed_with": filed,
            "filed_with_zh": authority.name_zh,
            "filed_with_en": authority.name_en,
        }
    if province is not None:
        c.parts["province"] = {"code": province, "name": NUMBER_PROVINCES.get(province)}
        if province not in NUMBER_PROVINCES:
            c.error("province_unknown", 5, 6, province)
    if henan:
        city = c.digits(8, 2, "市级代码", "city code")
        if city is not None:
            c.parts["city"] = {"code": city, "name": HENAN_CITIES.get(city)}
            if city not in HENAN_CITIES:
                c.error("henan_city_unknown", 10, 8, city)
        sequence = c.digits(10, 4, "站点序列码", "site sequence")
    else:
        sequence = c.digits(8, 6, "站点序列码", "site sequence")
    if sequence is not None:
        c.parts["site_sequence"] = sequence
        if henan and letter == "Y":
            site_kind = "technical_school" if sequence[0] == "9" else "employer"
            c.parts["site_kind"] = {**HENAN_SITE_KINDS[site_kind].to_json(), "since": HENAN_POSITION10_SINCE}
            if site_kind == "technical_school":
                # Only the registry knows whether the issuer is a 技工院校认定中心, and numbers issued
                # before 2021-01-14 may use 9 freely, so this warns and never rejects (rule 11).
                c.warn("position10_school", 11, 10, "9")
    if len(c.problems) == before and len(c.text) >= 13:
        c.parts["institution_key"] = c.text[:13]


def _check_skill_level(c: _Checker, today: date) -> CodeKind:
    c.length(
        22,
        2,
        "职业技能等级证书编号（1 位字母 + 21 位数字）",
        "Skill level certificate number (1 letter + 21 digits)",
        "（质量督导员内督证卡为 13 位）",
        " (an internal supervisor card has 13)",
    )
    _check_institution_key(c)
    c.year(14, 9, today, SKILL_LEVEL_RULE_YEAR)
    level_text = c.digits(16, 1, "职业技能等级代码", "skill level")
    if level_text is not None:
        level = int(level_text)
        c.parts["level"] = {
            "code": level,
            "name": LEVEL_NAMES.get(level),
            "name_en": LEVEL_NAMES_EN.get(level),
        }
        if level not in LEVEL_NAMES:
            c.error("level_out_of_range", 6, 16, level_text)
    c.serial(17, 6, 7)
    return CodeKind.SKILL_LEVEL_HENAN if c.text[5:7] == "41" else CodeKind.SKILL_LEVEL


# ---------------------------------------------------------------------------------------------------
# 专项: 8-digit 考核机构 code and 15-digit 河南专项职业能力证书 number (豫人社办函〔2020〕41号)


def _check_assessor(c: _Checker, offset: int, rule: int) -> None:
    """Check an 8-digit 考核机构 code that starts after ``offset`` characters."""
    before = len(c.problems)
    region = c.digits(offset + 1, 4, "地区编码", "region code")
    fixed = c.digits(offset + 5, 1, "专项标识", "special-ability marker")
    sequence = c.digits(offset + 6, 3, "考核机构流水码", "assessor sequence")
    assessor: dict[str, Any] = {}
    if region is not None:
        # The 4-digit region scheme is undocumented beyond 1601 = 郑州 (docs/RULES.md §2.4), so an unknown
        # region is shown as unknown, never rejected.
        assessor["region"] = {"code": region, "name": SPECIAL_REGIONS.get(region)}
    if fixed is not None:
        assessor["fixed"] = fixed
        if fixed != "5":
            c.error("assessor_fixed_5", rule, offset + 5, fixed)
    if sequence is not None:
        assessor["sequence"] = sequence
        assessor["is_city_centre"] = sequence == "000"
        if sequence == "000":
            c.warn("assessor_suffix_000", 16, offset + 6, sequence)
    if assessor:
        c.parts["assessor"] = assessor
    if len(c.problems) == before and len(c.text) >= offset + 8:
        assessor["code"] = c.parts["institution_key"] = c.text[offset : offset + 8]


def _check_special_ability(c: _Checker, today: date) -> CodeKind:
    c.length(15, 15, "专项职业能力证书编号（15 位数字）", "Special ability certificate number (15 digits)")
    c.year(1, 15, today, SPECIAL_RULE_YEAR)
    _check_assessor(c, 2, 15)
    c.serial(11, 5, 15)
    return CodeKind.SPECIAL_ABILITY


def _check_special_assessor(c: _Checker, today: date) -> CodeKind:
    c.length(8, 16, "专项职业能力考核机构编码（8 位数字）", "Special ability assessor code (8 digits)")
    _check_assessor(c, 0, 16)
    return CodeKind.SPECIAL_ASSESSOR


# ---------------------------------------------------------------------------------------------------
# 质量督导员 cards (人社职司便函〔2020〕53号 附件1)


def _check_supervisor_external(c: _Checker, today: date) -> CodeKind:
    c.length(9, 17, "质量督导员外督证卡编码（R + 8 位数字）", "External supervisor card code (R + 8 digits)")
    c.parts["category"] = SUPERVISOR_CARD_LETTERS["R"].to_json()
    issuer = c.digits(2, 2, "证卡颁发机构代码", "issuer code")
    if issuer is not None:
        c.parts["issuer"] = {"code": issuer, "name": SUPERVISOR_ISSUERS.get(issuer)}
        if issuer not in SUPERVISOR_ISSUERS:
            c.error("issuer_unknown", 17, 2, issuer)
    c.year(4, 17, today, None)
    c.serial(6, 4, 17)
    return CodeKind.SUPERVISOR_EXTERNAL


def _check_supervisor_internal(c: _Checker, today: date) -> CodeKind:
    c.length(
        13,
        17,
        "质量督导员内督证卡编码（1 位字母 + 12 位数字）",
        "Internal supervisor card code (1 letter + 12 digits)",
    )
    letter = c.text[0]
    c.parts["category"] = SUPERVISOR_CARD_LETTERS[letter].to_json()
    issuer = c.digits(2, 6, "证卡颁发机构代码", "issuer code")
    if issuer is not None:
        # The issuer field has no province part, so the same six digits can name different issuers in
        # different provinces (rule 17; docs/RULES.md §2.5): list what it can mean.
        if letter == "H":
            meanings = [
                {
                    "zh": "人力资源社会保障部为行业部门赋予的代码",
                    "en": "code MOHRSS assigned to an industry department",
                }
            ]
        else:
            meanings = [
                {
                    "zh": "省级备案的评价机构（站点）序列码",
                    "en": "site sequence of a province-filed institution",
                }
            ]
            if issuer.startswith("00"):
                mohrss = {
                    "zh": f"人力资源社会保障部备案的评价机构代码 {issuer[2:]}",
                    "en": f"MOHRSS-filed institution code {issuer[2:]}",
                }
                meanings.insert(0, mohrss)
        c.parts["issuer"] = {
            "code": issuer,
            "name": None,
            "unique_across_provinces": False,
            "note_zh": "内督证卡颁发机构代码不含省份，不同省份可能重复，不能单独用来确定颁发机构",
            "note_en": "Internal card issuer codes carry no province and can repeat across provinces; "
            "they do not identify the issuer on their own",
            "possible_meanings": meanings,
        }
    c.year(8, 17, today, None)
    c.serial(10, 4, 17)
    return CodeKind.SUPERVISOR_INTERNAL


# ---------------------------------------------------------------------------------------------------
# Legacy 职业资格证书 (rule 44; docs/DECISIONS.md D49)

# No format is published for them (rule 18); the printed 证书编号 is a digit string,
# usually 16 long. 15 digits stay the 河南专项 number's alone, so a number never means two kinds.
QUALIFICATION_LENGTHS = (*range(10, 15), *range(16, 21))
QUALIFICATION_NAME_ZH = KIND_INFO["qualification"].name_zh
QUALIFICATION_NAME_EN = KIND_INFO["qualification"].name_en


def check_qualification_number(raw: str) -> CodeCheck:
    """Normalise (rule 1) and check a legacy 职业资格证书 number: 10–20 ASCII digits, not 15.

    Called only where the kind is known or being tried (a legacy import, a lookup's fallback):
    ``check_code`` never returns this kind. Never raises; problems name the position of every run
    of non-digits, or the length.
    """
    canonical = normalize(raw)
    if not canonical:
        return CodeCheck(
            raw, canonical, CodeKind.QUALIFICATION, False, {}, (_problem("empty", 44, None, ""),), ()
        )
    c = _Checker(canonical, 44)
    n = len(canonical)
    if n not in QUALIFICATION_LENGTHS:
        hint_zh, hint_en = (
            ("（15 位数字为河南专项职业能力证书编号）", " (15 digits are a Henan 专项 number)")
            if n == 15
            else ("", "")
        )
        c.error("length", 44, None, str(n), expected="10–14, 16–20", what_zh=f"{QUALIFICATION_NAME_ZH}编号",
                what_en=f"{QUALIFICATION_NAME_EN} number", hint_zh=hint_zh, hint_en=hint_en)  # fmt: skip
    c.digits(1, n, f"{QUALIFICATION_NAME_ZH}编号", "qualification certificate number")
    if not c.problems:
        c.parts["length"] = n
    return CodeCheck(raw, canonical, CodeKind.QUALIFICATION, not c.problems, c.parts, tuple(c.problems), ())


# ---------------------------------------------------------------------------------------------------
# Classification (rule 18) and the public entry points

_CHECKS: dict[CodeKind, tuple[Callable[[_Checker, date], CodeKind], int]] = {
    CodeKind.SKILL_LEVEL: (_check_skill_level, 2),
    CodeKind.SPECIAL_ABILITY: (_check_special_ability, 15),
    CodeKind.SPECIAL_ASSESSOR: (_check_special_assessor, 16),
    CodeKind.SUPERVISOR_EXTERNAL: (_check_supervisor_external, 17),
    CodeKind.SUPERVISOR_INTERNAL: (_check_supervisor_internal, 17),
}


def _classify(text: str) -> CodeKind | None:
    """Pick the format an input is judged against, leaning towards the most helpful explanation.

    Any 22-character input is read as a 职业技能等级证书 number, so a wrong first letter is reported as
    a wrong letter; so is any Y/S input except the 13-character 内督 card. Digit inputs within one
    character of 15 or 8, and R/H inputs within one of 9 or 13, are read as that format and get a
    length problem. Henan is told apart after the check.
    """
    n = len(text)
    first = text[:1]
    if n == 22 or (first in ("Y", "S") and n != 13) or (first.isascii() and first.isalpha() and n >= 16):
        return CodeKind.SKILL_LEVEL
    if first in _ASCII_DIGITS:
        return (
            CodeKind.SPECIAL_ABILITY if 14 <= n <= 16 else CodeKind.SPECIAL_ASSESSOR if 7 <= n <= 9 else None
        )
    if first == "R" and 8 <= n <= 10:
        return CodeKind.SUPERVISOR_EXTERNAL
    if (first == "H" and 12 <= n <= 14) or first in ("Y", "S"):
        return CodeKind.SUPERVISOR_INTERNAL
    return None


def check_code(raw: str, *, today: date) -> CodeCheck:
    """Normalise, classify (rule 18) and check any code, reporting every problem at once.

    ``today`` bounds the year (rule 9). Never raises: an unrecognised input is a ``CodeCheck`` with
    ``kind=None`` and an ``unknown_format`` (or ``empty``) problem.
    """
    canonical = normalize(raw)
    kind = _classify(canonical)
    if kind is None:
        if canonical:
            problem = _problem("unknown_format", 18, None, _clip(canonical), length=len(canonical))
        else:
            problem = _problem("empty", 18, None, "")
        return CodeCheck(raw, canonical, None, False, {}, (problem,), ())
    check, rule = _CHECKS[kind]
    c = _Checker(canonical, rule)
    kind = check(c, today)
    return CodeCheck(raw, canonical, kind, not c.problems, c.parts, tuple(c.problems), tuple(c.warnings))


def check_certificate_number(raw: str, *, today: date) -> CodeCheck:
    """Like ``check_code``, but only the certificate kinds can be valid.

    An 8-digit assessor code or a supervisor card gets a ``not_certificate_number`` problem on top of
    its own problems. Never raises.
    """
    result = check_code(raw, today=today)
    if result.kind is None or KIND_INFO[result.kind].certificate:
        return result
    info = KIND_INFO[result.kind]
    problem = _problem(
        "not_certificate_number", 18, None, result.kind.value, what_zh=info.name_zh, what_en=info.name_en
    )
    return replace(result, valid=False, problems=(*result.problems, problem))


def _fast_parse(text: str, this_year: int) -> CertificateNumber | None:
    match = _CERTIFICATE_RE.fullmatch(text)
    if match is None:
        return None
    letter, province, city, yy, level, serial, special_yy, assessor, special_serial = match.groups()
    if letter is not None:
        year = 2000 + int(yy)
        if province not in _PROVINCE_SET or serial == "000000" or year > this_year:
            return None
        if province != "41":
            return CertificateNumber(
                text, CodeKind.SKILL_LEVEL, text[:13], year, int(level), int(serial), province, None
            )
        if city not in _HENAN_CITY_SET:
            return None
        return CertificateNumber(
            text, CodeKind.SKILL_LEVEL_HENAN, text[:13], year, int(level), int(serial), "41", city
        )
    year = 2000 + int(special_yy)
    if special_serial == "00000" or year > this_year:
        return None
    return CertificateNumber(
        text, CodeKind.SPECIAL_ABILITY, assessor, year, None, int(special_serial), None, None
    )


def parse_certificate_number(raw: str, *, today: date) -> CertificateNumber:
    """Parse a 职业技能等级证书 (22-character) or 河南专项职业能力证书 (15-digit) number.

    Accepts exactly the inputs ``check_certificate_number`` calls valid; warnings are not reported
    here (call ``check_code`` for them).

    Raises:
        InvalidCode: the input is not a valid certificate number; ``problems`` lists every problem.
    """
    number = _fast_parse(raw, today.year)
    if number is None:
        canonical = normalize(raw)
        if canonical != raw:
            number = _fast_parse(canonical, today.year)
    if number is not None:
        return number
    raise InvalidCode(problems=check_certificate_number(raw, today=today).problems)


def institution_key_parts(key: str) -> dict[str, Any]:
    """Decode a 13-character Y/S institution key (positions 1–13 of a 22-character number, rule 12).

    The key is normalised first (rule 1). Returns the same named parts as ``CodeCheck.parts``:
    category, institution_code, province, city (Henan only), site_sequence, site_kind (Henan Y only)
    and institution_key.

    Raises:
        InvalidCode: the key is malformed; ``problems`` lists every problem.
    """
    c = _Checker(normalize(key), 2)
    c.length(13, 12, "评价机构（站点）编码", "Institution key")
    _check_institution_key(c)
    if c.problems:
        raise InvalidCode(problems=c.problems)
    return c.parts
