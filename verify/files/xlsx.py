"""Reading the first sheet of an XLSX batch into cell text (``verify.files.batchfile`` does the rest).

openpyxl (read-only) parses the values, but only after every member of the archive has been
streamed once through expat by ``_scan_archive``, which refuses the file as soon as one of the caps
of ``verify.files.limits`` is crossed: expanded bytes, rows, columns, cell text, nesting depth,
elements, shared strings, CPU time. The scan applies the sheet and shared-string rules to every
member, not only to the first sheet as openpyxl would resolve it, so that no difference between
the scan's idea of "the sheet" and openpyxl's can let an unchecked member through.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar
from xml.etree import ElementTree
from xml.parsers import expat

from verify.domain.errors import VerifyError
from verify.files import limits as lim
from verify.files.limits import DEFAULT_LIMITS, Budget, UploadLimits, budgeted
from verify.files.rows import Parsed, bad_file, collect, find_header, map_header

NOT_WORKBOOK = (
    "bad_xlsx",
    "文件不是有效的 Excel 工作簿（.xlsx），请用 Excel 重新另存为 .xlsx",
    "The file is not a valid Excel workbook (.xlsx); re-save it from Excel as .xlsx",
)

T = TypeVar("T")

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, RuntimeError,
               NotImplementedError, zlib.error)  # fmt: skip


def read_xlsx(data: bytes, max_bytes: int, limits: UploadLimits = DEFAULT_LIMITS) -> Parsed:
    parsed = read_workbook(data, max_bytes, _batch_rows, limits)
    if len(parsed[3]) > limits.max_rows:
        raise lim.too_many_rows(len(parsed[3]), limits.max_rows)
    return parsed


def _batch_rows(raw: Iterator[Sequence[object]]) -> Parsed:
    header_line, header = find_header(cell_text(r) for r in raw)
    keys, index = map_header(header, header_line)
    date_col = index[keys.index("issue_date")]
    rows = collect((cell_text(r, date_col) for r in raw), header_line, keys, index)
    return header_line, header, keys, rows


def read_workbook(
    data: bytes,
    max_bytes: int,
    read: Callable[[Iterator[Sequence[object]]], T],
    limits: UploadLimits = DEFAULT_LIMITS,
) -> T:
    """Scan the archive against ``limits``, then hand the cell values of the first sheet, row by
    row, to ``read`` and return what it returns (``cell_text`` turns a row into strings).

    Raises FileTooLarge or BadFile (``bad_xlsx``, ``xlsx_doctype``, ``unsupported_type``); any other
    exception ``read`` raises, other than a VerifyError, becomes ``bad_xlsx``.
    """
    budget = Budget(limits.cpu_seconds)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            if "xl/workbook.xml" not in names:
                if "content.xml" in names:
                    raise bad_file(
                        "unsupported_type",
                        "不支持 OpenDocument 表格（.ods），请另存为 .xlsx 或 CSV UTF-8",
                        "OpenDocument spreadsheets (.ods) are not supported; save as .xlsx or CSV UTF-8",
                        allowed=".xlsx, .csv",
                    )
                raise bad_file(*NOT_WORKBOOK)
            # Excel and every other writer store or deflate; the other methods zipfile knows (bzip2,
            # LZMA) only widen what a hostile upload can reach (and raise their own error types).
            if any(info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for info in infos):
                raise bad_file(*NOT_WORKBOOK)
            # zipfile stops reading a member at its declared size (and fails the CRC if the data goes
            # on), so declared sizes bound what anything can inflate: a first, free check.
            expanded = sum(info.file_size for info in infos)
            if expanded > limits.expanded_bytes(max_bytes):
                raise lim.expands_too_large(expanded, limits.expanded_bytes(max_bytes))
            _scan_archive(archive, infos, limits, limits.expanded_bytes(max_bytes), budget)
    except VerifyError:
        raise
    except _ZIP_ERRORS as exc:
        raise bad_file(*NOT_WORKBOOK) from exc
    return _read_values(data, read, budget)


def _read_values(data: bytes, read: Callable[[Iterator[Sequence[object]]], T], budget: Budget) -> T:
    import openpyxl  # deferred: importing openpyxl costs ~0.2 s and CSV uploads never need it

    # openpyxl warns about harmless things in real files ("no default style", unsupported
    # extensions); under ``-W error`` those would turn a good workbook into bad_xlsx. The filter is
    # scoped to openpyxl's UserWarnings so that, catch_warnings not being thread-safe, a filter
    # left behind by two overlapping uploads can silence nothing else.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
        try:
            workbook = openpyxl.load_workbook(
                io.BytesIO(data), read_only=True, data_only=True, keep_links=False
            )
        except Exception as exc:  # openpyxl raises KeyError/ValueError/XML errors/... on damaged input
            raise bad_file(*NOT_WORKBOOK) from exc
        try:
            if not workbook.worksheets:
                raise bad_file(*NOT_WORKBOOK)
            sheet = workbook.worksheets[0]
            # Some generators write a wrong <dimension ref="A1"/>; trusting it would silently drop rows.
            sheet.reset_dimensions()
            return read(budgeted(sheet.iter_rows(values_only=True), budget, every=1024))
        except VerifyError:
            raise
        except Exception as exc:
            raise bad_file(*NOT_WORKBOOK) from exc
        finally:
            workbook.close()


# --------------------------------------------------------------------------------------------
# The streaming scan

_CHUNK = 64 * 1024

# Members openpyxl reads whole into memory (ElementTree.fromstring or raw bytes), at fixed names;
# the workbook part is added from [Content_Types].xml, and every *.rels is one too.
_LOADED_WHOLE = {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", "xl/theme/theme1.xml",
                 "docProps/core.xml", "docProps/custom.xml"}  # fmt: skip
_WORKBOOK_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
}
# Root elements of the members openpyxl streams (worksheets in read-only mode, the string table).
_STREAMED_ROOTS = {"worksheet", "dialogsheet", "macrosheet", "sst"}


def _scan_archive(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: UploadLimits, cap: int, budget: Budget
) -> None:
    loaded_whole = set(_LOADED_WHOLE)
    total = rows = 0
    # The manifest first: it names the workbook part, which openpyxl then loads whole.
    infos = sorted(infos, key=lambda i: i.filename != "[Content_Types].xml")
    with contextlib.closing(_Ahead(archive, infos, limits)) as ahead:
        for info in infos:
            streamed = info.filename not in loaded_whole and not info.filename.endswith(".rels")
            total, rows = _scan_member(archive, info, limits, (total, rows), cap, streamed, budget, ahead)
            if info.filename == "[Content_Types].xml":
                loaded_whole |= _workbook_parts(archive.read(info))


def _workbook_parts(manifest: bytes) -> set[str]:
    # Already scanned: no DTD, at most max_part_bytes. openpyxl fails on a manifest it cannot parse.
    try:
        root = ElementTree.fromstring(manifest)  # noqa: S314
    except ElementTree.ParseError:
        return set()
    return {
        el.get("PartName", "")[1:]
        for el in root
        if el.tag.rpartition("}")[2] == "Override" and el.get("ContentType") in _WORKBOOK_TYPES
    }


class _Ahead:
    """Counts row and shared-string start tags at C speed (inflate, ``bytes.count``) over the
    members in the order of the scan, on handles of their own, kept ``_AHEAD_WINDOW`` bytes ahead of
    expat.

    Expat calls Python twice per element, ~0.8 s per million empty ``<row/>``; counting ahead
    refuses a flood of rows (in one worksheet or spread over many) or of shared strings within
    milliseconds, wherever it starts. The count is rough (``<row`` also starts ``<rowBreaks``; a
    prefixed ``<x:row>`` is counted as half of the ``:row`` of its start and end tags), hence the
    slack; ``_Scan`` does the exact counting.
    """

    def __init__(self, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: UploadLimits) -> None:
        self.archive = archive
        self.pending = list(reversed(infos))
        self.member: IO[bytes] | None = None
        self.limits = limits
        self.read = 0  # decompressed bytes counted, over all members
        self.rows = self.strings = 0  # rows of the workbook, strings of the member

    def advance(self, position: int) -> None:
        limits = self.limits
        while self.read < position + _AHEAD_WINDOW:
            if self.member is None:
                if not self.pending:
                    return
                self.member = self.archive.open(self.pending.pop())
                self.strings = 0
            chunk = self.member.read(_AHEAD_CHUNK)
            if not chunk:
                self.close()
                continue
            self.read += len(chunk)
            self.rows += chunk.count(b"<row") + chunk.count(b":row") // 2
            self.strings += chunk.count(b"<si") + chunk.count(b":si") // 2
            if self.rows > limits.max_lines + _AHEAD_SLACK:
                raise lim.too_many_rows(
                    self.rows, limits.max_lines, ("行（含空行）", "rows (blank ones included)")
                )
            if self.strings > limits.max_shared_strings + _AHEAD_SLACK:
                raise lim.too_many_shared_strings("strings", self.strings, limits.max_shared_strings)

    def close(self) -> None:
        if self.member is not None:
            self.member.close()
            self.member = None


_AHEAD_WINDOW = 16 * 1024 * 1024

_AHEAD_CHUNK = 1024 * 1024

_AHEAD_SLACK = 4096


def _scan_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: UploadLimits,
    so_far: tuple[int, int],
    cap: int,
    may_stream: bool,
    budget: Budget,
    ahead: _Ahead,
) -> tuple[int, int]:
    """Stream one member through expat; return the running totals of decompressed bytes and of
    ``<row>`` elements. Rows are counted over the whole workbook: openpyxl parses every worksheet
    that lacks a ``<dimension>`` element once while loading."""
    total, rows = so_far
    scan = _Scan(limits, rows)
    parser = scan.parser
    since_gt = 0  # bytes since the last ">", i.e. the length of the tag or text expat is buffering
    part_limit = limits.max_part_bytes
    start = total
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            total += len(chunk)
            if total > cap:
                raise lim.expands_too_large(total, cap)
            budget.check()
            ahead.advance(total)
            try:
                parser.Parse(chunk, False)
            except expat.ExpatError:
                scan.xml = False
            if not scan.xml:  # not XML (an image) or broken XML, which openpyxl refuses if it reads it
                total = start + info.file_size  # skipped, but counted as _Ahead counts it
                break
            gt = chunk.rfind(b">")
            since_gt = since_gt + len(chunk) if gt < 0 else len(chunk) - gt - 1
            if since_gt > limits.max_markup_bytes:
                raise lim.too_complex("markup_bytes", since_gt, limits.max_markup_bytes)
            whole = not (may_stream and scan.root in _STREAMED_ROOTS)
            if scan.root is not None and info.file_size > part_limit and whole:
                raise lim.part_too_large(info.filename, info.file_size, part_limit)
        else:
            try:
                parser.Parse(b"", True)
            except expat.ExpatError:
                scan.xml = False
    if (not scan.xml or scan.root is None) and info.file_size > part_limit:
        # Not XML: nothing streams it, but openpyxl reads e.g. the theme as raw bytes.
        raise lim.part_too_large(info.filename, info.file_size, part_limit)
    return total, scan.rows


_DIGITS = "0123456789"


def _build_columns() -> dict[str, int]:
    out: dict[str, int] = {}
    letters = [chr(c) for c in range(65, 91)]
    names = list(letters)
    for first in letters:
        names.extend(first + b for b in letters)
    for i, name in enumerate(names, start=1):
        out[name] = i
    return out


# "A" -> 1 ... "ZZ" -> 702; refs beyond are computed on the slow path (and are over any cap).
_COLUMNS = _build_columns()


def _column_of(ref: str) -> int | None:
    """Column of a cell reference as openpyxl reads it ($ and lower case allowed), None if invalid."""
    letters = ref.rstrip(_DIGITS)
    col = _COLUMNS.get(letters)
    if col is not None:
        return col
    letters = letters.replace("$", "").upper()
    if not letters.isascii() or not letters.isalpha():
        return None
    col = 0
    for ch in letters[:8]:
        col = col * 26 + ord(ch) - 64
    return col


def _row_number(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


class _Scan:
    """Counters of one member, checked from expat's handlers (a cap raises out of ``Parse``).

    A "cell" is any child element of a ``<row>`` (openpyxl reads every child as a cell) and a
    shared string is any ``<si>``; text is counted per cell or per string (the "unit"), and
    elsewhere per run between two tags. Rules apply in every member; names lose their prefix.
    The handlers run once per element of sheets of up to a million rows: they are kept flat.
    """

    __slots__ = ("cells", "col", "depth", "elements", "inner", "limits", "max_cell_chars", "max_columns",
                 "max_depth", "max_lines", "max_row_elements", "parser", "root", "row_depth", "row_index",
                 "rows", "string_chars", "strings", "text", "unit", "unit_is_string", "xml")  # fmt: skip

    def __init__(self, limits: UploadLimits, rows: int = 0) -> None:
        self.limits = limits
        self.max_depth = limits.max_depth
        self.max_lines = limits.max_lines
        self.max_columns = limits.max_columns
        self.max_cell_chars = limits.max_cell_chars
        self.max_row_elements = limits.max_row_elements
        self.xml = True
        self.root: str | None = None
        self.depth = self.elements = self.inner = self.text = 0
        self.row_depth = self.unit = 0  # depth of the open <row>, of the open cell or <si>; 0: none
        self.unit_is_string = False
        self.row_index = self.cells = self.col = 0
        self.rows = rows  # <row> elements of the workbook so far
        self.strings = self.string_chars = 0
        p = expat.ParserCreate()
        p.buffer_text = True
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._chars
        p.StartDoctypeDeclHandler = self._doctype
        p.EntityDeclHandler = self._doctype
        self.parser = p

    def _doctype(self, *_: Any) -> None:
        raise lim.doctype_refused()

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        depth = self.depth + 1
        self.depth = depth
        if depth > self.max_depth:
            raise lim.too_deep(depth, self.max_depth)
        if ":" in name:
            name = name.rpartition(":")[2]
        row_depth = self.row_depth
        if row_depth or self.unit:
            inner = self.inner + 1
            self.inner = inner
            if inner > self.max_row_elements:
                raise lim.too_complex("elements", inner, self.max_row_elements)
            if name == "row" or name == "si":
                raise bad_file(*NOT_WORKBOOK)  # openpyxl would read a nested <row> as a row too
            if depth == row_depth + 1:
                self._cell(attrs.get("r"), depth)
            return
        self.text = 0
        if name == "row":
            rows = self.rows + 1
            self.rows = rows
            ref = attrs.get("r")
            index = self.row_index + 1 if ref is None else _row_number(ref)
            if index is None:
                raise bad_file(*NOT_WORKBOOK)
            self.row_index = index
            if rows > self.max_lines or index > self.max_lines:
                found = max(rows, index)
                raise lim.too_many_rows(found, self.max_lines, ("行（含空行）", "rows (blank ones included)"))
            self.row_depth = depth
            self.inner = self.cells = self.col = 0
        elif name == "si":
            limits = self.limits
            self.strings += 1
            if self.strings > limits.max_shared_strings:
                raise lim.too_many_shared_strings("strings", self.strings, limits.max_shared_strings)
            self.unit = depth
            self.unit_is_string = True
            self.inner = 0
        else:  # rows and strings have caps of their own
            self.elements += 1
            if self.elements > self.limits.max_part_elements:
                raise lim.too_complex("elements", self.elements, self.limits.max_part_elements)
            if depth == 1:
                self.root = name

    def _cell(self, ref: str | None, depth: int) -> None:
        self.cells += 1
        if ref:
            col = _column_of(ref)
            if col is None:
                raise bad_file(*NOT_WORKBOOK)
            self.col = col
        else:
            self.col += 1
        if self.col > self.max_columns or self.cells > self.max_columns:
            found = max(self.col, self.cells)
            where = (f"第 {self.row_index} 行", f"row {self.row_index}")
            raise lim.too_many_columns(found, self.max_columns, where)
        self.unit = depth
        self.unit_is_string = False
        self.text = 0

    def _end(self, _name: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if depth == self.unit:
            self.unit = 0
            if self.unit_is_string:
                self.string_chars += self.text
                if self.string_chars > self.limits.max_shared_chars:
                    limit = self.limits.max_shared_chars
                    raise lim.too_many_shared_strings("chars", self.string_chars, limit)
            self.text = 0
        elif depth == self.row_depth:
            self.row_depth = 0
            self.text = 0
        elif not self.unit:
            self.text = 0

    def _chars(self, data: str) -> None:
        text = self.text + len(data)
        self.text = text
        if text > self.max_cell_chars:
            where = (f"第 {self.row_index} 行", f"row {self.row_index}") if self.row_depth else ("", "")
            raise lim.cell_too_long(text, self.max_cell_chars, where)


# --------------------------------------------------------------------------------------------
# Cell values

# Serials 20000..80000 are 1954-10-03 .. 2119-01-11; outside that a number is not a plausible date.
_EXCEL_SERIAL_MIN = 20000

_EXCEL_SERIAL_MAX = 80000

_EXCEL_EPOCH = dt.date(1899, 12, 30)


def cell_text(row: Sequence[object], date_col: int = -1) -> list[str]:
    """A sheet row as the strings a CSV would hold: dates ISO, whole numbers without ".0", and in
    column ``date_col`` a bare Excel serial (a date cell that lost its format) as its date."""
    out: list[str] = []
    for i, value in enumerate(row):
        if value is None:
            out.append("")
        elif isinstance(value, str):
            out.append(value)
        elif isinstance(value, bool):
            out.append("TRUE" if value else "FALSE")
        elif isinstance(value, dt.datetime):
            out.append(value.date().isoformat() if value.time() == dt.time() else value.isoformat(" "))
        elif isinstance(value, dt.date | dt.time):
            out.append(value.isoformat())
        elif isinstance(value, int | float):
            if i == date_col and _EXCEL_SERIAL_MIN <= value <= _EXCEL_SERIAL_MAX:
                # A date cell that lost its date format arrives as the bare serial number.
                out.append((_EXCEL_EPOCH + dt.timedelta(days=int(value))).isoformat())
            elif isinstance(value, int) or value.is_integer():
                # An ID typed as a number is already rounded by Excel to 15 digits; keep what Excel
                # shows and let the row validator reject it (18 digits ending in zeros fail the check).
                out.append(str(int(value)))
            else:
                out.append(f"{value:.15g}")
        else:
            out.append(str(value))
    return out
