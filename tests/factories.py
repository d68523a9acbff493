"""Builders for batch files used across tests: valid by default, so a test changes one thing."""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from dataclasses import dataclass, field
from datetime import date

from PIL import Image

from verify.domain import holder_ids as ids
from verify.domain.batch import cells, columns

HEADER = [c.header_zh for c in columns.COLUMNS[:9]]
# The template's header and one valid row, spelled out rather than taken from ``columns``, so that
# the readers' tests catch a renamed or reordered column.
WRITTEN_HEADER = [
    "证书编号",
    "姓名",
    "证件类型",
    "证件号码",
    "职业编码",
    "职业名称",
    "工种/职业方向",
    "职业技能等级",
    "发证日期",
]
WRITTEN_ROW = ["Y000041010012224000007", "张三", "居民身份证", "11010519491231002X", "6-18-01-01", "车工", "--",
               "四级/中级工", "2022-06-30"]  # fmt: skip
LEVEL_TEXT = cells.LEVEL_TEXTS
_births = itertools.count()


def holder_id(n: int | None = None) -> str:
    """A check-digit-valid synthetic resident ID, different on every call unless n is given."""
    k = next(_births) if n is None else n
    birth = date(1970, 1, 1).toordinal() + (k * 37) % 12000
    return ids.make_resident_id("410105", date.fromordinal(birth), 1 + (k % 998))


@dataclass
class Row:
    institution: str
    serial: int
    name: str = "张三"
    id_number: str = field(default_factory=holder_id)
    occupation_code: str = "6-20-01-01"
    occupation_name: str = "钳工"
    job: str = ""
    level: int = 4
    issue_date: date = date(2025, 6, 18)
    number: str | None = None
    id_type: str = "居民身份证"

    def cells(self) -> list[str]:
        number = (
            self.number or f"{self.institution}{self.issue_date.year % 100:02d}{self.level}{self.serial:06d}"
        )
        return [
            number,
            self.name,
            self.id_type,
            self.id_number,
            self.occupation_code,
            self.occupation_name,
            self.job,
            LEVEL_TEXT.get(self.level, str(self.level)),
            self.issue_date.isoformat(),
        ]


def csv_bytes(rows: list[Row], *, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for r in rows:
        w.writerow(r.cells())
    return out.getvalue().encode(encoding)


def number_of(row: Row) -> str:
    return row.cells()[0]


def zip_of(entries: dict[str, bytes]) -> bytes:
    """A ZIP archive holding ``entries`` (name: bytes), as an institution's photo upload."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def jpeg(colour: tuple[int, int, int] = (10, 120, 30), size: tuple[int, int] = (300, 420)) -> bytes:
    """A plain holder photo: one colour, 一寸 proportions."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()
