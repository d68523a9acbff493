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
from collections.abc import Sequence
from dataclasses import dataclass

from verify.domain.batch.columns import COLUMNS, RawRow
from verify.domain.errors import BadFile
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


def read_batch_file(data: bytes, filename: str, *, max_bytes: int) -> BatchFile:
    """Read an uploaded CSV or XLSX batch into raw rows.

    The type is decided by content (ZIP magic -> XLSX, OLE magic -> legacy .xls, refused), and
    otherwise by the extension (.csv, .tsv, .txt are UTF-8 text). Completely blank rows are skipped
    but still count for line numbers. Unknown extra columns are ignored.

    Raises:
        FileTooLarge: ``len(data) > max_bytes`` (problem code ``file_too_large``), or an XLSX whose
            members would expand beyond ``20 * max_bytes`` (``xlsx_expands_too_large``).
        BadFile: the file cannot be used; its single ``Problem.code`` is one of ``empty_file``,
            ``xls_not_supported``, ``unsupported_type``, ``bad_xlsx``, ``encoding_gbk``,
            ``encoding_utf16``, ``encoding_not_utf8``, ``bad_csv``, ``header_missing``,
            ``missing_columns``, ``duplicate_columns``, ``no_data_rows``.
    """
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

    ext = _extension(filename)
    if data.startswith(_XLSX_MAGIC):
        file_format = "xlsx"
        header_line, header, keys, rows = read_xlsx(data, max_bytes)
    elif data.startswith(_OLE_MAGIC) or ext == ".xls":
        raise bad_file(
            "xls_not_supported",
            "不支持旧版 Excel 97-2003（.xls）或加密的工作簿，请另存为 .xlsx 或 CSV UTF-8（逗号分隔）",
            "Legacy Excel 97-2003 (.xls) and encrypted workbooks are not supported; "
            "please save as .xlsx or CSV UTF-8 (comma delimited)",
            found=ext or None,
            allowed=".xlsx, .csv",
        )
    elif ext in (".xlsx", ".xlsm"):
        raise bad_file(*NOT_WORKBOOK, found=ext)
    elif ext in _TEXT_EXTENSIONS:
        file_format = "csv"
        header_line, header, keys, rows = _read_csv(_decode_text(data), _TEXT_EXTENSIONS[ext])
    else:
        raise bad_file(
            "unsupported_type",
            "不支持的文件类型，请上传 .xlsx 或 CSV UTF-8 文件",
            "Unsupported file type; upload an .xlsx or a UTF-8 CSV file",
            found=ext or None,
            allowed=".xlsx, .csv",
        )

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


def _extension(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


# --------------------------------------------------------------------------------------------
# CSV


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise bad_file(
            "encoding_utf16",
            "文件是 UTF-16（Unicode 文本）编码，请在 Excel 中另存为“CSV UTF-8（逗号分隔）”",
            'The file is UTF-16 ("Unicode Text"); save it from Excel as "CSV UTF-8 (Comma delimited)"',
            found="UTF-16",
            allowed="UTF-8",
        )
    body = data[3:] if data.startswith(_UTF8_BOM) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A physical line number: this is what a text editor shows, and a bad byte has no record yet.
        line = body.count(b"\n", 0, exc.start) + 1
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


def _read_csv(text: str, delimiter: str) -> Parsed:
    newline = text.find("\n")
    first_line = text if newline < 0 else text[:newline]
    # Tab-delimited exports are often renamed .csv; a header with tabs and no commas settles it.
    if delimiter == "," and "\t" in first_line and "," not in first_line:
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header_line, header = find_header(reader)
        keys, index = map_header(header, header_line)
        with gc_paused():
            return header_line, header, keys, collect(reader, header_line, keys, index)
    except csv.Error as exc:
        raise _csv_error(exc, reader) from exc


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
