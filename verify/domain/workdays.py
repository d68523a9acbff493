"""The Chinese working-day calendar (工作日), for the deadlines of rule 33.

A day is a working day when it is Monday to Friday and not a rest day of the State Council's
arrangement (法定节假日 and the 调休 rest days around them), or when it is a weekend day the
arrangement makes a working day (调休上班). The arrangement is published each year by the General
Office of the State Council (国务院办公厅关于…部分节假日安排的通知); the dates live in
``verify/domain/data/workdays-v1.json`` with the notice of each year, made by ``tests/make_workdays.py``
(code tables are versioned data, never edited in place: a new year is a new file and a new
``WORKDAYS_FILE``). The table is read once, at import.

Outside the years the table covers (``covered``), the calendar falls back to Monday to Friday: it
is then an estimate that ignores holidays, and callers that show a count say so.

Periods are counted as Chinese law counts them (民法典 第二百零一条: the day a period starts on
is not counted): ``working_days_after(start, end)`` counts the working days of ``(start, end]``.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from datetime import date, timedelta
from importlib.resources import files
from itertools import accumulate
from types import MappingProxyType
from typing import Any

WORKDAYS_FILE = "workdays-v1.json"


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((files("verify.domain") / "data" / WORKDAYS_FILE).read_text("utf-8"))
    return data


_TABLE = _load()

VERSION: int = _TABLE["version"]
# year -> the notice(s) its dates come from, as the table states them
SOURCES: MappingProxyType[int, str] = MappingProxyType(
    {int(y): entry["source"] for y, entry in _TABLE["years"].items()}
)
YEARS: frozenset[int] = frozenset(SOURCES)
HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(d) for entry in _TABLE["years"].values() for d in entry["holidays"]
)
ADJUSTED_WORKING_DAYS: frozenset[date] = frozenset(
    date.fromisoformat(d) for entry in _TABLE["years"].values() for d in entry["working_days"]
)


def _check_table() -> None:
    # A malformed table would silently shift every deadline: refuse it at import instead.
    for day in HOLIDAYS | ADJUSTED_WORKING_DAYS:
        if day.year not in YEARS:
            raise RuntimeError(f"{WORKDAYS_FILE}: {day} is filed under another year")
    if HOLIDAYS & ADJUSTED_WORKING_DAYS:
        raise RuntimeError(f"{WORKDAYS_FILE}: a day is both a holiday and a working day")
    if any(d.weekday() < 5 for d in ADJUSTED_WORKING_DAYS):
        raise RuntimeError(f"{WORKDAYS_FILE}: an adjusted working day falls on a weekday")


_check_table()

# The days where the table differs from Monday to Friday, in order, with the running sum of the
# difference (-1 for a holiday on a weekday, +1 for a weekend working day): counting becomes two
# bisects instead of a walk over the days.
_SHIFTS: tuple[tuple[date, int], ...] = tuple(
    sorted(
        [(d, -1) for d in HOLIDAYS if d.weekday() < 5] + [(d, 1) for d in ADJUSTED_WORKING_DAYS],
    )
)
_SHIFT_DAYS: tuple[date, ...] = tuple(d for d, _ in _SHIFTS)
_SHIFT_SUMS: tuple[int, ...] = tuple(accumulate(s for _, s in _SHIFTS))

_ONE_DAY = timedelta(days=1)


def covered(d: date) -> bool:
    """Whether the table has the State Council's arrangement for ``d``'s year (2019–2026 in v1).

    Outside it every function here counts Monday to Friday as working days and ignores holidays.
    """
    return d.year in YEARS


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a 工作日: an adjusted working day, or Monday to Friday and not a holiday.

    Outside the covered years: Monday to Friday. Raises nothing.
    """
    if d in ADJUSTED_WORKING_DAYS:
        return True
    return d.weekday() < 5 and d not in HOLIDAYS


def _rank(d: date) -> int:
    """Working days from an epoch up to and including ``d`` (date.min is a Monday, ordinal 1)."""
    n = d.toordinal()
    weekdays = 5 * (n // 7) + min(n % 7, 5)
    i = bisect_right(_SHIFT_DAYS, d)
    return weekdays + (_SHIFT_SUMS[i - 1] if i else 0)


def working_days_after(start: date, end: date) -> int:
    """The number of working days ``d`` with ``start < d <= end``.

    ``start`` itself is not counted and ``end`` is (民法典 第二百零一条): results submitted on the
    working day after the assessment are 1 working day after it. When ``end <= start`` the count is
    ``-working_days_after(end, start)`` (0 when equal), so counts add up:
    ``working_days_after(a, b) + working_days_after(b, c) == working_days_after(a, c)``.
    Raises nothing.
    """
    return _rank(end) - _rank(start)


def add_working_days(d: date, n: int) -> date:
    """The ``n``-th working day after ``d`` (``n > 0``) or before it (``n < 0``); ``d`` when ``n == 0``.

    ``d`` itself is never counted, so for ``n > 0`` the result ``r`` is a working day with
    ``working_days_after(d, r) == n``, and for ``n < 0`` it is a working day with ``|n|`` working
    days in ``[r, d)``. From a working day the two directions undo each other:
    ``add_working_days(add_working_days(d, n), -n) == d``. Raises OverflowError only past
    ``date.min``/``date.max``.
    """
    step = _ONE_DAY if n > 0 else -_ONE_DAY
    left = abs(n)
    # Whole weeks first (two bisects each), so that a large n costs no walk over its days. A jump
    # is taken only when it lands before the result; the walk settles the last days.
    while left > 10:
        target = d + step * (7 * ((left - 5) // 5))
        if n > 0:  # working days in (d, target]: the walk would count exactly those
            moved = working_days_after(d, target)
        else:  # working days in [target, d)
            moved = working_days_after(target - _ONE_DAY, d - _ONE_DAY)
        if moved >= left:
            break
        d, left = target, left - moved
    while left:
        d += step
        if is_working_day(d):
            left -= 1
    return d
