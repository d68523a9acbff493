"""Regenerates verify/domain/data/workdays-v1.json, the Chinese working-day calendar (rule 33).

Run by hand, never by the service or the test suite::

    .venv/bin/python -m pip install chinese-calendar==1.11.0
    .venv/bin/python -m tests.make_workdays             # writes the file
    .venv/bin/python -m tests.make_workdays --check     # exit 1 if the file differs from the output

The dates come from the PyPI package ``chinese-calendar`` (1.11.0 has every year up to 2026); the
service only reads the JSON (``verify.domain.workdays``) and never imports the package. As an
independent check, ``NOTICES`` below transcribes each year's State Council notice (放假 ranges and
调休上班 days); the script refuses to write when the package and the transcription disagree about
whether any day of a year is a working day.

Code tables are versioned, never edited in place (docs/ARCHITECTURE.md): when the State Council
publishes a new year, add its notice to ``NOTICES`` and ``YEARS``, run with ``--version 2`` (writes
``workdays-v2.json``) and point ``WORKDAYS_FILE`` in ``verify/domain/workdays.py`` at the new file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from importlib.metadata import version as installed_version
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "verify" / "domain" / "data"
YEARS = range(2019, 2027)
PACKAGE = "chinese-calendar"

# Per year: the notices whose arrangement covers that year's dates, and, transcribed from them,
# the 放假 ranges (first, last; weekends inside a range included) and the 调休上班 days.
NOTICES: dict[int, tuple[str, list[tuple[str, str]], list[str]]] = {
    2019: (
        "国务院办公厅关于2019年部分节假日安排的通知（国办发明电〔2018〕15号，2018-12-04）；"
        "劳动节按国务院办公厅关于调整2019年劳动节假期安排的通知（国办发明电〔2019〕3号，2019-03-22）",
        [("2019-01-01", "2019-01-01"), ("2019-02-04", "2019-02-10"), ("2019-04-05", "2019-04-05"),
         ("2019-05-01", "2019-05-04"), ("2019-06-07", "2019-06-07"), ("2019-09-13", "2019-09-13"),
         ("2019-10-01", "2019-10-07")],
        ["2019-02-02", "2019-02-03", "2019-04-28", "2019-05-05", "2019-09-29", "2019-10-12"],
    ),
    2020: (
        "国务院办公厅关于2020年部分节假日安排的通知（国办发明电〔2019〕16号，2019-11-21）；"
        "春节按国务院办公厅关于延长2020年春节假期的通知（国办发明电〔2020〕1号，2020-01-26）延至2月2日，"
        "原定2月1日（星期六）上班随之取消",
        [("2020-01-01", "2020-01-01"), ("2020-01-24", "2020-02-02"), ("2020-04-04", "2020-04-06"),
         ("2020-05-01", "2020-05-05"), ("2020-06-25", "2020-06-27"), ("2020-10-01", "2020-10-08")],
        ["2020-01-19", "2020-04-26", "2020-05-09", "2020-06-28", "2020-09-27", "2020-10-10"],
    ),
    2021: (
        "国务院办公厅关于2021年部分节假日安排的通知（国办发明电〔2020〕27号，2020-11-25）",
        [("2021-01-01", "2021-01-03"), ("2021-02-11", "2021-02-17"), ("2021-04-03", "2021-04-05"),
         ("2021-05-01", "2021-05-05"), ("2021-06-12", "2021-06-14"), ("2021-09-19", "2021-09-21"),
         ("2021-10-01", "2021-10-07")],
        ["2021-02-07", "2021-02-20", "2021-04-25", "2021-05-08", "2021-09-18", "2021-09-26", "2021-10-09"],
    ),
    2022: (
        "国务院办公厅关于2022年部分节假日安排的通知（国办发明电〔2021〕11号，2021-10-25）；"
        "12月31日属2023年元旦假期（国办发明电〔2022〕16号）",
        [("2022-01-01", "2022-01-03"), ("2022-01-31", "2022-02-06"), ("2022-04-03", "2022-04-05"),
         ("2022-04-30", "2022-05-04"), ("2022-06-03", "2022-06-05"), ("2022-09-10", "2022-09-12"),
         ("2022-10-01", "2022-10-07"), ("2022-12-31", "2022-12-31")],
        ["2022-01-29", "2022-01-30", "2022-04-02", "2022-04-24", "2022-05-07", "2022-10-08", "2022-10-09"],
    ),
    2023: (
        "国务院办公厅关于2023年部分节假日安排的通知（国办发明电〔2022〕16号，2022-12-08）",
        [("2023-01-01", "2023-01-02"), ("2023-01-21", "2023-01-27"), ("2023-04-05", "2023-04-05"),
         ("2023-04-29", "2023-05-03"), ("2023-06-22", "2023-06-24"), ("2023-09-29", "2023-10-06")],
        ["2023-01-28", "2023-01-29", "2023-04-23", "2023-05-06", "2023-06-25", "2023-10-07", "2023-10-08"],
    ),
    2024: (
        "国务院办公厅关于2024年部分节假日安排的通知（国办发明电〔2023〕7号，2023-10-25）",
        [("2024-01-01", "2024-01-01"), ("2024-02-10", "2024-02-17"), ("2024-04-04", "2024-04-06"),
         ("2024-05-01", "2024-05-05"), ("2024-06-10", "2024-06-10"), ("2024-09-15", "2024-09-17"),
         ("2024-10-01", "2024-10-07")],
        ["2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14", "2024-09-29",
         "2024-10-12"],
    ),
    2025: (
        "国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号，2024-11-12）",
        [("2025-01-01", "2025-01-01"), ("2025-01-28", "2025-02-04"), ("2025-04-04", "2025-04-06"),
         ("2025-05-01", "2025-05-05"), ("2025-05-31", "2025-06-02"), ("2025-10-01", "2025-10-08")],
        ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"],
    ),
    2026: (
        "国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号，2025-11-04）",
        [("2026-01-01", "2026-01-03"), ("2026-02-15", "2026-02-23"), ("2026-04-04", "2026-04-06"),
         ("2026-05-01", "2026-05-05"), ("2026-06-19", "2026-06-21"), ("2026-09-25", "2026-09-27"),
         ("2026-10-01", "2026-10-07")],
        ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
    ),
}  # fmt: skip


def _days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


def _check_against_notices(year: int, holidays: list[date], working: list[date]) -> None:
    _, ranges, extra = NOTICES[year]
    rest = {
        date.fromisoformat(a) + timedelta(days=i)
        for a, b in ranges
        for i in range((date.fromisoformat(b) - date.fromisoformat(a)).days + 1)
    }
    shifted = {date.fromisoformat(d) for d in extra}
    for day in _days(year):
        ours = day in working or (day not in holidays and day.weekday() < 5)
        notice = day in shifted or (day not in rest and day.weekday() < 5)
        if ours != notice:
            raise SystemExit(f"{PACKAGE} and the notice disagree about {day}: working day {ours} vs {notice}")


def build(version: int) -> dict[str, object]:
    # Only here: the service never imports the package (and mypy may run without it installed).
    from chinese_calendar import constants  # type: ignore[import-untyped, import-not-found, unused-ignore]

    years: dict[str, object] = {}
    for year in YEARS:
        holidays = sorted(d for d in constants.holidays if d.year == year)
        working = sorted(d for d in constants.workdays if d.year == year)
        if not holidays:
            raise SystemExit(f"{PACKAGE} {installed_version(PACKAGE)} has no arrangement for {year}")
        _check_against_notices(year, holidays, working)
        years[str(year)] = {
            "source": NOTICES[year][0],
            "holidays": [d.isoformat() for d in holidays],
            "working_days": [d.isoformat() for d in working],
        }
    return {
        "version": version,
        "description": (
            "中国工作日历：周六、周日休息，国务院办公厅通知的调休上班日（working_days）除外；"
            "法定节假日及其调休休息日（holidays）休息。Outside the years listed, working days are "
            "Monday to Friday (an estimate)."
        ),
        "generated_by": f"tests/make_workdays.py from {PACKAGE} {installed_version(PACKAGE)}",
        "first_year": YEARS.start,
        "last_year": YEARS.stop - 1,
        "missing_years": [],
        "years": years,
    }


def render(table: dict[str, object]) -> str:
    return json.dumps(table, ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", type=int, default=1, help="table version (file workdays-vN.json)")
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing")
    args = parser.parse_args(argv)
    path = DATA / f"workdays-v{args.version}.json"
    text = render(build(args.version))
    if args.check:
        same = path.exists() and path.read_text(encoding="utf-8") == text
        print(f"{path.name}: {'up to date' if same else 'differs from the generated table'}")
        return 0 if same else 1
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
