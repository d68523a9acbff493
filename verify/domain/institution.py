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

from verify.domain.errors import InvalidInput, Problem
from verify.domain.text import check_text

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
    # After a merger (status merged): the institution it merged into, named on every answer (rule 41).
    merged_into: str | None = None
    merged_into_name: str | None = None


# ---------------------------------------------------------------------------------------------------
# The institution lifecycle (rules 40, 41, 49-53): final decisions, mergers, credit records, grades.

# A termination or merger retires the code for good (rule 40): no status decision follows it, and a
# returning institution files again under a new code.
FINAL_STATUSES = frozenset({TERMINATED, MERGED})

# The filing authority level (rule 49) -> (zh, en); the values are stored (migration 001's CHECK).
FILING_AUTHORITY_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "national": ("人力资源社会保障部（部级）", "ministry (national)"),
        "province": ("省级人力资源社会保障部门", "provincial department"),
        "city": ("市级人力资源社会保障部门", "city department"),
        "county": ("县级人力资源社会保障部门", "county department"),
    }
)

# The two forms of merger (人社鉴发〔2019〕2号 附件1 四（二）, rule 41) -> (zh, en).
ABSORPTION = "absorption"  # 并入: the absorbing institution keeps its code
NEW_ENTITY = "new_entity"  # 合并新设: a new institution with a new code; every party is retired
MERGER_FORMS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        ABSORPTION: ("并入", "absorption"),
        NEW_ENTITY: ("合并设立新机构", "merger into a new institution"),
    }
)

# Public credit records (诚信档案, rules 49 and 51; 人社职司便函〔2021〕57号 附件2 第十三条) -> (zh, en).
WARNING = "warning"
CREDIT_BAD = "credit_bad"
RECORD_KINDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        WARNING: ("警告", "warning"),
        CREDIT_BAD: ("列入诚信不良档案", "entered in the bad-credit record"),
    }
)

# The 鉴定机构 quality grade (豫人社规〔2020〕1号 第三十条, rule 53) -> (zh, en); only that kind has one.
QUALITY_GRADES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "excellent": ("优秀", "excellent"),
        "good": ("良好", "good"),
        "basic": ("基本合格", "basically qualified"),
        "unqualified": ("不合格", "unqualified"),
    }
)
GRADED_KINDS = frozenset({"appraisal"})

# The public notice of a decision recorded ahead of its effective date (rule 39): (zh, en) with
# {date} and, for a merger, {into}.
SCHEDULED_NOTICES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        ACTIVE: ("自 {date} 起恢复评价活动", "assessments resume on {date}"),
        SUSPENDED: ("自 {date} 起暂停评价活动", "assessments suspended from {date}"),
        TERMINATED: ("自 {date} 起终止备案", "filing terminated from {date}"),
        MERGED: ("自 {date} 起并入 {into}", "merges into {into} from {date}"),
    }
)

# What a filing may set (rule 49), beyond code and kind; status, its date and merged_into are
# decisions, never filed. name -> longest length.
FILING_TEXT_FIELDS: Mapping[str, int] = MappingProxyType(
    {
        "name": 200,
        "short_name": 100,
        "filing_number": 100,
        "parent_code": 20,
        "address": 300,
        "phone": 50,
        "email": 200,
        "website": 300,
        "complaint_channel": 300,
    }
)
FILING_DATE_FIELDS = ("filing_date", "filing_expires")


def in_force(changes: Iterable[StatusChange], day: date) -> StatusChange | None:
    """The decision in force on ``day`` (the one ``status_on`` follows), or None before the first."""
    best: StatusChange | None = None
    for change in changes:
        if change.effective <= day and (best is None or change.effective >= best.effective):
            best = change
    return best


def final_decision(changes: Iterable[StatusChange]) -> StatusChange | None:
    """The first termination or merger recorded, whatever its date (rule 40), or None."""
    return next((c for c in changes if c.status in FINAL_STATUSES), None)


def scheduled_notice(change: StatusChange, into: str | None) -> dict[str, str]:
    """The public notice of a decision that is not yet in force, e.g. 自 2026-12-15 起暂停评价活动."""
    zh, en = SCHEDULED_NOTICES[change.status]
    values = {"date": change.effective.isoformat(), "into": into or "--"}
    return {"zh": zh.format(**values), "en": en.format(**values)}


def filing_record(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The filed fields of a registration (``FILING_TEXT_FIELDS``, the authority level, the two
    dates), checked and cleaned; unknown keys are ignored. Raises InvalidInput (or BadCharacter)
    naming the field."""
    record: dict[str, Any] = {}
    for name, limit in FILING_TEXT_FIELDS.items():
        value = fields.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value.strip()) > limit:
            raise InvalidInput(
                f"字段 {name} 须为不超过 {limit} 个字符的文字",
                f"{name} must be text of at most {limit} characters",
                details={"field": name},
            )
        record[name] = check_text(value.strip(), name)
    if not record.get("name"):
        raise InvalidInput("机构名称不能为空", "the institution name is required", details={"field": "name"})
    authority = fields.get("filing_authority") or "city"
    if authority not in FILING_AUTHORITY_LABELS:
        raise InvalidInput(
            f"备案层级须为 {', '.join(FILING_AUTHORITY_LABELS)} 之一",
            f"filing_authority must be one of {', '.join(FILING_AUTHORITY_LABELS)}",
            details={"field": "filing_authority"},
        )
    record["filing_authority"] = authority
    for name in FILING_DATE_FIELDS:
        value = fields.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value) if len(value) == 10 else None
            except ValueError:
                value = None
        if not isinstance(value, date):
            raise InvalidInput(
                f"字段 {name} 须为 YYYY-MM-DD 格式的日期",
                f"{name} is a date, YYYY-MM-DD",
                details={"field": name},
            )
        record[name] = value
    if (
        record.get("filing_date")
        and record.get("filing_expires")
        and record["filing_expires"] < record["filing_date"]
    ):
        raise InvalidInput(
            "备案期限不能早于备案日期", "the filing cannot expire before it was filed",
            details={"field": "filing_expires"},
        )  # fmt: skip
    return record


def site_code_problems(code: str, parent_code: str) -> list[Problem]:
    """Why ``code`` cannot be a 站点 of ``parent_code`` (rule 50): both are 13-character Y/S keys
    with the same category letter and institution code (positions 1-5). Empty when it can."""
    if len(code) != 13 or len(parent_code) != 13:
        return [
            Problem(
                code="site_needs_institution_key",
                message_zh="站点与其所属机构都须使用 13 位机构（站点）编码；专项考核机构不设站点",
                message_en="a 站点 and its institution both have 13-character keys; 专项 assessors have no 站点",
                position=1,
                found=code,
                rule=50,
            )
        ]
    if code[:5] != parent_code[:5]:
        return [
            Problem(
                code="site_code_mismatch",
                message_zh=f"站点编码第 1-5 位（类别与机构代码）须与所属机构 {parent_code} 一致",
                message_en=f"positions 1-5 (category and institution code) must match the institution {parent_code}",
                position=1,
                found=code[:5],
                allowed=parent_code[:5],
                rule=50,
            )
        ]
    return []
