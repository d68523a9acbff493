"""The printed certificate page without a database: words, fonts, QR size, both renderers.

Cases the issue names: a long name, a middle dot, rare characters from the supplementary planes, a
missing 工种, a branch-issued certificate and a 专项 certificate. Text is read back from the PDF
with pypdf; the QR's size is measured from the PDF's drawing operators and from the PNG's pixels.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date
from typing import Any

import pypdf
import pytest
import zxingcpp
from PIL import Image

from verify.domain import printed as P
from verify.domain.certificate import Certificate
from verify.domain.codes import CodeKind
from verify.domain.holder_ids import IdType
from verify.render import certificate, fonts, sheet

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
URL = (
    "HTTP://127.0.0.1:8000/C/"
    + "CTQCOAAASGZGHCH7RJAQF53CH3PCKHBKA3SLXO7EXC4Q7ZVRXXUL3JXHXO2OJP5O4W32KFPGW" * 2
)
RARE = ["𬌗", "䶮", "𠮷", "堃", "喆", "昇", "頔", "𪚥", "犇", "淼"]

BASE = Certificate(
    number="Y000041010001243000123", kind=CodeKind.SKILL_LEVEL, holder_name="张伟", name_key="张伟",
    id_type=IdType.RESIDENT, id_index=b"", id_cipher=b"", id_tail="002X", occupation_code="6-31-01-03",
    occupation_name="工业机器人系统运维员", job="工业机器人装调", level=4, issue_date=date(2026, 11, 3),
    print_serial="88888888",
)  # fmt: skip
SPECIAL = replace(
    BASE, number="231601500100001", kind=CodeKind.SPECIAL_ABILITY, occupation_code="", occupation_name="家居清洁",
    job="--", level=None, extra={"gender": "女", "education": "高中", "score": "合格"},
)  # fmt: skip
CASES = {
    "long name": (replace(BASE, holder_name="欧阳娜娜买买提艾力阿不都热合曼"), None),
    "middle dot": (replace(BASE, holder_name="迪丽热巴·迪力木拉提"), None),
    "rare characters": (replace(BASE, holder_name="𠮷𬌗䶮堃"), None),
    "no 工种": (replace(BASE, job=""), None),
    "branch": (BASE, "郑州市中原职业技能评价中心"),
    "专项": (SPECIAL, None),
}


def page_of(cert: Certificate, parent: str | None = None, *, id_number: str | None = None) -> P.Printed:
    return P.printed(
        cert, issuer="郑州市中原职业技能评价中心金水站点" if parent else "郑州市中原职业技能评价中心",
        parent_issuer=parent, id_number=id_number, qr_url=URL, certificate_site="http://jndj.osta.org.cn",
        institution_site="http://pjjg.osta.org.cn", province_site="http://ha.osta.org.cn",
    )  # fmt: skip


def pdf_text(data: bytes) -> str:
    # A change of face (a rare character in HanaMin inside a Kai name) starts a new text run, which
    # pypdf reports on a line of its own: compare without whitespace.
    return "".join(pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text().split())


@pytest.mark.parametrize("case", list(CASES))
def test_every_field_is_in_the_pdf_text(case: str) -> None:
    cert, parent = CASES[case]
    page = page_of(cert, parent)
    text = pdf_text(certificate.render(page, "pdf"))
    for f in page.fields:
        for value in (f.label_zh, f.label_en, f.value):
            assert "".join(value.split()) in text, (case, value)
    for value in (page.title_zh, page.issued_zh, page.issuer, *(s.value for s in page.sites)):
        assert "".join(value.split()) in text, (case, value)
    assert f"No.{cert.print_serial}" in text
    if parent:
        assert parent in text  # the parent's seal on the left, the 站点's on the right


def test_rule_21_and_22_the_printed_page_fills_job_and_level_as_the_style_asks() -> None:
    skill = {f.label_zh: f.value for f in page_of(replace(BASE, job="")).fields}
    assert skill["工种/职业方向"] == "--"  # rule 21: never left empty
    assert skill["职业技能等级"] == "四级/中级工"  # 中文数字 + 级 / 等级名称
    assert skill["证件号码"] == "**************002X"  # a public copy masks
    full = {f.label_zh: f.value for f in page_of(BASE, id_number="41010519900307002X").fields}
    assert full["证件号码"] == "41010519900307002X"  # the print run follows the style
    special = page_of(SPECIAL)
    assert special.title_zh == "河南省专项职业能力证书" and "职业技能等级" not in {
        f.label_zh for f in special.fields
    }
    assert "成绩合格" in special.body_zh


@pytest.mark.parametrize("case", list(CASES))
def test_the_style_never_uses_a_forbidden_word(case: str) -> None:
    cert, parent = CASES[case]
    page = page_of(cert, parent)
    for text in P.fixed_texts(page):
        assert not [w for w in P.FORBIDDEN_WORDS if w in text], text
    # the check sees a violation: a forbidden word in a label is found
    assert [w for w in P.FORBIDDEN_WORDS if w in "全国职业资格证书"]


def test_no_character_of_a_demo_or_rare_name_falls_to_a_box() -> None:
    names = ["任丹", "曾梅", "欧阳娜娜", "迪丽热巴·迪力木拉提", *RARE, "".join(RARE)]
    for name in names:
        assert fonts.missing(name) == [], name
    # every character of every page's texts has a face; a character none has is refused, not boxed
    for cert, parent in CASES.values():
        for item in sheet.layout(page_of(cert, parent)).items:
            if isinstance(item, sheet.Text):
                assert fonts.missing(item.text, item.role) == [], item.text
    assert fonts.missing("\U0010fffd") == ["\U0010fffd"]
    with pytest.raises(ValueError, match="no font has"):
        certificate.render(page_of(replace(BASE, holder_name="张\U0010fffd")), "pdf")


def test_rare_characters_are_drawn_from_the_fallback_face() -> None:
    assert fonts.face_for("张", "kai") is fonts.KAI
    assert fonts.face_for("𠮷", "kai") in (fonts.HANA_A, fonts.HANA_B)  # UKai has no Extension B
    assert fonts.face_for("A", "serif") is fonts.SERIF


def test_fonts_are_embedded_as_subsets() -> None:
    data = certificate.render(page_of(*CASES["rare characters"]), "pdf")
    reader = pypdf.PdfReader(io.BytesIO(data))
    resources: Any = reader.pages[0]["/Resources"]["/Font"]  # type: ignore[index]
    names = {str(resources[k].get_object()["/BaseFont"]) for k in resources}
    # reportlab names a subset AAAAAA+Face: every face is a subset, and the fallback is among them
    assert names and all(re.fullmatch(r"/[A-Z]{6}\+[\w-]+", n) for n in names), names
    assert any("HanaMin" in n for n in names)
    assert len(data) < 400_000  # subsets, not 17-30 MB font files


@pytest.mark.parametrize("version", range(1, 11))
def test_rule_65_the_qr_box_is_30_mm_with_modules_of_at_least_half_a_mm(version: int) -> None:
    modules = 17 + 4 * version
    dots, module = sheet.qr_geometry(modules)
    assert module >= 0.5  # every symbol the budget (version 10-M, rule 65) allows
    assert modules * module + 2 * module <= sheet.QR_BOX_MM  # at least one module inside the box
    assert dots * 25.4 / 300 == pytest.approx(module)


# Each layout's page size: mm, and px at the print and the phone resolution.
LAYOUTS = {
    "skill": (BASE, (297.0, 210.0), (3508, 2480), (1754, 1240)),  # A4 landscape
    "专项": (SPECIAL, (210.0, 148.0), (2480, 1748), (1240, 874)),  # A5 landscape
}


@pytest.mark.parametrize("kind", list(LAYOUTS))
def test_rule_65_the_qr_measures_30_mm_in_the_pdf_operators(kind: str) -> None:
    page = sheet.layout(page_of(LAYOUTS[kind][0]))
    data = certificate.render_pdf(page, title="t")
    contents = pypdf.PdfReader(io.BytesIO(data)).pages[0].get_contents()
    assert contents is not None
    ops = contents.get_data().decode("latin-1")
    rects = [tuple(map(float, r)) for r in re.findall(r"([\d.\-]+) ([\d.\-]+) ([\d.\-]+) ([\d.\-]+) re", ops)]
    mm = 25.4 / 72
    boxes = [r for r in rects if abs(r[2] * mm - 30) <= 0.3 and abs(r[3] * mm - 30) <= 0.3]
    assert len(boxes) == 1  # the QR box, quiet zone included
    bx, by, bw, _ = boxes[0]
    inside = [r for r in rects if bx < r[0] < bx + bw and by < r[1] < by + bw and r[3] < 2]
    assert inside  # the modules, as vector squares
    left = min(r[0] for r in inside)
    right = max(r[0] + r[2] for r in inside)
    n = len(page.qr.symbol.matrix)
    assert (right - left) * mm == pytest.approx(n * page.qr.module, abs=0.01)
    assert page.qr.module >= 0.5 and abs((left - bx) - (bx + bw - right)) < 0.01  # centred


def _width_of(region: Image.Image, colour: tuple[int, int, int]) -> int:
    """Pixels from the leftmost to the rightmost pixel of exactly ``colour`` in ``region``."""
    xs = [x for x in range(region.width) for y in range(region.height) if region.getpixel((x, y)) == colour]
    return max(xs) - min(xs) + 1


@pytest.mark.parametrize("kind", list(LAYOUTS))
def test_rule_65_the_qr_measures_30_mm_in_the_png_pixels_and_decodes(kind: str) -> None:
    cert, _, print_px, _ = LAYOUTS[kind]
    page = sheet.layout(page_of(cert))
    image = Image.open(io.BytesIO(certificate.render_png(page, dpi=300))).convert("RGB")
    assert image.size == print_px and image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    px_mm = 300 / 25.4
    x0, y0 = round(page.qr.x * px_mm), round(page.qr.y * px_mm)
    region = image.crop((x0 - 10, y0 - 10, x0 + 370, y0 + 370))
    box_w = _width_of(region, (225, 225, 225))  # the box's hairline
    assert abs(box_w / px_mm - 30) <= 0.3
    symbol_w = _width_of(region, (0, 0, 0))  # the dark modules
    assert symbol_w == len(page.qr.symbol.matrix) * page.qr.dots  # whole dots a module
    assert page.qr.dots / px_mm >= 0.5
    decoded = zxingcpp.read_barcodes(image, formats=QR_ONLY)
    assert [d.text for d in decoded] == [URL]


def test_the_png_and_pdf_place_the_qr_at_the_same_spot() -> None:
    page = sheet.layout(page_of(SPECIAL))
    png = Image.open(io.BytesIO(certificate.render_png(page, dpi=150)))
    found = zxingcpp.read_barcodes(png, formats=QR_ONLY)
    assert len(found) == 1 and found[0].text == URL
    px_mm = 150 / 25.4
    pos = found[0].position
    centre = (
        (pos.top_left.x + pos.bottom_right.x) / 2 / px_mm,
        (pos.top_left.y + pos.bottom_right.y) / 2 / px_mm,
    )
    assert abs(centre[0] - (page.qr.x + 15)) < 0.5 and abs(centre[1] - (page.qr.y + 15)) < 0.5


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        certificate.render(page_of(BASE), "docx")
