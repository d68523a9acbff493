"""Occupation reference table (rule 71): 职业编码, 职业名称, 工种/方向 and allowed levels."""

from __future__ import annotations

from dataclasses import dataclass

from verify.domain.reference import OCCUPATIONS_FILE, load_table


@dataclass(frozen=True, slots=True)
class OccupationScope:
    code: str
    name: str
    job: str
    levels: tuple[int, ...]
    from_seed: bool


_DATA = load_table(OCCUPATIONS_FILE)
VERSION: str = _DATA["version"]
SCOPES: tuple[OccupationScope, ...] = tuple(
    OccupationScope(s["code"], s["name"], s["job"], tuple(s["levels"]), bool(s["seed"]))
    for s in _DATA["scopes"]
)
SPECIAL_PROJECTS: tuple[str, ...] = tuple(p["name"] for p in _DATA["special_projects"])
OCCUPATION_CODES: tuple[str, ...] = tuple(dict.fromkeys(s.code for s in SCOPES))
