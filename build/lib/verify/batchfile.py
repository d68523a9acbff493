"""Reading uploaded result batches (CSV or XLSX) into raw rows, plus the small cell parsers.

This module only turns bytes into ``RawRow`` objects keyed by canonical column names. It does not
validate certificate numbers, ID numbers or scope; the batch validator does that row by row and
reports every bad row at once. What is refused here is the file as a whole: wrong type, wrong
encoding, no header, missing columns. Each such refusal is a ``BadFile`` with exactly one
``Problem`` whose ``code`` is stable (see ``docs/BATCH-TEMPLATE.md``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import hashlib
import io
import operator
import re
import threading
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from verify.errors import BadFile, FileTooLarge, Problem

__all__ = [
    "ASSESSMENT_METHODS",
    "COLUMNS",
    "COLUMNS_BY_KEY",
    "ID_TYPES",
    "LEVEL_NAMES",
    "BatchFile",
    "Column",
    "RawRow",
    "normalize_job",
    "parse_issue_date",
    "parse_issue_form",
    "parse_level",
    "read_batch_file",
    "template_csv",
]

MiB = 1024 * 1024

# An XLSX sheet compresses roughly 5-15x; 20x the upload limit leaves room for honest files while
# refusing a small archive that would expand to gigabytes inside openpyxl.
XLSX_EXPANSION_LIMIT = 20

# Title rows ("2024 年第一批认定结果") above the header are common in hand-made sheets; look this far.
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the batch template.

    ``required`` means the header must be present in every file. ``required_for_skill`` marks
    columns that only 职业技能等级证书 rows need (专项 files may leave them out entirely); the
    header is demanded only when some row carries a 22-character ``[YS]`` number.
    """

    key: str
    header_zh: str
    aliases: tuple[str, ...]
    required: bool
    help_zh: str
    help_en: str
    required_for_skill: bool = False

    @property
    def headers(self) -> tuple[str, ...]:
        """Every accepted header spelling, the template's Chinese header first."""
        return (self.header_zh, *self.aliases)


ID_TYPES: tuple[str, ...] = (
    "居民身份证",
    "港澳台居民居住证",
    "港澳居民来往内地通行证",
    "台湾居民来往大陆通行证",
    "外国人永久居留身份证",
    "护照",
)

ASSESSMENT_METHODS: tuple[str, ...] = (
    "考试考核",
    "直接认定",
    "过程化考核",
    "竞赛",
    "教学过程认定",
    "1+X 直接认定",
)

# Display names per rule 22 ("中文数字+级 / 等级名称").
LEVEL_NAMES: dict[int, str] = {
    1: "一级 / 高级技师",
    2: "二级 / 技师",
    3: "三级 / 高级工",
    4: "四级 / 中级工",
    5: "五级 / 初级工",
}

