"""Where everything on a certificate page goes: one layout, in millimetres, for both renderers.

The 职业技能等级证书 page is A4 landscape (297 × 210 mm) with the 188 × 269 mm frame of the
reference layout (豫职鉴〔2020〕2号 制作说明); the left half carries the title, body text, issue date
and the query addresses, the right half the photo, the QR code and the field block. The
河南省专项职业能力证书 has its own A5 landscape page (``verify.render.sheet_special``), built from
the primitives and helpers here. ``layout`` turns a ``verify.domain.printed.Printed`` into drawing
primitives; ``verify.render.certificate`` draws them as a vector PDF (reportlab) or a PNG (Pillow)
at the page's own size, so the two can never disagree about a position.

The QR box is 30 mm square including its quiet zone (``qr_geometry``): a module is a whole number
of 300 dpi printer dots, the largest that leaves at least one module of quiet zone inside the box,
so a version-10 symbol (the budget's ceiling, rule 65) gets 6 dots = 0.508 mm; the layout keeps a
further ``KEEP_OUT_MM`` round the box free of ink, so paper shows the four-module quiet zone
ISO/IEC 18004 asks for (docs/CERTIFICATES.md §QR size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from verify.domain.printed import ISSUED_LABEL, PHOTO_LABEL, SEAL_LABEL, Field, Printed
from verify.render import fonts
from verify.render.qr import Symbol, symbol

PAGE_W: Final = 297.0  # the A4 page; the 专项 one has its own size
PAGE_H: Final = 210.0
PT: Final = 25.4 / 72  # mm in a point
QR_BOX_MM: Final = 30.0
QR_DPI: Final = 300
KEEP_OUT_MM: Final = 3.0  # no ink this close to the QR box (4 modules of 0.508 mm beyond the box's 1)
PHOTO_W: Final = 25.0  # 一寸 (25 × 35 mm), 人社鉴发〔2021〕1号 填写说明
PHOTO_H: Final = 35.0
Rgb = tuple[int, int, int]
BLACK: Final[Rgb] = (0, 0, 0)
GREY: Final[Rgb] = (150, 150, 150)
FRAME: Final[Rgb] = (120, 40, 30)
SEAL: Final[Rgb] = (200, 60, 50)
BOX_EDGE: Final[Rgb] = (225, 225, 225)  # the QR box's hairline: light enough to read as white


@dataclass(frozen=True, slots=True)
class Text:
    x: float  # mm from the left; the left edge, centre or right edge as ``align`` says
    y: float  # mm from the top, the baseline
    size: float  # points
    role: str  # "kai" | "serif" (verify.render.fonts.CHAINS)
    text: str
    align: str = "left"  # left | center | right
    colour: Rgb = BLACK


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    line_pt: float
    stroke: Rgb | None = BLACK
    fill: Rgb | None = None
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Circle:
    cx: float
    cy: float
    r: float
    line_pt: float
    stroke: Rgb
    dashed: bool = True


@dataclass(frozen=True, slots=True)
class QrBlock:
    x: float  # the 30 mm box's top-left corner
    y: float
    box: float
    module: float  # mm
    dots: int  # 300 dpi printer dots a module
    symbol: Symbol

    @property
    def offset(self) -> float:
        """mm from the box's edge to the symbol: the quiet zone inside the box."""
        return (self.box - len(self.symbol.matrix) * self.module) / 2


@dataclass(frozen=True, slots=True)
class PhotoBlock:
    x: float
    y: float
    w: float
    h: float
    jpeg: bytes | None  # None: the neutral placeholder


Item = Text | Rect | Circle | QrBlock | PhotoBlock


@dataclass(frozen=True, slots=True)
class Page:
    width: float
    height: float
    items: tuple[Item, ...]

    @property
    def qr(self) -> QrBlock:
        return next(i for i in self.items if isinstance(i, QrBlock))


