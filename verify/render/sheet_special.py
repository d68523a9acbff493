"""The 河南省专项职业能力证书 page: A5 landscape (210 × 148 mm), in millimetres, for both renderers.

豫人社办函〔2020〕41号 附件2 (河南省专项职业能力证书参考式样) gives the size, 148 × 210, and the order
of the card: the title top centre; under it on the left the photo and the QR code side by side; to
their right the heading 专项职业能力考核记录 over the record text; the holder's lines on the left
(姓名 and 性别 on one line, 文化程度, 证书编号, 身份证号); the issuing body with its seal and the date
on the right; the query address bottom right. The primitives, the 30 mm QR box with its
``KEEP_OUT_MM`` of free paper, the 一寸 photo slot and the seal ring are those of
``verify.render.sheet``; only the positions are this page's (docs/CERTIFICATES.md).

Positions (x from the left, y from the top, mm): double frame 6-204 × 6-142 with corner marks;
title baselines 21 and 27.5; photo 16-41 × 34-69; QR box 47-77 × 34-64 (ink-free to 44-80 ×
31-67); heading and record text 84-194 from baseline 39 to at most 77; field lines 16-113 from
baseline 84, 9 mm apart; the seal block from x 120 (ring centred 163, 99); the query address ends
at 194 on baseline 136.5, the print serial starts at 16 on it.
"""

from __future__ import annotations

from typing import Final

from verify.domain.printed import ISSUER_SPECIAL_LABEL, RECORD_SPECIAL, Field, Printed
from verify.render import fonts
from verify.render.sheet import (
    FRAME,
    GREY,
    KEEP_OUT_MM,
    PHOTO_W,
    PT,
    Item,
    Page,
    Rect,
    Text,
    field_lines,
    fit_size,
    paragraph,
    photo_slot,
    qr_block,
    seal,
    site_line,
)

PAGE_W: Final = 210.0  # A5 landscape: "证书规格：148×210"
PAGE_H: Final = 148.0
LEFT: Final = 16.0  # the content's left and right edges, 7.5 mm inside the inner frame
RIGHT: Final = 194.0
TOP: Final = 34.0  # the photo's and the QR box's top edge
RECORD_X: Final = 84.0  # the record column: right of the QR box and its keep-out
RECORD_END: Final = 77.0  # the record text's last baseline at most: the field lines start below
FIELDS_Y: Final = 84.0
FIELD_STEP: Final = 9.0
VALUE_X: Final = 41.0  # the field values; the labels start at LEFT
FIELDS_END: Final = 113.0  # the field block's right edge; the seal block starts at SEAL_X
GENDER_X: Final = 99.0  # 性别 on the 姓名 line
SEAL_X: Final = 120.0
SEAL_CX: Final = 163.0
SEAL_CY: Final = 99.0
SEAL_R: Final = 15.0  # the ring marks where the stamp goes; a smaller one than A4's on the A5 card
BOTTOM: Final = 136.5  # the query address's and the print serial's baseline
# The sample's order of the holder's lines; 专项职业能力 (the record text names it too) after 文化程度.
FIELD_ORDER: Final = ("文化程度", "专项职业能力", "证书编号", "身份证号")


def _frame() -> list[Item]:
    """The card's decorative border: a thick and a thin rule, as on the A4 page, and a small square
    in each inner corner."""
    items: list[Item] = [
        Rect(6, 6, PAGE_W - 12, PAGE_H - 12, 2.25, FRAME),
        Rect(8.5, 8.5, PAGE_W - 17, PAGE_H - 17, 0.6, FRAME),
    ]
    for x in (10.0, PAGE_W - 13):
        for y in (10.0, PAGE_H - 13):
            items.append(Rect(x, y, 3, 3, 0.6, FRAME))
    return items


