"""verify.render.qr: version choice, whole-dot module sizes, exact PNG and SVG output, the render cache.

Every image is checked against the matrix ``qrcode`` produces and read back with zxing-cpp, so a
renderer that is off by one module, one dot or one quiet-zone row fails here, not on paper.
"""

from __future__ import annotations

import base64
import io
import random
import re
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest
import qrcode
import qrcode.constants
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from verify.render import qr

PREFIX = "HTTPS://VERIFY.EXAMPLE.CN/C/"
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
SVG_NS = "{http://www.w3.org/2000/svg}"
EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def base32_url(length: int, seed: int = 2021) -> str:
    """An upper-case certificate URL of exactly ``length`` characters: prefix + unpadded Base32."""
    body = base64.b32encode(random.Random(seed).randbytes(length)).decode("ascii").rstrip("=")
    url = PREFIX + body[: length - len(PREFIX)]
    assert len(url) == length
    return url


URL_225 = base32_url(225)  # a record with a longer name and 工种 (docs/QR-FORMAT.md §8)
URL_300 = base32_url(300)  # near the top of V10 at M (311 chars)


def reference_matrix(data: str, ec: str) -> list[list[bool]]:
    """The symbol straight from qrcode, independent of verify.render.qr's own copy."""
    code = qrcode.QRCode(version=None, error_correction=EC[ec], box_size=1, border=0)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(v) for v in row] for row in code.get_matrix()]


def with_quiet_zone(matrix: list[list[bool]], qz: int = 4) -> list[list[bool]]:
    width = len(matrix) + 2 * qz
    blank = [False] * width
    return [blank] * qz + [[False] * qz + row + [False] * qz for row in matrix] + [blank] * qz


def decode(image: Image.Image) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image, formats=QR_ONLY)]


# --- spec -----------------------------------------------------------------------------------------


def test_the_225_char_url_is_alphanumeric_and_fits_v9_at_m_with_6_dot_modules() -> None:
    assert set(URL_225) <= QR_ALPHANUMERIC
    spec = qr.qr_spec(URL_225)
    assert spec.mode == "alphanumeric"
    assert spec.version <= 10
    assert spec.version == 9  # 225 chars > 221 (V8-M), <= 262 (V9-M): the capacity table of ISO/IEC 18004
    assert spec.modules == 17 + 4 * spec.version == 53
    assert spec.error_correction == "M"
    assert spec.dpi == 300
    assert spec.dots_per_module == 6
    assert spec.module_mm == pytest.approx(0.508)
    assert spec.module_mm >= 0.5
    assert spec.symbol_mm == pytest.approx(53 * 0.508)
    assert spec.symbol_mm <= 30
    assert spec.quiet_zone_modules == 4
    assert spec.image_px == (53 + 8) * 6 == 366


def test_the_225_char_url_at_q_needs_v11_and_drops_to_5_dots() -> None:
    # Documents the cost of Q for this payload: 225 chars > 221 (V10-Q), so V11 at 0.42 mm modules,
    # under the 0.5 mm rule of thumb. V9-Q holds at most 189 alphanumeric characters.
    spec = qr.qr_spec(URL_225, error_correction="Q")
    assert (spec.version, spec.modules, spec.dots_per_module) == (11, 61, 5)
    assert spec.module_mm == pytest.approx(5 / 300 * 25.4)
    assert spec.symbol_mm <= 30


# Longest alphanumeric payload per version at M (the capacity table of ISO/IEC 18004) and the whole-dot
# module size the "printing at 30 mm" table gives for it at 300 dpi.
@pytest.mark.parametrize(
    ("chars", "version", "dots"),
    [
        (154, 6, 8),
        (178, 7, 7),
        (221, 8, 7),
        (262, 9, 6),
        (311, 10, 6),
        (366, 11, 5),
        (419, 12, 5),
        (528, 14, 4),
        (656, 16, 4),
    ],
)
def test_capacity_and_dots_match_the_anchors_table(chars: int, version: int, dots: int) -> None:
    spec = qr.qr_spec(base32_url(chars))
    assert (spec.version, spec.dots_per_module) == (version, dots)
    # one more character must not fit the same version
    assert qr.qr_spec(base32_url(chars + 1)).version == version + 1
    assert spec.symbol_mm <= 30.0
    assert spec.image_px == (spec.modules + 8) * dots