def qr_geometry(modules: int) -> tuple[int, float]:
    """(dots a module at 300 dpi, module size in mm) for a ``modules``-wide symbol in the 30 mm box:
    the most whole dots that leave at least one module of quiet zone inside it. Raises ValueError
    when even one dot would not fit."""
    box_dots = math.floor(QR_BOX_MM / 25.4 * QR_DPI + 1e-9)  # 354
    dots = box_dots // (modules + 2)
    if dots < 1:
        raise ValueError(f"a {modules}-module symbol does not fit the {QR_BOX_MM} mm box")
    return dots, dots * 25.4 / QR_DPI


def fit_size(text: str, role: str, size: float, width: float, *, smallest: float = 6.0) -> float:
    """``size`` or smaller, so ``text`` fits ``width`` mm on one line (long names, rule 65's budget
    is about 26 characters). Raises ValueError like ``fonts.runs``."""
    natural = fonts.width_pt(text, role, size) * PT
    if natural <= width:
        return size
    return max(smallest, math.floor(size * width / natural * 10) / 10)


_NO_LINE_START: Final = frozenset("。，、；：？！）》」』”’.,;:?!)")


def wrap(text: str, role: str, size: float, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` mm: between words for English, between any
    two characters for Chinese (which has no spaces). Raises ValueError like ``fonts.runs``."""
    lines: list[str] = []
    line = ""
    tokens = text.split(" ") if role == "serif" else list(text)
    sep = " " if role == "serif" else ""
    for token in tokens:
        candidate = f"{line}{sep}{token}" if line else token
        # 禁则: closing punctuation never starts a line, it stays on the line it closes.
        if line and token not in _NO_LINE_START and fonts.width_pt(candidate, role, size) * PT > width:
            lines.append(line)
            line = token
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def paragraph(
    text: str, role: str, size: float, x: float, y: float, width: float, lead: float
) -> tuple[list[Text], float]:
    """``text`` wrapped to ``width`` mm, one ``Text`` a line from baseline ``y`` down, ``lead`` mm
    apart; and the baseline after the last line. Raises ValueError like ``fonts.runs``."""
    items = []
    for line in wrap(text, role, size, width):
        items.append(Text(x, y, size, role, line))
        y += lead
    return items, y


def seal(cx: float, cy: float, name: str, width: float = 60, r: float = 19) -> list[Item]:
    """The seal area: a dashed ring of radius ``r`` mm where the institution stamps, its name under
    it (the stamp is the institution's; the page never imitates one)."""
    size = fit_size(name, "kai", 10, width)
    return [
        Circle(cx, cy, r, 0.6, SEAL),
        Text(cx, cy + 1.5, 9, "kai", SEAL_LABEL[0], "center", GREY),
        Text(cx, cy + r + 6, size, "kai", name, "center"),
    ]


def site_line(site: Field, x: float, y: float, size: float = 10, align: str = "left") -> list[Text]:
    """One query address: the Chinese label, the English one grey and a point smaller, the URL;
    starting at ``x`` (``align="left"``) or ending there (``"right"``)."""
    en = f"{site.label_en}:"
    gap = 1.5
    widths = (
        fonts.width_pt(site.label_zh, "kai", size) * PT,
        fonts.width_pt(en, "serif", size - 1) * PT,
        fonts.width_pt(site.value, "serif", size) * PT,
    )
    if align == "right":
        x -= sum(widths) + 2 * gap
    return [
        Text(x, y, size, "kai", site.label_zh),
        Text(x + widths[0] + gap, y, size - 1, "serif", en, colour=GREY),
        Text(x + widths[0] + widths[1] + 2 * gap, y, size, "serif", site.value),
    ]


def field_lines(
    f: Field, x: float, y: float, col: float, width: float, size: float = 12, en_size: float = 8
) -> list[Text]:
    """One line of a field block: the Chinese label at ``x`` on baseline ``y``, the English label
    grey and smaller under it, the value at ``col`` shrunk to ``width`` mm (long names)."""
    role = "serif" if f.value.isascii() else "kai"
    return [
        Text(x, y, size, "kai", f.label_zh),
        Text(x, y + size * 0.35, en_size, "serif", f.label_en, colour=GREY),
        Text(col, y + 1, fit_size(f.value, role, size, width), role, f.value),
    ]


def qr_block(url: str, x: float, y: float) -> QrBlock:
    """The 30 mm QR box of ``url`` with its top-left corner at (``x``, ``y``). Raises ValueError
    when the URL does not fit a symbol."""
    encoded = symbol(url)
    dots, module = qr_geometry(len(encoded.matrix))
    return QrBlock(x, y, QR_BOX_MM, module, dots, encoded)


def photo_slot(x: float, y: float, photo: bytes | None) -> list[Item]:
    """The 一寸 photo at (``x``, ``y``); without a photo, the placeholder labelled 照片."""
    items: list[Item] = [PhotoBlock(x, y, PHOTO_W, PHOTO_H, photo)]
    if photo is None:
        items.append(Text(x + PHOTO_W / 2, y + PHOTO_H / 2 + 1.5, 10, "kai", PHOTO_LABEL[0], "center", GREY))
    return items


def layout(page: Printed, photo: bytes | None = None) -> Page:
    """The drawing of ``page``: every primitive in page order; the 专项 certificate has its own A5
    page (``verify.render.sheet_special``). Raises ValueError when a text has a character no font
    has, or the QR URL does not fit a symbol."""
    if page.kind == "special":
        from verify.render import sheet_special  # it builds on this module's primitives

        return sheet_special.layout(page, photo)
    items: list[Item] = [
        Rect(14, 11, 269, 188, 2.25, FRAME),  # 188 × 269 mm, 2.25 磅 粗实线
        Rect(16.5, 13.5, 264, 183, 0.6, FRAME),
    ]
    left, left_w, mid = 28.0, 112.0, 84.0
    items.append(Text(mid, 42, fit_size(page.title_zh, "kai", 30, left_w), "kai", page.title_zh, "center"))
    items.append(
        Text(mid, 52, fit_size(page.title_en, "serif", 16, left_w), "serif", page.title_en, "center")
    )
    body, y = paragraph(page.body_zh, "kai", 15, left, 70, left_w, 8.2)
    items += body
    body, y = paragraph(page.body_en, "serif", 11, left, y + 3, left_w, 5.2)
    items += body
    # The seals: the institution's under the text; a 站点's certificate carries its parent's seal on
    # the left and its own on the right (人社鉴发〔2021〕1号 三（三）), side by side in the same place
    # (the right half's field block leaves no room for a ring).
    if page.parent_issuer is None:
        items += seal(mid, 146, page.issuer)
    else:
        items += seal(mid - 28, 146, page.parent_issuer, width=52)
        items += seal(mid + 28, 146, page.issuer, width=52)
    y = 182.0
    for site in page.sites:
        items += site_line(site, left, y)
        y += 6

    right, col = 170.0, 218.0
    items += photo_slot(right, 22, photo)
    items.append(qr_block(page.qr_url, 245, 22))
    y = 80.0
    for f in page.fields:
        items += field_lines(f, right, y, col, 272 - col)
        y += 11
    items.append(Text(right, y + 2, 12, "kai", ISSUED_LABEL[0]))
    items.append(Text(right, y + 6.2, 8, "serif", ISSUED_LABEL[1], colour=GREY))
    items.append(Text(col, y + 3, 12, "kai", page.issued_zh))
    items.append(Text(col, y + 8, 9, "serif", page.issued_en))
    if page.print_serial:
        items.append(Text(272, 190, 9, "serif", f"No.{page.print_serial}", "right"))
    return Page(PAGE_W, PAGE_H, tuple(items))
