"""Holder names: one normal form for storage and display, one key for matching.

Rules come from 民委发〔2016〕33号 (docs/SECURITY.md §2.3): the separator in transliterated names is
U+00B7 "·"; name fields hold at least 50 characters; every GB18030 character, including
supplementary-plane CJK (𠀀, 𠮷), must survive unchanged. Invisible format characters are refused
rather than silently dropped, because a name that renders identically to another but compares
differently is exactly what an impersonation attempt looks like (docs/SECURITY.md §5 S15).

Neither function ever puts the name into an error message: names end up in logs otherwise (P2).
"""

from __future__ import annotations

import unicodedata

from verify.domain.errors import InvalidName, Problem

MAX_NAME_LENGTH = 100

# Above this the input is rejected before any normalisation work, so a multi-megabyte "name" costs
# nothing. Generous, because runs of whitespace collapse and NFC may shorten the text.
_MAX_RAW_LENGTH = 1000

MIDDLE_DOT = "\u00b7"

# What people type instead of U+00B7 (IMEs, Word autocorrect, Big5/Shift-JIS conversions, Korean IMEs).
_DOT_VARIANTS = (
    "\u0387"  # GREEK ANO TELEIA (NFC already maps it; listed so the table is the whole story)
    "\u1427"  # CANADIAN SYLLABICS FINAL MIDDLE DOT
    "\u16eb"  # RUNIC SINGLE PUNCTUATION
    "\u2022"  # BULLET
    "\u2027"  # HYPHENATION POINT (the Big5 中間點)
    "\u2219"  # BULLET OPERATOR
    "\u22c5"  # DOT OPERATOR
    "\u25cf"  # BLACK CIRCLE ●
    "\u2981"  # Z NOTATION SPOT
    "\u2e31"  # WORD SEPARATOR MIDDLE DOT
    "\u2e33"  # RAISED DOT
    "\u30fb"  # KATAKANA MIDDLE DOT (Japanese IMEs)
    "\ua78f"  # LATIN LETTER SINOLOGICAL DOT
    "\uff0e"  # FULLWIDTH FULL STOP
    "\uff65"  # HALFWIDTH KATAKANA MIDDLE DOT
)
DOT_VARIANTS = frozenset(_DOT_VARIANTS) | {MIDDLE_DOT}
_TO_MIDDLE_DOT = str.maketrans(dict.fromkeys(_DOT_VARIANTS, MIDDLE_DOT))

# Matching ignores separators: clerks type "艾力 买买提", "艾力.买买提" or drop the dot entirely.
_KEY_DROP = str.maketrans(
    dict.fromkeys(
        [MIDDLE_DOT, "."]
        # Variation selectors pick a glyph variant of the same character (IVS); the name is the same.
        + [chr(c) for c in range(0xFE00, 0xFE10)]
        + [chr(c) for c in range(0xE0100, 0xE01F0)]
    )
)

_WHITESPACE_CONTROLS = frozenset("\t\n\v\f\r")


def _bad_char_reason(ch: str) -> tuple[str, str] | None:
    """Why ``ch`` may not appear in a name and what to do (zh, en), or None if it may."""
    cat = unicodedata.category(ch)
    if cat == "Cf":
        return (
            "是不可见的格式控制字符（如零宽字符或双向文字控制符），请删除",
            "is an invisible format character (zero-width or bidi); remove it",
        )
    if cat == "Cc":
        if ch in _WHITESPACE_CONTROLS:
            return None
        return ("是控制字符，请删除", "is a control character; remove it")
    if cat == "Cs":
        return (
            "是不成对的代理项（编码错误），请删除",
            "is an unpaired surrogate (encoding error); remove it",
        )
    cp = ord(ch)
    if ch == "\ufffd":
        return (
            "是替换字符，说明文件编码转换出错（例如 GBK 文件按 UTF-8 读取），请用正确的编码重新导出",
            "is the replacement character, a sign of a wrong file encoding (e.g. GBK read as UTF-8); "
            "export the file again in the right encoding",
        )
    if 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE:
        return ("是 Unicode 非字符，请删除", "is a Unicode noncharacter; remove it")
    # Co (private use) and Cn (unassigned) are allowed on purpose: legacy GB18030-2005 data maps some 生僻字
    # to the private use area, and CJK Extensions H/I are newer than this Python's Unicode database.
    return None


def _invalid(problems: list[Problem]) -> InvalidName:
    return InvalidName(
        "姓名无效：" + "；".join(p.message_zh for p in problems),
        "The name is not valid: " + "; ".join(p.message_en for p in problems),
        problems=problems,
    )