def test_600_dpi_v6_gets_17_dots() -> None:
    spec = qr.qr_spec(base32_url(154), dpi=600)
    assert (spec.version, spec.dots_per_module) == (6, 17)
    assert spec.module_mm == pytest.approx(17 / 600 * 25.4)


def test_dots_round_down_so_the_symbol_never_exceeds_the_box() -> None:
    for size_mm in (20.0, 25.0, 26.9, 27.0, 30.0, 35.0):
        spec = qr.qr_spec(URL_225, size_mm=size_mm)
        assert spec.symbol_mm <= size_mm + 1e-9
        assert (spec.dots_per_module + 1) * spec.modules / 300 * 25.4 > size_mm


def test_exact_fit_is_not_lost_to_float_rounding() -> None:
    # 53 modules × 6 dots = 318 dots = 26.924 mm at 300 dpi exactly.
    assert qr.qr_spec(URL_225, size_mm=26.924).dots_per_module == 6


def test_lower_case_url_falls_back_to_byte_mode_and_a_bigger_symbol() -> None:
    lower = qr.qr_spec(URL_225.lower())
    assert lower.mode == "byte"
    assert lower.version > qr.qr_spec(URL_225).version  # V11 vs V9 at M: why the URL is upper case


def test_mixed_segments_are_reported_in_order() -> None:
    assert qr.qr_spec("https://v.example.cn/c/" + "1234567890" * 3).mode == "byte+numeric"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size_mm": 4.0}, "even at 1 dot per module"),
        ({"error_correction": "X"}, "error_correction"),
        ({"error_correction": "m"}, "error_correction"),
        ({"dpi": 0}, "dpi"),
        ({"size_mm": 0.0}, "size_mm"),
        ({"size_mm": float("nan")}, "size_mm"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        qr.qr_spec(URL_225, **kwargs)  # type: ignore[arg-type]


def test_empty_data_raises_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        qr.qr_spec("")


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(min_value=29, max_value=700),
    size_mm=st.floats(min_value=15.0, max_value=80.0),
    dpi=st.sampled_from([203, 300, 600, 1200]),
)
def test_spec_arithmetic_holds_for_any_size_and_dpi(length: int, size_mm: float, dpi: int) -> None:
    spec = qr.qr_spec(base32_url(length, seed=length), size_mm=size_mm, dpi=dpi)
    assert spec.modules == 17 + 4 * spec.version
    assert spec.dots_per_module == int(size_mm / 25.4 * dpi / spec.modules + 1e-9)
    assert spec.module_mm == pytest.approx(spec.dots_per_module / dpi * 25.4)
    assert spec.symbol_mm <= size_mm + 1e-9
    assert spec.image_px == (spec.modules + 2 * spec.quiet_zone_modules) * spec.dots_per_module


def test_data_beyond_version_40_raises_value_error() -> None:
    assert qr.qr_spec("A" * 4296, error_correction="L").version == 40  # the last one that fits
    with pytest.raises(ValueError, match="version 40"):
        qr.qr_spec("A" * 4297)  # V40-L alphanumeric capacity is 4296
    with pytest.raises(ValueError, match="version 40"):
        qr.render_png("A" * 4000, error_correction="H")


# --- PNG ------------------------------------------------------------------------------------------


