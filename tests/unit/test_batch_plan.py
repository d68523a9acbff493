"""verify.domain.batch.plan: a batch's assessment plan (rule 31), its deadline warnings in working
days (rule 33) and the roster check (rule 34)."""

from __future__ import annotations

from datetime import date

import pytest

from verify.domain.batch.checked import WARNINGS_PER_CODE, capped
from verify.domain.batch.plan import BatchPlan, parse_plan, plan_warnings
from verify.domain.errors import InvalidInput, Problem
from verify.domain.workdays import working_days_after

TODAY = date(2024, 12, 31)


def _codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def _refused(fields: dict[str, str], today: date = TODAY) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse_plan(fields, today=today)
    assert info.value.reason == "invalid_input"
    return info.value


# --------------------------------------------------------------------------------------------
# Rule 31: the plan's fields


def test_rule_31_parse_reads_the_four_fields_and_ignores_the_rest() -> None:
    plan = parse_plan(
        {
            "plan_ref": " 豫鉴计〔2024〕118号 ",
            "plan_filed_on": "2024-11-01",
            "assessed_on": "２０２４－１１－２９",  # full-width, as a Chinese input method types it
            "supervision_report_on": "2024-12-02",
            "number": "ignored",
        },
        today=TODAY,
    )
    assert plan == BatchPlan(
        plan_ref="豫鉴计〔2024〕118号",
        plan_filed_on=date(2024, 11, 1),
        assessed_on=date(2024, 11, 29),
        supervision_report_on=date(2024, 12, 2),
    )


def test_rule_31_empty_and_absent_fields_are_unknown() -> None:
    assert parse_plan({}, today=TODAY) == BatchPlan()
    assert parse_plan({"plan_ref": "  ", "assessed_on": "", "plan_filed_on": " "}, today=TODAY) == BatchPlan()


def test_rule_31_parse_reports_every_bad_field_at_once() -> None:
    err = _refused(
        {
            "plan_ref": "号" * 65,
            "plan_filed_on": "2024-13-01",
            "assessed_on": "2025-01-02",  # after TODAY
            "supervision_report_on": "2024/12/01",
        }
    )
    assert [p.column for p in err.problems] == [
        "plan_ref",
        "plan_filed_on",
        "assessed_on",
        "supervision_report_on",
    ]
    assert _codes(list(err.problems)) == ["plan_ref_too_long", "bad_date", "date_in_future", "bad_date"]
    assert all(p.rule == 31 and p.severity == "error" and p.message_zh and p.message_en for p in err.problems)
    assert err.problems[0].found == "号" * 40  # cut to 40 characters
    assert err.problems[1].found == "2024-13-01"
    assert "2025-01-02" in err.problems[2].message_zh and "2024-12-31" in err.problems[2].message_en
    assert "计划/备案编号" in err.message_zh and "plan_ref" in err.message_en


def test_rule_31_a_date_must_be_yyyy_mm_dd_and_real() -> None:
    for text in ("2024-02-30", "20241101", "2024-1-1", "2024年11月1日", "x" * 100):
        err = _refused({"assessed_on": text})
        assert _codes(list(err.problems)) == ["bad_date"]
        assert err.problems[0].found == text[:40]


def test_rule_31_a_plan_filed_after_the_assessment_is_refused() -> None:
    err = _refused({"plan_filed_on": "2024-11-30", "assessed_on": "2024-11-29"})
    (problem,) = err.problems
    assert (problem.code, problem.column, problem.found) == (
        "plan_after_assessment",
        "plan_filed_on",
        "2024-11-30",
    )
    assert "2024-11-29" in problem.message_zh
    # Filed on the assessment day itself is a fact the warnings judge, not a parse error.
    assert parse_plan({"plan_filed_on": "2024-11-29", "assessed_on": "2024-11-29"}, today=TODAY)


