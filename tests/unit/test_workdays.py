"""verify.domain.workdays: the Chinese working-day calendar that rule 33 counts in."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from verify.domain import workdays
from verify.domain.workdays import add_working_days, covered, is_working_day, working_days_after

DATA = Path(workdays.__file__).resolve().parent / "data" / workdays.WORKDAYS_FILE

# Dates from the far past to the far future, weighted to the covered years and their edges.
DATES = st.one_of(
    st.dates(min_value=date(2018, 6, 1), max_value=date(2027, 6, 30)),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
)


def _slow_count(start: date, end: date) -> int:
    if end < start:
        return -_slow_count(end, start)
    return sum(is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


def test_known_days() -> None:
    assert not is_working_day(date(2024, 10, 1))  # 国庆节
    assert not is_working_day(date(2024, 10, 7))  # the last day of the National Day week
    assert is_working_day(date(2024, 10, 12))  # a Saturday: 调休上班
    assert is_working_day(date(2024, 9, 29))  # a Sunday: 调休上班
    assert is_working_day(date(2025, 1, 26))  # a Sunday before the Spring Festival: 调休上班
    assert not is_working_day(date(2025, 1, 28))  # 除夕 2025, a rest day since the 2024 revision
    assert not is_working_day(date(2024, 10, 19))  # a plain Saturday
    assert not is_working_day(date(2024, 10, 20))  # a plain Sunday
    assert is_working_day(date(2024, 10, 21))  # a plain Monday


def test_the_2020_spring_festival_extension_is_in() -> None:
    # 国办发明电〔2020〕1号 extended the holiday to 2 February and cancelled the Saturday shift.
    assert not is_working_day(date(2020, 1, 31))
    assert not is_working_day(date(2020, 2, 1))
    assert is_working_day(date(2020, 2, 3))


def test_the_2026_arrangement_is_in() -> None:
    assert not is_working_day(date(2026, 2, 23))  # 春节 runs to 正月初七, a Monday
    assert is_working_day(date(2026, 2, 28))  # a Saturday: 调休上班
    assert is_working_day(date(2026, 9, 20))  # a Sunday: 调休上班
    assert not is_working_day(date(2026, 10, 7))


def test_counts_across_the_2024_national_day_week() -> None:
    # Monday 30 September; 1-7 October are rest days; 8 October is a Tuesday; 12 October a Saturday
    # working day.
    assert working_days_after(date(2024, 9, 30), date(2024, 10, 7)) == 0
    assert working_days_after(date(2024, 9, 30), date(2024, 10, 8)) == 1
    assert working_days_after(date(2024, 9, 30), date(2024, 10, 12)) == 5  # 8, 9, 10, 11, 12
    assert working_days_after(date(2024, 9, 27), date(2024, 10, 14)) == 8  # 29, 30, 8-12, 14
    assert working_days_after(date(2024, 10, 14), date(2024, 9, 27)) == -8
    assert working_days_after(date(2024, 10, 3), date(2024, 10, 3)) == 0
    assert add_working_days(date(2024, 9, 30), 1) == date(2024, 10, 8)
    assert add_working_days(date(2024, 9, 30), 5) == date(2024, 10, 12)
    assert add_working_days(date(2024, 10, 8), -1) == date(2024, 9, 30)
    assert add_working_days(date(2024, 10, 3), 0) == date(2024, 10, 3)


def test_a_plain_week_counts_five() -> None:
    assert working_days_after(date(2024, 11, 4), date(2024, 11, 11)) == 5
    assert add_working_days(date(2024, 11, 8), 1) == date(2024, 11, 11)  # Friday -> Monday


def test_coverage_is_2019_to_2026_and_outside_it_is_monday_to_friday() -> None:
    assert frozenset(range(2019, 2027)) == workdays.YEARS
    assert covered(date(2019, 1, 1)) and covered(date(2026, 12, 31))
    assert not covered(date(2018, 12, 31)) and not covered(date(2027, 1, 1))
    # 2027-01-01 is a Friday; the fallback knows no holidays.
    assert is_working_day(date(2027, 1, 1))
    assert not is_working_day(date(2027, 1, 2))
    # 2018-12-29 was a Saturday working day (国办发明电〔2018〕15号), but 2018 is not covered.
    assert not is_working_day(date(2018, 12, 29))


def test_the_table_names_its_source_for_every_year() -> None:
    table = json.loads(DATA.read_text(encoding="utf-8"))
    assert table["version"] == workdays.VERSION == 1
    assert table["missing_years"] == []
    for year, entry in table["years"].items():
        assert "国务院办公厅关于" in entry["source"] and "国办发明电" in entry["source"], year
        assert entry["holidays"] == sorted(entry["holidays"]), year
        assert all(d.startswith(year) for d in entry["holidays"] + entry["working_days"]), year
    assert workdays.SOURCES[2026].startswith("国务院办公厅关于2026年部分节假日安排的通知")


def test_the_service_does_not_import_the_generator_package() -> None:
    source = Path(workdays.__file__).read_text(encoding="utf-8")
    assert "chinese_calendar" not in source


@given(DATES, st.integers(min_value=-400, max_value=400))
def test_add_working_days_lands_where_working_days_after_says(d: date, n: int) -> None:
    r = add_working_days(d, n)
    if n == 0:
        assert r == d
        return
    assert is_working_day(r)
    if n > 0:
        assert r > d and working_days_after(d, r) == n
        # ... and it is the first such day
        assert working_days_after(d, r - timedelta(days=1)) == n - 1
    else:
        assert r < d
        # |n| working days in [r, d)
        assert working_days_after(r - timedelta(days=1), d - timedelta(days=1)) == -n


@given(DATES, st.integers(min_value=-400, max_value=400))
def test_from_a_working_day_add_and_subtract_undo_each_other(d: date, n: int) -> None:
    d = add_working_days(d, 1)  # a working day
    assert add_working_days(add_working_days(d, n), -n) == d


@given(DATES, st.integers(min_value=-800, max_value=800), st.integers(min_value=-800, max_value=800))
def test_counts_add_up_and_match_a_day_by_day_walk(a: date, i: int, j: int) -> None:
    b, c = a + timedelta(days=i), a + timedelta(days=j)
    assert working_days_after(a, b) + working_days_after(b, c) == working_days_after(a, c)
    assert working_days_after(a, b) == -working_days_after(b, a)
    assert working_days_after(a, b) == _slow_count(a, b)


def test_large_steps_are_exact() -> None:
    start = date(2019, 1, 1)
    end = add_working_days(start, 1500)
    assert working_days_after(start, end) == 1500 and is_working_day(end)
    # Back from ``end`` (not counted) over the 1,499 working days from 2019-01-02: the 1,500th is the
    # one before 元旦 2019, which the fallback counts (2018 is not covered).
    assert add_working_days(end, -1500) == date(2018, 12, 31)
