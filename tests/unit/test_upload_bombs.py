"""Files built to exhaust a worker (verify.files.limits): each is refused early, cheaply and with its code.

Every bomb is generated here, at most 2 MB compressed. The big members are deflated by hand
(``RawZip``): after ``Z_FULL_FLUSH`` a deflate block refers to nothing before it, so one compressed
unit can be written a million times, and a 950 MiB member costs one compression and a CRC.

Each bomb is read in a subprocess, which reports the problem code, the CPU time of the
``read_batch_file`` call alone (``time.process_time``: interpreter start-up and generating the bomb
are not counted, and CPU time does not depend on how busy this machine is) and the growth of its
peak RSS across that call. The child runs under a 2 GiB address-space limit and a timeout, so
that code without the caps fails the test instead of taking the machine down.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest

from tests.factories import WRITTEN_HEADER, WRITTEN_ROW
from verify.domain.errors import BadFile, FileTooLarge
from verify.files.batchfile import read_batch_file
from verify.files.limits import UploadLimits

MiB = 1024 * 1024
LIMIT = 50 * MiB
REPO = Path(__file__).resolve().parents[2]
CPU_BUDGET = 1.0  # seconds of CPU per bomb (the caps trip after a few MB; measured 0.0-0.7 s)
RSS_BUDGET = 100  # MB of peak-RSS growth per bomb
HEADER = WRITTEN_HEADER
ROW = WRITTEN_ROW


class RawZip:
    """A ZIP written by hand, members deflated at level 9, no ZIP64 (members stay under 4 GiB)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.central = bytearray()
        self.count = 0

    def add(self, name: str, body: bytes) -> None:
        self.add_repeated(name, body, b"", 0, b"")

    def add_repeated(self, name: str, head: bytes, unit: bytes, times: int, tail: bytes) -> None:
        co = zlib.compressobj(9, zlib.DEFLATED, -15)
        first = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
        block = co.compress(unit) + co.flush(zlib.Z_FULL_FLUSH) if times else b""
        last = co.compress(tail) + co.flush()
        crc = zlib.crc32(head)
        for _ in range(times):
            crc = zlib.crc32(unit, crc)
        crc = zlib.crc32(tail, crc)
        size = len(head) + len(unit) * times + len(tail)
        packed = len(first) + len(block) * times + len(last)
        raw = name.encode()
        offset = len(self.out)
        self.out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, packed, size, len(raw), 0)
        self.out += raw + first + block * times + last
        self.central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, packed, size, len(raw), 0, 0, 0, 0,
            0, offset,
        ) + raw  # fmt: skip
        self.count += 1

    def bytes(self) -> bytes:
        end = struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, self.count, self.count, len(self.central), len(self.out), 0
        )
        return bytes(self.out + self.central + end)


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


Part = tuple[bytes, bytes, int, bytes]  # a member as (head, unit, times, tail)


