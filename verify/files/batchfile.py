"""Reading uploaded result batches (CSV or XLSX) into raw rows.

This module only turns bytes into ``RawRow`` objects keyed by the template's column keys
(``verify.domain.batch.columns``). It does not
validate certificate numbers, ID numbers or scope; the batch validator does that row by row and
reports every bad row at once. What is refused here is the file as a whole: wrong type, wrong
encoding, no header, missing columns. Each such refusal is a ``BadFile`` with exactly one
``Problem`` whose ``code`` is stable (see ``docs/BATCH-TEMPLATE.md``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import AnyStr

from verify.domain.batch.columns import COLUMNS, RawRow
from verify.domain.errors import BadFile
from verify.files import limits as lim
from verify.files.limits import DEFAULT_LIMITS, Budget, UploadLimits
from verify.files.rows import (
    Parsed,
    bad_file,
    collect,
    find_header,
    gc_paused,
    map_header,
    megabytes,
    missing_columns,
    too_large,
)
from verify.files.xlsx import NOT_WORKBOOK, read_xlsx


@dataclass(frozen=True, slots=True)
class BatchFile:
    filename: str
    file_format: str
    sha256: str
    columns: tuple[str, ...]
    rows: list[RawRow]


# --------------------------------------------------------------------------------------------
# Entry point

_XLSX_MAGIC = b"PK\x03\x04"

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")

_UTF8_BOM = b"\xef\xbb\xbf"

_TEXT_EXTENSIONS = {".csv": ",", ".tsv": "\t", ".txt": ","}


def read_batch_file(
    data: bytes, filename: str, *, max_bytes: int, limits: UploadLimits = DEFAULT_LIMITS
) -> BatchFile:
    """Read an uploaded CSV or XLSX batch into raw rows.

    The type is decided by content (ZIP magic -> XLSX, OLE magic -> legacy .xls, refused), and
    otherwise by the extension (.csv, .tsv, .txt are UTF-8 text). Completely blank rows are skipped
    but still count for line numbers. Unknown extra columns are ignored. Reading is bounded by the
    hard caps of ``limits`` (``verify.files.limits.UploadLimits``), checked while the file is
    streamed, so that a file built to exhaust memory or CPU is refused early.

    Raises:
        FileTooLarge: over a size cap (HTTP 413); its single ``Problem.code`` is one of
            ``file_too_large`` (``len(data) > max_bytes``), ``xlsx_expands_too_large`` (an XLSX whose
            members expand beyond ``limits.expansion_factor * max_bytes``), ``xlsx_part_too_large``,
            ``too_many_rows``, ``too_many_columns``, ``cell_too_long``, ``line_too_long``,
            ``too_many_shared_strings``, ``xlsx_too_deep``, ``xlsx_too_complex`` or
            ``file_too_slow`` (over ``limits.cpu_seconds`` of CPU time).
        BadFile: the file cannot be used (HTTP 422); its single ``Problem.code`` is one of
            ``empty_file``, ``xls_not_supported``, ``unsupported_type``, ``bad_xlsx``,
            ``xlsx_doctype``, ``encoding_gbk``, ``encoding_utf16``, ``encoding_not_utf8``,
            ``bad_csv``, ``header_missing``, ``missing_columns``, ``duplicate_columns``,
            ``no_data_rows``.
    """
    check_size(data, max_bytes)
    file_format, delimiter = detect_format(data, filename, limits)
    if file_format == "xlsx":
        header_line, header, keys, rows = read_xlsx(data, max_bytes, limits)
    else:
        header_line, header, keys, rows = _read_csv(csv_records(data, delimiter, limits), limits)

    if not rows:
        raise bad_file(
            "no_data_rows",
            "文件只有表头，没有数据行",
            "The file has a header row but no data rows",
            line=header_line,
        )
    _require_skill_columns(keys, header, rows, header_line)
    return BatchFile(
        filename=filename,
        file_format=file_format,
        sha256=hashlib.sha256(data).hexdigest(),
        columns=keys,
        rows=rows,
    )


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse an upload over ``max_bytes`` (FileTooLarge ``file_too_large``) or empty (BadFile
    ``empty_file``): the first step of every reader of uploaded files."""
    size = len(data)
    if size > max_bytes:
        zh = f"文件大小 {megabytes(size)} MB，超过上限 {megabytes(max_bytes)} MB"
        en = f"The file is {megabytes(size)} MB; the limit is {megabytes(max_bytes)} MB"
        raise too_large(
            "file_too_large",
            zh,
            en,
            size=size,
            limit=max_bytes,
            details={"size_bytes": size, "max_bytes": max_bytes},
        )
    if size == 0:
        raise bad_file("empty_file", "文件为空", "The file is empty")


