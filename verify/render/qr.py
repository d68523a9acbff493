"""QR code images for printed certificates: PNG for print pipelines, SVG for documents, both exact.

The certificate sample (人社鉴发〔2021〕1号) reserves a 30 mm × 30 mm box for the QR code. A printer can
only put whole dots on paper, so a module is a whole number of printer dots (docs/QR-FORMAT.md §8): at
300 dpi a V9/V10 symbol gets 6 dots = 0.508 mm per module, V7/V8 gets 7 dots. A module that is 6.2
dots wide in the file would be printed as a mix of 6- and 7-dot modules, which distorts the grid a
phone has to sample, so we round down and accept a symbol slightly smaller than the box.

**The 30 mm box is the symbol, not the quiet zone.** ``qr_spec`` fits the symbol *without* its
4-module quiet zone into ``size_mm``; the images then add the quiet zone around it, so the printed
white-plus-code area is larger than the box: 31.0 mm for V9 and 33.0 mm for V10 at 300 dpi, up to
~34 mm in general, and more for small codes whose modules are large (a V3 code: 444 px = 37.6 mm).
Fitting the quiet zone inside 30 mm as well would cost a whole dot per module (V10: 5 dots = 0.42 mm),
below the 0.5 mm we want for cheap fixed-focus phones. So the layout must keep a ring of 4 modules
around the box free of ink (2.03 mm at 0.508 mm modules; the PNG/SVG already contain it as white).

Encoding is pure Python (``qrcode``, ~10 ms for a V9 symbol, most of it the eight mask evaluations);
drawing is well under a millisecond. A busy server must not encode per request: use ``QrCache`` (or
render at issuance and store the bytes).
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util
from PIL import Image

__all__ = ["QrCache", "QrSpec", "Symbol", "dark_runs", "qr_spec", "render_png", "render_svg", "symbol"]

QUIET_ZONE_MODULES = 4  # ISO/IEC 18004 minimum; scanners look for it to find the finder patterns
SVG_DPI = 300  # SVG has no printer dots; it uses the module size a 300 dpi print would get
MM_PER_INCH = 25.4

_EC_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
_MODE_NAMES = {
    qrcode.util.MODE_NUMBER: "numeric",
    qrcode.util.MODE_ALPHA_NUM: "alphanumeric",
    qrcode.util.MODE_8BIT_BYTE: "byte",
    qrcode.util.MODE_KANJI: "kanji",
}


@dataclass(frozen=True, slots=True)
class QrSpec:
    """What a QR image will be: symbol version and the physical size of its modules when printed.

    ``mode`` is the encoding mode the encoder chose for the data: ``"alphanumeric"`` for an
    upper-case URL, ``"byte"`` as soon as one lower-case letter (or ``?``, ``=``, …) appears. When
    the encoder splits the data into segments of different modes they are joined with ``+`` in
    order of first use, e.g. ``"byte+numeric"``.
    """

    version: int  # smallest version that holds the data at this EC level
    modules: int  # symbol width in modules (17 + 4 * version), without the quiet zone
    error_correction: str  # "L" | "M" | "Q" | "H"
    mode: str
    dpi: int
    dots_per_module: int  # whole printer dots per module
    module_mm: float  # dots_per_module / dpi * 25.4
    symbol_mm: float  # modules * module_mm, <= size_mm; the quiet zone is outside this
    image_px: int  # (modules + 2 * quiet_zone_modules) * dots_per_module
    quiet_zone_modules: int


@dataclass(frozen=True, slots=True)
class _Encoded:
    matrix: tuple[tuple[bool, ...], ...]  # True = dark, no quiet zone
    version: int
    mode: str


Symbol = _Encoded  # the encoded matrix a page layout places itself (verify.render.sheet)


def symbol(data: str, error_correction: str = "M") -> Symbol:
    """The QR matrix of ``data`` (no quiet zone) and its version. Raises ValueError like ``qr_spec``."""
    return _encode(data, error_correction)


def _encode(data: str, error_correction: str) -> _Encoded:
    if not data:
        raise ValueError("data is empty: a QR code with nothing in it verifies nothing")
    level = _EC_LEVELS.get(error_correction)
    if level is None:
        raise ValueError(f"error_correction must be one of L, M, Q, H (got {error_correction!r})")
    code = qrcode.QRCode(version=None, error_correction=level, box_size=1, border=0)
    # The default optimize=20 lets the encoder split off long digit/alphanumeric runs from a byte
    # string; an all-alphanumeric URL stays one alphanumeric segment.
    code.add_data(data)
    try:
        code.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError):
        # qrcode 8.2 reports overflow either way: DataOverflowError, or ValueError("Invalid version
        # (was 41 ...)") when the longer length field of versions 27+ pushes the guess past 40.
        raise ValueError(
            f"{len(data)} characters do not fit a QR code (version 40) at error correction {error_correction}"
        ) from None
    modes: list[str] = []
    for segment in code.data_list:
        name = _MODE_NAMES[segment.mode]
        if name not in modes:
            modes.append(name)
    matrix = tuple(tuple(bool(v) for v in row) for row in code.get_matrix())
    return _Encoded(matrix=matrix, version=int(code.version), mode="+".join(modes))


def _check_box(size_mm: float, dpi: int) -> None:
    # Checked before encoding so a bad call fails in microseconds, not after a 10 ms encode.
    if not (isinstance(dpi, int) and dpi > 0):
        raise ValueError(f"dpi must be a positive integer (got {dpi!r})")
    if not (math.isfinite(size_mm) and size_mm > 0):
        raise ValueError(f"size_mm must be a positive number (got {size_mm!r})")


def _spec(encoded: _Encoded, error_correction: str, size_mm: float, dpi: int) -> QrSpec:
    modules = len(encoded.matrix)
    box_dots = size_mm / MM_PER_INCH * dpi
    # The epsilon keeps an exact fit (e.g. 25.4 mm at 300 dpi over 25 modules = 12 dots) from being
    # rounded down by a float error in the division.
    dots = math.floor(box_dots / modules + 1e-9)
    if dots < 1:
        raise ValueError(
            f"a version {encoded.version} symbol ({modules} modules) does not fit {size_mm} mm at {dpi} dpi "
            f"even at 1 dot per module; use a larger size, a higher dpi or less data"
        )
    module_mm = dots / dpi * MM_PER_INCH
    return QrSpec(
        version=encoded.version,
        modules=modules,
        error_correction=error_correction,
        mode=encoded.mode,
        dpi=dpi,
        dots_per_module=dots,
        module_mm=module_mm,
        symbol_mm=modules * module_mm,
        image_px=(modules + 2 * QUIET_ZONE_MODULES) * dots,
        quiet_zone_modules=QUIET_ZONE_MODULES,
    )


def qr_spec(data: str, *, error_correction: str = "M", size_mm: float = 30.0, dpi: int = 300) -> QrSpec:
    """The smallest QR version for ``data`` and its whole-dot module size for a ``size_mm`` box.

    The symbol *without* its quiet zone fits in ``size_mm``: ``dots_per_module =
    floor(size_mm / 25.4 * dpi / modules)``. The 4-module quiet zone is added around it (so the
    printed area is ~34 mm for a 30 mm box; see the module docstring for why).

    Raises ``ValueError`` if ``data`` is empty, ``error_correction`` is not L/M/Q/H, ``dpi`` or
    ``size_mm`` is not positive, the data does not fit version 40, or even 1 dot per module would not
    fit ``size_mm``.
    """
    _check_box(size_mm, dpi)
    return _spec(_encode(data, error_correction), error_correction, size_mm, dpi)


def _png(encoded: _Encoded, spec: QrSpec) -> bytes:
    qz = spec.quiet_zone_modules
    width = spec.modules + 2 * qz
    # Draw one pixel per module, then scale by the whole dot factor with NEAREST: every module is
    # exactly dots_per_module × dots_per_module pixels, no anti-aliasing, no rounding.
    pixels = bytearray(b"\xff" * (width * width))
    for y, row in enumerate(encoded.matrix):
        base = (y + qz) * width + qz
        for x, dark in enumerate(row):
            if dark:
                pixels[base + x] = 0
    image = Image.frombytes("L", (width, width), bytes(pixels))
    image = image.resize((spec.image_px, spec.image_px), Image.Resampling.NEAREST)
    image = image.convert("1", dither=Image.Dither.NONE)  # only 0 and 255 in, so this is exact
    out = io.BytesIO()
    # dpi goes into the pHYs chunk, so a print dialog sizes the image to symbol_mm (+ quiet zone)
    # instead of guessing 72 or 96 dpi. optimize=True trims ~7% for ~0.5 ms; images are cached.
    image.save(out, format="PNG", dpi=(spec.dpi, spec.dpi), optimize=True)
    return out.getvalue()


def render_png(data: str, *, error_correction: str = "M", size_mm: float = 30.0, dpi: int = 300) -> bytes:
    """A 1-bit PNG of the QR code for ``data``: ``image_px`` square, quiet zone included, with ``dpi``
    recorded in its pHYs chunk so it prints with whole-dot modules and the symbol within ``size_mm``.

    Raises ``ValueError`` like ``qr_spec``.
    """
    _check_box(size_mm, dpi)
    encoded = _encode(data, error_correction)
    return _png(encoded, _spec(encoded, error_correction, size_mm, dpi))


def _fmt(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def dark_runs(matrix: tuple[tuple[bool, ...], ...]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of every horizontal run of dark modules, row by row: what the
    SVG path and the certificate's PDF and PNG draw, one stroke or rectangle a run."""
    for y, row in enumerate(matrix):
        x, n = 0, len(row)
        while x < n:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < n and row[x]:
                x += 1
            yield y, start, x - start