def _too_long(n: int) -> InvalidName:
    return _invalid(
        [
            Problem(
                "name_too_long",
                f"姓名过长：{n} 个字符，最多 {MAX_NAME_LENGTH} 个",
                f"The name is too long: {n} characters, at most {MAX_NAME_LENGTH}",
                found=str(n),
                allowed=f"<= {MAX_NAME_LENGTH}",
            )
        ]
    )


def _check_chars(raw: str) -> None:
    problems: list[Problem] = []
    for i, ch in enumerate(raw):
        why = _bad_char_reason(ch)
        if why is None:
            continue
        code_point = f"U+{ord(ch):04X}"
        problems.append(
            Problem(
                "name_char",
                f"第 {i + 1} 个字符（{code_point}）{why[0]}",
                f"Character {i + 1} ({code_point}) {why[1]}",
                position=i + 1,
                found=code_point,
            )
        )
        if len(problems) >= 10:
            break
    if problems:
        raise _invalid(problems)


def _has_letter(s: str) -> bool:
    # Co/Cn count as letters: they are 生僻字 this Python cannot classify (see _bad_char_reason).
    for ch in s:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or cat in ("Co", "Cn"):
            return True
    return False


def _no_letters() -> InvalidName:
    return _invalid(
        [
            Problem(
                "name_no_letters",
                "姓名中没有文字，只有分隔符或符号",
                "The name has no letters, only separators or symbols",
            )
        ]
    )


def normalize_name(raw: str) -> str:
    """Return the name as stored and displayed.

    NFC; outer whitespace trimmed and inner runs collapsed to one space; every middle-dot variant
    becomes U+00B7 with no spaces around it. Supplementary-plane characters pass through unchanged.

    Raises InvalidName if the name is empty or has no letters (only separators or symbols), contains
    zero-width, bidi or other invisible control characters, or is longer than 100 characters.
    """
    if len(raw) > _MAX_RAW_LENGTH:
        raise _too_long(len(raw))
    # isprintable() is C-speed and true for almost every real name; only otherwise look at each character.
    # Checking raw (not the NFC result) keeps positions in the user's own input; NFC never creates or
    # removes control or format characters, so the verdict is the same.
    if not raw.isprintable() or "\ufffd" in raw:
        _check_chars(raw)
    s = unicodedata.normalize("NFC", raw).translate(_TO_MIDDLE_DOT)
    s = " ".join(s.split())
    if MIDDLE_DOT in s:
        s = MIDDLE_DOT.join(part.strip() for part in s.split(MIDDLE_DOT))
    if not s:
        raise _invalid([Problem("name_empty", "姓名为空", "The name is empty")])
    if not _has_letter(s):
        raise _no_letters()
    if len(s) > MAX_NAME_LENGTH:
        raise _too_long(len(s))
    return s


def name_key(raw: str) -> str:
    """Return the key two names are compared by; never store or display it as the name.

    ``normalize_name``, then NFKC (full-width Latin, compatibility ideographs) and case folding, then
    spaces, middle dots, full stops and variation selectors removed, so "张三" / "张 三",
    "ＺＨＡＮＧ San" / "zhang san" and "艾力·买买提" / "艾力•买买提" / "艾力 买买提" give equal keys.

    Raises InvalidName when ``normalize_name`` does, or if nothing comparable is left (a guard: an empty
    key would match every other empty key).
    """
    return key_of(normalize_name(raw))


def key_of(normalized: str) -> str:
    """``name_key`` for a name already through ``normalize_name`` (import normalises each name once
    for storage and derives the key from that). Raises InvalidName if nothing comparable is left."""
    s = normalized
    # casefold() can denormalise (e.g. U+0345), hence NFKC on both sides; the dot table runs again because
    # NFKC can produce a variant (U+FF65 -> U+30FB).
    s = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", s).casefold())
    s = s.translate(_TO_MIDDLE_DOT).translate(_KEY_DROP)
    # Dropping a separator can bring a base letter and a combining mark together ("A´" -> "a" + U+0301),
    # so compose once more or the key would not be a fixed point.
    key = unicodedata.normalize("NFC", "".join(s.split()))
    # NFKC can turn a letter into a lone mark (halfwidth ﾟ U+FF9F, category Lm, becomes the combining
    # U+309A): a key without letters would not be a fixed point, and is no name.
    if not _has_letter(key):
        raise _no_letters()
    return key