def detect_format(data: bytes, filename: str, limits: UploadLimits = DEFAULT_LIMITS) -> tuple[str, str]:
    """``("xlsx", "")`` or ``("csv", delimiter)``: by content (ZIP magic -> XLSX, OLE magic -> legacy
    .xls), otherwise by the extension (.csv, .tsv, .txt are text).

    Raises BadFile ``xls_not_supported``, ``bad_xlsx`` (an .xlsx name on other content) or
    ``unsupported_type``.
    """
    ext = _extension(filename)
    if data.startswith(_XLSX_MAGIC):
        return "xlsx", ""
    if data.startswith(_OLE_MAGIC) or ext == ".xls":
        raise bad_file(
            "xls_not_supported",
            "不支持旧版 Excel 97-2003（.xls）或加密的工作簿，请另存为 .xlsx 或 CSV UTF-8（逗号分隔）",
            "Legacy Excel 97-2003 (.xls) and encrypted workbooks are not supported; "
            "please save as .xlsx or CSV UTF-8 (comma delimited)",
            found=ext or None,
            allowed=".xlsx, .csv",
        )
    if ext in (".xlsx", ".xlsm"):
        raise bad_file(*NOT_WORKBOOK, found=ext)
    if ext in _TEXT_EXTENSIONS:
        return "csv", _delimiter(data, _TEXT_EXTENSIONS[ext], limits)
    raise bad_file(
        "unsupported_type",
        "不支持的文件类型，请上传 .xlsx 或 CSV UTF-8 文件",
        "Unsupported file type; upload an .xlsx or a UTF-8 CSV file",
        found=ext or None,
        allowed=".xlsx, .csv",
    )


