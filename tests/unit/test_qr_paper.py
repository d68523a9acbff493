"""Paper round trip: print the PNG at 300 dpi into the 30 mm box, "photograph" it, decode it.

There is no camera in CI, so the capture is simulated with Pillow, step by step, in the order the
physics happens (print defects -> paper on the desk -> optics -> light -> sensor -> JPEG):

1. print: the 300 dpi PNG on off-white paper with not-quite-black toner, and 3% of the printer dots
   flipped (toner specks on white, voids in black) all over the sheet;
2. pose: the sheet tilted 3-7 degrees in the frame (bicubic rotation, the frame filled with paper);
3. optics: downscaled so the symbol spans 260-340 camera pixels, which is what a scanner's 1080p
   preview stream (~70 degree field of view) sees of a 27 mm symbol at 11-14 cm (4.9-6.4 px per
   module for the V9 code, 4.3-5.6 for V11), then a Gaussian blur of sigma 1.2 px (focus and lens);
4. light: up to 12% darker towards one side, contrast x0.8 and +15 brightness (washed out);
5. sensor: zero-mean noise of sigma 8 grey levels on every pixel, from a seeded ``random``;
6. JPEG at quality 80, as a phone hands frames to the scanner.

The levels were tuned against zxing-cpp 3.1.1 and then kept with margin: 30 seeds per code all
decode at sigma-1.25 blur with sigma-8 noise. Harsher settings start to fail first on the V11-Q code
(0.42 mm modules): at blur 1.5 px with noise sigma 10-12 and a 250 px span, 1 in 3 to 2 in 3
captures fail, and at sigma-16 noise most fail. Salt-and-pepper noise *after* the blur (impulse
noise a phone's ISP removes) broke detection at 1-2% and was replaced by print specks before it.
"""

from __future__ import annotations

import base64
import io
import math
import random
from dataclasses import dataclass

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageFilter

from verify.render import qr

PREFIX = "HTTPS://VERIFY.EXAMPLE.CN/C/"
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
SHORT_URL = PREFIX + "AEBAGBAFAYDQQCIKBMGA2DQPCA"  # opaque token, V3 at M (12-dot modules)
LONG_URL = PREFIX + base64.b32encode(random.Random(2021).randbytes(130)).decode("ascii")[:197]  # 225 chars

PAPER = 236  # off-white paper under indoor light, never 255
INK = 35  # laser toner, never 0
SPECKS = 0.03  # fraction of printer dots flipped
BLUR = 1.2  # Gaussian sigma, camera pixels
SHADE = 30  # up to SHADE/255 darker towards one side
CONTRAST = 0.8
BRIGHTNESS = 15
NOISE_SIGMA = 8.0  # grey levels
JPEG_QUALITY = 80


@dataclass(frozen=True)
class Capture:
    seed: int
    angle: float  # degrees counter-clockwise
    span_px: int  # camera pixels across the symbol (quiet zone not counted)


CAPTURES = [
    Capture(seed=1, angle=3.0, span_px=260),
    Capture(seed=2, angle=-4.5, span_px=300),
    Capture(seed=3, angle=7.0, span_px=340),
    Capture(seed=4, angle=5.5, span_px=280),
    Capture(seed=5, angle=-6.0, span_px=320),
]
CODES = [
    pytest.param(SHORT_URL, "M", id="short-V3-M"),
    pytest.param(LONG_URL, "M", id="225ch-V9-M"),
    pytest.param(LONG_URL, "Q", id="225ch-V11-Q"),
]


