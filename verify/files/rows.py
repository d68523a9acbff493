"""What every batch reader shares: finding the header row, mapping it to columns, collecting rows,
and the one way a reader refuses a file (``bad_file``)."""

from __future__ import annotations

import contextlib
import gc
import operator
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from verify.domain.batch.columns import ALL_KEYS, COLUMNS, Column, RawRow, match_header
from verify.domain.errors import BadFile, FileTooLarge, Problem

MiB = 1024 * 1024

# Title rows ("2024 年第一批认定结果") above the header are common in hand-made sheets; look this far.
HEADER_SEARCH_ROWS = 10


def _col_letter(index: int) -> str:
    """0-based column index -> spreadsheet letters (0 -> A, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def bad_file(code: str, zh: str, en: str, **extra: Any) -> BadFile:
    details = extra.pop("details", None)
    return BadFile(zh, en, problems=[Problem(code, zh, en, **extra)], details=details)


def too_large(code: str, zh: str, en: str, *, size: int, limit: int, details: dict[str, int]) -> FileTooLarge:
    """The one way a reader refuses input over a size limit (HTTP 413)."""
    return FileTooLarge(
        zh, en, problems=[Problem(code, zh, en, found=str(size), allowed=str(limit))], details=details
    )


def megabytes(n: int) -> str:
    value = n / MiB
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


# (header line, header cells, canonical keys present in file order, the non-blank data rows)
Parsed = tuple[int, list[str], tuple[str, ...], list[RawRow]]


def find_header(
    records: Iterable[Sequence[str]],
    columns: Sequence[Column] = COLUMNS,
    hint: tuple[str, str] = ("请使用批次模板", "use the batch template"),
) -> tuple[int, list[str]]:
    """Consume records up to and including the header row; return its line and stripped cells.

    The header is the first non-blank row if any cell is a known header; otherwise a later row
    (within ``HEADER_SEARCH_ROWS`` non-blank rows) with at least three known headers (or all the
    required ones, when fewer are required), so that title rows above the table are tolerated. A
    skipped row must look like a title (at most two filled cells): a data row above the header would
    otherwise vanish without a word. Known headers are those of ``columns`` (the batch template by
    default; another reader passes its own subset); ``hint`` ends the ``header_missing`` message.
    """
    keys = {c.key for c in columns}
    enough = min(3, sum(1 for c in columns if c.required))
    first: tuple[int, list[str]] | None = None
    nonblank = 0
    for line, record in enumerate(records, start=1):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        nonblank += 1
        hits = sum(1 for c in cells if match_header(c) in keys)
        if first is None:
            first = (line, cells)
            if hits:
                return line, cells
        elif hits >= enough:
            return line, cells
        if nonblank >= HEADER_SEARCH_ROWS or sum(1 for c in cells if c) > 2:
            break
    if first is None:
        raise bad_file("empty_file", "文件没有任何内容", "The file has no content")
    found_line, found = first
    expected = "、".join(c.header_zh for c in columns if c.required)
    raise bad_file(
        "header_missing",
        f"未找到表头行：第 {found_line} 行应为列名（{expected} 等），{hint[0]}",
        f"No header row found: line {found_line} should hold the column names ({expected}, ...); {hint[1]}",
        line=found_line,
        found="、".join(c for c in found if c)[:200],
        allowed=expected,
    )


def map_header(
    header: list[str], line: int, columns: Sequence[Column] = COLUMNS
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Map header cells to canonical keys in file order; unknown headers (and those of template
    columns outside ``columns``) are ignored silently."""
    by_key = {c.key: c for c in columns}
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(header):
        key = match_header(cell)
        if key in by_key:
            seen.setdefault(key, []).append(i)

    dupes = {k: idx for k, idx in seen.items() if len(idx) > 1}
    if dupes:
        parts_zh = []
        parts_en = []
        for key, idx in dupes.items():
            where_zh = "、".join(f"{_col_letter(i)} 列“{header[i]}”" for i in idx)
            where_en = ", ".join(f'column {_col_letter(i)} "{header[i]}"' for i in idx)
            parts_zh.append(f"{by_key[key].header_zh}（{where_zh}）")
            parts_en.append(f"{key} ({where_en})")
        raise bad_file(
            "duplicate_columns",
            "列重复，每个字段只能有一列：" + "；".join(parts_zh),
            "Duplicate columns; each field may appear only once: " + "; ".join(parts_en),
            line=line,
            column=",".join(_col_letter(i) for idx in dupes.values() for i in idx),
            details={"duplicates": {k: [_col_letter(i) for i in idx] for k, idx in dupes.items()}},
        )

    missing = [c for c in columns if c.required and c.key not in seen]
    if missing:
        raise missing_columns(missing, header, line)
    ordered = sorted(seen.items(), key=lambda kv: kv[1][0])
    return tuple(k for k, _ in ordered), tuple(idx[0] for _, idx in ordered)


def missing_columns(
    missing: Sequence[Column], header: Sequence[str], line: int, why: tuple[str, str] = ("", "")
) -> BadFile:
    names = "、".join(c.header_zh for c in missing)
    accepted_zh = "；".join(f"{c.header_zh}（也可写：{'、'.join(c.aliases)}）" for c in missing)
    accepted_en = "; ".join(f"{c.key}: {' / '.join(c.headers)}" for c in missing)
    return bad_file(
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


def collect(
    records: Iterable[Sequence[str]],
    header_line: int,
    keys: tuple[str, ...],
    index: tuple[int, ...],
) -> list[RawRow]:
    # Runs once per row of files up to a million rows: column positions are resolved once into an
    # itemgetter, and absent columns are appended as a constant tuple of "" rather than looked up.
    absent = tuple(k for k in ALL_KEYS if k not in keys)
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
def gc_paused() -> Iterator[None]:
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