def _svg_path(matrix: tuple[tuple[bool, ...], ...], qz: int) -> str:
    # Each horizontal run of dark modules is one stroke of width 1 along the middle of its row:
    # "h<n>" paints exactly n modules with the default butt caps. Moves are relative to where the
    # last run ended, which keeps a V10 path around 4-5 KB (one filled rect per run would be ~3x).
    parts: list[str] = []
    cur_x, cur_y = 0, 0
    first = True
    for y, start, length in dark_runs(matrix):
        if first:  # absolute, on the row's centre line; later moves are whole-module steps
            parts.append(f"M{start + qz} {_fmt(y + qz + 0.5)}")
            first = False
        else:
            parts.append(f"m{start + qz - cur_x} {y + qz - cur_y}")
        parts.append(f"h{length}")
        cur_x, cur_y = start + length + qz, y + qz
    return "".join(parts)


def _svg(encoded: _Encoded, spec: QrSpec) -> bytes:
    qz = spec.quiet_zone_modules
    width = spec.modules + 2 * qz
    side_mm = _fmt(width * spec.module_mm)
    # viewBox units are modules, so the path needs only small integers. The white rect is the quiet
    # zone: without it the code is only scannable on white paper or a white page background.
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{side_mm}mm" height="{side_mm}mm" '
        f'viewBox="0 0 {width} {width}" shape-rendering="crispEdges">'
        f'<rect width="{width}" height="{width}" fill="#fff"/>'
        f'<path fill="none" stroke="#000" stroke-width="1" d="{_svg_path(encoded.matrix, qz)}"/>'
        "</svg>\n"
    )
    return svg.encode("ascii")


