"""Where a page's primitives put ink, from the primitives alone: text boxes from the fonts' advance
widths (``fonts.width_pt``) and ascent/descent, and the clashes a certificate page must not have."""

from __future__ import annotations

import math
from itertools import combinations

from reportlab.pdfbase import pdfmetrics

from verify.domain.printed import PHOTO_LABEL
from verify.render import fonts, sheet

Box = tuple[float, float, float, float]  # left, top, right, bottom, mm from the page's top-left


def text_box(t: sheet.Text) -> Box:
    """The ink box of ``t``: its advance width, and the tallest ascent and deepest descent of the
    faces it is drawn with."""
    fonts.ensure_registered()
    width = fonts.width_pt(t.text, t.role, t.size) * sheet.PT
    left = t.x - (width / 2 if t.align == "center" else width if t.align == "right" else 0)
    metrics = [pdfmetrics.getAscentDescent(face.key, t.size) for face, _ in fonts.runs(t.text, t.role)]
    ascent = max(a for a, _ in metrics) * sheet.PT
    descent = -min(d for _, d in metrics) * sheet.PT
    return left, t.y - ascent, left + width, t.y + descent


def box_of(item: sheet.Item) -> Box:
    if isinstance(item, sheet.Text):
        return text_box(item)
    if isinstance(item, sheet.Circle):
        return item.cx - item.r, item.cy - item.r, item.cx + item.r, item.cy + item.r
    if isinstance(item, sheet.QrBlock):
        return item.x, item.y, item.x + item.box, item.y + item.box
    return item.x, item.y, item.x + item.w, item.y + item.h


def _meet(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(a: Box, b: Box) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


def _ring_crosses(c: sheet.Circle, b: Box) -> bool:
    """The ring's line passes through box ``b`` (a text wholly inside or outside it does not)."""
    nearest = math.hypot(max(b[0] - c.cx, 0, c.cx - b[2]), max(b[1] - c.cy, 0, c.cy - b[3]))
    farthest = math.hypot(max(abs(b[0] - c.cx), abs(b[2] - c.cx)), max(abs(b[1] - c.cy), abs(b[3] - c.cy)))
    return nearest <= c.r <= farthest


def frame(page: sheet.Page) -> Box:
    """The inner rule of the border: the smallest frame-coloured rectangle round the page's centre."""
    centre = (page.width / 2, page.height / 2)
    rules = [
        box_of(i)
        for i in page.items
        if isinstance(i, sheet.Rect) and i.stroke == sheet.FRAME and _inside((*centre, *centre), box_of(i))
    ]
    return min(rules, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def clashes(page: sheet.Page) -> list[str]:
    """Everything wrong with where ``page`` puts ink: an item outside the frame, two texts whose
    boxes overlap, a seal ring through a text, ink within ``KEEP_OUT_MM`` of the QR box, a text on
    the photo (but the placeholder's label inside it). Empty for a good page."""
    rim = frame(page)
    rules = [i for i in page.items if isinstance(i, sheet.Rect) and _inside(rim, box_of(i))]
    items = [i for i in page.items if i not in rules]
    texts = [i for i in items if isinstance(i, sheet.Text)]
    found = [f"outside the frame: {i}" for i in items if not _inside(box_of(i), rim)]
    found += [
        f"texts overlap: {a.text!r} and {b.text!r}"
        for a, b in combinations(texts, 2)
        if _meet(text_box(a), text_box(b))
    ]
    for c in (i for i in items if isinstance(i, sheet.Circle)):
        found += [
            f"the ring at {c.cx}, {c.cy} crosses {t.text!r}" for t in texts if _ring_crosses(c, text_box(t))
        ]
    qr = page.qr
    k = sheet.KEEP_OUT_MM
    keep_out = (qr.x - k, qr.y - k, qr.x + qr.box + k, qr.y + qr.box + k)
    found += [f"ink near the QR: {i}" for i in items if i is not qr and _meet(box_of(i), keep_out)]
    for photo in (i for i in items if isinstance(i, sheet.PhotoBlock)):
        for t in texts:
            label = photo.jpeg is None and t.text == PHOTO_LABEL[0] and _inside(text_box(t), box_of(photo))
            if _meet(text_box(t), box_of(photo)) and not label:
                found.append(f"a text on the photo: {t.text!r}")
    return found