def test_png_is_1_bit_exact_size_with_300_dpi_recorded() -> None:
    spec = qr.qr_spec(URL_225)
    image = Image.open(io.BytesIO(qr.render_png(URL_225)))
    assert image.format == "PNG"
    assert image.mode == "1"
    assert image.size == (spec.image_px, spec.image_px)
    # pHYs stores pixels per metre (11811), which reads back as 299.9994 dpi
    dpi = image.info["dpi"]
    assert dpi[0] == pytest.approx(300, abs=0.01)
    assert dpi[1] == pytest.approx(300, abs=0.01)


@pytest.mark.parametrize(
    ("data", "ec", "dpi"), [(URL_225, "M", 300), (URL_225, "Q", 300), (URL_300, "M", 600)]
)
def test_png_pixels_are_the_matrix_at_whole_dots_with_a_4_module_quiet_zone(
    data: str, ec: str, dpi: int
) -> None:
    spec = qr.qr_spec(data, error_correction=ec, dpi=dpi)
    image = Image.open(io.BytesIO(qr.render_png(data, error_correction=ec, dpi=dpi)))
    rows = with_quiet_zone(reference_matrix(data, ec))
    d = spec.dots_per_module
    expected = bytes(
        0 if rows[y // d][x // d] else 255 for y in range(spec.image_px) for x in range(spec.image_px)
    )
    assert image.convert("L").tobytes() == expected


@pytest.mark.parametrize(
    ("data", "ec"), [(URL_225, "M"), (URL_225, "Q"), (URL_300, "M"), (PREFIX + "ABC", "H")]
)
def test_zxing_reads_back_the_exact_data_from_the_png(data: str, ec: str) -> None:
    spec = qr.qr_spec(data, error_correction=ec)
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.render_png(data, error_correction=ec))))
    assert [r.text for r in results] == [data]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    assert results[0].ec_level == ec
    extra = results[0].extra
    assert isinstance(extra, dict)
    assert extra["Version"] == str(spec.version)


# --- SVG ------------------------------------------------------------------------------------------


