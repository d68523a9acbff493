"""Regenerates docs/sample-batch.csv and docs/sample-batch.xlsx (run: python -m tests.make_samples).

The rows belong to the demo institution S000041010012 and its filed scope, so a new user can
import either file into the data `make run` loads. The CSV and the XLSX use different serials so
both can be imported. tests/db/test_samples.py checks the committed files equal this output.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl

from verify.domain import holder_ids as ids
from verify.domain.batch import columns

DOCS = Path(__file__).resolve().parent.parent / "docs"
INSTITUTION = "S000041010012"
HEADER = [c.header_zh for c in columns.COLUMNS[:10]]

_PEOPLE = [
    ("李娜", "410105", date(1990, 3, 14), 21, "4-10-01-06", "家政服务员", "母婴护理员", 4),
    ("王建国", "410102", date(1978, 11, 2), 35, "4-12-01-01", "汽车维修工", "汽车机械维修工", 3),
    ("欧阳·娜娜", "410302", date(1995, 7, 30), 148, "4-10-01-06", "家政服务员", "家务服务员", 5),
    ("张伟", "411002", date(1986, 1, 9), 77, "4-12-01-01", "汽车维修工", "汽车电器维修工", 2),
    ("陈静", "410902", date(2000, 12, 25), 202, "4-10-01-06", "家政服务员", "--", 2),
]
LEVEL_TEXT = {1: "一级/高级技师", 2: "二级/技师", 3: "三级/高级工", 4: "四级/中级工", 5: "五级/初级工"}


def rows(first_serial: int) -> list[list[str]]:
    out = []
    for i, (name, region, birth, seq, code, occupation, job, level) in enumerate(_PEOPLE):
        issue = date(2026, 10, 20)
        number = f"{INSTITUTION}{issue.year % 100:02d}{level}{first_serial + i:06d}"
        out.append([number, name, "居民身份证", ids.make_resident_id(region, birth, seq), code, occupation, job,
                    LEVEL_TEXT[level], issue.isoformat(), "纸质"])  # fmt: skip
    return out


def sample_csv() -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    w.writerows(rows(900001))
    return buf.getvalue().encode("utf-8")


def sample_xlsx_rows() -> list[list[str]]:
    return [HEADER, *rows(900101)]


def write_xlsx(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "证书批次"
    for r in sample_xlsx_rows():
        ws.append(r)
    wb.save(path)


def main() -> None:
    (DOCS / "sample-batch.csv").write_bytes(sample_csv())
    write_xlsx(DOCS / "sample-batch.xlsx")


if __name__ == "__main__":
    main()
