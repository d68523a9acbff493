"""The 河南省专项职业能力证书 on its own A5 landscape page (豫人社办函〔2020〕41号 附件2: "证书规格：
148×210"), and the geometry of both layouts: every text inside the frame, none on another, no ink
near the QR box. Page sizes are read back from the PDF's MediaBox and the PNG's pixels."""

from __future__ import annotations

import io
from dataclasses import replace

import pypdf
import pytest
import zxingcpp
from PIL import Image

from tests.render.geometry import clashes, text_box
from tests.render.test_certificate_page import BASE, LAYOUTS, QR_ONLY, SPECIAL, URL, page_of, pdf_text
from verify.domain import printed as P
from verify.render import certificate, sheet, sheet_special

LONG_NAME = "欧阳娜娜买买提艾力阿不都热合曼"
LONG_PROJECT = "中式面点制作（包子馒头花卷烧卖饺子）"
PARENT = "郑州市中原职业技能评价中心"
# (certificate, parent institution); every one laid out with no clash.
PAGES = {
    "skill, long name": (replace(BASE, holder_name=LONG_NAME), None),
    "skill, 26-character name": (replace(BASE, holder_name="欧" * 26, occupation_name="家", job=""), None),
    "专项": (SPECIAL, None),
    "专项, long name": (replace(SPECIAL, holder_name=LONG_NAME), None),
    "专项, long name and project": (
        replace(SPECIAL, holder_name=LONG_NAME, occupation_name=LONG_PROJECT),
        None,
    ),
    "专项, 26-character name": (replace(SPECIAL, holder_name="欧" * 26, occupation_name="家"), None),
    "专项, rare characters": (replace(SPECIAL, holder_name="𠮷𬌗䶮堃"), None),
    "专项, branch": (replace(SPECIAL, holder_name=LONG_NAME), PARENT),
}
MM = 25.4 / 72


@pytest.mark.parametrize("kind", list(LAYOUTS))
def test_each_layout_has_its_page_size_in_the_pdf_and_the_png(kind: str) -> None:
    cert, (width, height), print_px, phone_px = LAYOUTS[kind]
    page = page_of(cert)
    assert (sheet.layout(page).width, sheet.layout(page).height) == (width, height)
    box = pypdf.PdfReader(io.BytesIO(certificate.render(page, "pdf"))).pages[0].mediabox
    assert (float(box.width) * MM, float(box.height) * MM) == pytest.approx((width, height), abs=0.01)
    for dpi, px in ((certificate.PRINT_DPI, print_px), (certificate.PHONE_DPI, phone_px)):
        assert Image.open(io.BytesIO(certificate.render(page, "png", dpi=dpi))).size == px


def test_the_special_certificate_is_printed_on_a5_landscape() -> None:
    box = pypdf.PdfReader(io.BytesIO(certificate.render(page_of(SPECIAL), "pdf"))).pages[0].mediabox
    assert (round(float(box.width), 1), round(float(box.height), 1)) == (595.3, 419.5)  # 210 × 148 mm
    assert sheet.layout(page_of(SPECIAL)) == sheet_special.layout(page_of(SPECIAL))  # the dispatch
    assert sheet.layout(page_of(BASE)).width == 297.0  # the 职业技能等级证书 stays A4


def test_the_special_page_reads_as_the_sample() -> None:
    page = page_of(SPECIAL)
    text = pdf_text(certificate.render(page, "pdf"))
    for value in (*P.RECORD_SPECIAL, *P.ISSUER_SPECIAL_LABEL, page.title_zh, page.title_en, page.issued_zh):
        assert "".join(value.split()) in text, value
    for f in page.fields:
        for value in (f.label_zh, f.label_en, f.value):
            assert "".join(value.split()) in text, value
    assert "".join(page.body_zh.split()) in text and "证书查询" in text and "http://ha.osta.org.cn" in text
    # the heading and the issuer's label are fixed texts, so the forbidden-words check reads them
    assert {*P.RECORD_SPECIAL, P.ISSUER_SPECIAL_LABEL[0]} <= set(P.fixed_texts(page))
    assert P.RECORD_SPECIAL[0] not in P.fixed_texts(page_of(BASE))