def _extension(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


# --------------------------------------------------------------------------------------------
# CSV


def _decode_text(data: bytes, *, gb18030: bool = False) -> str:
    """UTF-8 (a BOM is dropped); with ``gb18030``, a file without BOM that is not UTF-8 is read as
    GB18030 (a superset of GBK) instead of being refused as ``encoding_gbk``."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise bad_file(
            "encoding_utf16",
            "文件是 UTF-16（Unicode 文本）编码，请在 Excel 中另存为“CSV UTF-8（逗号分隔）”",
            'The file is UTF-16 ("Unicode Text"); save it from Excel as "CSV UTF-8 (Comma delimited)"',
            found="UTF-16",
            allowed="UTF-8",
        )
    bom = data.startswith(_UTF8_BOM)
    body = data[3:] if bom else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A physical line number: this is what a text editor shows, and a bad byte has no record yet.
        line = body.count(b"\n", 0, exc.start) + 1
        if gb18030 and not bom:  # a UTF-8 BOM says what the file is meant to be
            try:
                return body.decode("gb18030").removeprefix("\ufeff")
            except UnicodeDecodeError as gb_exc:
                line = body.count(b"\n", 0, gb_exc.start) + 1
                raise bad_file(
                    "encoding_unknown",
                    f"文件既不是 UTF-8 也不是 GB18030/GBK 编码（第 {line} 行起），请另存为 CSV UTF-8",
                    f"The file is neither UTF-8 nor GB18030/GBK (from line {line}); save it as CSV UTF-8",
                    line=line,
                    allowed="UTF-8, GB18030",
                ) from None
        if _looks_gbk(body):
            raise bad_file(
                "encoding_gbk",
                f"文件是 GBK 编码，请另存为 UTF-8（Excel：另存为“CSV UTF-8（逗号分隔）”）；"
                f"第 {line} 行起无法按 UTF-8 读取",
                f"The file is GBK-encoded; save it as UTF-8 (CSV UTF-8): in Excel use Save As "
                f'"CSV UTF-8 (Comma delimited)"; line {line} is the first that is not UTF-8',
                line=line,
                found="GBK",
                allowed="UTF-8",
            ) from None
        raise bad_file(
            "encoding_not_utf8",
            f"文件不是 UTF-8 编码（第 {line} 行起），请另存为 CSV UTF-8",
            f"The file is not UTF-8 (from line {line}); save it as CSV UTF-8",
            line=line,
            allowed="UTF-8",
        ) from None


_CJK = re.compile(r"[\u3400-\u9fff]")


def _looks_gbk(body: bytes) -> bool:
    try:
        text = body.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return _CJK.search(text) is not None


def _delimiter(data: bytes, delimiter: str, limits: UploadLimits) -> str:
    # Tab-delimited exports are often renamed .csv; a header with tabs and no commas settles it.
    end = data.find(b"\n", 0, 8 * limits.max_record_chars)
    end = min(len(data), 8 * limits.max_record_chars) if end < 0 else end
    if delimiter == "," and data.find(b"\t", 0, end) >= 0 and data.find(b",", 0, end) < 0:
        return "\t"
    return delimiter


def csv_records(
    data: bytes, delimiter: str, limits: UploadLimits = DEFAULT_LIMITS, *, gb18030: bool = False
) -> Iterator[list[str]]:
    """The records of a text upload, decoded (``_decode_text``) and checked against ``limits``
    before and while ``csv.reader`` splits them; a malformed record raises BadFile ``bad_csv``
    from the iterator. Raises FileTooLarge or BadFile (encoding) here already."""
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 is refused with its own code
        # On the bytes, before decoding: a 50 MB line of CJK text would decode to 100 MB. Line
        # breaks and delimiters are single bytes that no multi-byte UTF-8 or GB18030 character holds.
        _check_lines(data, b"\n", b"\r", b"\r\n", delimiter.encode(), limits, bytes_per_char=4, count=True)
    text = _decode_text(data, gb18030=gb18030)
    budget = Budget(limits.cpu_seconds)
    _check_lines(text, "\n", "\r", "\r\n", delimiter, limits, bytes_per_char=1, count=False)
    return _records(text, delimiter, limits, budget)


def _records(text: str, delimiter: str, limits: UploadLimits, budget: Budget) -> Iterator[list[str]]:
    feed = _Feed(text, delimiter, limits, budget)
    reader = csv.reader(feed.lines(), delimiter=delimiter)
    try:
        yield from feed.records(reader)
    except csv.Error as exc:
        raise _csv_error(exc, reader) from exc


def _read_csv(records: Iterator[list[str]], limits: UploadLimits = DEFAULT_LIMITS) -> Parsed:
    header_line, header = find_header(records)
    keys, index = map_header(header, header_line)
    with gc_paused():
        rows = collect(records, header_line, keys, index)
    if len(rows) > limits.max_rows:
        raise lim.too_many_rows(len(rows), limits.max_rows)
    return header_line, header, keys, rows


def _where(line: int) -> tuple[str, str]:
    return f"第 {line} 行", f"line {line}"


def _check_lines(
    text: AnyStr,
    nl: AnyStr,
    cr: AnyStr,
    crlf: AnyStr,
    delimiter: AnyStr,
    limits: UploadLimits,
    *,
    bytes_per_char: int,
    count: bool,
) -> None:
    """Cheap checks on the whole text (or its UTF-8 bytes: ``bytes_per_char=4``) before csv.reader
    sees it: csv builds a whole record at once, and one line of 50 million commas would be a list
    of 50 million strings. Line breaks and delimiters are single bytes in UTF-8, so counts agree."""
    if count:
        lines = text.count(nl) + text.count(cr) - text.count(crlf)
        if lines > limits.max_lines:
            raise lim.too_many_rows(lines, limits.max_lines, ("行（含空行）", "lines (blank ones included)"))
    # A block without a line break lies inside one over-long line: of at least max_record_chars
    # characters when the block is max_record_chars characters (or 4 bytes per character) long.
    size = limits.max_record_chars * bytes_per_char
    for start in range(0, len(text) - size + 1, size):
        end = start + size
        if text.find(nl, start, end) < 0 and text.find(cr, start, end) < 0:
            where = _where(text.count(nl, 0, start) + 1)
            fields = text.count(delimiter, start, end) + 1
            if fields > limits.max_columns:
                raise lim.too_many_columns(fields, limits.max_columns, where)
            per_field = size // bytes_per_char // fields
            if per_field > limits.max_cell_chars:
                raise lim.cell_too_long(per_field, limits.max_cell_chars, where)
            raise lim.line_too_long(size // bytes_per_char, limits.max_record_chars, where)


class _Feed:
    """Hands csv.reader the text line by line, a slice at a time (``io.StringIO`` holds 4 bytes per
    character, so one over the whole text would quadruple a large upload), and checks each record.

    A record that is still open after a whole slice (a quote that never closes, or quotes that
    reopen on every line) is measured slice by slice and refused once over ``max_record_chars``.
    Cell lengths are only measured in slices where a long cell is possible: one with a quote or
    with a line longer than ``max_cell_chars``.
    """

    def __init__(self, text: str, delimiter: str, limits: UploadLimits, budget: Budget) -> None:
        self.text = text
        self.delimiter = delimiter
        self.limits = limits
        self.budget = budget
        self.completed = 0  # records handed out so far
        self.check_cells = True
        self.open_chars = self.open_fields = 0  # of a record left open across whole slices

    def lines(self) -> Iterator[str]:
        text, size, n = self.text, self.limits.max_record_chars, len(self.text)
        completed = -1
        long_before = False
        start = 0
        while start < n:
            end = self._cut(start, start + size)
            self._check_open(completed, start)
            completed = self.completed
            long_here = text.find('"', start, end) >= 0 or self._long_line(start, end)
            self.check_cells = long_here or long_before
            long_before = long_here
            self.budget.check()
            yield from io.StringIO(text[start:end], newline="")
            self.open_chars += end - start
            self.open_fields += text.count(self.delimiter, start, end)
            start = end
        self._check_open(completed, n)

    def _check_open(self, completed: int, at: int) -> None:
        """Called when csv.reader has consumed a slice: if no record ended in it, the record that is
        still open spans it whole."""
        if self.completed != completed:
            self.open_chars = self.open_fields = 0
        elif self.open_chars > self.limits.max_record_chars:
            where = _where(self.text.count("\n", 0, at - self.open_chars) + 1)
            if self.open_fields > self.limits.max_columns:
                raise lim.too_many_columns(self.open_fields, self.limits.max_columns, where)
            raise lim.line_too_long(self.open_chars, self.limits.max_record_chars, where)

    def _cut(self, start: int, end: int) -> int:
        """End of a slice that starts at ``start``: just after the last line break before ``end``."""
        text, n = self.text, len(self.text)
        if end >= n:
            return n
        cut = max(text.rfind("\n", start, end), text.rfind("\r", start, end))
        if cut < 0:  # _check_lines leaves no line of 2 * max_record_chars: the break is near
            breaks = [i for i in (text.find("\n", end), text.find("\r", end)) if i >= 0]
            cut = min(breaks) if breaks else n - 1
        if text.startswith("\r\n", cut):
            cut += 1
        return cut + 1

    def _long_line(self, start: int, end: int) -> bool:
        size = self.limits.max_cell_chars
        text = self.text
        return any(
            text.find("\n", i, i + size) < 0 and text.find("\r", i, i + size) < 0
            for i in range(start, end - size + 1, size)
        )

    def records(self, reader: Iterable[list[str]]) -> Iterator[list[str]]:
        limits = self.limits
        max_columns, max_chars = limits.max_columns, limits.max_cell_chars
        for record in reader:
            self.completed += 1
            if len(record) > max_columns:
                raise lim.too_many_columns(len(record), max_columns, self._where(reader))
            if self.check_cells and (chars := sum(map(len, record))) > max_chars:
                longest = max(map(len, record))
                if longest > max_chars:
                    raise lim.cell_too_long(longest, max_chars, self._where(reader))
                if chars > limits.max_record_chars:
                    raise lim.line_too_long(chars, limits.max_record_chars, self._where(reader))
            yield record

    @staticmethod
    def _where(reader: object) -> tuple[str, str]:
        return _where(getattr(reader, "line_num", 0))


def _csv_error(exc: csv.Error, records: object) -> BadFile:
    line = getattr(records, "line_num", None)
    where_zh = f"第 {line} 行：" if line else ""
    where_en = f"line {line}: " if line else ""
    return bad_file("bad_csv", f"CSV 格式错误，{where_zh}{exc}", f"Malformed CSV, {where_en}{exc}", line=line)


_SKILL_NUMBER = re.compile(r"[YS][0-9A-Z]{21}")


def _require_skill_columns(
    keys: tuple[str, ...], header: Sequence[str], rows: list[RawRow], header_line: int
) -> None:
    """专项 files may omit 职业编码/职业技能等级, but not once a 22-character skill number appears."""
    absent = [c for c in COLUMNS if c.required_for_skill and c.key not in keys]
    if not absent:
        return
    for row in rows:
        number = unicodedata.normalize("NFKC", row.values["number"]).replace(" ", "").upper()
        if _SKILL_NUMBER.fullmatch(number):
            why = (
                f"（第 {row.line} 行是职业技能等级证书编号，此类证书必须有这些列）",
                f" (line {row.line} holds a skill-level certificate number, which needs them)",
            )
            raise missing_columns(absent, header, header_line, why)
