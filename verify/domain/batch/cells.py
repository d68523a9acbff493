"""Parsers for the cells of a batch row whose spelling varies: dates, levels, the form of issue, 工种.

Each raises ``ValueError`` with ``(reason_zh, reason_en)`` for a value it cannot read; the row
checks turn that into a ``Problem`` on the right line and column.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from verify.domain.reference import LEVEL_NAMES

# Levels as a batch file may write them: the display names of rule 22, spaced ("四级 / 中级工").
LEVEL_TEXTS: dict[int, str] = {level: name.replace("/", " / ") for level, name in LEVEL_NAMES.items()}

_DATE_YMD = re.compile(
    r"(\d{4})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?)"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)

_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def parse_issue_date(text: str) -> dt.date:
    """Parse a 发证日期 cell.

    Accepts YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD (one- or two-digit month and day), YYYY年M月D日,
    YYYYMMDD, and any of these followed by a midnight-style time such as "2024-05-06 00:00:00"
    (what spreadsheet exports write for date cells). Full-width digits are accepted.

    Raises:
        ValueError: args are ``(reason_zh, reason_en)`` when the text is empty, has another form,
            or names a day that does not exist (2025-02-30).
    """
    s = unicodedata.normalize("NFKC", text).strip()
    if not s:
        raise ValueError("发证日期为空", "issue date is empty")
    m = _DATE_YMD.fullmatch(s)
    if m:
        year, month, day = m.group(1), m.group(2) or m.group(4), m.group(3) or m.group(5)
    else:
        m = _DATE_COMPACT.fullmatch(s)
        if not m:
            raise ValueError(
                f"无法识别的日期格式：{text.strip()}（应为 YYYY-MM-DD）",
                f"unrecognised date format: {text.strip()} (expected YYYY-MM-DD)",
            )
        year, month, day = m.groups()
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"日期不存在：{text.strip()}", f"no such date: {text.strip()}") from None


_LEVEL_WORDS: dict[str, int] = {
    "一级": 1,
    "高级技师": 1,
    "二级": 2,
    "技师": 2,
    "三级": 3,
    "高级工": 3,
    "四级": 4,
    "中级工": 4,
    "五级": 5,
    "初级工": 5,
    **{str(n): n for n in range(1, 6)},
    **{f"{n}级": n for n in range(1, 6)},
}

# Henan's level table drops 工 ("三级 / 高级"). The bare words 高级/中级/初级 are ambiguous on their
# own (1+X maps 中级 to level 3, the national scale to level 4), so they are accepted only next to
# a numbered level that settles the question.
_HENAN_SHORT: dict[str, int] = {"高级": 3, "中级": 4, "初级": 5}

_LEVEL_SPLIT = re.compile(r"[/()、|\\]+")

_NONE_MARKS = frozenset({"", "-", "--", "—", "——", "―", "――", "–", "无", "/"})


def parse_level(text: str) -> int | None:
    """Parse a 职业技能等级 cell to 1..5.

    Accepts "四级/中级工", "四级 / 中级工", "四级（中级工）", "四级", "中级工", "4", "4级", the
    Henan short forms "三级/高级", "四级/中级", "五级/初级", and full-width characters. Returns
    ``None`` for an empty cell or a none-mark ("--", "——", "无"), as 专项 rows carry no level.

    Raises:
        ValueError: args ``(reason_zh, reason_en)`` for an unknown level word, a bare 高级/中级/初级,
            or when the two halves disagree ("三级/中级工").
    """
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    if s in _NONE_MARKS:
        return None
    levels: set[int] = set()
    numbered = False
    for part in _LEVEL_SPLIT.split(s):
        if not part:
            continue
        if part in _LEVEL_WORDS:
            levels.add(_LEVEL_WORDS[part])
            numbered = True
        elif part in _HENAN_SHORT:
            levels.add(_HENAN_SHORT[part])
        else:
            numbered = False
            break
    if not numbered:
        raise ValueError(
            f"无法识别的职业技能等级：{text.strip()}（应为 一级/高级技师 … 五级/初级工 或 1-5）",
            f"unrecognised skill level: {text.strip()} (expected 一级/高级技师 … 五级/初级工 or 1-5)",
        )
    if len(levels) > 1:
        raise ValueError(
            f"职业技能等级前后不一致：{text.strip()}",
            f"skill level halves disagree: {text.strip()}",
        )
    return levels.pop()


_FORMS: dict[str, str] = {
    "": "paper",
    "纸质": "paper",
    "纸质证书": "paper",
    "纸本": "paper",
    "纸": "paper",
    "paper": "paper",
    "电子": "electronic",
    "电子证书": "electronic",
    "电子版": "electronic",
    "electronic": "electronic",
    "e": "electronic",
}


def parse_issue_form(text: str) -> str:
    """Parse a 证书形式 cell to ``"paper"`` or ``"electronic"``; empty means paper.

    Raises:
        ValueError: args ``(reason_zh, reason_en)`` for anything else.
    """
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()
    try:
        return _FORMS[s]
    except KeyError:
        raise ValueError(
            f"无法识别的证书形式：{text.strip()}（应为 纸质 或 电子）",
            f"unrecognised certificate form: {text.strip()} (expected paper or electronic)",
        ) from None


_DASHES = frozenset("-‐‑‒–—―－─━")


def normalize_job(text: str) -> str:
    """Return the 工种/职业方向 value to store: ``"--"`` when there is none (rule 21), else the text.

    "None" is an empty cell, any run of dash-like characters ("-", "--", "—", the 2019 template's
    "——", full-width "－－"), "无" or "/".
    """
    s = text.strip()
    if not s or s in ("无", "/") or all(ch in _DASHES for ch in s):
        return "--"
    return s
