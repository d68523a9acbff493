"""Reading a verifier's file (docs/VERIFY-BATCH.md) into rows: CSV (UTF-8 or GB18030/GBK), XLSX or
JSON, through the same bounded readers as a result batch (``verify.files.batchfile``,
``verify.files.xlsx``, the caps of ``verify.files.limits``).

Only the header is interpreted: the columns of ``verify.domain.batch_verification.INPUT_COLUMNS``
are recognised by any of their spellings, and every other column is the verifier's own and is
returned with each row untouched. Whether a row's number, ID or QR is well formed is the
verification's business, row by row; what is refused here is the file as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from verify.domain.batch.columns import header_token
from verify.domain.batch_verification import INPUT_COLUMNS, InputRow, input_row
from verify.files import limits as lim
from verify.files.batchfile import check_size, csv_records, detect_format
from verify.files.limits import DEFAULT_LIMITS, UploadLimits
from verify.files.rows import HEADER_SEARCH_ROWS, bad_file
from verify.files.xlsx import cell_text, read_workbook

MAX_ROWS = 10_000
MAX_OWN_COLUMNS = 32
VERIFY_LIMITS = replace(DEFAULT_LIMITS, max_rows=MAX_ROWS)

_HEADER_KEYS: dict[str, str] = {
    header_token(spelling): key
    for key, (zh, aliases) in INPUT_COLUMNS.items()
    for spelling in (zh, *aliases, key)
}
# A row can only ask with one of these; a header without any of them is not this template.
_ASKING = ("qr", "number", "id_number")


def read_verify_file(
    data: bytes, filename: str, *, max_bytes: int, max_rows: int = MAX_ROWS, content_type: str = ""
) -> list[InputRow]:
    """The rows of a verifier's CSV, XLSX or JSON file, in file order.

    Raises:
        FileTooLarge: over ``max_bytes``, over ``max_rows`` data rows (``too_many_rows``) or over a
            cap of ``verify.files.limits``.
        BadFile: ``empty_file``, ``xls_not_supported``, ``unsupported_type``, ``bad_xlsx``,
            ``encoding_utf16``, ``encoding_unknown``, ``bad_csv``, ``bad_json``, ``header_missing``
            (no row names a 二维码内容, 证书编号 or 证件号码 column), ``duplicate_columns``,
            ``no_data_rows``.
    """
    check_size(data, max_bytes)
    limits = replace(VERIFY_LIMITS, max_rows=max_rows)
    if filename.lower().endswith(".json") or content_type.startswith("application/json"):
        rows = _json_rows(data, limits)
    else:
        file_format, delimiter = detect_format(data, filename, limits)
        if file_format == "xlsx":
            rows = read_workbook(data, max_bytes, lambda raw: _rows(map(cell_text, raw), limits), limits)
        else:
            rows = _rows(csv_records(data, delimiter, limits, gb18030=True), limits)
    if not rows:
        raise bad_file(
            "no_data_rows", "文件只有表头，没有数据行", "The file has a header row but no data rows"
        )
    return rows


def _header(records: Iterator[Sequence[str]]) -> tuple[int, list[str], dict[int, str]]:
    """The header row (title rows of at most two filled cells above it are skipped), its cells and
    the recognised columns by position."""
    nonblank = 0
    for line, record in enumerate(records, start=1):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        nonblank += 1
        known = {i: _HEADER_KEYS[t] for i, c in enumerate(cells) if (t := header_token(c)) in _HEADER_KEYS}
        if any(k in _ASKING for k in known.values()):
            _refuse_duplicates(known, cells, line)
            return line, cells, known
        if nonblank >= HEADER_SEARCH_ROWS or sum(1 for c in cells if c) > 2:
            break
    if not nonblank:
        raise bad_file("empty_file", "文件没有任何内容", "The file has no content")
    raise bad_file(
        "header_missing",
        "未找到表头行：须有“二维码内容”“证书编号”或“证件号码”列之一（见查验模板）",
        "No header row found: the file needs a 二维码内容 (QR), 证书编号 (number) or 证件号码 (ID number) "
        "column (see the verification template)",
        allowed="二维码内容、证书编号、证件号码",
    )


def _refuse_duplicates(known: Mapping[int, str], cells: Sequence[str], line: int) -> None:
    seen: dict[str, list[int]] = {}
    for i, key in known.items():
        seen.setdefault(key, []).append(i)
    dupes = {k: v for k, v in seen.items() if len(v) > 1}
    if dupes:
        where = "; ".join(
            f"{INPUT_COLUMNS[k][0]}: " + ", ".join(f"“{cells[i]}”" for i in v) for k, v in dupes.items()
        )
        raise bad_file(
            "duplicate_columns",
            f"列重复，每个字段只能有一列：{where}",
            f"Duplicate columns; each field may appear only once: {where}",
            line=line,
        )


def _rows(records: Iterable[Sequence[str]], limits: UploadLimits) -> list[InputRow]:
    records = iter(records)
    header_line, header, known = _header(records)
    own = [(i, h) for i, h in enumerate(header) if i not in known and h][:MAX_OWN_COLUMNS]
    out: list[InputRow] = []
    for line, record in enumerate(records, start=header_line + 1):
        if not any(cell.strip() for cell in record):
            continue
        values = {key: record[i].strip() for i, key in known.items() if i < len(record)}
        columns = {h: (record[i] if i < len(record) else "") for i, h in own}
        out.append(input_row(line, values, columns))
        if len(out) > limits.max_rows:
            raise lim.too_many_rows(len(out), limits.max_rows)
    return out


def _json_rows(data: bytes, limits: UploadLimits) -> list[InputRow]:
    """``{"rows": [{...}, ...]}`` or a bare list; each row an object whose keys are column keys or
    headers (any spelling), string values. Row numbers count from 1."""
    try:
        doc: Any = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise bad_file("bad_json", "JSON 格式错误，无法解析", "The JSON cannot be parsed") from exc
    items = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise bad_file("bad_json", 'JSON 须为 {"rows": [...]}', 'The JSON must be {"rows": [...]}')
    if len(items) > limits.max_rows:
        raise lim.too_many_rows(len(items), limits.max_rows)
    out: list[InputRow] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not all(isinstance(v, str | int) for v in item.values()):
            raise bad_file(
                "bad_json",
                f"第 {n} 行须为对象，值为文字",
                f"row {n} must be an object with string values",
                line=n,
            )
        values: dict[str, str] = {}
        columns: dict[str, str] = {}
        for k, v in item.items():
            key = _HEADER_KEYS.get(header_token(str(k)))
            if key is not None:
                values[key] = str(v).strip()
            elif len(columns) < MAX_OWN_COLUMNS:
                columns[str(k)] = str(v)
        out.append(input_row(n, values, columns))
    asks = any(_HEADER_KEYS.get(header_token(str(k))) in _ASKING for item in items for k in item)
    if out and not asks:
        raise bad_file(
            "header_missing",
            "JSON 行中没有 qr、number 或 id_number 字段",
            "No row has a qr, number or id_number field",
        )
    return out


def sheet_xlsx(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """A one-sheet XLSX of text cells (the sample a verifier fills in, ``verify demo --verify-sample``)."""
    import io

    from openpyxl import Workbook  # deferred: ~0.2 s to import

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("查验 Rows")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
