"""The photo list of a photo archive: a CSV or XLSX inside the ZIP with a column of photo file
names and, on each row, the certificate number or ID number the photo belongs to.

Institutions whose photos are named by the camera or the registration desk (``IMG_0412.JPG``,
``张三.jpg``) need not rename them: a list with a 照片文件 column and a 证书编号 or 证件号码 column
says whose each file is. The result batch itself with a 照片文件 column added is such a list (the
batch reader ignores a column it does not know). The file goes through the batch reader's type
detection, size caps and CSV/XLSX readers; a CSV may be UTF-8 or GB18030.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Final

from verify.domain.batch.columns import match_header
from verify.domain.errors import BadFile, Problem
from verify.files.batchfile import check_size, csv_records, detect_format
from verify.files.limits import DEFAULT_LIMITS
from verify.files.xlsx import cell_text, read_workbook

LIST_MAX_BYTES: Final = 10 * 1024 * 1024
LIST_LIMITS: Final = replace(DEFAULT_LIMITS, max_rows=20_000)
LIST_SUFFIXES: Final = frozenset({".csv", ".xlsx"})
# Header spellings of the file-name column (compared without spaces, '*' or letter case).
FILE_HEADERS: Final = frozenset(
    {"照片文件", "照片文件名", "照片", "相片", "相片文件", "photo", "photofile", "photo_file"}
)
HEADER_SEARCH_ROWS: Final = 10


def _token(cell: str) -> str:
    return cell.strip().replace(" ", "").replace("*", "").lower()


def read_photo_list(data: bytes, filename: str) -> dict[str, str]:
    """{photo file name (no folder, upper case): certificate or ID number as written, upper case}.
    Raises BadFile naming the list and the line: no header with a 照片文件 column and a 证书编号 or
    证件号码 column, a row without a file name or a number, one file named on two rows; and what
    the batch reader raises for the container (FileTooLarge, ``unsupported_type``, encodings)."""
    check_size(data, LIST_MAX_BYTES)
    file_format, delimiter = detect_format(data, filename, LIST_LIMITS)
    if file_format == "xlsx":
        return read_workbook(
            data, LIST_MAX_BYTES, lambda raw: _read(map(cell_text, raw), filename), LIST_LIMITS
        )
    return _read(csv_records(data, delimiter, LIST_LIMITS, gb18030=True), filename)


def _read(records: Iterable[Sequence[str]], filename: str) -> dict[str, str]:
    name = filename[:80]
    rows = iter(records)
    file_at = key_at = -1
    line = 0
    for line, record in enumerate(rows, start=1):
        tokens = [_token(c) for c in record]
        file_at = next((i for i, t in enumerate(tokens) if t in FILE_HEADERS), -1)
        keys = {
            match_header(c): i for i, c in enumerate(record) if match_header(c) in ("number", "id_number")
        }
        key_at = keys.get("number", keys.get("id_number", -1))
        if file_at >= 0 and key_at >= 0:
            break
        if line >= HEADER_SEARCH_ROWS:
            break
    if file_at < 0 or key_at < 0:
        raise BadFile(
            f"照片清单 {name} 须有“照片文件”列和“证书编号”或“证件号码”列",
            f"the photo list {name} needs a 照片文件 (photo file) column and a 证书编号 or 证件号码 column",
            problems=[Problem("photo_list_header", f"{name}：未找到表头", f"{name}: no header found")],
        )
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for at, record in enumerate(rows, start=line + 1):
        if not any(c.strip() for c in record):
            continue
        photo = (
            PurePosixPath(record[file_at].strip().replace("\\", "/")).name if file_at < len(record) else ""
        )
        key = record[key_at].strip().upper() if key_at < len(record) else ""
        where = f"{name} 第 {at} 行", f"{name} line {at}"
        if not photo or not key:
            problems.append(Problem("photo_list_row", f"{where[0]}：缺少照片文件名或编号",
                                    f"{where[1]}: a photo file name or number is missing"))  # fmt: skip
        elif photo.upper() in out:
            problems.append(Problem("photo_list_duplicate", f"{where[0]}：{photo[:80]} 已在前面出现",
                                    f"{where[1]}: {photo[:80]} is listed twice"))  # fmt: skip
        else:
            out[photo.upper()] = key
    if problems:
        raise BadFile(f"照片清单 {name} 有错误，未保存任何照片", f"the photo list {name} has errors; no photo was stored",
                      problems=problems)  # fmt: skip
    return out