def _record(page: Printed) -> list[Item]:
    """The heading and the record text in the column right of the QR box, set smaller when a long
    project name would push the text into the field lines."""
    width = RIGHT - RECORD_X
    centre = RECORD_X + width / 2
    items: list[Item] = [
        Text(centre, 39, fit_size(RECORD_SPECIAL[0], "kai", 16, width), "kai", RECORD_SPECIAL[0], "center"),
        Text(centre, 44.5, fit_size(RECORD_SPECIAL[1], "serif", 9, width), "serif", RECORD_SPECIAL[1],
             "center", GREY),
    ]  # fmt: skip
    size = 11.5
    while True:
        zh, y = paragraph(page.body_zh, "kai", size, RECORD_X, 52, width, size * 0.52)
        en, y = paragraph(page.body_en, "serif", size - 2.5, RECORD_X, y + 1.5, width, (size - 2.5) * 0.48)
        if en[-1].y <= RECORD_END or size <= 7:
            return items + zh + en
        size -= 0.5


def _fields(page: Printed) -> list[Item]:
    """The holder's lines: 姓名 and 性别 on the first, then the sample's order; a field the sample
    does not name comes last."""
    by_label = {f.label_zh: f for f in page.fields}
    name, gender = by_label.pop("姓名", None), by_label.pop("性别", None)
    items: list[Item] = []
    y = FIELDS_Y
    if name is not None:
        items += field_lines(name, LEFT, y, VALUE_X, GENDER_X - 2 - VALUE_X, 11, 7)
    if gender is not None:
        col = GENDER_X + fonts.width_pt(gender.label_zh, "kai", 11) * PT + 1.5
        items += field_lines(gender, GENDER_X, y, col, FIELDS_END - col, 11, 7)
    rest: list[Field] = [by_label.pop(k) for k in FIELD_ORDER if k in by_label] + list(by_label.values())
    for f in rest:
        y += FIELD_STEP
        items += field_lines(f, LEFT, y, VALUE_X, FIELDS_END - VALUE_X, 11, 7)
    return items


def _issuer(page: Printed) -> list[Item]:
    """发证机构（印）: the label, the seal ring with the issuing body's name under it, the date under
    that (the sample's 年 月 日). A 站点's certificate carries its parent's seal, as on A4."""
    items: list[Item] = [
        Text(SEAL_X, FIELDS_Y, 11, "kai", ISSUER_SPECIAL_LABEL[0]),
        Text(SEAL_X, FIELDS_Y + 11 * 0.35, 7, "serif", ISSUER_SPECIAL_LABEL[1], colour=GREY),
    ]
    items += seal(SEAL_CX, SEAL_CY, page.parent_issuer or page.issuer, 2 * (RIGHT - SEAL_CX), SEAL_R)
    y = SEAL_CY + SEAL_R + 12.5
    items.append(Text(SEAL_CX, y, 11, "kai", page.issued_zh, "center"))
    items.append(Text(SEAL_CX, y + 4.5, 8, "serif", page.issued_en, "center"))
    return items


def layout(page: Printed, photo: bytes | None = None) -> Page:
    """The A5 drawing of a 专项 ``page``: every primitive in page order. Raises ValueError when a
    text has a character no font has, or the QR URL does not fit a symbol."""
    width = RIGHT - LEFT
    items = _frame()
    items.append(
        Text(PAGE_W / 2, 21, fit_size(page.title_zh, "kai", 22, width), "kai", page.title_zh, "center")
    )
    items.append(
        Text(
            PAGE_W / 2, 27.5, fit_size(page.title_en, "serif", 10.5, width), "serif", page.title_en, "center"
        )
    )
    items += photo_slot(LEFT, TOP, photo)
    items.append(qr_block(page.qr_url, LEFT + PHOTO_W + 2 * KEEP_OUT_MM, TOP))
    items += _record(page)
    items += _fields(page)
    items += _issuer(page)
    y = BOTTOM
    for site in reversed(page.sites):  # bottom right, the last address lowest
        items += site_line(site, RIGHT, y, 9, "right")
        y -= 5
    if page.print_serial:
        items.append(Text(LEFT, BOTTOM, 9, "serif", f"No.{page.print_serial}"))
    return Page(PAGE_W, PAGE_H, tuple(items))