def test_rule_31_an_assessment_in_the_future_is_refused_today_is_not() -> None:
    assert _codes(list(_refused({"assessed_on": "2025-01-01"}).problems)) == ["date_in_future"]
    assert parse_plan({"assessed_on": "2024-12-31"}, today=TODAY).assessed_on == TODAY


def test_rule_31_a_control_character_is_refused_without_echoing_the_value() -> None:
    err = _refused({"plan_ref": "A\x00B", "assessed_on": "2024-11-29\x07"})
    assert _codes(list(err.problems)) == ["bad_character", "bad_character"]
    assert [p.found for p in err.problems] == ["U+0000", "U+0007"]
    assert [p.column for p in err.problems] == ["plan_ref", "assessed_on"]


def test_rule_31_json_round_trip_keeps_unknowns() -> None:
    full = BatchPlan("R-1", date(2024, 11, 1), date(2024, 11, 29), date(2024, 12, 2), 42)
    assert full.to_json() == {
        "plan_ref": "R-1",
        "plan_filed_on": "2024-11-01",
        "assessed_on": "2024-11-29",
        "supervision_report_on": "2024-12-02",
        "roster_size": 42,
    }
    assert BatchPlan.from_json(full.to_json()) == full
    empty = BatchPlan()
    assert empty.to_json() == dict.fromkeys(empty.to_json())
    assert BatchPlan.from_json(empty.to_json()) == empty
    assert BatchPlan.from_json({}) == empty


