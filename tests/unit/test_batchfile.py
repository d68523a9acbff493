"""Reading CSV/XLSX batches (verify.files), the template columns and the cell parsers (verify.domain.batch).

Every fixture file is built here, in memory, so the tests say exactly what bytes they feed in.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import WRITTEN_HEADER, WRITTEN_ROW
from verify.domain.batch.cells import (
    LEVEL_TEXTS,
    normalize_job,
    parse_issue_date,
    parse_issue_form,
    parse_level,
)
from verify.domain.batch.columns import COLUMNS, COLUMNS_BY_KEY, ID_TYPES, RawRow, template_csv
from verify.domain.errors import BadFile, FileTooLarge
from verify.files.batchfile import BatchFile, read_batch_file

MB = 1024 * 1024
LIMIT = 50 * MB
ALL_KEYS = tuple(c.key for c in COLUMNS)
REPO = Path(__file__).resolve().parents[2]

HEADER = WRITTEN_HEADER
ROW_A = WRITTEN_ROW
ROW_B = [
    "Y000041010012223000001",
    "李四",
    "护照",
    "E12345678",
    "6-18-01-01",
    "车工",
    "",
    "三级/高级工",
    "2022-07-01",
]


def csv_bytes(rows: Sequence[Sequence[str]], *, bom: bool = False, encoding: str = "utf-8") -> bytes:
    text = "\r\n".join(",".join(r) for r in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def values(row: Sequence[str], header: Sequence[str] = HEADER) -> dict[str, str]:
    """The expected RawRow.values for a row under the default header: all keys, absent -> ""."""
    by_header = dict(zip(header, row, strict=True))
    out = dict.fromkeys(ALL_KEYS, "")
    for col in COLUMNS:
        if col.header_zh in by_header:
            out[col.key] = by_header[col.header_zh]
    return out


def refused(data: bytes, filename: str, max_bytes: int = LIMIT) -> BadFile:
    """Read a file that must be refused; check the one-Problem shape every refusal has."""
    with pytest.raises(BadFile) as info:
        read_batch_file(data, filename, max_bytes=max_bytes)
    exc = info.value
    assert len(exc.problems) == 1
    problem = exc.problems[0]
    assert problem.code
    assert problem.message_zh == exc.message_zh and problem.message_en == exc.message_en
    assert exc.message_zh != BadFile.default_zh and exc.message_en != BadFile.default_en
    return exc


def code_of(exc: BadFile) -> str:
    return exc.problems[0].code


# ------------------------------------------------------------------------------------------
# Happy paths


def test_csv_reads_rows_with_all_keys() -> None:
    data = csv_bytes([HEADER, ROW_A, ROW_B])
    batch = read_batch_file(data, "batch.csv", max_bytes=LIMIT)
    assert isinstance(batch, BatchFile)
    assert batch.file_format == "csv"
    assert batch.filename == "batch.csv"
    assert batch.sha256 == hashlib.sha256(data).hexdigest()
    assert batch.columns == (
        "number",
        "name",
        "id_type",
        "id_number",
        "occupation_code",
        "occupation_name",
        "job",
        "level",
        "issue_date",
    )
    assert batch.rows == [RawRow(2, values(ROW_A)), RawRow(3, values(ROW_B))]
    assert set(batch.rows[0].values) == set(ALL_KEYS)
    assert batch.rows[0].values["issue_form"] == ""


def test_bom_is_accepted_and_hash_covers_raw_bytes() -> None:
    plain = read_batch_file(csv_bytes([HEADER, ROW_A]), "a.csv", max_bytes=LIMIT)
    bom = read_batch_file(csv_bytes([HEADER, ROW_A], bom=True), "a.csv", max_bytes=LIMIT)
    assert bom.rows == plain.rows
    assert bom.columns == plain.columns
    assert bom.sha256 != plain.sha256


def test_cells_are_stripped() -> None:
    row = [f"  {v}\t" if v else v for v in ROW_A]
    batch = read_batch_file(csv_bytes([HEADER, row]), "a.csv", max_bytes=LIMIT)
    assert batch.rows[0].values == values(ROW_A)


def test_csv_and_xlsx_give_the_same_rows() -> None:
    header = [*HEADER, "成绩"]
    csv_rows = [header, [*ROW_A, "85"], [*ROW_B, "92.5"]]
    xlsx_rows: list[Sequence[object]] = [
        header,
        [*ROW_A[:8], dt.date(2022, 6, 30), 85],
        [*ROW_B[:6], None, ROW_B[7], dt.datetime(2022, 7, 1), 92.5],
    ]
    from_csv = read_batch_file(csv_bytes(csv_rows), "a.csv", max_bytes=LIMIT)
    from_xlsx = read_batch_file(xlsx_bytes(xlsx_rows), "a.xlsx", max_bytes=LIMIT)
    assert from_xlsx.file_format == "xlsx"
    assert from_xlsx.columns == from_csv.columns
    assert from_xlsx.rows == from_csv.rows
    assert from_xlsx.rows[0].values["issue_date"] == "2022-06-30"
    assert from_xlsx.rows[0].values["score"] == "85"


def test_xlsx_numbers_lose_the_float_tail() -> None:
    # An ID typed as a number comes back as Excel rounded it; no ".0" and no exponent.
    rows: list[Sequence[object]] = [HEADER, [*ROW_A[:3], 1.10105194912310e17, *ROW_A[4:7], 4, ROW_A[8]]]
    batch = read_batch_file(xlsx_bytes(rows), "a.xlsx", max_bytes=LIMIT)
    assert batch.rows[0].values["id_number"] == "110105194912310000"
    assert batch.rows[0].values["level"] == "4"


def test_xlsx_issue_date_serial_without_date_format_becomes_a_date() -> None:
    rows: list[Sequence[object]] = [HEADER, [*ROW_A[:8], 44742]]
    batch = read_batch_file(xlsx_bytes(rows), "a.xlsx", max_bytes=LIMIT)
    assert batch.rows[0].values["issue_date"] == "2022-06-30"


def test_xlsx_wrong_dimension_tag_does_not_drop_rows() -> None:
    data = xlsx_bytes([HEADER, ROW_A, ROW_B])
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                body = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', body)
            dst.writestr(info.filename, body)
    batch = read_batch_file(out.getvalue(), "a.xlsx", max_bytes=LIMIT)
    assert [r.line for r in batch.rows] == [2, 3]


def test_xlsx_is_detected_by_content_not_name() -> None:
    batch = read_batch_file(xlsx_bytes([HEADER, ROW_A]), "upload.csv", max_bytes=LIMIT)
    assert batch.file_format == "xlsx"
    assert batch.rows == [RawRow(2, values(ROW_A))]


def test_template_csv_reads_back() -> None:
    text = template_csv()
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines[0].split(",") == [c.header_zh for c in COLUMNS]
    batch = read_batch_file(text.encode("utf-8-sig"), "template.csv", max_bytes=LIMIT)
    assert batch.columns == ALL_KEYS
    (row,) = batch.rows
    assert row.line == 2
    assert parse_level(row.values["level"]) == 4
    assert parse_issue_date(row.values["issue_date"]) == dt.date(2022, 6, 30)
    assert row.values["id_type"] in ID_TYPES
    assert normalize_job(row.values["job"]) == "--"


def test_tab_separated_files() -> None:
    text = "\n".join("\t".join(r) for r in (HEADER, ROW_A)) + "\n"
    for name in ("a.tsv", "a.csv", "a.txt"):
        batch = read_batch_file(text.encode(), name, max_bytes=LIMIT)
        assert batch.rows == [RawRow(2, values(ROW_A))]


# ------------------------------------------------------------------------------------------
# Headers


def test_english_headers_are_accepted() -> None:
    header = [
        "Certificate No.",
        "Name",
        "ID Type",
        "ID No.",
        "Occupation Code",
        "Occupation",
        "Job",
        "Skill Level",
        "Issue Date",
    ]
    batch = read_batch_file(csv_bytes([header, ROW_A]), "a.csv", max_bytes=LIMIT)
    assert batch.rows == [RawRow(2, values(ROW_A))]


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("工种", "job"),
        ("职业方向", "job"),
        ("工种 / 职业方向", "job"),
        ("工种／职业方向", "job"),
        ("工种（职业方向）", "job"),
        ("项目名称", "occupation_name"),
        ("＊证书编号（必填）", "number"),
        ("发证日期(YYYY-MM-DD)", "issue_date"),
        ("id_number", "id_number"),
        ("身份证号", "id_number"),
        ("CERTIFICATE NUMBER", "number"),
        ("印制流水码", "print_serial"),
    ],
)
def test_header_variants(spelling: str, key: str) -> None:
    header = [*HEADER, "印制流水码"]
    position = header.index(COLUMNS_BY_KEY[key].header_zh)
    header[position] = spelling
    row = [*ROW_A, "No.1"]
    batch = read_batch_file(csv_bytes([header, row]), "a.csv", max_bytes=LIMIT)
    assert key in batch.columns
    assert batch.rows[0].values[key] == row[position]


def test_every_header_spelling_maps_to_one_column() -> None:
    seen: dict[str, str] = {}
    fold = re.compile(r"[\s_.:\-*]+")
    for col in COLUMNS:
        for spelling in col.headers:
            token = fold.sub("", spelling.lower())
            assert seen.setdefault(token, col.key) == col.key, spelling


def test_columns_contract() -> None:
    assert ALL_KEYS == (
        "number",
        "name",
        "id_type",
        "id_number",
        "occupation_code",
        "occupation_name",
        "job",
        "level",
        "issue_date",
        "issue_form",
        "print_serial",
        "assessment_method",
        "photo_ref",
        "gender",
        "education",
        "score",
        "institution_name",
    )
    required = {c.key for c in COLUMNS if c.required}
    assert required == {"number", "name", "id_type", "id_number", "occupation_name", "issue_date"}
    assert {c.key for c in COLUMNS if c.required_for_skill} == {"occupation_code", "level"}
    assert COLUMNS_BY_KEY["job"].header_zh == "工种/职业方向"
    assert "项目名称" in COLUMNS_BY_KEY["occupation_name"].aliases
    assert all(c.help_zh and c.help_en for c in COLUMNS)


def test_unknown_columns_are_ignored() -> None:
    header = ["序号", *HEADER, "备注"]
    row = ["1", *ROW_A, "补考"]
    batch = read_batch_file(csv_bytes([header, row]), "a.csv", max_bytes=LIMIT)
    assert "备注" not in batch.rows[0].values
    assert batch.rows == [RawRow(2, values(ROW_A))]


def test_missing_columns_are_listed_all_at_once() -> None:
    exc = refused(csv_bytes([["姓名", "职业编码", "备注"], ["张三", "6-18-01-01", ""]]), "a.csv")
    problem = exc.problems[0]
    assert problem.code == "missing_columns"
    missing = ["number", "id_type", "id_number", "occupation_name", "issue_date"]
    assert exc.details["missing"] == missing
    assert problem.column == ",".join(missing)
    assert problem.line == 1
    for key in missing:
        col = COLUMNS_BY_KEY[key]
        assert col.header_zh in exc.message_zh
        assert key in exc.message_en
        assert all(alias in exc.message_en for alias in col.aliases)
        assert exc.details["accepted_headers"][key] == list(col.headers)
    assert "姓名" not in exc.message_zh.split("。")[0]


def test_duplicate_columns_are_refused() -> None:
    header = [*HEADER[:6], "工种", "职业方向", *HEADER[7:]]
    row = [*ROW_A[:6], "数控车工", "", *ROW_A[7:]]
    exc = refused(csv_bytes([header, row]), "a.csv")
    assert code_of(exc) == "duplicate_columns"
    assert exc.problems[0].column == "G,H"
    assert "工种/职业方向" in exc.message_zh
    assert exc.details["duplicates"] == {"job": ["G", "H"]}

    same_twice = refused(csv_bytes([[*HEADER, "姓名"], [*ROW_A, "张三"]]), "a.csv")
    assert code_of(same_twice) == "duplicate_columns"
    assert same_twice.problems[0].column == "B,J"


def test_header_row_missing() -> None:
    exc = refused(csv_bytes([ROW_A, ROW_B]), "a.csv")
    assert code_of(exc) == "header_missing"
    assert exc.problems[0].line == 1
    assert "证书编号" in exc.message_zh


def test_title_row_above_the_header_is_tolerated() -> None:
    rows = [["2022 年第二批职业技能等级认定结果"] + [""] * 8, HEADER, ROW_A]
    batch = read_batch_file(csv_bytes(rows), "a.csv", max_bytes=LIMIT)
    assert batch.rows == [RawRow(3, values(ROW_A))]


def test_data_row_above_the_header_is_not_swallowed() -> None:
    exc = refused(csv_bytes([ROW_B, HEADER, ROW_A]), "a.csv")
    assert code_of(exc) == "header_missing"


def test_special_certificates_may_omit_skill_columns() -> None:
    header = ["证书编号", "姓名", "性别", "文化程度", "证件类型", "身份证号", "项目名称", "成绩", "发证日期"]
    row = [
        "211601500100001",
        "王五",
        "男",
        "高中",
        "居民身份证",
        "11010519491231002X",
        "面点制作",
        "85",
        "2021-05-06",
    ]
    batch = read_batch_file(csv_bytes([header, row]), "zx.csv", max_bytes=LIMIT)
    got = batch.rows[0].values
    assert got["occupation_name"] == "面点制作"
    assert got["level"] == "" and got["occupation_code"] == ""
    assert got["gender"] == "男" and got["score"] == "85"


def test_skill_numbers_need_the_skill_columns() -> None:
    header = ["证书编号", "姓名", "证件类型", "证件号码", "职业名称", "发证日期"]
    rows = [
        header,
        ["211601500100001", "王五", "居民身份证", "x", "面点制作", "2021-05-06"],
        ROW_A[:4] + ROW_A[5:6] + ROW_A[8:],
    ]
    exc = refused(csv_bytes(rows), "a.csv")
    assert code_of(exc) == "missing_columns"
    assert exc.details["missing"] == ["occupation_code", "level"]
    assert "第 3 行" in exc.message_zh
    assert "职业编码" in exc.message_zh and "职业技能等级" in exc.message_zh


# ------------------------------------------------------------------------------------------
# Blank rows and line numbers


def test_blank_rows_are_skipped_but_counted() -> None:
    text = "\r\n".join(
        [
            ",".join(HEADER),
            "",
            ",".join(ROW_A),
            ",,,,,,,,",
            "  ,\t, ,,,,,,",
            ",".join(ROW_B),
            "",
        ]
    )
    batch = read_batch_file(text.encode(), "a.csv", max_bytes=LIMIT)
    assert [r.line for r in batch.rows] == [3, 6]


def test_row_with_data_only_in_ignored_columns_is_kept() -> None:
    rows = [[*HEADER, "备注"], [*ROW_A, ""], [""] * 9 + ["合计 1 人"]]
    batch = read_batch_file(csv_bytes(rows), "a.csv", max_bytes=LIMIT)
    assert [r.line for r in batch.rows] == [2, 3]
    assert not any(batch.rows[1].values.values())


def test_short_rows_are_padded() -> None:
    rows = [HEADER, ROW_A[:3]]
    batch = read_batch_file(csv_bytes(rows), "a.csv", max_bytes=LIMIT)
    assert batch.rows[0].values["id_number"] == ""
    assert batch.rows[0].values["name"] == "张三"


def test_quoted_newline_counts_as_one_spreadsheet_row() -> None:
    text = (
        ",".join(HEADER) + "\n" + ",".join(ROW_A).replace("张三", '"张\n三"') + "\n" + ",".join(ROW_B) + "\n"
    )
    batch = read_batch_file(text.encode(), "a.csv", max_bytes=LIMIT)
    assert [r.line for r in batch.rows] == [2, 3]
    assert batch.rows[0].values["name"] == "张\n三"


def test_xlsx_blank_rows_keep_excel_row_numbers() -> None:
    rows: list[Sequence[object]] = [HEADER, ROW_A, [], [None, "  "], ROW_B]
    batch = read_batch_file(xlsx_bytes(rows), "a.xlsx", max_bytes=LIMIT)
    assert [r.line for r in batch.rows] == [2, 5]


# ------------------------------------------------------------------------------------------
# Refusals


def test_gbk_csv_is_detected() -> None:
    exc = refused(csv_bytes([HEADER, ROW_A], encoding="gbk"), "a.csv")
    assert code_of(exc) == "encoding_gbk"
    assert "文件是 GBK 编码，请另存为 UTF-8" in exc.message_zh
    assert "The file is GBK-encoded; save it as UTF-8 (CSV UTF-8)" in exc.message_en
    assert exc.problems[0].line == 1


def test_gbk_line_number_points_at_the_first_bad_byte() -> None:
    ascii_header = ["number", "name", "id_type", "id_number", "occupation_name", "issue_date"]
    good = ["Y000041010012224000007", "Zhang", "x", "1", "x", "2022-06-30"]
    data = csv_bytes([ascii_header, good]) + csv_bytes([[*good[:1], "张三", *good[2:]]], encoding="gbk")
    exc = refused(data, "a.csv")
    assert code_of(exc) == "encoding_gbk"
    assert exc.problems[0].line == 3
    assert "第 3 行" in exc.message_zh


def test_other_encodings() -> None:
    not_utf8 = refused(b"number,name\n\xff\xfe\xfd\n", "a.csv")
    assert code_of(not_utf8) == "encoding_not_utf8"
    assert not_utf8.problems[0].line == 2
    utf16 = refused(("\ufeff" + ",".join(HEADER)).encode("utf-16-le"), "a.csv")
    assert code_of(utf16) == "encoding_utf16"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b",,,\n  \n"])
def test_empty_file(data: bytes) -> None:
    assert code_of(refused(data, "a.csv")) == "empty_file"


def test_header_only() -> None:
    exc = refused(csv_bytes([HEADER]), "a.csv")
    assert code_of(exc) == "no_data_rows"
    assert code_of(refused(csv_bytes([HEADER, [""] * 9, []]), "a.csv")) == "no_data_rows"
    assert code_of(refused(xlsx_bytes([HEADER]), "a.xlsx")) == "no_data_rows"


def test_too_large() -> None:
    data = csv_bytes([HEADER, ROW_A])
    with pytest.raises(FileTooLarge) as info:
        read_batch_file(data + b" " * (MB + 1), "a.csv", max_bytes=MB)
    exc = info.value
    assert exc.reason == "file_too_large"
    assert isinstance(exc, BadFile)
    assert exc.problems[0].code == "file_too_large"
    assert "1 MB" in exc.message_zh and "1 MB" in exc.message_en
    assert "1.0 MB" in exc.message_en or "1.1 MB" in exc.message_en
    assert exc.details["max_bytes"] == MB
    # Exactly at the limit is fine.
    read_batch_file(data, "a.csv", max_bytes=len(data))


def test_legacy_xls_is_refused_by_content() -> None:
    ole = bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 512
    for name in ("a.xls", "a.xlsx", "a.csv"):
        exc = refused(ole, name)
        assert code_of(exc) == "xls_not_supported"
        assert ".xlsx" in exc.message_zh and "CSV UTF-8" in exc.message_zh
        assert "save as .xlsx or CSV UTF-8" in exc.message_en


def test_random_bytes_named_xlsx() -> None:
    noise = bytes(range(256)) * 8
    assert code_of(refused(noise, "a.xlsx")) == "bad_xlsx"
    assert code_of(refused(b"PK\x03\x04" + noise, "a.xlsx")) == "bad_xlsx"


def test_zip_that_is_not_a_workbook() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert code_of(refused(buf.getvalue(), "a.xlsx")) == "bad_xlsx"

    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office/>")
    assert code_of(refused(ods.getvalue(), "a.ods")) == "unsupported_type"


def test_damaged_workbook_part() -> None:
    data = xlsx_bytes([HEADER, ROW_A])
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                body = body[: len(body) // 2]
            dst.writestr(info.filename, body)
    assert code_of(refused(out.getvalue(), "a.xlsx")) == "bad_xlsx"


def test_zip_bomb_is_refused_before_openpyxl() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b" " * (30 * MB))
    data = buf.getvalue()
    assert len(data) < MB
    with pytest.raises(FileTooLarge) as info:
        read_batch_file(data, "bomb.xlsx", max_bytes=MB)
    assert info.value.problems[0].code == "xlsx_expands_too_large"
    assert info.value.details["limit_bytes"] == 20 * MB


def test_unsupported_extension() -> None:
    exc = refused(b"%PDF-1.7\n", "a.pdf")
    assert code_of(exc) == "unsupported_type"
    assert exc.problems[0].found == ".pdf"
    assert code_of(refused(csv_bytes([HEADER, ROW_A]), "noextension")) == "unsupported_type"


def test_malformed_csv() -> None:
    # An unterminated quote swallows the rest of the file into one enormous field.
    text = ",".join(HEADER) + '\n"' + "x" * 200_000 + "\n"
    exc = refused(text.encode(), "a.csv")
    assert code_of(exc) == "bad_csv"


def test_gc_state_is_restored() -> None:
    assert gc.isenabled()
    read_batch_file(csv_bytes([HEADER, ROW_A]), "a.csv", max_bytes=LIMIT)
    assert gc.isenabled()
    refused((",".join(HEADER) + '\n"' + "x" * 200_000).encode(), "a.csv")
    assert gc.isenabled()
    gc.disable()
    try:
        read_batch_file(csv_bytes([HEADER, ROW_A]), "a.csv", max_bytes=LIMIT)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ------------------------------------------------------------------------------------------
# parse_issue_date


@pytest.mark.parametrize(
    "text",
    [
        "2022-06-30",
        "2022/06/30",
        "2022/6/30",
        "2022.06.30",
        "2022.6.30",
        "2022年6月30日",
        "2022年06月30日",
        "2022 年 6 月 30 日",
        "20220630",
        " 2022-06-30 ",
        "2022-06-30 00:00:00",
        "2022/6/30 0:00",
        "２０２２－０６－３０",
    ],
)
def test_parse_issue_date_formats(text: str) -> None:
    assert parse_issue_date(text) == dt.date(2022, 6, 30)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2025-02-30", "日期不存在"),
        ("2024-13-01", "日期不存在"),
        ("2023-02-29", "日期不存在"),
        ("", "为空"),
        ("   ", "为空"),
        ("30/06/2022", "无法识别"),
        ("2022-06", "无法识别"),
        ("22-06-30", "无法识别"),
        ("2022-06-30 下午", "无法识别"),
        ("44742", "无法识别"),
    ],
)
def test_parse_issue_date_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_issue_date(text)
    zh, en = info.value.args
    assert reason in zh
    assert en


def test_parse_issue_date_leap_day() -> None:
    assert parse_issue_date("2024-02-29") == dt.date(2024, 2, 29)


@given(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_parse_issue_date_round_trips(day: dt.date) -> None:
    forms = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month:02d}.{day.day:02d}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
    ]
    for form in forms:
        assert parse_issue_date(form) == day


# ------------------------------------------------------------------------------------------
# parse_level, parse_issue_form, normalize_job


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("一级/高级技师", 1),
        ("一级 / 高级技师", 1),
        ("高级技师", 1),
        ("二级/技师", 2),
        ("技师", 2),
        ("三级/高级工", 3),
        ("三级/高级", 3),
        ("高级工", 3),
        ("四级/中级工", 4),
        ("四级 / 中级工", 4),
        ("四级／中级工", 4),
        ("四级（中级工）", 4),
        ("四级", 4),
        ("中级工", 4),
        ("四级/中级", 4),
        ("4", 4),
        ("４", 4),
        ("4级", 4),
        ("五级/初级工", 5),
        ("五级/初级", 5),
        ("初级工", 5),
        ("5", 5),
        (" 五级 ", 5),
    ],
)
def test_parse_level(text: str, level: int) -> None:
    assert parse_level(text) == level


@pytest.mark.parametrize("text", ["", "  ", "--", "——", "无"])
def test_parse_level_empty(text: str) -> None:
    assert parse_level(text) is None


@pytest.mark.parametrize(
    "text", ["六级", "0", "6", "中级", "高级", "三级/中级工", "四级/高级", "特级技师", "level 4"]
)
def test_parse_level_rejects(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_level(text)
    assert len(info.value.args) == 2


def test_level_names_follow_rule_22() -> None:
    assert LEVEL_TEXTS[1] == "一级 / 高级技师"
    for n, name in LEVEL_TEXTS.items():
        assert parse_level(name) == n


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("", "paper"),
        ("纸质", "paper"),
        (" 纸质证书 ", "paper"),
        ("paper", "paper"),
        ("Paper", "paper"),
        ("电子", "electronic"),
        ("电子证书", "electronic"),
        ("ELECTRONIC", "electronic"),
    ],
)
def test_parse_issue_form(text: str, form: str) -> None:
    assert parse_issue_form(text) == form


def test_parse_issue_form_rejects() -> None:
    with pytest.raises(ValueError) as info:
        parse_issue_form("纸质+电子")
    assert "纸质 或 电子" in info.value.args[0]


@pytest.mark.parametrize("text", ["", "  ", "--", "——", "—", "-", "－－", "―", "无", "/", " -- "])
def test_normalize_job_none(text: str) -> None:
    assert normalize_job(text) == "--"


@pytest.mark.parametrize(
    ("text", "job"), [("数控车工", "数控车工"), ("  焊工 ", "焊工"), ("车工-数控", "车工-数控")]
)
def test_normalize_job_keeps_text(text: str, job: str) -> None:
    assert normalize_job(text) == job


@given(st.text(max_size=12))
def test_normalize_job_is_idempotent(text: str) -> None:
    once = normalize_job(text)
    assert once and normalize_job(once) == once


# ------------------------------------------------------------------------------------------
# Documentation


def test_template_doc_names_every_header() -> None:
    doc = (REPO / "docs" / "BATCH-TEMPLATE.md").read_text(encoding="utf-8")
    for col in COLUMNS:
        assert f"`{col.key}`" in doc, col.key
        for spelling in col.headers:
            assert spelling in doc, spelling
    for code in (
        "file_too_large",
        "xlsx_expands_too_large",
        "empty_file",
        "xls_not_supported",
        "unsupported_type",
        "bad_xlsx",
        "encoding_gbk",
        "encoding_utf16",
        "encoding_not_utf8",
        "bad_csv",
        "header_missing",
        "missing_columns",
        "duplicate_columns",
        "no_data_rows",
    ):
        assert f"`{code}`" in doc, code
    assert "VERIFY_MAX_UPLOAD_MB" in doc
    assert template_csv().splitlines()[0] in doc
