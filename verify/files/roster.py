"""Reading the roster an institution files before an assessment (rule 34) into raw ID numbers.

The roster (考核人员名单) is a CSV or XLSX with a header row naming a 证件号码 column (the batch
template's spellings are accepted: 身份证号, 身份证号码, id_number, ...) and optionally a 证件类型
column; any other column is ignored. The file goes through the same reader as a result batch
(``verify.files.batchfile`` and ``verify.files.xlsx``): type detection, the size caps of
``verify.files.limits``, header finding and the same refusals. Two things differ: a CSV may also be
GB18030 (GBK) encoded, since rosters are often exported from older systems, and at most 100,000
rows are read.

Nothing here validates or keeps an ID number: the caller normalises each one and keeps only its
blind index (docs/SECURITY.md §2), which the row check ``on_roster`` of ``verify.domain.batch.checks`` compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from verify.domain.batch.columns import COLUMNS_BY_KEY, Column
from verify.files import limits as lim
from verify.files.batchfile import check_size, csv_records, detect_format
from verify.files.limits import DEFAULT_LIMITS, UploadLimits
from verify.files.rows import bad_file, find_header, map_header
from verify.files.xlsx import cell_text, read_workbook

ROSTER_MAX_ROWS = 100_000

# The template's own columns, so that a roster and a batch accept the same header spellings.
ROSTER_COLUMNS: tuple[Column, ...] = (
    replace(COLUMNS_BY_KEY["id_type"], required=False),
    COLUMNS_BY_KEY["id_number"],
)
ROSTER_LIMITS = replace(DEFAULT_LIMITS, max_rows=ROSTER_MAX_ROWS)

_HINT = ("人员名单须有“证件号码”列", "a roster needs a 证件号码 (ID number) column")

# (file line, ID type as written or "", ID number as written)
RosterRow = tuple[int, str, str]


def read_roster(
    data: bytes, filename: str, *, max_bytes: int, limits: UploadLimits = ROSTER_LIMITS
) -> list[RosterRow]:
    """The (line, ID type or "", ID number) of every non-blank data row, cells stripped.

    ``line`` is the spreadsheet row (the header row of a file without title rows is line 1). A row
    counts when any of its cells holds text, as in a batch file, so a row with a blank 证件号码 is
    returned with ``""`` for the caller to report rather than dropped unseen.

    Raises:
        FileTooLarge: over ``max_bytes`` (``file_too_large``), over ``limits.max_rows`` rows
            (``too_many_rows``; 100,000 by default) or over any other cap of ``limits``, with the
            codes of ``verify.files.batchfile.read_batch_file``.
        BadFile: ``empty_file``, ``xls_not_supported``, ``unsupported_type``, ``bad_xlsx``,
            ``xlsx_doctype``, ``encoding_utf16``, ``encoding_unknown`` (neither UTF-8 nor
            GB18030), ``bad_csv``, ``header_missing``, ``missing_columns`` (no 证件号码 column),
            ``duplicate_columns``, ``no_data_rows``.
    """
    check_size(data, max_bytes)
    file_format, delimiter = detect_format(data, filename, limits)
    if file_format == "xlsx":
        header_line, rows = read_workbook(
            data, max_bytes, lambda raw: _rows(map(cell_text, raw), limits), limits
        )
    else:
        header_line, rows = _rows(csv_records(data, delimiter, limits, gb18030=True), limits)
    if not rows:
        raise bad_file(
            "no_data_rows",
            "人员名单只有表头，没有数据行",
            "The roster has a header row but no data rows",
            line=header_line,
        )
    return rows


def _rows(records: Iterable[Sequence[str]], limits: UploadLimits) -> tuple[int, list[RosterRow]]:
    records = iter(records)
    header_line, header = find_header(records, ROSTER_COLUMNS, _HINT)
    keys, index = map_header(header, header_line, ROSTER_COLUMNS)
    at = dict(zip(keys, index, strict=True))
    number_at, type_at = at["id_number"], at.get("id_type")
    out: list[RosterRow] = []
    for line, record in enumerate(records, start=header_line + 1):
        if not any(cell.strip() for cell in record):  # blank rows still count for line numbers
            continue
        number = record[number_at].strip() if number_at < len(record) else ""
        id_type = record[type_at].strip() if type_at is not None and type_at < len(record) else ""
        out.append((line, id_type, number))
        if len(out) > limits.max_rows:
            raise lim.too_many_rows(len(out), limits.max_rows)
    return header_line, out
