"""Assessment institutions (评价机构, 站点, 专项考核机构): kinds, states, the filed record and its scope.

The institution code is the machine key: positions 1-13 of a 22-character certificate number, or
the 8-digit 考核机构 code of a 专项 number (docs/RULES.md rule 12). The scope (评价范围) is one row
per (职业编码, 工种, level) with its own effective window, so a 增量备案 counts only from its own
date (rules 25, 42).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

ACTIVE = "active"
SUSPENDED = "suspended"
TERMINATED = "terminated"
MERGED = "merged"

# status -> (zh, en). The values are stored and sent over the API: never rename them.
STATUS_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "active": ("正常", "active"),
        "suspended": ("暂停评价活动", "suspended"),
        "terminated": ("终止备案", "filing terminated"),
        "merged": ("已合并", "merged"),
    }
)

# kind -> (zh, en); 技工院校 file as Y for their own students and S for the public (豫职鉴〔2021〕1号, 豫人社办函〔2021〕155号).
KIND_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "employer": ("用人单位", "employer"),
        "social": ("社会培训评价组织", "social training and assessment organisation"),
        "technical_school": ("技工院校", "technical school"),
        "college": ("院校", "college"),
        "appraisal": ("职业技能考核鉴定机构", "skills appraisal institution"),
        "special_assessor": ("专项职业能力考核机构", "special ability assessment institution"),
    }
)
SPECIAL_ASSESSOR = "special_assessor"

# The filed record of an institution (rule 49), in the order the registry stores it.
RECORD_FIELDS: tuple[str, ...] = (
    "code",
    "kind",
    "name",
    "short_name",
    "filing_number",
    "filing_authority",
    "filing_date",
    "filing_expires",
    "province_code",
    "city_code",
    "parent_code",
    "address",
    "phone",
    "email",
    "website",
    "complaint_channel",
    "status",
    "status_since",
    "merged_into",
)

DEFAULT_STANDARD = "国家职业技能标准"
SPECIAL_STANDARD = "专项职业能力考核规范"


@dataclass(frozen=True, slots=True)
class Institution:
    """A registered institution: the fields every use case needs, plus the whole filed record."""

    id: int
    code: str
    kind: str
    name: str
    status: str
    status_since: date
    record: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One recorded status decision, in force from ``effective`` (a date that may be ahead)."""

    status: str
    effective: date


def status_on(changes: Iterable[StatusChange], day: date, *, initial: str = ACTIVE) -> str:
    """The institution's status on ``day`` by the decisions' effective dates, not by when they were
    recorded (rule 39): a suspension recorded today, effective next month, applies next month; a
    resumption ends it. ``initial`` is the status before the first decision (a filed institution
    starts active). ``changes`` in recording order."""
    current = initial
    best: date | None = None
    for change in changes:
        if change.effective <= day and (best is None or change.effective >= best):
            current, best = change.status, change.effective
    return current


@dataclass(frozen=True, slots=True)
class Scope:
    """One filed scope row. For 专项 the occupation code is empty, the project name is the
    occupation name and there is no level."""

    occupation_code: str
    occupation_name: str
    job: str
    level: int | None
    effective_from: date
    effective_to: date | None = None
    standard: str = DEFAULT_STANDARD

    @property
    def key(self) -> tuple[str, str, int | None]:
        """How a certificate names this row: (职业编码, 工种, level), or ("", project name, None)."""
        if self.occupation_code:
            return (self.occupation_code, self.job, self.level)
        return ("", self.occupation_name, None)


class ScopeIndex:
    """Filed scope rows keyed the way a certificate names them (``Scope.key``), each key with its
    effective windows, for the "in scope on the issue date" check (rules 25, 42)."""

    def __init__(self, scopes: Iterable[Scope]) -> None:
        self._windows: dict[tuple[str, str, int | None], list[tuple[date, date | None, str]]] = defaultdict(
            list
        )
        for s in scopes:
            self._windows[s.key].append((s.effective_from, s.effective_to, s.occupation_name))

    def filed_name(self, key: tuple[str, str, int | None], on: date) -> str | None:
        """The filed occupation name if the key is in scope on that date, else None."""
        for start, end, name in self._windows.get(key, ()):
            if start <= on and (end is None or on <= end):
                return name
        return None

    def known(self, key: tuple[str, str, int | None]) -> bool:
        return key in self._windows


@dataclass(frozen=True, slots=True)
class IssuerState:
    """What a certificate's answer says about its issuer: name and current status since when."""

    code: str
    name: str
    status: str
    since: date
