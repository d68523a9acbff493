"""The certificate page drawn: a vector PDF (reportlab) and a raster PNG (Pillow) of one layout.

Both draw ``verify.render.sheet.Page`` primitive by primitive, so they agree on every position. The
PDF keeps text as text (subset TrueType fonts embedded, so it can be searched and copied) and the
QR as filled squares, one per horizontal run of dark modules; the PNG is drawn at ``dpi`` with each
module a whole number of pixels when ``dpi`` is 300 (or a divisor-friendly phone size).
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from verify.domain.printed import Printed
from verify.render import fonts
from verify.render.qr import dark_runs
from verify.render.sheet import PT, Circle, Item, Page, PhotoBlock, QrBlock, Rect, Text, layout

MM: float = 72 / 25.4  # points in a mm
PRINT_DPI = 300
PHONE_DPI = 150  # A4 1754 × 1240 px, A5 1240 × 874: a phone screen's width, QR modules 3 px at version 10


def _rgb(c: tuple[int, int, int]) -> tuple[float, float, float]:
    return c[0] / 255, c[1] / 255, c[2] / 255


# ----------------------------------------------------------------------------------------- PDF


def _pdf_text(pdf: canvas.Canvas, page: Page, t: Text) -> None:
    width = fonts.width_pt(t.text, t.role, t.size)
    x = t.x * MM - (width / 2 if t.align == "center" else width if t.align == "right" else 0)
    y = (page.height - t.y) * MM
    pdf.setFillColorRGB(*_rgb(t.colour))
    for face, part in fonts.runs(t.text, t.role):
        pdf.setFont(face.key, t.size)
        pdf.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, face.key, t.size)


def _pdf_item(pdf: canvas.Canvas, page: Page, item: Item) -> None:
    h = page.height
    if isinstance(item, Text):
        _pdf_text(pdf, page, item)
    elif isinstance(item, Rect):
        pdf.setLineWidth(item.line_pt)
        pdf.setDash(2, 2) if item.dashed else pdf.setDash()
        if item.stroke:
            pdf.setStrokeColorRGB(*_rgb(item.stroke))
        if item.fill:
            pdf.setFillColorRGB(*_rgb(item.fill))
        pdf.rect(item.x * MM, (h - item.y - item.h) * MM, item.w * MM, item.h * MM,
                 stroke=int(item.stroke is not None), fill=int(item.fill is not None))  # fmt: skip
    elif isinstance(item, Circle):
        pdf.setLineWidth(item.line_pt)
        pdf.setDash(3, 2) if item.dashed else pdf.setDash()
        pdf.setStrokeColorRGB(*_rgb(item.stroke))
        pdf.circle(item.cx * MM, (h - item.cy) * MM, item.r * MM, stroke=1, fill=0)
        pdf.setDash()
    elif isinstance(item, PhotoBlock):
        if item.jpeg is None:
            pdf.setDash(2, 2)
            pdf.setLineWidth(0.5)
            pdf.setStrokeColorRGB(0.6, 0.6, 0.6)
            pdf.rect(item.x * MM, (h - item.y - item.h) * MM, item.w * MM, item.h * MM, stroke=1, fill=0)
            pdf.setDash()
        else:
            pdf.drawImage(ImageReader(io.BytesIO(item.jpeg)), item.x * MM, (h - item.y - item.h) * MM,
                          item.w * MM, item.h * MM, preserveAspectRatio=True, anchor="c")  # fmt: skip
    elif isinstance(item, QrBlock):
        _pdf_qr(pdf, page, item)


def _pdf_qr(pdf: canvas.Canvas, page: Page, qr: QrBlock) -> None:
    top = (page.height - qr.y) * MM
    # The box: white, with a hairline light enough to read as white to a decoder; it makes the
    # 30 mm measurable on the page.
    pdf.setLineWidth(0.2)
    pdf.setDash()
    pdf.setStrokeColorRGB(225 / 255, 225 / 255, 225 / 255)
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(qr.x * MM, top - qr.box * MM, qr.box * MM, qr.box * MM, stroke=1, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    m = qr.module * MM
    x0 = (qr.x + qr.offset) * MM
    y0 = top - qr.offset * MM
    path = pdf.beginPath()
    for row, col, run in dark_runs(qr.symbol.matrix):
        path.rect(x0 + col * m, y0 - (row + 1) * m, run * m, m)
    pdf.drawPath(path, stroke=0, fill=1)


def render_pdf(page: Page, *, title: str, subject: str = "") -> bytes:
    """The page as a one-page vector PDF of the page's size, fonts embedded as subsets. Raises
    ValueError when a text has a character no font has; FileNotFoundError when a font is missing."""
    fonts.ensure_registered()
    out = io.BytesIO()
    # The initial font is one of ours: reportlab's default Helvetica would be a font reference the
    # PDF does not embed.
    pdf = canvas.Canvas(
        out,
        pagesize=(page.width * MM, page.height * MM),
        pageCompression=1,
        initialFontName=fonts.SERIF.key,  # type: ignore[arg-type]  # the stubs say float, it is a name
    )
    pdf.setTitle(title)
    pdf.setSubject(subject)
    pdf.setAuthor("verify")
    pdf.setCreator("verify (certificate verification service)")
    for item in page.items:
        _pdf_item(pdf, page, item)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


# ----------------------------------------------------------------------------------------- PNG


class _Png:
    def __init__(self, page: Page, dpi: int) -> None:
        self.page = page
        self.scale = dpi / 25.4  # px a mm
        size = (round(page.width * self.scale), round(page.height * self.scale))
        self.image = Image.new("RGB", size, (255, 255, 255))
        self.draw = ImageDraw.Draw(self.image)
        self._fonts: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def px(self, mm: float) -> int:
        return round(mm * self.scale)

    def font(self, face: fonts.Face, size_pt: float) -> ImageFont.FreeTypeFont:
        px = max(1, round(size_pt * PT * self.scale))
        key = (face.key, px)
        if key not in self._fonts:
            self._fonts[key] = ImageFont.truetype(str(face.path), px, index=face.index)
        return self._fonts[key]

    def text(self, t: Text) -> None:
        parts = [(self.font(face, t.size), part) for face, part in fonts.runs(t.text, t.role)]
        width = sum(f.getlength(p) for f, p in parts)
        x = t.x * self.scale - (width / 2 if t.align == "center" else width if t.align == "right" else 0)
        y = t.y * self.scale
        for f, part in parts:
            self.draw.text((x, y), part, font=f, fill=t.colour, anchor="ls")
            x += f.getlength(part)

    def item(self, item: Item) -> None:
        d, px = self.draw, self.px
        if isinstance(item, Text):
            self.text(item)
        elif isinstance(item, Rect):
            box = (px(item.x), px(item.y), px(item.x + item.w), px(item.y + item.h))
            d.rectangle(
                box, fill=item.fill, outline=item.stroke, width=max(1, round(item.line_pt * PT * self.scale))
            )
        elif isinstance(item, Circle):
            box = (px(item.cx - item.r), px(item.cy - item.r), px(item.cx + item.r), px(item.cy + item.r))
            d.ellipse(box, outline=item.stroke, width=max(1, round(item.line_pt * PT * self.scale)))
        elif isinstance(item, PhotoBlock):
            box = (px(item.x), px(item.y), px(item.x + item.w), px(item.y + item.h))
            if item.jpeg is None:
                d.rectangle(box, outline=(160, 160, 160), width=max(1, px(0.2)))
            else:
                with Image.open(io.BytesIO(item.jpeg)) as photo:
                    self.image.paste(photo.convert("RGB").resize((box[2] - box[0], box[3] - box[1])), box[:2])
        elif isinstance(item, QrBlock):
            self.qr(item)

    def qr(self, qr: QrBlock) -> None:
        side = self.px(qr.box)
        x0, y0 = self.px(qr.x), self.px(qr.y)
        self.draw.rectangle(
            (x0, y0, x0 + side - 1, y0 + side - 1), fill=(255, 255, 255), outline=(225, 225, 225)
        )
        n = len(qr.symbol.matrix)
        # Whole pixels, rounded down so the symbol stays inside its box: 6 at 300 dpi for version 10.
        module = max(1, math.floor(qr.module * self.scale + 1e-9))
        offset = (side - n * module) // 2
        for row, col, run in dark_runs(qr.symbol.matrix):
            left = x0 + offset + col * module
            top = y0 + offset + row * module
            self.draw.rectangle((left, top, left + run * module - 1, top + module - 1), fill=(0, 0, 0))


def render_png(page: Page, *, dpi: int = PRINT_DPI) -> bytes:
    """The page as an RGB PNG at ``dpi`` (recorded in its pHYs chunk, so it prints at size). Raises
    ValueError when a text has a character no font has; FileNotFoundError when a font is missing."""
    canvas_ = _Png(page, dpi)
    for item in page.items:
        canvas_.item(item)
    out = io.BytesIO()
    canvas_.image.save(out, format="PNG", dpi=(dpi, dpi), compress_level=6)
    return out.getvalue()


FORMATS = ("pdf", "png")


def render(printed: Printed, fmt: str, *, dpi: int = PRINT_DPI) -> bytes:
    """``printed`` laid out and drawn as ``fmt`` ("pdf" or "png" at ``dpi``). The PDF's subject
    names the photo's SHA-256, so a signature over the PDF covers which photo it shows. Raises
    ValueError for another format, a character no font has or a QR URL no symbol holds;
    FileNotFoundError when a font is missing."""
    page = layout(printed, printed.photo)
    if fmt == "pdf":
        subject = f"{printed.number}; photo sha256 {printed.photo_sha256 or 'none'}"
        return render_pdf(page, title=f"{printed.title_zh} {printed.number}", subject=subject)
    if fmt == "png":
        return render_png(page, dpi=dpi)
    raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