COLUMNS: tuple[Column, ...] = (
    Column(
        "number",
        "证书编号",
        ("Certificate No.", "Certificate Number", "证书编码", "证书号码", "证书号"),
        True,
        "22 位职业技能等级证书编号（如 Y000041010012224000007）或 15 位专项职业能力证书编号",
        "22-character skill-level certificate number (e.g. Y000041010012224000007) or 15-digit 专项 number",
    ),
    Column(
        "name",
        "姓名",
        ("Name", "Full Name", "持证人姓名"),
        True,
        "持证人姓名，与证件一致",
        "Holder's name as on the ID document",
    ),
    Column(
        "id_type",
        "证件类型",
        ("ID Type", "证件种类"),
        True,
        "居民身份证、港澳台居民居住证、港澳居民来往内地通行证、台湾居民来往大陆通行证、外国人永久居留身份证、护照",
        "One of the six document types listed in the template documentation",
    ),
    Column(
        "id_number",
        "证件号码",
        ("ID No.", "ID Number", "证件号", "身份证号", "身份证号码", "身份证件号码"),
        True,
        "证件号码；在 Excel 中请设为文本格式，否则 18 位号码会丢失精度",
        "ID document number; format the Excel column as text or 18-digit numbers lose precision",
    ),
    Column(
        "occupation_code",
        "职业编码",
        ("Occupation Code", "职业代码"),
        False,
        "职业分类大典编码 D-DD-DD-DD（如 6-18-01-01）；职业技能等级证书必填，专项可空",
        "Occupation code D-DD-DD-DD (e.g. 6-18-01-01); required for skill-level certificates",
        required_for_skill=True,
    ),
    Column(
        "occupation_name",
        "职业名称",
        ("Occupation", "Occupation Name", "项目名称", "Project Name", "专项职业能力名称", "职业"),
        True,
        "职业名称；专项职业能力证书填项目名称（表头也可写“项目名称”）",
        "Occupation name; for 专项 certificates the project name (header 项目名称 also accepted)",
    ),
    Column(
        "job",
        "工种/职业方向",
        ("Job", "工种", "职业方向", "工种名称", "工种(职业方向)"),
        False,
        "工种或职业方向；没有时留空或填“--”（旧模板的“——”同样接受）",
        "Job / specialisation; leave empty or write -- when there is none (legacy —— accepted)",
    ),
    Column(
        "level",
        "职业技能等级",
        ("Skill Level", "Level", "技能等级", "等级", "职业资格等级"),
        False,
        "如 四级/中级工、四级、中级工 或 4；职业技能等级证书必填，专项留空",
        "e.g. 四级/中级工, 四级, 中级工 or 4; required for skill-level certificates, empty for 专项",
        required_for_skill=True,
    ),
    Column(
        "issue_date",
        "发证日期",
        ("Issue Date", "Issued Date", "Date of Issue", "发证时间", "颁证日期", "发证年月日"),
        True,
        "YYYY-MM-DD、YYYY/MM/DD、YYYY.MM.DD、YYYY年M月D日，或 Excel 日期单元格",
        "YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日, or an Excel date cell",
    ),
    Column(
        "issue_form",
        "证书形式",
        ("Issue Form", "Certificate Form", "证书载体"),
        False,
        "纸质 或 电子（paper / electronic），留空为纸质",
        "纸质 or 电子 (paper / electronic); empty means paper",
    ),
    Column(
        "print_serial",
        "印制流水码",
        ("Print Serial", "Printing Serial No.", "印制流水号", "证书印制流水码"),
        False,
        "证书印制流水码（如 No.88888888），可空",
        "Printing serial on the paper certificate (e.g. No.88888888); optional",
    ),
    Column(
        "assessment_method",
        "评价方式",
        ("Assessment Method", "认定方式"),
        False,
        "考试考核、直接认定、过程化考核、竞赛、教学过程认定、1+X 直接认定；可空",
        "考试考核 / 直接认定 / 过程化考核 / 竞赛 / 教学过程认定 / 1+X 直接认定; optional",
    ),
    Column(
        "photo_ref",
        "照片",
        ("Photo", "照片文件名", "照片文件"),
        False,
        "照片文件名或引用，可空",
        "Photo file name or reference; optional",
    ),
    Column(
        "gender",
        "性别",
        ("Gender", "Sex"),
        False,
        "男 或 女；专项职业能力证书填写",
        "男 or 女; carried by 专项 certificates",
    ),
    Column(
        "education",
        "文化程度",
        ("Education", "学历"),
        False,
        "文化程度；专项职业能力证书填写",
        "Education level; carried by 专项 certificates",
    ),
    Column(
        "score",
        "成绩",
        ("Score", "考核成绩"),
        False,
        "考核成绩；专项职业能力证书填写",
        "Assessment score; carried by 专项 certificates",
    ),
)

COLUMNS_BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}
_ALL_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS)


@dataclass(frozen=True, slots=True)
class RawRow:
    """One non-blank data row. ``line`` is the spreadsheet row number (header = 1 in the template).

    ``values`` has every key of ``COLUMNS``; columns absent from the file map to ``""``.
    """

    line: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class BatchFile:
    filename: str
    file_format: str
    sha256: str
    columns: tuple[str, ...]
    rows: list[RawRow]


