"""The assessment plan a result batch carries (rule 31) and the warnings drawn from it (rules 33, 34).

A batch of results comes from one assessment (考核/鉴定) whose plan the institution filed with the
鉴定中心 beforehand, with a roster of candidates. ``BatchPlan`` holds the plan's facts as the
institution states them; ``plan_warnings`` measures its deadlines in Chinese working days
(``verify.domain.workdays``); the roster check (rule 34) is a row check, ``on_roster`` in
``verify.domain.batch.checks``.
Both only warn (rules 33 and 34 are SHOULD rules): a reviewer at the 鉴定中心 decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from verify.domain.errors import BadCharacter, InvalidInput, Problem
from verify.domain.text import check_text
from verify.domain.workdays import covered, working_days_after

PLAN_REF_MAX = 64
# Rule 33 limits, in working days.
PLAN_LEAD_DAYS = 10
RESULTS_DAYS = 10
SUPERVISION_DAYS = 5
SUPERVISION_DAYS_APPRAISAL = 3

DATE_FIELDS: tuple[str, ...] = ("plan_filed_on", "assessed_on", "supervision_report_on")
FIELDS: tuple[str, ...] = ("plan_ref", *DATE_FIELDS)
_LABELS: dict[str, tuple[str, str]] = {
    "plan_ref": ("计划/备案编号", "plan reference"),
    "plan_filed_on": ("考核计划备案日期", "plan filing date"),
    "assessed_on": ("考核日期", "assessment date"),
    "supervision_report_on": ("督导报告日期", "supervision report date"),
}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FOUND_MAX = 40


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The plan facts of one result batch (rule 31); every field may be unknown (``None``).

    ``plan_ref``: the 计划/备案编号 as printed (at most 64 characters). ``plan_filed_on``: the day the
    assessment plan was filed with the 鉴定中心. ``assessed_on``: the assessment date, its last day
    when it spans several. ``supervision_report_on``: the day of the 督导 report.
    ``roster_size``: rows of the roster filed in advance; ``parse_plan`` leaves it ``None`` and the
    caller sets it from the roster file (``dataclasses.replace``).
    """

    plan_ref: str | None = None
    plan_filed_on: date | None = None
    assessed_on: date | None = None
    supervision_report_on: date | None = None
    roster_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Every field, dates as ISO ``YYYY-MM-DD``, unknown ones as ``None``."""
        return {
            "plan_ref": self.plan_ref,
            "plan_filed_on": _iso(self.plan_filed_on),
            "assessed_on": _iso(self.assessed_on),
            "supervision_report_on": _iso(self.supervision_report_on),
            "roster_size": self.roster_size,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchPlan:
        """The inverse of ``to_json`` (missing keys are ``None``).

        Raises ValueError when a value has the wrong type or a date is not ISO: stored data is
        trusted to be what ``to_json`` wrote, so this is a bug, not a user error.
        """
        ref = data.get("plan_ref")
        size = data.get("roster_size")
        if ref is not None and not isinstance(ref, str):
            raise ValueError("plan_ref must be a string or null")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError("roster_size must be a non-negative integer or null")
        dates: dict[str, date | None] = {}
        for field in DATE_FIELDS:
            value = data.get(field)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{field} must be an ISO date string or null")
            dates[field] = None if value is None else date.fromisoformat(value)
        return cls(
            plan_ref=ref,
            plan_filed_on=dates["plan_filed_on"],
            assessed_on=dates["assessed_on"],
            supervision_report_on=dates["supervision_report_on"],
            roster_size=size,
        )


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


# --------------------------------------------------------------------------------------------
# Parsing the form


def parse_plan(fields: Mapping[str, str], *, today: date) -> BatchPlan:
    """Read the plan from form or query fields ``plan_ref``, ``plan_filed_on``, ``assessed_on`` and
    ``supervision_report_on``; other fields are ignored, and an absent or blank field is ``None``.

    Dates are ``YYYY-MM-DD`` (full-width digits are folded, surrounding spaces dropped). Besides
    its format, each date must not be after ``today`` (the day of upload in China Standard Time:
    the plan describes an assessment that has taken place), and the plan cannot be filed after the
    assessment.

    Raises InvalidInput listing every bad field at once, one ``Problem`` per field (``column`` = the
    field name, ``found`` = its value cut to 40 characters, ``rule`` = 31); codes: ``bad_date``,
    ``date_in_future``, ``plan_after_assessment``, ``plan_ref_too_long``, ``bad_character``.
    """
    problems: dict[str, Problem] = {}
    raw: dict[str, str] = {}
    for field in FIELDS:
        value = fields.get(field) or ""
        try:
            check_text(value, field)
        except BadCharacter as exc:  # its problem names the code point and never echoes the value
            problems[field] = replace(exc.problems[0], rule=31)
            continue
        raw[field] = unicodedata.normalize("NFKC", value).strip() if field in DATE_FIELDS else value.strip()

    ref = raw.get("plan_ref") or None
    if ref is not None and len(ref) > PLAN_REF_MAX:
        problems["plan_ref"] = _problem(
            "plan_ref_too_long",
            "plan_ref",
            ref,
            f"计划/备案编号超过 {PLAN_REF_MAX} 个字符（{len(ref)} 个）",
            f"The plan reference is longer than {PLAN_REF_MAX} characters ({len(ref)})",
            allowed=f"<= {PLAN_REF_MAX}",
        )

    dates: dict[str, date | None] = dict.fromkeys(DATE_FIELDS)
    for field in DATE_FIELDS:
        text = raw.get(field, "")
        if field in problems or not text:
            continue
        parsed = _parse_date(text)
        zh, en = _LABELS[field]
        if parsed is None:
            problems[field] = _problem(
                "bad_date", field, text, f"{zh}不是有效日期，应为 YYYY-MM-DD",
                f"The {en} is not a valid date; use YYYY-MM-DD", allowed="YYYY-MM-DD",
            )  # fmt: skip
        elif parsed > today:
            problems[field] = _problem(
                "date_in_future", field, text,
                f"{zh} {parsed.isoformat()} 晚于今天（{today.isoformat()}）",
                f"The {en} {parsed.isoformat()} is after today ({today.isoformat()})",
                allowed=f"<= {today.isoformat()}",
            )  # fmt: skip
        else:
            dates[field] = parsed

    filed, assessed = dates["plan_filed_on"], dates["assessed_on"]
    if filed is not None and assessed is not None and filed > assessed:
        problems["plan_filed_on"] = _problem(
            "plan_after_assessment", "plan_filed_on", raw["plan_filed_on"],
            f"考核计划备案日期 {filed.isoformat()} 晚于考核日期 {assessed.isoformat()}，计划应在考核前备案",
            f"The plan was filed on {filed.isoformat()}, after the assessment on {assessed.isoformat()}; "
            "a plan is filed before the assessment",
            allowed=f"<= {assessed.isoformat()}",
        )  # fmt: skip

    if problems:
        ordered = [problems[f] for f in FIELDS if f in problems]
        names_zh = "、".join(_LABELS[p.column or ""][0] for p in ordered)
        names_en = ", ".join(p.column or "" for p in ordered)
        raise InvalidInput(
            f"考核计划信息有误：{names_zh}", f"Invalid assessment plan fields: {names_en}", problems=ordered
        )
    return BatchPlan(
        plan_ref=ref,
        plan_filed_on=filed,
        assessed_on=assessed,
        supervision_report_on=dates["supervision_report_on"],
    )


def _parse_date(text: str) -> date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:  # 2024-02-30
        return None


def _problem(code: str, field: str, value: str, zh: str, en: str, *, allowed: str) -> Problem:
    return Problem(code, zh, en, found=value[:_FOUND_MAX], allowed=allowed, column=field, rule=31)


# --------------------------------------------------------------------------------------------
# Rule 33: deadlines in working days


def plan_warnings(plan: BatchPlan, *, submitted_on: date, appraisal: bool) -> list[Problem]:
    """The rule 33 warnings of one batch (``severity="warning"``, ``rule=33``), in this order:

    - ``plan_filed_late``: the plan was filed fewer than 10 working days before the assessment;
    - ``results_late``: the results were submitted (``submitted_on``, the day of upload) more than
      10 working days after the assessment;
    - ``supervision_report_late``: the 督导 report is dated more than 5 working days after the
      assessment, or more than 3 when ``appraisal`` is true (a 职业技能鉴定 rather than a
      职业技能等级认定).

    Counts are ``working_days_after(earlier, later)``: the earlier day is not counted and the
    later one is, so a plan filed exactly 10 working days ahead, or results exactly 10 working days
    after, are on time and 11 are late. A check whose dates are unknown gives no warning. Each
    message names the dates and the count, and says when the count is an estimate (a year the
    calendar does not cover is counted Monday to Friday). Since ``assessed_on`` is the last day of
    a multi-day assessment, the plan check measures the lead time to that day.

    Sources (as docs/RULES.md §7.3 rule 33 cites them): 豫人社办〔2020〕19号 四（三）–（五）;
    豫人社办函〔2020〕51号 五; 豫人社规〔2020〕1号 第十九条; 豫人社办函〔2020〕41号 三（二）（三）.
    Raises nothing.
    """
    out: list[Problem] = []
    assessed = plan.assessed_on
    if assessed is None:
        return out
    a = assessed.isoformat()
    if plan.plan_filed_on is not None:
        filed = plan.plan_filed_on
        n = working_days_after(filed, assessed)
        if n < PLAN_LEAD_DAYS:
            zh, en = _estimate(filed, assessed)
            out.append(_warning(
                "plan_filed_late", "plan_filed_on", n, f">= {PLAN_LEAD_DAYS}",
                f"考核计划于 {filed.isoformat()} 备案，距考核日期 {a} 仅 {n} 个工作日，"
                f"应至少提前 {PLAN_LEAD_DAYS} 个工作日备案{zh}",
                f"The assessment plan was filed on {filed.isoformat()}, {n} working days before the "
                f"assessment on {a}; it should be filed at least {PLAN_LEAD_DAYS} working days ahead{en}",
            ))  # fmt: skip
    n = working_days_after(assessed, submitted_on)
    if n > RESULTS_DAYS:
        zh, en = _estimate(assessed, submitted_on)
        s = submitted_on.isoformat()
        out.append(_warning(
            "results_late", None, n, f"<= {RESULTS_DAYS}",
            f"考核结果于 {s} 报送，在考核日期 {a} 之后 {n} 个工作日，超过 {RESULTS_DAYS} 个工作日{zh}",
            f"The results were submitted on {s}, {n} working days after the assessment on {a}; "
            f"the limit is {RESULTS_DAYS} working days{en}",
        ))  # fmt: skip
    if plan.supervision_report_on is not None:
        report = plan.supervision_report_on
        limit = SUPERVISION_DAYS_APPRAISAL if appraisal else SUPERVISION_DAYS
        kind_zh, kind_en = (
            ("职业技能鉴定", "an appraisal (鉴定)") if appraisal else ("等级认定", "a recognition (认定)")
        )
        n = working_days_after(assessed, report)
        if n > limit:
            zh, en = _estimate(assessed, report)
            r = report.isoformat()
            out.append(_warning(
                "supervision_report_late", "supervision_report_on", n, f"<= {limit}",
                f"督导报告日期 {r} 在考核日期 {a} 之后 {n} 个工作日，{kind_zh}应在 {limit} 个工作日内报告{zh}",
                f"The supervision report is dated {r}, {n} working days after the assessment on {a}; "
                f"for {kind_en} the limit is {limit} working days{en}",
            ))  # fmt: skip
    return out


def _estimate(first: date, last: date) -> tuple[str, str]:
    lo, hi = min(first, last), max(first, last)
    if all(covered(date(year, 1, 1)) for year in range(lo.year, hi.year + 1)):
        return "", ""
    return (
        "（该年份无节假日安排数据，按周一至周五估算）",
        " (no holiday data for that year: Monday to Friday assumed)",
    )


def _warning(code: str, column: str | None, count: int, allowed: str, zh: str, en: str) -> Problem:
    return Problem(
        code, zh, en, found=str(count), allowed=allowed, column=column, rule=33, severity="warning"
    )


# --------------------------------------------------------------------------------------------
# Rule 34: holders not on the roster
