"""The 评价方式 of a certificate (rule 47): a closed list, and the levels 1+X may confer.

An institution states how each holder was assessed; agencies and reviewers filter on it, so free text
("考试", "笔试+实操", "1+x") would make it useless. The list and its aliases live here; the batch
column (``verify.domain.batch.columns``) and the row check (``verify.domain.batch.checks``) use it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Method:
    name: str  # stored and shown as is
    name_en: str
    aliases: tuple[str, ...] = ()
    # The levels this route may confer; empty = any level the scope allows.
    levels: tuple[int, ...] = ()


# 职成〔2021〕504号 二（三）: a 1+X 高级 or 中级 certificate is recognised as 高级工 (level 3), a 1+X 初级
# as 中级工 (level 4). Plain "1+X 直接认定" is accepted with either of those levels.
METHODS: tuple[Method, ...] = (
    Method("考试考核", "examination", ("考试", "考核", "考评", "理论与技能考核")),
    Method("直接认定", "direct recognition", ("企业直接认定", "用人单位直接认定")),
    Method("过程化考核", "process assessment", ("过程考核",)),
    Method("竞赛", "competition", ("竞赛获证", "竞赛晋级", "职业技能竞赛")),
    Method("教学过程认定", "recognition through teaching", ("学分认定", "教学认定")),
    Method("1+X 直接认定", "1+X recognition", ("1+X", "1+X认定"), (3, 4)),
    Method("1+X 直接认定（高级）", "1+X recognition (advanced)", ("1+X高级",), (3,)),
    Method("1+X 直接认定（中级）", "1+X recognition (intermediate)", ("1+X中级",), (3,)),
    Method("1+X 直接认定（初级）", "1+X recognition (elementary)", ("1+X初级",), (4,)),
)


def _key(text: str) -> str:
    """What two spellings of one method share: NFKC (full-width + and brackets), no spaces, upper case."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


_BY_KEY = MappingProxyType({_key(spelling): m for m in METHODS for spelling in (m.name, *m.aliases)})
ALLOWED_TEXT = "、".join(m.name for m in METHODS)


def method_of(raw: str) -> Method | None:
    """The method a cell names, or None when it names none of ``METHODS``."""
    return _BY_KEY.get(_key(raw))
