"""Photos matched by a list inside the archive (a 照片文件 column beside 证书编号 or 证件号码), by
their own names otherwise; every problem of the list named, and nothing kept when one is found."""

from __future__ import annotations

import io

import openpyxl
import pytest

from tests.factories import zip_of
from verify.domain.errors import BadFile
from verify.files.photo_archive import read_photo_archive

NUMBER = "Y000041010012224000007"
ID = "41010519900307002X"


def _codes(exc: pytest.ExceptionInfo[BadFile]) -> set[str]:
    return {p.code for p in exc.value.problems}


def test_files_are_named_by_their_own_number_without_a_list() -> None:
    files = read_photo_archive(zip_of({f"a/{NUMBER.lower()}.jpg": b"x", f"{ID}.png": b"y"}), "p.zip")
    assert {f.key for f in files} == {NUMBER, ID}


def test_a_csv_list_names_whose_each_photo_is() -> None:
    listing = f"姓名,证书编号,照片文件\n张三,{NUMBER},IMG_0412.JPG\n".encode()
    files = read_photo_archive(
        zip_of({"list.csv": listing, "photos/img_0412.jpg": b"x", f"{ID}.jpg": b"y"}), "p.zip"
    )
    assert {f.name: f.key for f in files} == {"photos/img_0412.jpg": NUMBER, f"{ID}.jpg": ID}


def test_the_batch_file_itself_with_a_photo_column_is_a_list_and_gb18030_is_read() -> None:
    # A title row above the header, the ID column instead of the number, GB18030 from an old system.
    listing = f"2026年第一批\n姓名,证件号码,照片\n李四,{ID.lower()},李四.png\n".encode("gb18030")
    files = read_photo_archive(zip_of({"批次.csv": listing, "李四.png": b"x"}), "p.zip")
    assert [(f.name, f.key) for f in files] == [("李四.png", ID)]


def test_an_xlsx_list_is_read() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["证书编号", "照片文件名"])
    sheet.append([NUMBER, "dsc01.jpeg"])
    data = io.BytesIO()
    book.save(data)
    files = read_photo_archive(zip_of({"list.xlsx": data.getvalue(), "DSC01.jpeg": b"x"}), "p.zip")
    assert [f.key for f in files] == [NUMBER]


@pytest.mark.parametrize(
    ("entries", "codes"),
    [
        ({"list.csv": b"name,photo\nx,a.jpg\n", "a.jpg": b"x"}, {"photo_list_header"}),
        ({"list.csv": f"证书编号,照片文件\n{NUMBER},a.jpg\n,b.jpg\n".encode(), "a.jpg": b"x"}, {"photo_list_row"}),
        ({"list.csv": f"证书编号,照片文件\n{NUMBER},a.jpg\n{ID},A.JPG\n".encode(), "a.jpg": b"x"},
         {"photo_list_duplicate"}),
        ({"list.csv": f"证书编号,照片文件\n{NUMBER},gone.jpg\n".encode(), "a.jpg": b"x"}, {"photo_list_missing_file"}),
        ({"list.csv": f"证书编号,照片文件\n{NUMBER},a.jpg\n".encode(), "a.jpg": b"x", f"{NUMBER}.png": b"y"},
         {"photo_duplicate"}),
        ({"one.csv": b"", "two.xlsx": b"", "a.jpg": b"x"}, {"photo_list_several"}),
    ],
    ids=["no header", "row without number", "file listed twice", "listed file missing", "two photos one holder",
         "two lists"],
)  # fmt: skip
def test_every_problem_of_a_list_is_refused(entries: dict[str, bytes], codes: set[str]) -> None:
    with pytest.raises(BadFile) as exc:
        read_photo_archive(zip_of(entries), "p.zip")
    assert _codes(exc) == codes
