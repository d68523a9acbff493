"""verify.files.roster: reading the roster filed before an assessment (rule 34).

Every fixture file is built here, in memory, as in tests/unit/test_batchfile.py.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace

import openpyxl
import pytest

from verify.domain.errors import BadFile, FileTooLarge
from verify.files.roster import ROSTER_LIMITS, ROSTER_MAX_ROWS, read_roster

LIMIT = 10 * 1024 * 1024
ID_A = "11010519491231002X"
ID_B = "410105199003140216"
ROWS = [["序号", "姓名", "证件类型", "证件号码"], ["1", "张三", "居民身份证", ID_A], ["2", "李四", "", ID_B]]
EXPECTED = [(2, "居民身份证", ID_A), (3, "", ID_B)]


def csv_bytes(rows: Sequence[Sequence[str]], *, encoding: str = "utf-8", bom: bool = False) -> bytes:
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


def refused(data: bytes, filename: str = "名单.csv", max_bytes: int = LIMIT) -> BadFile:
    with pytest.raises(BadFile) as info:
        read_roster(data, filename, max_bytes=max_bytes)
    assert len(info.value.problems) == 1
    assert info.value.message_zh and info.value.message_en
    return info.value


def test_rule_34_roster_csv_utf8() -> None:
    assert read_roster(csv_bytes(ROWS), "名单.csv", max_bytes=LIMIT) == EXPECTED


def test_rule_34_roster_csv_with_bom() -> None:
    assert read_roster(csv_bytes(ROWS, bom=True), "名单.csv", max_bytes=LIMIT) == EXPECTED


def test_rule_34_roster_csv_gb18030() -> None:
    data = csv_bytes(ROWS, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the fixture really is not UTF-8
    assert read_roster(data, "名单.csv", max_bytes=LIMIT) == EXPECTED


def test_rule_34_roster_csv_gbk_is_read_as_gb18030() -> None:
    assert read_roster(csv_bytes(ROWS, encoding="gbk"), "roster.txt", max_bytes=LIMIT) == EXPECTED


def test_rule_34_roster_xlsx() -> None:
    assert read_roster(xlsx_bytes(ROWS), "名单.xlsx", max_bytes=LIMIT) == EXPECTED


def test_rule_34_roster_xlsx_with_a_title_row_and_numeric_ids() -> None:
    # A number cell comes back as its digits (an 18-digit one is already rounded by Excel: the
    # caller's ID validation rejects it, as for a batch).
    rows: list[list[object]] = [
        ["2024 年第一批考核人员名单"],
        [],
        ["姓名", "身份证号"],
        ["王五", 410105900314021],
    ]
    assert read_roster(xlsx_bytes(rows), "名单.xlsx", max_bytes=LIMIT) == [(4, "", "410105900314021")]


def test_rule_34_roster_accepts_the_id_aliases_alone() -> None:
    for header in ("证件号码", "身份证号", "身份证号码", "id_number", "ID Number"):
        assert read_roster(csv_bytes([[header], [ID_A]]), "r.csv", max_bytes=LIMIT) == [(2, "", ID_A)], header
    assert read_roster(
        csv_bytes([["id_type", "id_number"], ["护照", "E12345678"]]), "r.csv", max_bytes=LIMIT
    ) == [(2, "护照", "E12345678")]


def test_rule_34_roster_blank_rows_skipped_but_counted_and_blank_ids_kept() -> None:
    rows = [["姓名", "证件号码"], ["张三", f"  {ID_A} "], ["", ""], ["李四", ""], ["", " "], ["王五", ID_B]]
    assert read_roster(csv_bytes(rows), "r.csv", max_bytes=LIMIT) == [
        (2, "", ID_A),
        (4, "", ""),
        (6, "", ID_B),
    ]


def test_rule_34_roster_missing_id_column() -> None:
    err = refused(csv_bytes([["姓名", "证件类型"], ["张三", "居民身份证"]]))
    (problem,) = err.problems
    assert problem.code == "missing_columns"
    assert problem.column == "id_number"
    assert "证件号码" in err.message_zh and "id_number" in err.message_en


def test_rule_34_roster_without_any_known_header() -> None:
    err = refused(csv_bytes([["姓名", "电话"], ["张三", "13800000000"]]))
    assert err.problems[0].code == "header_missing"
    assert "证件号码" in err.message_zh


def test_rule_34_roster_duplicate_id_columns() -> None:
    err = refused(csv_bytes([["证件号码", "身份证号"], [ID_A, ID_A]]))
    assert err.problems[0].code == "duplicate_columns"


def test_rule_34_roster_header_only() -> None:
    assert refused(csv_bytes([["证件号码"]])).problems[0].code == "no_data_rows"


def test_rule_34_roster_empty_and_unsupported_files() -> None:
    assert refused(b"").problems[0].code == "empty_file"
    assert refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "名单.xls").problems[0].code == (
        "xls_not_supported"
    )
    assert refused(b"%PDF-1.7", "名单.pdf").problems[0].code == "unsupported_type"
    assert refused("证件号码\r\n".encode("utf-16"), "名单.csv").problems[0].code == "encoding_utf16"


def test_rule_34_roster_neither_utf8_nor_gb18030() -> None:
    err = refused("证件号码\r\n".encode() + b"\x80\xff\r\n")
    assert err.problems[0].code == "encoding_unknown"


def test_rule_34_roster_too_large() -> None:
    data = csv_bytes(ROWS)
    with pytest.raises(FileTooLarge) as info:
        read_roster(data, "名单.csv", max_bytes=len(data) - 1)
    assert info.value.problems[0].code == "file_too_large"
    assert info.value.message_zh and info.value.message_en


def test_rule_34_roster_too_many_rows() -> None:
    assert ROSTER_LIMITS.max_rows == ROSTER_MAX_ROWS == 100_000
    small = replace(ROSTER_LIMITS, max_rows=3)
    ok = csv_bytes([["证件号码"], *([ID_A] for _ in range(3))])
    assert len(read_roster(ok, "r.csv", max_bytes=LIMIT, limits=small)) == 3
    for data, name in ((csv_bytes([["证件号码"], *([ID_A] for _ in range(4))]), "r.csv"),
                       (xlsx_bytes([["证件号码"], *([ID_A] for _ in range(4))]), "r.xlsx")):  # fmt: skip
        with pytest.raises(FileTooLarge) as info:
            read_roster(data, name, max_bytes=LIMIT, limits=small)
        assert info.value.problems[0].code == "too_many_rows"


def test_rule_34_roster_of_100000_rows_is_read() -> None:
    data = ("证件号码\r\n" + f"{ID_A}\r\n" * ROSTER_MAX_ROWS).encode()
    assert len(read_roster(data, "r.csv", max_bytes=LIMIT)) == ROSTER_MAX_ROWS
    with pytest.raises(FileTooLarge):
        read_roster(data + f"{ID_B}\r\n".encode(), "r.csv", max_bytes=LIMIT)
