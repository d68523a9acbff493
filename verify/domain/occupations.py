"""Occupation reference table (rule 71): 职业编码, 职业名称, 工种/方向 and allowed levels."""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class OccupationScope:
    code: str
    name: str
    job: str
    levels: tuple[int, ...]
    from_seed: bool


def _load() -> dict[str, Any]:
    text = (importlib.resources.files("verify.domain") / "data" / "occupations-v1.json").read_text(
        encoding="utf-8"
    )
    data: dict[str, Any] = json.loads(text)
    return data


_DATA = _load()
VERSION: str = _DATA["version"]
SCOPES: tuple[OccupationScope, ...] = tuple(
    OccupationScope(s["code"], s["name"], s["job"], tuple(s["levels"]), bool(s["seed"]))
    for s in _DATA["scopes"]
)
SPECIAL_PROJECTS: tuple[str, ...] = tuple(p["name"] for p in _DATA["special_projects"])
OCCUPATION_CODES: tuple[str, ...] = tuple(dict.fromkeys(s.code for s in SCOPES))