def photograph(png: bytes, spec: qr.QrSpec, capture: Capture) -> Image.Image:
    rng = random.Random(capture.seed)
    code = Image.open(io.BytesIO(png)).convert("L")

    # 1. print: the code on a sheet with a margin of paper, specks everywhere on it
    margin = code.width // 3
    sheet = Image.new("L", (code.width + 2 * margin, code.height + 2 * margin), 255)
    sheet.paste(code, (margin, margin))
    dots = bytearray(sheet.tobytes())
    for i in rng.sample(range(len(dots)), round(len(dots) * SPECKS)):
        dots[i] ^= 0xFF
    sheet = Image.frombytes("L", sheet.size, bytes(dots)).point(lambda v: INK if v < 128 else PAPER)

    # 2. pose
    sheet = sheet.rotate(capture.angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=PAPER)

    # 3. optics
    scale = capture.span_px / (spec.modules * spec.dots_per_module)
    side = round(sheet.width * scale)
    frame = sheet.resize((side, side), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(BLUR))

    # 4. light: a linear falloff in a random direction (rotated twice as large, then cropped, so the
    # corners are not left unlit), then exposure
    falloff = (
        Image.linear_gradient("L")
        .resize((2 * side, 2 * side))
        .rotate(rng.uniform(0, 360))
        .crop((side // 2, side // 2, side // 2 + side, side // 2 + side))
        .point(lambda v: 255 - v * SHADE // 255)
    )
    frame = ImageChops.multiply(frame, falloff)
    frame = frame.point(lambda v: max(0, min(255, round(v * CONTRAST + BRIGHTNESS))))

    # 5. sensor noise: the mean of two uniform bytes is triangular around 127.5 with sigma ~52.3,
    # rescaled to NOISE_SIGMA and added around zero (ImageChops.add clips to 0..255)
    u1 = Image.frombytes("L", frame.size, rng.randbytes(side * side))
    u2 = Image.frombytes("L", frame.size, rng.randbytes(side * side))
    k = NOISE_SIGMA / (255 / math.sqrt(24))
    noise = ImageChops.add(u1, u2, scale=2.0).point(lambda v: max(0, min(255, round(128 + (v - 127.5) * k))))
    frame = ImageChops.add(frame, noise, scale=1.0, offset=-128)

    # 6. JPEG
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=JPEG_QUALITY)
    photo = Image.open(io.BytesIO(out.getvalue()))
    photo.load()
    return photo


def test_the_long_url_is_225_upper_case_alphanumeric_chars() -> None:
    assert len(LONG_URL) == 225
    assert qr.qr_spec(LONG_URL).mode == qr.qr_spec(SHORT_URL).mode == "alphanumeric"
    assert [
        qr.qr_spec(u, error_correction=ec).version
        for u, ec in [(SHORT_URL, "M"), (LONG_URL, "M"), (LONG_URL, "Q")]
    ] == [3, 9, 11]


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: f"seed{c.seed}-{c.angle:+g}deg-{c.span_px}px")
@pytest.mark.parametrize(("url", "ec"), CODES)
def test_a_phone_photo_of_the_printed_code_decodes_to_the_exact_url(
    url: str, ec: str, capture: Capture
) -> None:
    spec = qr.qr_spec(url, error_correction=ec)  # 300 dpi, 30 mm box
    assert spec.symbol_mm <= 30
    photo = photograph(qr.render_png(url, error_correction=ec), spec, capture)
    results = zxingcpp.read_barcodes(photo, formats=QR_ONLY)
    assert [r.text for r in results] == [url]
    # The capture really is what it claims: tilted by the angle, symbol about span_px across.
    (result,) = results
    corners = result.position
    top = math.dist((corners.top_left.x, corners.top_left.y), (corners.top_right.x, corners.top_right.y))
    assert top == pytest.approx(capture.span_px, rel=0.08)
    tilt = math.degrees(
        math.atan2(corners.top_left.y - corners.top_right.y, corners.top_right.x - corners.top_left.x)
    )
    assert tilt == pytest.approx(capture.angle, abs=1.5)


def test_the_capture_is_degraded_not_a_clean_copy() -> None:
    spec = qr.qr_spec(LONG_URL)
    photo = photograph(qr.render_png(LONG_URL), spec, CAPTURES[0])
    assert photo.mode == "L"
    assert photo.width > CAPTURES[0].span_px  # rotated with expand=True: paper all round
    histogram = photo.histogram()
    assert sum(1 for count in histogram if count) > 150  # blur, light and noise: a continuum of greys
    # not a two-tone image any more: a good share of pixels is neither near black nor near white
    mid = sum(histogram[64:192])
    assert mid / (photo.width * photo.height) > 0.15
