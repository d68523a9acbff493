"""The one check every piece of outside text passes before the service uses it.

Request paths, query parameters, JSON strings and form fields may hold anything a client sends. A
NUL byte reaches PostgreSQL as an error, a lone UTF-16 surrogate (``"\\ud800"`` in JSON) cannot be
encoded as UTF-8 and breaks whatever writes it out, and Unicode noncharacters are never text. All
three are refused here, with a message that names the position and code point but never echoes
the input (it may be a name or an ID number).
"""

from __future__ import annotations

from verify.domain.errors import BadCharacter, Problem

# Controls that ordinary text may hold (a pasted multi-line address, a tab-separated value).
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _bad(ch: str) -> bool:
    cp = ord(ch)
    if cp < 0x20 or 0x7F <= cp < 0xA0:
        return ch not in _ALLOWED_CONTROLS
    if 0xD800 <= cp <= 0xDFFF:  # a surrogate on its own: never valid in a str that is text
        return True
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE  # noncharacters


def check_text(value: str, field: str) -> str:
    """Return ``value`` unchanged if it holds no refused character.

    Raises BadCharacter naming the field, the 1-based position and the code point of the first
    refused character.
    """
    # isprintable() is C-speed and true for almost all real input; only otherwise look closer.
    if value.isprintable():
        return value
    for i, ch in enumerate(value):
        if _bad(ch):
            where = f"U+{ord(ch):04X}"
            zh = f"“{field}”第 {i + 1} 个字符（{where}）不允许出现（控制字符、孤立代理项或非字符）"
            en = f"{field}: character {i + 1} ({where}) is not allowed (a control character, lone surrogate or noncharacter)"
            raise BadCharacter(
                zh, en, problems=[Problem("bad_character", zh, en, position=i + 1, found=where, column=field)]
            )
    return value


def check_tree(value: object, field: str = "body") -> None:
    """``check_text`` on every string (keys included) of a decoded JSON value. Raises BadCharacter."""
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key), field)
            check_tree(item, str(key) if isinstance(key, str) and key.isprintable() else field)
    elif isinstance(value, list):
        for item in value:
            check_tree(item, field)