def test_the_special_page_places_what_the_sample_places() -> None:
    layout = sheet.layout(page_of(SPECIAL))
    texts = {i.text: text_box(i) for i in layout.items if isinstance(i, sheet.Text)}
    photo = next(i for i in layout.items if isinstance(i, sheet.PhotoBlock))
    qr = layout.qr
    title, heading = texts[P.TITLE_SPECIAL[0]], texts[P.RECORD_SPECIAL[0]]
    assert title[0] + title[2] == pytest.approx(layout.width, abs=0.01)  # top centre
    assert title[3] < qr.y - sheet.KEEP_OUT_MM and title[3] < photo.y
    assert photo.x + photo.w < qr.x < qr.x + qr.box < heading[0]  # photo, QR, then the record
    assert (photo.w, photo.h, qr.box) == (sheet.PHOTO_W, sheet.PHOTO_H, sheet.QR_BOX_MM)
    name, gender = texts["姓名"], texts["性别"]
    assert name[1] == gender[1] and name[0] < gender[0]  # 姓名 ___ 性别 ___ on one line
    rows = [texts[label][1] for label in ("姓名", "文化程度", "证书编号", "身份证号")]
    assert rows == sorted(rows) and rows[0] > qr.y + qr.box  # the sample's order, under the boxes
    issuer = texts[P.ISSUER_SPECIAL_LABEL[0]]
    assert issuer[0] > max(texts[f.value][2] for f in page_of(SPECIAL).fields)  # on the right
    site = texts["http://ha.osta.org.cn"]
    assert site[2] == pytest.approx(sheet_special.RIGHT) and site[1] > max(b[3] for b in texts.values()) - 5


@pytest.mark.parametrize("case", list(PAGES))
def test_every_item_is_inside_the_frame_and_no_two_texts_overlap(case: str) -> None:
    cert, parent = PAGES[case]
    assert clashes(sheet.layout(page_of(cert, parent))) == []


def test_the_a4_branch_page_has_no_clash_and_the_sites_seal_is_on_the_right() -> None:
    # A 站点's two seal rings sit side by side under the text, clear of the field block and date:
    # the parent's on the left, the 站点's on the right (人社鉴发〔2021〕1号 三（三）).
    page = page_of(BASE, PARENT)
    layout = sheet.layout(page)
    assert clashes(layout) == []
    rings = sorted((i for i in layout.items if isinstance(i, sheet.Circle)), key=lambda c: c.cx)
    names = {i.text: i.x for i in layout.items if isinstance(i, sheet.Text)}
    assert len(rings) == 2 and names[PARENT] == rings[0].cx and names[page.issuer] == rings[1].cx


def test_the_geometry_check_sees_a_clash() -> None:
    layout = sheet.layout(page_of(SPECIAL))
    heading = next(i for i in layout.items if isinstance(i, sheet.Text) and i.text == P.RECORD_SPECIAL[0])
    for moved in (
        replace(heading, y=heading.y + 13),  # onto the record text
        replace(heading, x=layout.width - 2),  # past the frame
        replace(heading, x=layout.qr.x + 15, y=layout.qr.y + 33 + 2),  # into the QR's quiet paper
    ):
        items = tuple(moved if i is heading else i for i in layout.items)
        assert clashes(replace(layout, items=items)), moved


def test_the_special_pages_qr_decodes_from_print_and_as_a_phone_sees_it() -> None:
    image = Image.open(io.BytesIO(certificate.render(page_of(SPECIAL), "png"))).convert("L")
    assert [d.text for d in zxingcpp.read_barcodes(image, formats=QR_ONLY)] == [URL]
    # downscaled to a phone photo's width of the A5 card and turned a little
    phone = image.resize((1200, round(1200 * image.height / image.width)), Image.Resampling.BILINEAR)
    for angle in (-4, 3):
        turned = phone.rotate(angle, expand=True, fillcolor=255)
        assert [d.text for d in zxingcpp.read_barcodes(turned, formats=QR_ONLY)] == [URL], angle