def svg_modules(svg: bytes) -> tuple[ET.Element, list[list[bool]]]:
    """Parse the SVG and replay its one path (only M/m/h, as qr.py writes it) into a module grid."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    width = int(root.attrib["viewBox"].split()[2])
    grid = [[False] * width for _ in range(width)]
    (path,) = root.iter(f"{SVG_NS}path")
    d = path.attrib["d"]
    assert re.fullmatch(r"(?:[Mm]-?[\d.]+ -?[\d.]+|h\d+)+", d), d[:80]
    x, y = 0.0, 0.0
    for cmd, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", d):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        else:
            # a stroke of width 1 centred on y covers row floor(y) from x to x + n
            assert y % 1 == 0.5 and x % 1 == 0
            for col in range(int(x), int(x) + int(a)):
                assert not grid[int(y)][col], "modules painted twice"
                grid[int(y)][col] = True
            x += int(a)
    return root, grid


def test_svg_has_mm_size_one_path_crisp_edges_and_no_external_references() -> None:
    spec = qr.qr_spec(URL_225)
    svg = qr.render_svg(URL_225)
    root, _ = svg_modules(svg)
    assert root.tag == f"{SVG_NS}svg"
    side = (spec.modules + 8) * spec.module_mm
    for attr in ("width", "height"):
        assert root.attrib[attr].endswith("mm")
        assert float(root.attrib[attr][:-2]) == pytest.approx(side, abs=1e-4)
    assert root.attrib["shape-rendering"] == "crispEdges"
    assert len(list(root.iter(f"{SVG_NS}path"))) == 1
    assert [e.tag for e in root] == [f"{SVG_NS}rect", f"{SVG_NS}path"]  # white quiet zone, then the modules
    assert b"href" not in svg and b"url(" not in svg and b"<image" not in svg and b"<script" not in svg


def test_svg_and_png_print_at_the_same_size() -> None:
    spec = qr.qr_spec(URL_225, dpi=300)
    root = ET.fromstring(qr.render_svg(URL_225))  # noqa: S314
    assert float(root.attrib["width"][:-2]) == pytest.approx(spec.image_px / 300 * 25.4, abs=1e-4)


@pytest.mark.parametrize(
    ("data", "ec"), [(URL_225, "M"), (URL_300, "M"), (URL_225, "Q"), (PREFIX + "ABC", "L")]
)
def test_svg_path_is_exactly_the_matrix_and_decodes(data: str, ec: str) -> None:
    _, grid = svg_modules(qr.render_svg(data, error_correction=ec))
    assert grid == with_quiet_zone(reference_matrix(data, ec))
    # Rasterise our own grid (4 px per module) and read it: the SVG geometry is a scannable code.
    width = len(grid)
    raster = Image.frombytes("L", (width, width), bytes(0 if v else 255 for row in grid for v in row))
    assert decode(raster.resize((width * 4, width * 4), Image.Resampling.NEAREST)) == [data]


def test_svg_for_a_v10_code_is_under_10_kb() -> None:
    assert qr.qr_spec(URL_300).version == 10
    assert len(qr.render_svg(URL_300)) < 10_000


# --- cache ----------------------------------------------------------------------------------------


def short(i: int) -> str:
    return f"{PREFIX}{i:04d}"


def test_cache_hits_on_repeat_and_returns_the_same_bytes() -> None:
    cache = qr.QrCache()
    first = cache.png(URL_225)
    assert first == qr.render_png(URL_225)
    assert cache.png(URL_225) is first
    svg = cache.svg(URL_225)
    assert svg == qr.render_svg(URL_225)
    assert cache.svg(URL_225) is svg
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["items"]) == (2, 2, 2)


def test_cache_keys_include_format_ec_size_and_dpi() -> None:
    cache = qr.QrCache()
    cache.png(short(1))
    cache.png(short(1), error_correction="Q")
    cache.png(short(1), dpi=600)
    cache.png(short(1), size_mm=20.0)
    cache.svg(short(1))
    cache.svg(short(1), error_correction="Q")
    assert cache.stats()["misses"] == 6
    assert cache.png(short(1), dpi=600) == qr.render_png(short(1), dpi=600)
    assert cache.stats()["hits"] == 1


def test_cache_evicts_least_recently_used_and_stays_bounded() -> None:
    cache = qr.QrCache(max_items=3)
    for i in range(3):
        cache.png(short(i))
    cache.png(short(0))  # touch 0: 1 is now the oldest
    cache.png(short(3))  # evicts 1
    stats = cache.stats()
    assert (stats["items"], stats["evictions"], stats["max_items"]) == (3, 1, 3)
    cache.png(short(0))
    cache.png(short(2))
    cache.png(short(3))
    assert cache.stats()["hits"] == 4
    cache.png(short(1))  # a miss again: it was evicted
    assert cache.stats()["misses"] == 5
    for i in range(10, 30):
        cache.svg(short(i))
    assert cache.stats()["items"] == 3


def test_cache_does_not_store_failures() -> None:
    cache = qr.QrCache()
    with pytest.raises(ValueError):
        cache.png(URL_225, size_mm=4.0)
    assert cache.stats()["items"] == 0
    cache.clear()
    assert cache.stats()["items"] == 0


def test_cache_rejects_a_zero_bound() -> None:
    with pytest.raises(ValueError, match="max_items"):
        qr.QrCache(max_items=0)


def test_cache_is_consistent_under_threads() -> None:
    cache = qr.QrCache(max_items=4)
    keys = [short(i) for i in range(6)]
    start = threading.Barrier(8)

    def work(n: int) -> list[bytes]:
        start.wait()
        return [cache.png(keys[(n + i) % len(keys)]) for i in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for batch in pool.map(work, range(8)) for r in batch]
    stats = cache.stats()
    assert stats["hits"] + stats["misses"] == len(results) == 200
    assert stats["items"] <= 4
    expected = {k: qr.render_png(k) for k in keys}
    assert set(results) == set(expected.values())
