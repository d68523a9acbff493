"""Holder identity documents: types, validation, normalisation and masking.

An ID number is sensitive personal information (PIPL Art. 28, GB/T 35273 Annex B), so these rules
hold everywhere:

* no error message or ``Problem`` ever carries the ID number (errors reach logs and API answers);
  at most the offending character or its position is quoted;
* the database only ever sees the keyed blind index and the AEAD ciphertext made by
  ``verify.crypto.idprotect.IdProtector`` from the canonical form returned here, never the number;
* every answer shows an ID through ``mask_id``, which reveals the last ``ID_TAIL_LENGTH``
  characters and nothing else (docs/SECURITY.md §2.1).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from verify.domain.errors import InvalidId, Problem


class IdType(StrEnum):
    """Kinds of holder ID document. The values are stored and sent over the API: never rename them."""

    RESIDENT = "resident_id"
    HKMOTW_RESIDENCE = "hkmotw_residence_permit"
    HK_MACAO_PASS = "hk_macao_pass"  # noqa: S105 -- "pass" is a travel permit, not a password
    TAIWAN_PASS = "taiwan_pass"  # noqa: S105
    FOREIGN_PERMANENT = "foreign_permanent_residence"
    PASSPORT = "passport"

    @property
    def label_zh(self) -> str:
        return _LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _LABELS[self][1]


_LABELS: dict[IdType, tuple[str, str]] = {
    IdType.RESIDENT: ("居民身份证", "Resident identity card"),
    IdType.HKMOTW_RESIDENCE: (
        "港澳台居民居住证",
        "Residence permit for Hong Kong, Macao and Taiwan residents",
    ),
    IdType.HK_MACAO_PASS: (
        "港澳居民来往内地通行证",
        "Mainland travel permit for Hong Kong and Macao residents",
    ),
    IdType.TAIWAN_PASS: ("台湾居民来往大陆通行证", "Mainland travel permit for Taiwan residents"),
    IdType.FOREIGN_PERMANENT: ("外国人永久居留身份证", "Foreign permanent resident ID card"),
    IdType.PASSPORT: ("护照", "Passport"),
}

# Batch files are filled in by hand, so besides the official names accept the names clerks actually type
# (回乡证, 台胞证, 永居证 ...). Keys are written without spaces; callers strip their input before looking up.
ID_TYPE_LABELS_ZH: Mapping[str, IdType] = MappingProxyType(
    {
        "居民身份证": IdType.RESIDENT,
        "身份证": IdType.RESIDENT,
        "公民身份号码": IdType.RESIDENT,
        "港澳台居民居住证": IdType.HKMOTW_RESIDENCE,
        "港澳居民居住证": IdType.HKMOTW_RESIDENCE,
        "台湾居民居住证": IdType.HKMOTW_RESIDENCE,
        "港澳居民来往内地通行证": IdType.HK_MACAO_PASS,
        "回乡证": IdType.HK_MACAO_PASS,
        "台湾居民来往大陆通行证": IdType.TAIWAN_PASS,
        "台胞证": IdType.TAIWAN_PASS,
        "外国人永久居留身份证": IdType.FOREIGN_PERMANENT,
        "外国人永久居留证": IdType.FOREIGN_PERMANENT,
        "永居证": IdType.FOREIGN_PERMANENT,
        "护照": IdType.PASSPORT,
    }
)

# ---------------------------------------------------------------------------------------------------------
# GB 11643 / ISO 7064 MOD 11-2

# Index = (1 - 2·N) mod 11 where N = int(first17, 13); see gb11643_check_char for why that is the check value.
_CHECK_CHARS = "0123456789X"
_DIGITS = frozenset("0123456789")

# First two digits of an ID number: the GB/T 2260 province-level codes (not the certificate-number
# province table, ``reference.NUMBER_PROVINCES``, which also lists 71, 81 and 82). 81/82/83 are deliberately absent: those numbers are
# 港澳台居民居住证, a different document type with its own blind-index domain.
ID_PROVINCES = frozenset(
    ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41")
    + ("42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71")
)
_HKMOTW_REGIONS = frozenset({"810000", "820000", "830000"})
# The standard's own worked example 440524188001010014 is born in 1880 and must validate
# (docs/SECURITY.md §5 P6); earlier than 1850 is certainly a typo.
_MIN_BIRTH = 18500101

# Valid month-day pairs as MMDD integers, so the hot path checks a date with one set lookup (Feb 29 is
# re-checked against the year).
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_VALID_MMDD = frozenset(m * 100 + d for m in range(1, 13) for d in range(1, _DAYS_IN_MONTH[m - 1] + 1))

_FAST_18 = re.compile(r"[0-9]{17}[0-9X]")
# What validate_id returns: the crypto layer refuses anything else (a raw number would never match).
CANONICAL_ID = re.compile(r"[0-9A-Z]{5,18}")

# Input longer than this cannot be any ID; answer "wrong length" without normalising or scanning it.
_MAX_RAW = 64


def id_type_of(raw: str) -> IdType | None:
    """The ID type a batch or roster cell names: its Chinese label or its stored value; None when
    it names neither."""
    text = raw.strip()
    if text in ID_TYPE_LABELS_ZH:
        return ID_TYPE_LABELS_ZH[text]
    try:
        return IdType(text)
    except ValueError:
        return None


def gb11643_check_char(first17: str) -> str:
    """Return the GB 11643 check character ("0".."9" or "X") for the first 17 digits.

    Raises ValueError unless ``first17`` is exactly 17 ASCII digits.
    """
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError("first17 must be exactly 17 ASCII digits")
    # Weights are 2^(18-i) mod 11 and 13 ≡ 2 (mod 11), so Σ aᵢ·Wᵢ ≡ 2·int(first17, 13); the check value c
    # makes the full weighted sum ≡ 1. int() in C is ~10x faster than a Python loop over 17 weights.
    return _CHECK_CHARS[(1 - 2 * int(first17, 13)) % 11]


def _is_real_date(ymd: int) -> bool:
    mmdd = ymd % 10000
    if mmdd not in _VALID_MMDD:
        return False
    if mmdd == 229:
        year = ymd // 10000
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def _date_int(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


# ---------------------------------------------------------------------------------------------------------
# Normalisation


def normalize_id(raw: str) -> str:
    """Return ``raw`` in canonical character form: NFKC, no whitespace or invisible characters, upper case.

    Only characters are normalised; nothing is validated. Raises nothing.
    """
    if raw.isascii():
        return "".join(raw.split()).upper()
    # NFKC turns full-width ０-９ / Ｘ from Chinese IMEs into ASCII and U+3000 into a space.
    s = unicodedata.normalize("NFKC", raw)
    # Zero-width and BOM characters arrive with copy-paste from web pages and Excel; an ID never contains
    # them, so dropping them cannot merge two different IDs.
    s = "".join(ch for ch in s if not ch.isspace() and unicodedata.category(ch) != "Cf")
    return s.upper()


# ---------------------------------------------------------------------------------------------------------
# Validation


# A bad character is quoted only if it is printable ASCII, and only for the first few: quoting every one
# would rebuild the input when someone types a name, or an ID in Arabic-Indic digits, into the ID field.
_QUOTE_LIMIT = 3


class _Report:
    """Collects the problems of one ID; all messages are built without the ID itself."""

    def __init__(self, id_type: IdType) -> None:
        self.id_type = id_type
        self.problems: list[Problem] = []
        self._quoted = 0

    def quote(self, ch: str) -> str | None:
        if self._quoted >= _QUOTE_LIMIT or not ch.isascii() or not ch.isprintable() or ch.isspace():
            return None
        self._quoted += 1
        return ch

    def add(
        self,
        code: str,
        zh: str,
        en: str,
        *,
        position: int | None = None,
        found: str | None = None,
        allowed: str | None = None,
    ) -> None:
        self.problems.append(Problem(code, zh, en, position=position, found=found, allowed=allowed))

    def length(self, n: int, allowed_zh: str, allowed_en: str, allowed: str) -> None:
        t = self.id_type
        self.add(
            "id_length",
            f"{t.label_zh}号码应为 {allowed_zh}，实际为 {n} 位",
            f"A {t.label_en} number must be {allowed_en}; got {n}",
            found=str(n),
            allowed=allowed,
        )

    def char(self, index: int, ch: str, allowed_zh: str, allowed_en: str, allowed: str) -> None:
        pos = index + 1
        shown = self.quote(ch)
        what_zh = f"第 {pos} 位的字符“{shown}”" if shown else f"第 {pos} 位的字符"
        what_en = f"Character {pos} ({shown})" if shown else f"Character {pos}"
        self.add(
            "id_char",
            f"{what_zh}无效，此处只能是{allowed_zh}",
            f"{what_en} is not allowed here; expected {allowed_en}",
            position=pos,
            found=shown,
            allowed=allowed,
        )

    def chars(self, s: str, ok: list[frozenset[str]], names: list[tuple[str, str, str]]) -> bool:
        """Check each position against its allowed set; returns True if every character was allowed."""
        clean = True
        for i, ch in enumerate(s):
            slot = min(i, len(ok) - 1)
            if ch not in ok[slot]:
                clean = False
                self.char(i, ch, *names[slot])
        return clean

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        t = self.id_type
        raise InvalidId(
            f"{t.label_zh}号码无效：" + "；".join(p.message_zh for p in self.problems),
            f"The {t.label_en} number is not valid: " + "; ".join(p.message_en for p in self.problems),
            problems=self.problems,
        )


_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM = _DIGITS | _UPPER
_DIGIT_OR_X = _DIGITS | {"X"}
_N_DIGIT = ("数字 0-9", "a digit 0-9", "0-9")
_N_DIGIT_X = ("数字 0-9 或 X", "a digit 0-9 or X", "0-9, X")
_N_LETTER = ("大写字母 A-Z", "a letter A-Z", "A-Z")
_N_ALNUM = ("字母 A-Z 或数字 0-9", "a letter A-Z or a digit 0-9", "A-Z, 0-9")


def _check_birth(r: _Report, s: str, today_int: int) -> None:
    """Positions 7-14 as YYYYMMDD. The date itself is personal data, so messages name positions only."""
    if not _DIGITS.issuperset(s[6:14]):
        return
    ymd = int(s[6:14])
    if not _is_real_date(ymd):
        r.add(
            "id_birth_date",
            "第 7-14 位的出生日期不是真实存在的日期",
            "The birth date in positions 7-14 is not a real calendar date",
            position=7,
            allowed="YYYYMMDD",
        )
    elif ymd > today_int:
        r.add(
            "id_birth_future",
            "第 7-14 位的出生日期晚于今天",
            "The birth date in positions 7-14 is in the future",
            position=7,
        )
    elif ymd < _MIN_BIRTH:
        r.add(
            "id_birth_too_early",
            "第 7-14 位的出生日期早于 1850 年",
            "The birth date in positions 7-14 is before 1850",
            position=7,
            allowed=">= 19000101",
        )


def _check_digit(r: _Report, s: str) -> None:
    if not _DIGITS.issuperset(s[:17]) or s[17] not in _DIGIT_OR_X:
        return  # already reported as a bad character; a check digit over non-digits means nothing
    expected = gb11643_check_char(s[:17])
    if s[17] != expected:
        r.add(
            "id_check_digit",
            f"第 18 位校验码不符：填写的是“{s[17]}”，按前 17 位计算应为“{expected}”，请核对号码是否抄错",
            f"Check character (position 18) does not match: found {s[17]}, the first 17 digits give "
            f"{expected}; the number was probably mistyped",
            position=18,
            found=s[17],
            allowed=expected,
        )


def _validate_gb11643_family(r: _Report, s: str, today_int: int) -> str:
    if len(s) != 18:
        r.length(len(s), "18 位", "18 characters", "18")
    r.chars(s, [_DIGITS] * 17 + [_DIGIT_OR_X], [_N_DIGIT] * 17 + [_N_DIGIT_X])
    if len(s) != 18:
        return s
    if _DIGITS.issuperset(s[:6]):
        if r.id_type is IdType.HKMOTW_RESIDENCE:
            if s[:6] not in _HKMOTW_REGIONS:
                r.add(
                    "id_region",
                    "港澳台居民居住证号码的前 6 位应为 810000（香港）、820000（澳门）或 830000（台湾）",
                    "The first 6 digits of this residence permit must be 810000 (Hong Kong), "
                    "820000 (Macao) or 830000 (Taiwan)",
                    position=1,
                    allowed="810000, 820000, 830000",
                )
        elif s[:2] in {"81", "82", "83"}:
            r.add(
                "id_region",
                "以 81、82、83 开头的是港澳台居民居住证号码，请将证件类型选为“港澳台居民居住证”",
                "Numbers starting 81, 82 or 83 are residence permits for Hong Kong, Macao and Taiwan "
                "residents; choose that ID type",
                position=1,
            )
        elif s[:2] not in ID_PROVINCES:
            r.add(
                "id_region",
                "前 2 位不是有效的省级行政区划代码",
                "The first 2 digits are not a valid province code",
                position=1,
            )
    _check_birth(r, s, today_int)
    _check_digit(r, s)
    return s


def _foreign_length(r: _Report, n: int) -> None:
    r.length(n, "15 位（旧版）或 18 位（2023 版）", "15 (old card) or 18 (2023 card) characters", "15, 18")


def _validate_foreign(r: _Report, s: str, today_int: int) -> str:
    if len(s) == 15 or (len(s) != 18 and s[:1] in _UPPER):
        # 2004/2017 card: 3-letter nationality + 12 digits. Its internal layout and check digit are not
        # published, so only the shape is checked.
        if len(s) != 15:
            _foreign_length(r, len(s))
        r.chars(s, [_UPPER] * 3 + [_DIGITS], [_N_LETTER] * 3 + [_N_DIGIT])
        return s
    # 2023 card: "9" + 17 digits with the GB 11643 check digit (NIA adaptation rules, 2023-12-01).
    # The birth date is deliberately not checked: the field layout is not in any source we could verify,
    # and wrongly rejecting a genuine card is worse than missing a typo the check digit catches anyway.
    if len(s) != 18:
        _foreign_length(r, len(s))
    clean = r.chars(s, [_DIGITS] * 17 + [_DIGIT_OR_X], [_N_DIGIT] * 17 + [_N_DIGIT_X])
    if clean and s[:1] != "9":
        r.add(
            "id_char",
            "2023 版外国人永久居留身份证号码以 9 开头",
            "A 2023 foreign permanent resident ID number starts with 9",
            position=1,
            allowed="9",
        )
    if len(s) == 18:
        _check_digit(r, s)
    return s


_HK_MACAO = re.compile(r"([HM][0-9]{8})(?:[0-9]{2})?")


def _validate_hk_macao(r: _Report, s: str, today_int: int) -> str:
    # New cards (2013-): H/M + 8 digits. Old cards append a 2-digit renewal count; the first 9 characters
    # are the lifetime number, so that is the canonical form: the same holder gets the same blind index
    # whichever card the clerk copied.
    m = _HK_MACAO.fullmatch(s)
    if m:
        return m.group(1)
    if len(s) not in (9, 11):
        r.length(
            len(s),
            "9 位（H 或 M 加 8 位数字；旧证 11 位）",
            "9 characters (H or M + 8 digits; 11 on old cards)",
            "9, 11",
        )
    if s[:1] not in {"H", "M"}:
        r.char(0, s[0], "H（香港）或 M（澳门）", "H (Hong Kong) or M (Macao)", "H, M")
    _chars_from(r, s, 1, _DIGITS, _N_DIGIT)
    return s


def _chars_from(r: _Report, s: str, start: int, ok: frozenset[str], names: tuple[str, str, str]) -> None:
    for i in range(start, len(s)):
        if s[i] not in ok:
            r.char(i, s[i], *names)


_TAIWAN = re.compile(r"([0-9]{8})(?:[0-9]{2})?(?:\([A-Z0-9]\))?")


def _validate_taiwan(r: _Report, s: str, today_int: int) -> str:
    # Since 2008 the number is the 8-digit lifetime number. Older cards add a 2-digit issue count and a
    # bracketed issuing-office code, e.g. 1234567801(B); canonicalise to the lifetime number.
    m = _TAIWAN.fullmatch(s)
    if m:
        return m.group(1)
    body = s[: s.index("(")] if "(" in s else s
    if len(body) not in (8, 10):
        r.length(len(body), "8 位数字（旧证 10 位）", "8 digits (10 on old cards)", "8, 10")
    _chars_from(r, body, 0, _DIGITS, _N_DIGIT)
    if len(r.problems) == 0:
        r.add(
            "id_char",
            "号码后的括号部分应为一个字母或数字，例如 (B)",
            "The bracketed suffix must be one letter or digit, e.g. (B)",
            position=len(body) + 1,
        )
    return s


def _validate_passport(r: _Report, s: str, today_int: int) -> str:
    if not 5 <= len(s) <= 17:
        r.length(len(s), "5-17 位", "5 to 17 characters", "5-17")
    _chars_from(r, s, 0, _ALNUM, _N_ALNUM)
    # All-digit passports exist (e.g. US passports issued before 2021), so digits alone are allowed.
    return s


_VALIDATORS = {
    IdType.RESIDENT: _validate_gb11643_family,
    IdType.HKMOTW_RESIDENCE: _validate_gb11643_family,
    IdType.HK_MACAO_PASS: _validate_hk_macao,
    IdType.TAIWAN_PASS: _validate_taiwan,
    IdType.FOREIGN_PERMANENT: _validate_foreign,
    IdType.PASSPORT: _validate_passport,
}


def validate_id(raw: str, id_type: IdType = IdType.RESIDENT, *, today: date) -> str:
    """Validate an ID number of the given type and return its canonical form.

    The canonical form is ASCII upper-case letters and digits only; it is what ``IdProtector`` indexes
    and encrypts. Old HK/Macao and Taiwan permit numbers are reduced to the holder's lifetime number.
    ``today`` bounds birth dates (no future births) and is a parameter so results are reproducible.

    Raises InvalidId listing every problem found (never quoting the number itself).
    """
    # Fast path for the 1,000,000-row import: an already-canonical, valid 18-character number returns here.
    # It only ever accepts; anything it does not accept goes to the full check below for a diagnosis.
    if (id_type is IdType.RESIDENT or id_type is IdType.HKMOTW_RESIDENCE) and _FAST_18.fullmatch(raw):
        ymd = int(raw[6:14])
        if (
            raw[17] == _CHECK_CHARS[(1 - 2 * int(raw[:17], 13)) % 11]
            and _MIN_BIRTH <= ymd <= today.year * 10000 + today.month * 100 + today.day
            and _is_real_date(ymd)
            and (raw[:2] in ID_PROVINCES if id_type is IdType.RESIDENT else raw[:6] in _HKMOTW_REGIONS)
        ):
            return raw
    return _validate_full(raw, id_type, today)


def _validate_full(raw: str, id_type: IdType | str, today: date) -> str:
    try:
        kind = IdType(id_type)
    except ValueError:
        raise InvalidId(
            "证件类型无效",
            "Unknown ID type",
            problems=[
                Problem(
                    "id_type",
                    "证件类型无效",
                    "Unknown ID type",
                    allowed=", ".join(t.value for t in IdType),
                )
            ],
        ) from None
    r = _Report(kind)
    if len(raw) > _MAX_RAW:
        r.add(
            "id_length",
            f"输入过长（{len(raw)} 个字符），不可能是{kind.label_zh}号码",
            f"The input is too long ({len(raw)} characters) to be a {kind.label_en} number",
            found=str(len(raw)),
            allowed=f"<= {_MAX_RAW}",
        )
        r.raise_if_any()
    s = normalize_id(raw)
    if not s:
        r.add("id_empty", f"{kind.label_zh}号码为空", f"The {kind.label_en} number is empty")
        r.raise_if_any()
    canonical = _VALIDATORS[kind](r, s, _date_int(today))
    r.raise_if_any()
    return canonical


# ---------------------------------------------------------------------------------------------------------
# Display


# How many trailing characters of an ID any answer may show (and the QR record carries).
ID_TAIL_LENGTH = 4

# The length each masked ID is shown with: the document's real length where every number of that
# type has one length (so a clerk sees a familiar shape), else ``None``: then four stars, so the
# answer does not hint at the length of a passport or foreign-resident number.
_MASKED_LENGTH: dict[IdType | None, int | None] = {
    IdType.RESIDENT: 18,
    IdType.HKMOTW_RESIDENCE: 18,
    IdType.HK_MACAO_PASS: 9,
    IdType.TAIWAN_PASS: 8,
    IdType.FOREIGN_PERMANENT: None,
    IdType.PASSPORT: None,
    None: None,  # type not known: the QR record carries the tail only
}


def id_tail(canonical: str) -> str:
    """Return the last ``ID_TAIL_LENGTH`` characters: all that is ever stored in the clear. Raises nothing."""
    return canonical[-ID_TAIL_LENGTH:]


def mask_id(id_type: IdType | str | None, tail: str) -> str:
    """The one way any answer shows a holder's ID: stars, then the tail (``id_tail``).

    ======================================  ==========================
    resident_id, hkmotw_residence_permit    ``**************002X`` (18)
    hk_macao_pass                           ``*****5678`` (9)
    taiwan_pass                             ``****5678`` (8)
    foreign_permanent_residence, passport,
    or the type unknown (QR answers)        ``****5678``
    ======================================  ==========================

    Region and birth date are never shown: "first 6 + last 4" would leave about 2,000 candidates
    (docs/SECURITY.md §2.1). A tail shorter than ``ID_TAIL_LENGTH`` (never produced by ``id_tail``
    for a valid ID) is masked completely. Raises nothing; an unknown type string counts as unknown.
    """
    if len(tail) < ID_TAIL_LENGTH:
        return "*" * ID_TAIL_LENGTH
    try:
        kind: IdType | None = IdType(id_type) if id_type is not None else None
    except ValueError:
        kind = None
    length = _MASKED_LENGTH[kind] or 2 * ID_TAIL_LENGTH
    return "*" * (length - ID_TAIL_LENGTH) + tail[-ID_TAIL_LENGTH:]


def make_resident_id(region: str, birth: date, sequence: int) -> str:
    """Build a synthetic, check-digit-valid 18-character number (for seeding and tests).

    ``region`` is any 6 digits (810000/820000/830000 give a 港澳台居民居住证 number, which validates
    as ``IdType.HKMOTW_RESIDENCE``); ``sequence`` is 0-999 (odd = male, even = female).
    Raises ValueError for a malformed region or an out-of-range sequence.
    """
    if len(region) != 6 or not _DIGITS.issuperset(region):
        raise ValueError("region must be 6 ASCII digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    first17 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return first17 + gb11643_check_char(first17)
