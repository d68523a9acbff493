"""Reading the first sheet of an XLSX batch into cell text (``verify.files.batchfile`` does the rest)."""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile
from collections.abc import Sequence

from verify.domain.errors import BadFile
from verify.files.rows import Parsed, bad_file, collect, find_header, map_header, megabytes, too_large

# An XLSX sheet compresses roughly 5-15x; 20x the upload limit leaves room for honest files while
# refusing a small archive that would expand to gigabytes inside openpyxl.
XLSX_EXPANSION_LIMIT = 20

NOT_WORKBOOK = (
    "bad_xlsx",
    "文件不是有效的 Excel 工作簿（.xlsx），请用 Excel 重新另存为 .xlsx",
    "The file is not a valid Excel workbook (.xlsx); re-save it from Excel as .xlsx",
)


def read_xlsx(data: bytes, max_bytes: int) -> Parsed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise bad_file(*NOT_WORKBOOK) from exc
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
    # zipfile stops reading a member at its declared size (and fails the CRC if the data goes on),
    # so the sum of declared sizes bounds what openpyxl can inflate; check it before openpyxl runs.
    expanded = sum(info.file_size for info in infos)
    limit = XLSX_EXPANSION_LIMIT * max_bytes
    if expanded > limit:
        zh = f"工作簿解压后为 {megabytes(expanded)} MB，超过上限 {megabytes(limit)} MB，请拆分后上传"
        en = f"The workbook expands to {megabytes(expanded)} MB, over the {megabytes(limit)} MB limit; split it"
        raise too_large(
            "xlsx_expands_too_large", zh, en, size=expanded, limit=limit,
            details={"expanded_bytes": expanded, "limit_bytes": limit},
        )  # fmt: skip

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
            raw = sheet.iter_rows(values_only=True)
            header_line, header = find_header(_cell_text(r) for r in raw)
            keys, index = map_header(header, header_line)
            date_col = index[keys.index("issue_date")]
            rows = collect((_cell_text(r, date_col) for r in raw), header_line, keys, index)
        except BadFile:
            raise
        except Exception as exc:
            raise bad_file(*NOT_WORKBOOK) from exc
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
