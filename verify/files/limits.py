"""Hard limits on what reading one uploaded batch may cost, and the refusals that enforce them.

A batch file is untrusted input that is expanded (unzipped, decoded, split into cells) inside a web
worker. Every dimension that can grow memory or CPU time is capped here, and each cap is checked
while the file is streamed, so that a refusal comes as soon as the cap is crossed: a small archive
that would expand to gigabytes is refused after a few megabytes, not after the worker has died.

Size-type refusals are ``FileTooLarge`` (HTTP 413) and a workbook that declares a DTD is
``BadFile`` (HTTP 422); each carries one ``Problem`` with a stable code (docs/BATCH-TEMPLATE.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from verify.domain.errors import BadFile, FileTooLarge
from verify.files.rows import MiB, bad_file, megabytes, too_large

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """The caps; the defaults are what the service uses (tests pass smaller ones).

    max_rows: data rows (non-blank rows below the header). A 1,000,000-row CSV is benchmarked
        (docs/BENCHMARKS.md), so that size must pass.
    max_lines: physical rows including blank ones, the header and titles: CSV lines, the ``r``
        index of an XLSX ``<row>``, and ``<row>`` elements of all worksheets together (openpyxl
        parses every sheet once while loading). 1,048,576 is Excel's own sheet limit, so no sheet
        Excel can save is refused for its row count, and a million data rows fit with room.
    max_columns: columns per row, counting cells that are present but empty (an XLSX ``<c>`` element,
        a CSV field). The template has 16 columns; 256 (Excel 2003's limit) leaves room for any sheet
        a person fills in, while Excel's own 16,384 would let one row hold 16k cells.
    max_cell_chars: characters in one cell (all text of one ``<c>`` or shared ``<si>``, or one CSV
        field). 32,767 is Excel's own limit, so nothing Excel saves is refused; the longest template
        value is far shorter and the row validator rejects long values anyway.
    max_record_chars: characters in one physical CSV line or one CSV record (fields joined).
    max_depth: XML element nesting; SpreadsheetML needs about 8 (worksheet/sheetData/row/c/is/r/t).
    expansion_factor: an XLSX may expand to ``expansion_factor * max_bytes`` in all (decompressed
        members); an XML sheet compresses 5-25x, so 20x leaves room for honest files.
    max_part_bytes: every archive member that the reader loads whole into memory (everything but
        worksheets and the shared-string table, which are streamed) may decompress to at most this.
    max_part_elements: XML elements per member outside ``<row>``/``<si>`` (the streaming parsers keep
        those in memory until the member ends). A workbook at Excel's 64,000-format limit has about
        200,000 elements in styles.xml.
    max_row_elements: XML elements inside one ``<row>`` or one ``<si>`` (kept until it ends).
    max_markup_bytes: bytes between two ``>`` in any XML member: an expat tag, comment or
        attribute value is buffered whole, so one giant tag would be a memory bomb of its own.
    max_shared_strings, max_shared_chars: entries and total characters of the shared-string table,
        which the reader holds in memory for the whole read.
    cpu_seconds: CPU time of the reading thread for one file, checked between chunks and every
        1,024 rows (openpyxl's ``load_workbook``, which parses each worksheet lacking a
        ``<dimension>`` once, is a single step). A million-row CSV reads in ~5 s; XLSX reads at
        ~5,000 rows/s, so an XLSX beyond ~300,000 rows is refused as ``file_too_slow`` (save it as
        CSV). Every bomb trips one of the caps above long before this.
    """

    max_rows: int = 1_000_000
    max_lines: int = 1_048_576
    max_columns: int = 256
    max_cell_chars: int = 32_767
    max_record_chars: int = 1_048_576
    max_depth: int = 32
    expansion_factor: int = 20
    max_part_bytes: int = 16 * MiB
    max_part_elements: int = 250_000
    max_row_elements: int = 16_384
    max_markup_bytes: int = 1 * MiB
    max_shared_strings: int = 2_000_000
    max_shared_chars: int = 64_000_000
    cpu_seconds: float = 60.0

    def expanded_bytes(self, max_bytes: int) -> int:
        return self.expansion_factor * max_bytes


DEFAULT_LIMITS = UploadLimits()


# --------------------------------------------------------------------------------------------
# Refusals. ``where`` is a short location (zh, en) such as ("第 5 行", "line 5"), or empty.


def _at(where: tuple[str, str]) -> tuple[str, str]:
    return (f"（{where[0]}）", f" ({where[1]})") if where[0] else ("", "")


def too_many_rows(found: int, limit: int, what: tuple[str, str] = ("数据行", "data rows")) -> FileTooLarge:
    return too_large(
        "too_many_rows",
        f"文件{what[0]}超过 {limit} 行，请拆分为多个批次上传",
        f"The file has more than {limit} {what[1]}; split it into several batches",
        size=found, limit=limit, details={"rows": found, "max_rows": limit},
    )  # fmt: skip


def too_many_columns(found: int, limit: int, where: tuple[str, str] = ("", "")) -> FileTooLarge:
    zh, en = _at(where)
    return too_large(
        "too_many_columns",
        f"一行超过 {limit} 列{zh}，请删除多余的列",
        f"A row has more than {limit} columns{en}; delete the extra columns",
        size=found, limit=limit, details={"columns": found, "max_columns": limit},
    )  # fmt: skip


def cell_too_long(found: int, limit: int, where: tuple[str, str] = ("", "")) -> FileTooLarge:
    zh, en = _at(where)
    return too_large(
        "cell_too_long",
        f"单元格内容超过 {limit} 个字符{zh}",
        f"A cell holds more than {limit} characters{en}",
        size=found, limit=limit, details={"chars": found, "max_cell_chars": limit},
    )  # fmt: skip


def line_too_long(found: int, limit: int, where: tuple[str, str] = ("", "")) -> FileTooLarge:
    zh, en = _at(where)
    return too_large(
        "line_too_long",
        f"一行（一条记录）超过 {limit} 个字符{zh}，可能有未闭合的引号",
        f"A line (one record) holds more than {limit} characters{en}; a quote may be left open",
        size=found, limit=limit, details={"chars": found, "max_record_chars": limit},
    )  # fmt: skip


def expands_too_large(found: int, limit: int) -> FileTooLarge:
    zh = f"工作簿解压后超过 {megabytes(limit)} MB，请拆分后上传"
    en = f"The workbook expands to more than {megabytes(limit)} MB; split it"
    return too_large(
        "xlsx_expands_too_large", zh, en, size=found, limit=limit,
        details={"expanded_bytes": found, "limit_bytes": limit},
    )  # fmt: skip


def part_too_large(part: str, found: int, limit: int) -> FileTooLarge:
    return too_large(
        "xlsx_part_too_large",
        f"工作簿中的部件 {part[:100]} 解压后超过 {megabytes(limit)} MB",
        f"The workbook part {part[:100]} expands to more than {megabytes(limit)} MB",
        size=found, limit=limit, details={"part_bytes": found, "limit_bytes": limit},
    )  # fmt: skip


def too_deep(found: int, limit: int) -> FileTooLarge:
    return too_large(
        "xlsx_too_deep",
        f"工作簿的 XML 嵌套超过 {limit} 层，不是正常的 Excel 文件",
        f"The workbook's XML is nested more than {limit} levels deep; it is not a normal Excel file",
        size=found, limit=limit, details={"depth": found, "max_depth": limit},
    )  # fmt: skip


def too_complex(what: str, found: int, limit: int) -> FileTooLarge:
    """Too many XML elements (``what`` = "elements") or one over-long tag (``what`` = "markup_bytes")."""
    return too_large(
        "xlsx_too_complex",
        f"工作簿的 XML 结构过于庞大（{what} 超过 {limit}），不是正常的 Excel 文件",
        f"The workbook's XML is too large in structure ({what} over {limit}); it is not a normal Excel file",
        size=found, limit=limit, details={what: found, "limit": limit},
    )  # fmt: skip


def too_many_shared_strings(what: str, found: int, limit: int) -> FileTooLarge:
    """``what`` is "strings" (entries) or "chars" (total characters) of the shared-string table."""
    return too_large(
        "too_many_shared_strings",
        f"工作簿的共享字符串表过大（{what} 超过 {limit}），请拆分后上传",
        f"The workbook's shared-string table is too large ({what} over {limit}); split the file",
        size=found, limit=limit, details={what: found, "limit": limit},
    )  # fmt: skip


def doctype_refused() -> BadFile:
    return bad_file(
        "xlsx_doctype",
        "工作簿含有 DTD/实体声明（<!DOCTYPE>），Excel 不会生成这样的文件，拒绝读取",
        "The workbook declares a DTD or entities (<!DOCTYPE>); Excel never writes one, so it is refused",
    )


def too_slow(seconds: float) -> FileTooLarge:
    limit = int(seconds)
    return too_large(
        "file_too_slow",
        f"文件过于复杂，读取超过 {limit} 秒 CPU 时间，请拆分为多个批次上传",
        f"The file is too complex: reading it took over {limit} s of CPU time; split it into several batches",
        size=limit + 1, limit=limit, details={"cpu_seconds": limit},
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# CPU budget


class Budget:
    """CPU time of the calling thread (the upload is read in a worker thread, so process time would
    also count other requests) against ``limits.cpu_seconds``; ``check()`` raises ``file_too_slow``."""

    __slots__ = ("deadline", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds

    def check(self) -> None:
        if time.thread_time() > self.deadline:
            raise too_slow(self.seconds)


def budgeted(items: Iterable[T], budget: Budget, every: int = 4096) -> Iterator[T]:
    """Yield ``items``, checking the budget every ``every`` items."""
    n = every
    for item in items:
        n -= 1
        if not n:
            n = every
            budget.check()
        yield item