@pytest.mark.parametrize(
    "data",
    [{"plan_ref": 5}, {"roster_size": "3"}, {"roster_size": True}, {"roster_size": -1}, {"assessed_on": 20241129},
     {"assessed_on": "29/11/2024"}],
)  # fmt: skip
def test_rule_31_from_json_refuses_what_to_json_never_writes(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BatchPlan.from_json(data)


# --------------------------------------------------------------------------------------------
# Rule 33: deadlines in working days


def _warn(plan: BatchPlan, submitted_on: date, appraisal: bool = False) -> list[Problem]:
    return plan_warnings(plan, submitted_on=submitted_on, appraisal=appraisal)


# November 2024 has no holidays: Friday 15th to Friday 29th is 10 working days.
FRI_15, MON_18, WED_20, THU_21, FRI_22, MON_25, FRI_29 = (
    date(2024, 11, d) for d in (15, 18, 20, 21, 22, 25, 29)
)
MON_DEC_2 = date(2024, 12, 2)


def test_rule_33_plan_filed_exactly_10_working_days_ahead_is_on_time() -> None:
    assert working_days_after(FRI_15, FRI_29) == 10
    assert _warn(BatchPlan(plan_filed_on=FRI_15, assessed_on=FRI_29), FRI_29) == []


def test_rule_33_plan_filed_9_working_days_ahead_is_plan_filed_late() -> None:
    (w,) = _warn(BatchPlan(plan_filed_on=MON_18, assessed_on=FRI_29), FRI_29)
    assert (w.code, w.rule, w.severity, w.column, w.found) == (
        "plan_filed_late",
        33,
        "warning",
        "plan_filed_on",
        "9",
    )
    for text in (w.message_zh, w.message_en):
        assert "2024-11-18" in text and "2024-11-29" in text and "9" in text and "10" in text
    assert "估算" not in w.message_zh


def test_rule_33_results_exactly_10_working_days_after_are_on_time_11_are_late() -> None:
    plan = BatchPlan(assessed_on=FRI_15)
    assert _warn(plan, FRI_29) == []
    (w,) = _warn(plan, MON_DEC_2)
    assert (w.code, w.rule, w.severity, w.found) == ("results_late", 33, "warning", "11")
    for text in (w.message_zh, w.message_en):
        assert "2024-11-15" in text and "2024-12-02" in text and "11" in text


def test_rule_33_results_are_counted_in_working_days_not_weekdays() -> None:
    # Monday 30 September 2024, then the National Day week and the Saturday 12 October shift:
    # 18 October is the 10th working day (the 14th weekday), 21 October the 11th.
    plan = BatchPlan(assessed_on=date(2024, 9, 30))
    assert _warn(plan, date(2024, 10, 18)) == []
    assert _codes(_warn(plan, date(2024, 10, 21))) == ["results_late"]


def test_rule_33_supervision_report_5_working_days_for_a_recognition() -> None:
    assert _warn(BatchPlan(assessed_on=FRI_15, supervision_report_on=FRI_22), FRI_22) == []
    (w,) = _warn(BatchPlan(assessed_on=FRI_15, supervision_report_on=MON_25), MON_25)
    assert (w.code, w.column, w.found, w.allowed) == (
        "supervision_report_late",
        "supervision_report_on",
        "6",
        "<= 5",
    )
    assert "2024-11-25" in w.message_zh and "2024-11-15" in w.message_en


def test_rule_33_supervision_report_3_working_days_for_an_appraisal() -> None:
    on_time = BatchPlan(assessed_on=FRI_15, supervision_report_on=WED_20)
    assert _warn(on_time, WED_20, appraisal=True) == []
    late = BatchPlan(assessed_on=FRI_15, supervision_report_on=THU_21)
    (w,) = _warn(late, THU_21, appraisal=True)
    assert (w.code, w.found, w.allowed) == ("supervision_report_late", "4", "<= 3")
    assert "鉴定" in w.message_zh
    assert _warn(late, THU_21, appraisal=False) == []  # 4 is within a recognition's 5


def test_rule_33_no_dates_no_warnings() -> None:
    assert _warn(BatchPlan(), date(2030, 1, 1)) == []
    # Without the assessment date nothing can be measured, whatever else is known.
    assert _warn(BatchPlan(plan_filed_on=FRI_29, supervision_report_on=MON_DEC_2), date(2030, 1, 1)) == []
    # Without the plan or report dates only the results are measured.
    assert _codes(_warn(BatchPlan(assessed_on=FRI_15), date(2030, 1, 1))) == ["results_late"]


def test_rule_33_every_check_at_once_in_a_stable_order() -> None:
    plan = BatchPlan(plan_filed_on=FRI_22, assessed_on=FRI_29, supervision_report_on=date(2024, 12, 13))
    assert _codes(_warn(plan, date(2024, 12, 31))) == [
        "plan_filed_late",
        "results_late",
        "supervision_report_late",
    ]


def test_rule_33_outside_the_calendar_the_count_is_marked_as_an_estimate() -> None:
    # 2027 is not covered: Monday to Friday, so 1 March to 16 March 2027 is 11 working days.
    (w,) = _warn(BatchPlan(assessed_on=date(2027, 3, 1)), date(2027, 3, 16))
    assert w.found == "11"
    assert "估算" in w.message_zh and "Monday to Friday" in w.message_en


# --------------------------------------------------------------------------------------------
# Rule 34: rows off the roster are warned by a row check (verify.domain.batch.checks.on_roster,
# tests/db/test_review.py); what the reviewer is shown is capped per kind of warning.


def _warning(line: int) -> Problem:
    return Problem("not_on_roster", "不在名单上", "not on the roster", line=line, rule=34, severity="warning")


def test_rule_34_exactly_1000_off_the_roster_has_no_summary() -> None:
    shown = capped([_warning(n) for n in range(2, 2 + WARNINGS_PER_CODE)])
    assert len(shown) == 1000 and set(_codes(shown)) == {"not_on_roster"}


def test_rule_34_past_1000_the_rest_is_one_summary() -> None:
    shown = capped([_warning(n) for n in range(2, 1502)] + [Problem("serial_gap", "z", "e", line=9, rule=14)])
    assert _codes(shown[:1000]) == ["not_on_roster"] * 1000 and shown[999].line == 1001
    assert _codes(shown[1000:]) == ["serial_gap", "not_on_roster_more"]
    summary = shown[-1]
    assert (summary.rule, summary.severity) == (34, "warning") and "500" in summary.message_zh