def render_svg(data: str, *, error_correction: str = "M", size_mm: float = 30.0) -> bytes:
    """An SVG of the QR code for ``data``, width and height in mm: the symbol plus its quiet zone at the
    module size a 300 dpi print would get (so SVG and PNG print identically). One ``<path>`` for the
    dark modules over one white ``<rect>``; no external references; ``shape-rendering="crispEdges"``.

    Raises ``ValueError`` like ``qr_spec``.
    """
    _check_box(size_mm, SVG_DPI)
    encoded = _encode(data, error_correction)
    return _svg(encoded, _spec(encoded, error_correction, size_mm, SVG_DPI))


class QrCache:
    """Bounded in-memory LRU of rendered images keyed by (data, format, error_correction) so a
    busy server never renders per request; thread-safe; max_items default 2048; stats() -> hits/misses.

    The key also holds ``size_mm`` and ``dpi``, so the same data at two print sizes never collides.
    A miss renders outside the lock (other threads keep getting hits meanwhile); two threads missing
    the same key at once both render and store identical bytes, which is harmless. ~2048 images of
    ~1-5 KB each is under 10 MB.
    """

    def __init__(self, max_items: int = 2048) -> None:
        """Raises ``ValueError`` if ``max_items`` is below 1."""
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1 (got {max_items})")
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, str, str, float, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def png(self, data: str, *, error_correction: str = "M", size_mm: float = 30.0, dpi: int = 300) -> bytes:
        """``render_png`` through the cache. Raises ``ValueError`` like ``render_png`` (never cached)."""
        key = (data, "png", error_correction, float(size_mm), dpi)
        cached = self._get(key)
        if cached is not None:
            return cached
        return self._put(key, render_png(data, error_correction=error_correction, size_mm=size_mm, dpi=dpi))

    def svg(self, data: str, *, error_correction: str = "M", size_mm: float = 30.0) -> bytes:
        """``render_svg`` through the cache. Raises ``ValueError`` like ``render_svg`` (never cached)."""
        key = (data, "svg", error_correction, float(size_mm), SVG_DPI)
        cached = self._get(key)
        if cached is not None:
            return cached
        return self._put(key, render_svg(data, error_correction=error_correction, size_mm=size_mm))

    def stats(self) -> dict[str, int]:
        """Counters since creation: hits, misses, evictions, and the current and maximum item count."""
        with self._lock:
            return {
                "hits": self._hits,
                "misses": self._misses,
                "evictions": self._evictions,
                "items": len(self._items),
                "max_items": self.max_items,
            }

    def clear(self) -> None:
        """Drop every cached image (counters are kept)."""
        with self._lock:
            self._items.clear()

    def _get(self, key: tuple[str, str, str, float, int]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return value

    def _put(self, key: tuple[str, str, str, float, int], value: bytes) -> bytes:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
                self._evictions += 1
        return value