# --------------------------------------------------------------------------------------------
# Header matching

_PAREN_SUFFIX = re.compile(r"\([^()]*\)$")
_HEADER_DROP = re.compile(r"[\s_.:\-*]+")


def _header_token(text: str) -> str:
    """Fold a header cell so that "ID No.", "id_number ", "＊证书编号（必填）" match their column."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    folded = _HEADER_DROP.sub("", folded)
    # A trailing note like "(必填)" or "(YYYY-MM-DD)" is decoration, but "工种(职业方向)" is a header
    # in its own right, so only strip the note when the remainder is still non-empty.
    stripped = _PAREN_SUFFIX.sub("", folded)
    return stripped or folded


def _build_header_map() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for col in COLUMNS:
        for spelling in (*col.headers, col.key):
            token = _header_token(spelling)
            owner = mapping.setdefault(token, col.key)
            if owner != col.key:  # pragma: no cover - guarded by a unit test
                raise RuntimeError(f"header {spelling!r} maps to both {owner} and {col.key}")
    return mapping


_HEADER_MAP = _build_header_map()


def _match_header(cell: str) -> str | None:
    if not cell:
        return None
    return _HEADER_MAP.get(_header_token(cell))


def _col_letter(index: int) -> str:
    """0-based column index -> spreadsheet letters (0 -> A, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# --------------------------------------------------------------------------------------------
# Errors


def _bad(code: str, zh: str, en: str, **extra: Any) -> BadFile:
    details = extra.pop("details", None)
    return BadFile(zh, en, problems=[Problem(code, zh, en, **extra)], details=details)


def _mb(n: int) -> str:
    value = n / MiB
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


# --------------------------------------------------------------------------------------------
# Entry point

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_UTF8_BOM = b"\xef\xbb\xbf"
_TEXT_EXTENSIONS = {".csv": ",", ".tsv": "\t", ".txt": ","}

# (header line, header cells, canonical keys present in file order, the non-blank data rows)
_Parsed = tuple[int, list[str], tuple[str, ...], list[RawRow]]


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
        zh = f"文件大小 {_mb(size)} MB，超过上限 {_mb(max_bytes)} MB"
        en = f"The file is {_mb(size)} MB; the limit is {_mb(max_bytes)} MB"
        raise FileTooLarge(
            zh,
            en,
            problems=[Problem("file_too_large", zh, en, found=str(size), allowed=str(max_bytes))],
            details={"size_bytes": size, "max_bytes": max_bytes},
        )
    if size == 0:
        raise _bad("empty_file", "文件为空", "The file is empty")

    ext = _extension(filename)
    if data.startswith(_XLSX_MAGIC):
        file_format = "xlsx"
        header_line, header, keys, rows = _read_xlsx(data, max_bytes)
    elif data.startswith(_OLE_MAGIC) or ext == ".xls":
        raise _bad(
            "xls_not_supported",
            "不支持旧版 Excel 97-2003（.xls）或加密的工作簿，请另存为 .xlsx 或 CSV UTF-8（逗号分隔）",
            "Legacy Excel 97-2003 (.xls) and encrypted workbooks are not supported; "
            "please save as .xlsx or CSV UTF-8 (comma delimited)",
            found=ext or None,
            allowed=".xlsx, .csv",
        )
    elif ext in (".xlsx", ".xlsm"):
        raise _bad(*_NOT_WORKBOOK, found=ext)
    elif ext in _TEXT_EXTENSIONS:
        file_format = "csv"
        header_line, header, keys, rows = _read_csv(_decode_text(data), _TEXT_EXTENSIONS[ext])
    else:
        raise _bad(
            "unsupported_type",
            "不支持的文件类型，请上传 .xlsx 或 CSV UTF-8 文件",
            "Unsupported file type; upload an .xlsx or a UTF-8 CSV file",
            found=ext or None,
            allowed=".xlsx, .csv",
        )

    if not rows:
        raise _bad(
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
        raise _bad(
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
            raise _bad(
                "encoding_gbk",
                f"文件是 GBK 编码，请另存为 UTF-8（Excel：另存为“CSV UTF-8（逗号分隔）”）；"
                f"第 {line} 行起无法按 UTF-8 读取",
                f"The file is GBK-encoded; save it as UTF-8 (CSV UTF-8): in Excel use Save As "
                f'"CSV UTF-8 (Comma delimited)"; line {line} is the first that is not UTF-8',
                line=line,
                found="GBK",
                allowed="UTF-8",
            ) from None
        raise _bad(
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


def _read_csv(text: str, delimiter: str) -> _Parsed:
    newline = text.find("\n")
    first_line = text if newline < 0 else text[:newline]
    # Tab-delimited exports are often renamed .csv; a header with tabs and no commas settles it.
    if delimiter == "," and "\t" in first_line and "," not in first_line:
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header_line, header = _find_header(reader)
        keys, index = _map_header(header, header_line)
        with _gc_paused():
            return header_line, header, keys, _collect(reader, header_line, keys, index)
    except csv.Error as exc:
        raise _csv_error(exc, reader) from exc


def _csv_error(exc: csv.Error, records: object) -> BadFile:
    line = getattr(records, "line_num", None)
    where_zh = f"第 {line} 行：" if line else ""
    where_en = f"line {line}: " if line else ""
    return _bad("bad_csv", f"CSV 格式错误，{where_zh}{exc}", f"Malformed CSV, {where_en}{exc}", line=line)


# --------------------------------------------------------------------------------------------
# XLSX

_NOT_WORKBOOK = (
    "bad_xlsx",
    "文件不是有效的 Excel 工作簿（.xlsx），请用 Excel 重新另存为 .xlsx",
    "The file is not a valid Excel workbook (.xlsx); re-save it from Excel as .xlsx",
)


def _read_xlsx(data: bytes, max_bytes: int) -> _Parsed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _bad(*_NOT_WORKBOOK) from exc
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        if "content.xml" in names:
            raise _bad(
                "unsupported_type",
                "不支持 OpenDocument 表格（.ods），请另存为 .xlsx 或 CSV UTF-8",
                "OpenDocument spreadsheets (.ods) are not supported; save as .xlsx or CSV UTF-8",
                allowed=".xlsx, .csv",
            )
        raise _bad(*_NOT_WORKBOOK)
    # zipfile stops reading a member at its declared size (and fails the CRC if the data goes on),
    # so the sum of declared sizes bounds what openpyxl can inflate; check it before openpyxl runs.
    expanded = sum(info.file_size for info in infos)
    limit = XLSX_EXPANSION_LIMIT * max_bytes
    if expanded > limit:
        zh = f"工作簿解压后为 {_mb(expanded)} MB，超过上限 {_mb(limit)} MB，请拆分后上传"
        en = f"The workbook expands to {_mb(expanded)} MB, over the {_mb(limit)} MB limit; split it"
        raise FileTooLarge(
            zh,
            en,
            problems=[Problem("xlsx_expands_too_large", zh, en, found=str(expanded), allowed=str(limit))],
            details={"expanded_bytes": expanded, "limit_bytes": limit},
        )

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
            raise _bad(*_NOT_WORKBOOK) from exc
        try:
            if not workbook.worksheets:
                raise _bad(*_NOT_WORKBOOK)
            sheet = workbook.worksheets[0]
            # Some generators write a wrong <dimension ref="A1"/>; trusting it would silently drop rows.
            sheet.reset_dimensions()
            raw = sheet.iter_rows(values_only=True)
            header_line, header = _find_header(_cell_text(r) for r in raw)
            keys, index = _map_header(header, header_line)
            date_col = index[keys.index("issue_date")]
            rows = _collect((_cell_text(r, date_col) for r in raw), header_line, keys, index)
        except BadFile:
            raise
        except Exception as exc:
            raise _bad(*_NOT_WORKBOOK) from exc
        finally:
            workbook.close()
    return header_line, header, keys, rows


# Serials 20000..80000 are 1954-10-03 .. 2119-01-11; outside that a number is not a plausible date.
_EXCEL_SERIAL_MIN = 20000
_EXCEL_SERIAL_MAX = 80000
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _cell_text(row: Sequence[object], date_col: int = -1) -> list[str]:
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


# --------------------------------------------------------------------------------------------
# Shared: header, rows


def _find_header(records: Iterable[Sequence[str]]) -> tuple[int, list[str]]:
    """Consume records up to and including the header row; return its line and stripped cells.

    The header is the first non-blank row if any cell is a known header; otherwise a later row
    (within ``HEADER_SEARCH_ROWS`` non-blank rows) with at least three known headers, so that title
    rows above the table are tolerated. A skipped row must look like a title (at most two filled
    cells): a data row above the header would otherwise vanish without a word.
    """
    first: tuple[int, list[str]] | None = None
    nonblank = 0
    for line, record in enumerate(records, start=1):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        nonblank += 1
        hits = sum(1 for c in cells if _match_header(c) is not None)
        if first is None:
            first = (line, cells)
            if hits:
                return line, cells
        elif hits >= 3:
            return line, cells
        if nonblank >= HEADER_SEARCH_ROWS or sum(1 for c in cells if c) > 2:
            break
    if first is None:
        raise _bad("empty_file", "文件没有任何内容", "The file has no content")
    found_line, found = first
    expected = "、".join(c.header_zh for c in COLUMNS if c.required)
    raise _bad(
        "header_missing",
        f"未找到表头行：第 {found_line} 行应为列名（{expected} 等），请使用批次模板",
        f"No header row found: line {found_line} should hold the column names ({expected}, ...); "
        "use the batch template",
        line=found_line,
        found="、".join(c for c in found if c)[:200],
        allowed=expected,
    )


def _map_header(header: list[str], line: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Map header cells to canonical keys in file order; unknown headers are ignored silently."""
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(header):
        key = _match_header(cell)
        if key is not None:
            seen.setdefault(key, []).append(i)

    dupes = {k: idx for k, idx in seen.items() if len(idx) > 1}
    if dupes:
        parts_zh = []
        parts_en = []
        for key, idx in dupes.items():
            where_zh = "、".join(f"{_col_letter(i)} 列“{header[i]}”" for i in idx)
            where_en = ", ".join(f'column {_col_letter(i)} "{header[i]}"' for i in idx)
            parts_zh.append(f"{COLUMNS_BY_KEY[key].header_zh}（{where_zh}）")
            parts_en.append(f"{key} ({where_en})")
        raise _bad(
            "duplicate_columns",
            "列重复，每个字段只能有一列：" + "；".join(parts_zh),
            "Duplicate columns; each field may appear only once: " + "; ".join(parts_en),
            line=line,
            column=",".join(_col_letter(i) for idx in dupes.values() for i in idx),
            details={"duplicates": {k: [_col_letter(i) for i in idx] for k, idx in dupes.items()}},
        )

    missing = [c for c in COLUMNS if c.required and c.key not in seen]
    if missing:
        raise _missing_columns(missing, header, line)
    ordered = sorted(seen.items(), key=lambda kv: kv[1][0])
    return tuple(k for k, _ in ordered), tuple(idx[0] for _, idx in ordered)


def _missing_columns(
    missing: Sequence[Column], header: Sequence[str], line: int, why: tuple[str, str] = ("", "")
) -> BadFile:
    names = "、".join(c.header_zh for c in missing)
    accepted_zh = "；".join(f"{c.header_zh}（也可写：{'、'.join(c.aliases)}）" for c in missing)
    accepted_en = "; ".join(f"{c.key}: {' / '.join(c.headers)}" for c in missing)
    return _bad(
        "missing_columns",
        f"缺少必需的列：{names}{why[0]}。可用的表头：{accepted_zh}",
        f"Missing required columns: {', '.join(c.key for c in missing)}{why[1]}. "
        f"Accepted headers: {accepted_en}",
        line=line,
        column=",".join(c.key for c in missing),
        found="、".join(h for h in header if h)[:300] or None,
        allowed=accepted_zh,
        details={
            "missing": [c.key for c in missing],
            "accepted_headers": {c.key: list(c.headers) for c in missing},
        },
    )


def _collect(
    records: Iterable[Sequence[str]],
    header_line: int,
    keys: tuple[str, ...],
    index: tuple[int, ...],
) -> list[RawRow]:
    # Runs once per row of files up to a million rows: column positions are resolved once into an
    # itemgetter, and absent columns are appended as a constant tuple of "" rather than looked up.
    absent = tuple(k for k in _ALL_KEYS if k not in keys)
    all_keys = keys + absent
    padding = ("",) * len(absent)
    width = max(index) + 1
    pick = operator.itemgetter(*index)  # index always has the six required columns, so a tuple
    strip = str.strip
    rows: list[RawRow] = []
    append = rows.append
    for line, record in enumerate(records, start=header_line + 1):
        if not any(record):
            continue
        if len(record) < width:
            record = [*record, *([""] * (width - len(record)))]
        cells = tuple(map(strip, pick(record)))
        if not any(cells) and not "".join(record).strip():
            continue
        append(RawRow(line, dict(zip(all_keys, cells + padding, strict=True))))
    return rows


# Building a million RawRows makes the cyclic GC rescan the growing heap again and again, which
# costs up to half the read time of a large CSV; csv.reader and _collect create no cycles, so
# collection is paused for that loop (not for XLSX, where openpyxl dominates and runs much longer).
# A counter keeps concurrent readers (threads) from re-enabling it under each other, and the
# collector is only re-enabled if it was enabled when the first reader paused it.
_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


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
            raise _missing_columns(absent, header, header_line, why)


# --------------------------------------------------------------------------------------------
# Cell parsers

_DATE_YMD = re.compile(
    r"(\d{4})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?)"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def parse_issue_date(text: str) -> dt.date:
    """Parse a 发证日期 cell.

    Accepts YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD (one- or two-digit month and day), YYYY年M月D日,
    YYYYMMDD, and any of these followed by a midnight-style time such as "2024-05-06 00:00:00"
    (what spreadsheet exports write for date cells). Full-width digits are accepted.

    Raises:
        ValueError: args are ``(reason_zh, reason_en)`` when the text is empty, has another form,
            or names a day that does not exist (2025-02-30).
    """
    s = unicodedata.normalize("NFKC", text).strip()
    if not s:
        raise ValueError("发证日期为空", "issue date is empty")
    m = _DATE_YMD.fullmatch(s)
    if m:
        year, month, day = m.group(1), m.group(2) or m.group(4), m.group(3) or m.group(5)
    else:
        m = _DATE_COMPACT.fullmatch(s)
        if not m:
            raise ValueError(
                f"无法识别的日期格式：{text.strip()}（应为 YYYY-MM-DD）",
                f"unrecognised date format: {text.strip()} (expected YYYY-MM-DD)",
            )
        year, month, day = m.groups()
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"日期不存在：{text.strip()}", f"no such date: {text.strip()}") from None


_LEVEL_WORDS: dict[str, int] = {
    "一级": 1,
    "高级技师": 1,
    "二级": 2,
    "技师": 2,
    "三级": 3,
    "高级工": 3,
    "四级": 4,
    "中级工": 4,
    "五级": 5,
    "初级工": 5,
    **{str(n): n for n in range(1, 6)},
    **{f"{n}级": n for n in range(1, 6)},
}
# Henan's level table drops 工 ("三级 / 高级"). The bare words 高级/中级/初级 are ambiguous on their
# own (1+X maps 中级 to level 3, the national scale to level 4), so they are accepted only next to
# a numbered level that settles the question.
_HENAN_SHORT: dict[str, int] = {"高级": 3, "中级": 4, "初级": 5}
_LEVEL_SPLIT = re.compile(r"[/()、|\\]+")
_NONE_MARKS = frozenset({"", "-", "--", "—", "——", "―", "――", "–", "无", "/"})


def parse_level(text: str) -> int | None:
    """Parse a 职业技能等级 cell to 1..5.

    Accepts "四级/中级工", "四级 / 中级工", "四级（中级工）", "四级", "中级工", "4", "4级", the
    Henan short forms "三级/高级", "四级/中级", "五级/初级", and full-width characters. Returns
    ``None`` for an empty cell or a none-mark ("--", "——", "无"), as 专项 rows carry no level.

    Raises:
        ValueError: args ``(reason_zh, reason_en)`` for an unknown level word, a bare 高级/中级/初级,
            or when the two halves disagree ("三级/中级工").
    """
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    if s in _NONE_MARKS:
        return None
    levels: set[int] = set()
    numbered = False
    for part in _LEVEL_SPLIT.split(s):
        if not part:
            continue
        if part in _LEVEL_WORDS:
            levels.add(_LEVEL_WORDS[part])
            numbered = True
        elif part in _HENAN_SHORT:
            levels.add(_HENAN_SHORT[part])
        else:
            numbered = False
            break
    if not numbered:
        raise ValueError(
            f"无法识别的职业技能等级：{text.strip()}（应为 一级/高级技师 … 五级/初级工 或 1-5）",
            f"unrecognised skill level: {text.strip()} (expected 一级/高级技师 … 五级/初级工 or 1-5)",
        )
    if len(levels) > 1:
        raise ValueError(
            f"职业技能等级前后不一致：{text.strip()}",
            f"skill level halves disagree: {text.strip()}",
        )
    return levels.pop()


_FORMS: dict[str, str] = {
    "": "paper",
    "纸质": "paper",
    "纸质证书": "paper",
    "纸本": "paper",
    "纸": "paper",
    "paper": "paper",
    "电子": "electronic",
    "电子证书": "electronic",
    "电子版": "electronic",
    "electronic": "electronic",
    "e": "electronic",
}


def parse_issue_form(text: str) -> str:
    """Parse a 证书形式 cell to ``"paper"`` or ``"electronic"``; empty means paper.

    Raises:
        ValueError: args ``(reason_zh, reason_en)`` for anything else.
    """
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()
    try:
        return _FORMS[s]
    except KeyError:
        raise ValueError(
            f"无法识别的证书形式：{text.strip()}（应为 纸质 或 电子）",
            f"unrecognised certificate form: {text.strip()} (expected paper or electronic)",
        ) from None


_DASHES = frozenset("-‐‑‒–—―－─━")


def normalize_job(text: str) -> str:
    """Return the 工种/职业方向 value to store: ``"--"`` when there is none (rule 21), else the text.

    "None" is an empty cell, any run of dash-like characters ("-", "--", "—", the 2019 template's
    "——", full-width "－－"), "无" or "/".
    """
    s = text.strip()
    if not s or s in ("无", "/") or all(ch in _DASHES for ch in s):
        return "--"
    return s


# --------------------------------------------------------------------------------------------
# Template

_EXAMPLE: dict[str, str] = {
    "number": "Y000041010012224000007",
    "name": "张三",
    "id_type": "居民身份证",
    "id_number": "11010519491231002X",
    "occupation_code": "6-18-01-01",
    "occupation_name": "车工",
    "job": "--",
    "level": "四级/中级工",
    "issue_date": "2022-06-30",
    "issue_form": "纸质",
    "print_serial": "No.88888888",
    "assessment_method": "考试考核",
    "photo_ref": "",
    "gender": "",
    "education": "",
    "score": "",
}


def template_csv() -> str:
    """The batch template as CSV text: the Chinese header row and one synthetic example row.

    Write it with encoding ``utf-8-sig`` so that Excel opens it as UTF-8.
    """
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header_zh for c in COLUMNS])
    writer.writerow([_EXAMPLE[c.key] for c in COLUMNS])
    return buf.getvalue()