def workbook(sheet: Part, shared: Part | None = None, more: Sequence[Part] = ()) -> bytes:
    """An XLSX with a worksheet, optionally a shared-string table and more worksheets."""
    sheets = [sheet, *more]
    z = RawZip()
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{CT}.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if shared:
        overrides += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>'
    z.add(
        "[Content_Types].xml",
        f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
        f'"/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>{overrides}</Types>'.encode(),
    )
    z.add(
        "_rels/.rels",
        f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
        f'Target="xl/workbook.xml"/></Relationships>'.encode(),
    )
    entries = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, len(sheets) + 1))
    z.add(
        "xl/workbook.xml",
        f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{entries}</sheets></workbook>'.encode(),
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if shared:
        rels += f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    z.add("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PKG}">{rels}</Relationships>'.encode())
    for i, part in enumerate(sheets, start=1):
        z.add_repeated(f"xl/worksheets/sheet{i}.xml", *part)
    if shared:
        z.add_repeated("xl/sharedStrings.xml", *shared)
    return z.bytes()


def inline_row(r: int, cells: Sequence[str]) -> bytes:
    out = "".join(f'<c t="inlineStr"><is><t>{escape(v)}</t></is></c>' for v in cells)
    return f'<row r="{r}">{out}</row>'.encode()


SHEET_OPEN = f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
SHEET_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>' + SHEET_OPEN
SHEET_TAIL = b"</sheetData></worksheet>"
HEAD_ROW = SHEET_HEAD + inline_row(1, HEADER)
BIG = b"x" * MiB


def sheet_of(rows: Sequence[Sequence[str]]) -> Part:
    body = b"".join(inline_row(i, r) for i, r in enumerate(rows, start=1))
    return SHEET_HEAD + body + SHEET_TAIL, b"", 0, b""


# name -> (file name, builder, expected code). Built lazily: a builder runs only in its own test.
def _cell_inline() -> bytes:
    row2 = b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
    return workbook((HEAD_ROW + row2, BIG, 950, b"</t></is></c></row>" + SHEET_TAIL))


def _cell_shared() -> bytes:
    sheet = HEAD_ROW + b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>' + SHEET_TAIL
    sst = (f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>'.encode(), BIG, 950, b"</t></si></sst>")
    return workbook((sheet, b"", 0, b""), sst)


def _empty_rows() -> bytes:  # ~157 million <row/>, as in the incident
    return workbook((HEAD_ROW, b"<row/>" * 65536, 2400, SHEET_TAIL))


def _rows_beyond_index() -> bytes:  # few elements, but row numbers far beyond any sheet
    unit = b'<row r="2"/>' * 4096
    return workbook((HEAD_ROW + b'<row r="1000000000"/>', unit, 1000, SHEET_TAIL))


def _many_sheets() -> bytes:  # 20 sheets of a million empty rows, each under the cap alone
    rows = (SHEET_HEAD, b"<row/>" * 65536, 16, SHEET_TAIL)
    return workbook(rows, more=[rows] * 19)


def _wide_row() -> bytes:  # one row of ~160 million cells
    return workbook((HEAD_ROW + b'<row r="2">', b"<c/>" * 65536, 2400, b"</row>" + SHEET_TAIL))


def _wide_ref() -> bytes:  # a cell in column XFD, the last Excel has
    return workbook((HEAD_ROW + b'<row r="2"><c r="XFD2"><v>1</v></c></row>' + SHEET_TAIL, b"", 0, b""))


def _deep() -> bytes:  # 100,000 nested <r> in one shared string
    sheet = HEAD_ROW + b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>' + SHEET_TAIL
    sst = (f'<sst xmlns="{MAIN}"><si>'.encode() + b"<r>" * 100_000 + b"<t>a</t>" + b"</r>" * 100_000, b"", 0,
           b"</si></sst>")  # fmt: skip
    return workbook((sheet, b"", 0, b""), sst)


def _laughs() -> bytes:
    ents = '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    head = f'<?xml version="1.0"?><!DOCTYPE sst [{ents}]><sst xmlns="{MAIN}"><si><t>&a9;</t></si></sst>'
    sheet = HEAD_ROW + b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>' + SHEET_TAIL
    return workbook((sheet, b"", 0, b""), (head.encode(), b"", 0, b""))


def _csv_commas() -> bytes:
    return ",".join(HEADER).encode() + b"\n" + b"," * 50_000_000 + b"\n"


def _csv_newlines() -> bytes:
    return ",".join(HEADER).encode() + b"\n" * 50_000_000


def _csv_cell() -> bytes:
    return ",".join(HEADER).encode() + b"\n" + b"x" * (40 * MiB) + b"," + ",".join(ROW[1:]).encode() + b"\n"


BOMBS = {
    "cell_inline": ("bomb.xlsx", _cell_inline, "cell_too_long"),
    "cell_shared": ("bomb.xlsx", _cell_shared, "cell_too_long"),
    "empty_rows": ("bomb.xlsx", _empty_rows, "too_many_rows"),
    "rows_beyond_index": ("bomb.xlsx", _rows_beyond_index, "too_many_rows"),
    "wide_row": ("bomb.xlsx", _wide_row, "too_many_columns"),
    "many_sheets_of_rows": ("bomb.xlsx", _many_sheets, "too_many_rows"),
    "wide_ref": ("bomb.xlsx", _wide_ref, "too_many_columns"),
    "deep_shared_string": ("bomb.xlsx", _deep, "xlsx_too_deep"),
    "billion_laughs": ("bomb.xlsx", _laughs, "xlsx_doctype"),
    "csv_50m_commas": ("bomb.csv", _csv_commas, "too_many_columns"),
    "csv_50mb_newlines": ("bomb.csv", _csv_newlines, "too_many_rows"),
    "csv_40mb_cell": ("bomb.csv", _csv_cell, "cell_too_long"),
}

CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
import openpyxl  # imported up front, so that its own memory is not counted as the file's
from verify.domain.errors import VerifyError
from verify.files.batchfile import read_batch_file
with open(sys.argv[1], "rb", buffering=0) as f:  # one allocation: the peak is the data itself
    data = f.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu, wall = time.process_time(), time.perf_counter()
try:
    read_batch_file(data, sys.argv[2], max_bytes=50 * 1024 * 1024)
    code = None
except VerifyError as exc:
    code = exc.problems[0].code if exc.problems else exc.reason
except MemoryError:
    code = "MemoryError"
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "cpu": cpu, "wall": wall, "rss_mb": (after - before) / 1024}))
"""


def read_in_child(data: bytes, name: str, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / name
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), name],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_bomb_is_refused_early(bomb: str, tmp_path: Path) -> None:
    name, build, code = BOMBS[bomb]
    data = build()
    assert len(data) <= 2 * MiB or name.endswith(".csv")
    assert len(data) <= LIMIT
    got = read_in_child(data, name, tmp_path)
    print(bomb, len(data), got)
    assert got["code"] == code, got
    assert isinstance(got["cpu"], float) and got["cpu"] < CPU_BUDGET, got
    assert isinstance(got["rss_mb"], float) and got["rss_mb"] <= RSS_BUDGET, got


def test_bombs_are_what_they_claim() -> None:
    # The generator is right: a small RawZip reads back with zipfile, CRC and sizes included.
    import zipfile

    z = RawZip()
    z.add("a.txt", b"hello")
    z.add_repeated("b.txt", b"<", b"ab", 1000, b">")
    with zipfile.ZipFile(io.BytesIO(z.bytes())) as archive:
        assert archive.read("a.txt") == b"hello"
        assert archive.read("b.txt") == b"<" + b"ab" * 1000 + b">"


# ------------------------------------------------------------------------------------------
# Honest files still pass


def honest_rows(n: int) -> list[list[str]]:
    return [[f"Y0000410100122240{i:05d}", *ROW[1:]] for i in range(n)]


def test_honest_1000_row_xlsx_and_csv_still_parse() -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(HEADER)
    for r in honest_rows(1000):
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    from_xlsx = read_batch_file(buf.getvalue(), "a.xlsx", max_bytes=LIMIT)
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *honest_rows(1000)])
    from_csv = read_batch_file(out.getvalue().encode(), "a.csv", max_bytes=LIMIT)
    assert len(from_xlsx.rows) == len(from_csv.rows) == 1000
    assert from_xlsx.rows == from_csv.rows


def test_hand_built_workbook_reads() -> None:
    # The bombs' skeleton is a workbook openpyxl reads, so each bomb reaches the member it targets.
    data = workbook(sheet_of([HEADER, ROW]))
    batch = read_batch_file(data, "a.xlsx", max_bytes=LIMIT)
    assert [r.values["number"] for r in batch.rows] == [ROW[0]]
    sst = f'<sst xmlns="{MAIN}"><si><t>张三</t></si></sst>'.encode()
    cells = "".join(
        '<c t="s"><v>0</v></c>' if i == 1 else f'<c t="inlineStr"><is><t>{escape(v)}</t></is></c>'
        for i, v in enumerate(ROW)
    )
    sheet = HEAD_ROW + f'<row r="2">{cells}</row>'.encode() + SHEET_TAIL
    shared = workbook((sheet, b"", 0, b""), (sst, b"", 0, b""))
    assert read_batch_file(shared, "a.xlsx", max_bytes=LIMIT).rows[0].values["name"] == "张三"


# ------------------------------------------------------------------------------------------
# Each cap on its own, with small limits (fast, in-process)

SMALL = UploadLimits(
    max_rows=5, max_lines=8, max_columns=12, max_cell_chars=40, max_record_chars=4096, max_depth=12,
    max_part_bytes=64 * 1024, max_part_elements=500, max_row_elements=100, max_markup_bytes=8192,
    max_shared_strings=10, max_shared_chars=200,
)  # fmt: skip


def code(data: bytes, name: str, limits: UploadLimits = SMALL) -> str:
    with pytest.raises(BadFile) as info:
        read_batch_file(data, name, max_bytes=LIMIT, limits=limits)
    assert len(info.value.problems) == 1
    problem = info.value.problems[0]
    assert problem.message_zh and problem.message_en and problem.message_zh != problem.message_en
    return problem.code


def csv_of(rows: Sequence[Sequence[str]]) -> bytes:
    return "".join(",".join(r) + "\r\n" for r in rows).encode()


def test_caps_pass_at_the_limit() -> None:
    assert (
        len(read_batch_file(csv_of([HEADER, *honest_rows(5)]), "a.csv", max_bytes=LIMIT, limits=SMALL).rows)
        == 5
    )
    data = workbook(sheet_of([HEADER, *honest_rows(5)]))
    assert len(read_batch_file(data, "a.xlsx", max_bytes=LIMIT, limits=SMALL).rows) == 5


def test_data_rows_and_lines() -> None:
    assert code(csv_of([HEADER, *honest_rows(6)]), "a.csv") == "too_many_rows"
    assert code(csv_of([HEADER, *honest_rows(3)]) + b"\n" * 6, "a.csv") == "too_many_rows"
    assert code(csv_of([HEADER, *honest_rows(3)]) + b"\r" * 6, "a.csv") == "too_many_rows"
    assert code(workbook(sheet_of([HEADER, *honest_rows(6)])), "a.xlsx") == "too_many_rows"
    (head, _, _, tail) = sheet_of([HEADER, ROW])
    assert code(workbook((head[: -len(SHEET_TAIL)] + b"<row/>" * 7 + SHEET_TAIL, b"", 0, b"")), "a.xlsx") == (
        "too_many_rows"
    )
    beyond = HEAD_ROW + b'<row r="9"><c><v>1</v></c></row>' + SHEET_TAIL
    assert code(workbook((beyond, b"", 0, b"")), "a.xlsx") == "too_many_rows"


def test_rows_are_counted_over_all_worksheets() -> None:
    five = sheet_of([HEADER, *honest_rows(4)])
    assert len(read_batch_file(workbook(five), "a.xlsx", max_bytes=LIMIT, limits=SMALL).rows) == 4
    assert code(workbook(five, more=[five]), "a.xlsx") == "too_many_rows"


def test_columns() -> None:
    assert code(csv_of([HEADER, [*ROW, *["x"] * 4]]), "a.csv") == "too_many_columns"
    assert code(workbook(sheet_of([HEADER, [*ROW, *["x"] * 4]])), "a.xlsx") == "too_many_columns"
    ref = HEAD_ROW + b'<row r="2"><c r="M2"><v>1</v></c></row>' + SHEET_TAIL
    assert code(workbook((ref, b"", 0, b"")), "a.xlsx") == "too_many_columns"
    after_ref = HEAD_ROW + b'<row r="2"><c r="L2"><v>1</v></c><c><v>2</v></c></row>' + SHEET_TAIL
    assert code(workbook((after_ref, b"", 0, b"")), "a.xlsx") == "too_many_columns"


def test_cell_length() -> None:
    long = "长" * 41
    assert code(csv_of([HEADER, [ROW[0], long, *ROW[2:]]]), "a.csv") == "cell_too_long"
    quoted = csv_of([HEADER]) + f'{ROW[0]},"{long[:20]}\n{long[:21]}",'.encode() + ",".join(ROW[2:]).encode()
    assert code(quoted, "a.csv") == "cell_too_long"
    assert code(workbook(sheet_of([HEADER, [ROW[0], long, *ROW[2:]]])), "a.xlsx") == "cell_too_long"
    runs = HEAD_ROW + b'<row r="2"><c t="inlineStr"><is>' + b"<r><t>" + b"x" * 30 + b"</t></r>" * 1
    runs += b"<r><t>" + b"y" * 30 + b"</t></r></is></c></row>" + SHEET_TAIL
    assert code(workbook((runs, b"", 0, b"")), "a.xlsx") == "cell_too_long"
    attr = HEAD_ROW + b'<row r="2"><c r="A2" s="' + b"1" * 200_000 + b'"><v>1</v></c></row>' + SHEET_TAIL
    assert code(workbook((attr, b"", 0, b"")), "a.xlsx") == "xlsx_too_complex"


def test_csv_record_left_open() -> None:
    # A quote that never closes makes csv gather the rest of the file into one record.
    body = csv_of([HEADER]) + b'"' + b"a\n" * 5000
    assert code(body, "a.csv", UploadLimits(max_record_chars=4096)) == "line_too_long"
    # Quotes reopening on every line: one record of ever more fields, every line short.
    toggling = csv_of([HEADER]) + b'"' + b'",,,,,,,,,,"\n' * 2000
    assert code(toggling, "a.csv", UploadLimits(max_record_chars=4096)) == "too_many_columns"
    # An over-long line.
    short_cells = UploadLimits(max_record_chars=4096, max_cell_chars=1000)
    assert code(csv_of([HEADER]) + b"x" * 9000 + b"\n", "a.csv", short_cells) == "cell_too_long"
    assert code(csv_of([HEADER]) + b"x," * 4500 + b"\n", "a.csv", UploadLimits(max_record_chars=4096)) == (
        "too_many_columns"
    )
    line = (b"x" * 30 + b",") * 200 + b"\n"
    assert code(csv_of([HEADER]) + line, "a.csv", UploadLimits(max_record_chars=4096, max_cell_chars=40)) == (
        "line_too_long"
    )


def test_xml_structure() -> None:
    deep = HEAD_ROW + b'<row r="2"><c t="inlineStr"><is>' + b"<r>" * 20 + b"</r>" * 20 + b"</is></c></row>"
    assert code(workbook((deep + SHEET_TAIL, b"", 0, b"")), "a.xlsx") == "xlsx_too_deep"
    many = HEAD_ROW + b'<row r="2"><c t="inlineStr"><is>' + b"<r/>" * 101 + b"</is></c></row>" + SHEET_TAIL
    assert code(workbook((many, b"", 0, b"")), "a.xlsx") == "xlsx_too_complex"
    outside = SHEET_HEAD + b"<foo/>" * 501 + inline_row(1, HEADER) + SHEET_TAIL
    assert code(workbook((outside, b"", 0, b"")), "a.xlsx") == "xlsx_too_complex"
    nested = HEAD_ROW + b'<row r="2"><c><row r="100000"/></c></row>' + SHEET_TAIL
    assert code(workbook((nested, b"", 0, b"")), "a.xlsx") == "bad_xlsx"
    doctype = b'<?xml version="1.0"?><!DOCTYPE worksheet>' + SHEET_OPEN + inline_row(1, HEADER)
    assert code(workbook((doctype + SHEET_TAIL, b"", 0, b"")), "a.xlsx") == "xlsx_doctype"


def test_shared_strings() -> None:
    sheet = (HEAD_ROW + b'<row r="2"><c t="s"><v>0</v></c></row>' + SHEET_TAIL, b"", 0, b"")
    many = (f'<sst xmlns="{MAIN}">'.encode(), b"<si><t>a</t></si>", 11, b"</sst>")
    assert code(workbook(sheet, many), "a.xlsx") == "too_many_shared_strings"
    long = (f'<sst xmlns="{MAIN}">'.encode(), b"<si><t>" + b"a" * 39 + b"</t></si>", 6, b"</sst>")
    assert code(workbook(sheet, long), "a.xlsx") == "too_many_shared_strings"


def test_members_loaded_whole() -> None:
    # openpyxl reads styles, the theme, the manifest, the workbook and *.rels whole into memory.
    limits = UploadLimits(max_part_bytes=64 * 1024)
    z = RawZip()
    z.add("xl/workbook.xml", b"<workbook/>")
    z.add("xl/styles.xml", b"<styleSheet>" + b"<xf/>" * 20_000 + b"</styleSheet>")
    assert code(z.bytes(), "a.xlsx", limits) == "xlsx_part_too_large"
    z = RawZip()
    z.add("xl/workbook.xml", b"<workbook/>")
    z.add("xl/theme/theme1.xml", b"\x00" * 70_000)  # not XML, but read as raw bytes
    assert code(z.bytes(), "a.xlsx", limits) == "xlsx_part_too_large"
    # Renaming the root does not make the workbook part a streamed worksheet.
    z = RawZip()
    z.add("xl/workbook.xml", b"<worksheet>" + b"<xf/>" * 20_000 + b"</worksheet>")
    assert code(z.bytes(), "a.xlsx", limits) == "xlsx_part_too_large"
    # A worksheet is streamed, so it may be larger than max_part_bytes.
    data = workbook(sheet_of([HEADER, *honest_rows(400)]))
    assert len(read_batch_file(data, "a.xlsx", max_bytes=LIMIT, limits=limits).rows) == 400


def test_expanded_bytes_are_counted_while_streaming() -> None:
    data = workbook((HEAD_ROW, b"<row/>" * 1000, 300, SHEET_TAIL))  # 1.8 MB of XML
    with pytest.raises(FileTooLarge) as info:
        read_batch_file(data, "a.xlsx", max_bytes=64 * 1024)
    assert info.value.problems[0].code == "xlsx_expands_too_large"


def test_cpu_budget() -> None:
    limits = UploadLimits(cpu_seconds=-1)
    assert code(csv_of([HEADER, ROW]), "a.csv", limits) == "file_too_slow"
    assert code(workbook(sheet_of([HEADER, ROW])), "a.xlsx", limits) == "file_too_slow"


def test_refusals_are_413_or_422() -> None:
    with pytest.raises(FileTooLarge):
        read_batch_file(csv_of([HEADER, *honest_rows(6)]), "a.csv", max_bytes=LIMIT, limits=SMALL)
    with pytest.raises(BadFile) as info:
        read_batch_file(workbook(_laughs_sheet()), "a.xlsx", max_bytes=LIMIT)
    assert not isinstance(info.value, FileTooLarge)


def _laughs_sheet() -> Part:
    head = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "b">]>' + SHEET_OPEN + inline_row(1, HEADER)
    return head + SHEET_TAIL, b"", 0, b""


def test_members_compressed_other_than_deflate_are_not_a_workbook() -> None:
    # Found by the fuzzer: an LZMA member with bad properties raised lzma.LZMAError (a 500 upload).
    data = (REPO / "tests/fuzz/corpus/batch_xlsx/seed-lzma-bad-properties").read_bytes()
    with pytest.raises(BadFile) as refused:
        read_batch_file(data, "b.xlsx", max_bytes=LIMIT)
    assert refused.value.problems[0].code == "bad_xlsx"
