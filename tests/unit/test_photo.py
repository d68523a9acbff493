"""verify.render.photo: the holder's photo is judged by its content, bounded before decoding, fully
decoded and re-encoded without metadata.

Every image is made here with Pillow, except the big bombs: a 20000 × 20000 PNG built with Pillow
would take 400 MB in this process, so ``flat_png`` writes the same valid PNG row by row (deflated on
the fly, a few dozen KB); ``test_flat_png_is_a_real_png`` shows Pillow reads what it writes. The
biggest bombs are read in a subprocess under an address-space limit, which reports the refusal, its
CPU time and the growth of its peak RSS, so that a missing check fails the test instead of taking
the machine down.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, features

from verify.domain.errors import InvalidPhoto
from verify.render.photo import MAX_BYTES, MAX_PIXELS, MAX_SIDE, OUT_HEIGHT, OUT_WIDTH, Photo, validate_photo

REPO = Path(__file__).resolve().parents[2]
GPS_IFD, ORIENTATION = 0x8825, 0x0112


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def picture(size: tuple[int, int]) -> Image.Image:
    """An RGB picture with detail (a gradient), so that it is not trivially compressible."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((200, 30, 30), (width // 4, height // 4, width // 2, height // 2))
    return image


def flat_png(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale PNG of ``width`` × ``height`` black pixels, deflated row by row."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = (b"\x00" * (1 + (width + 7) // 8)) * 100  # filter byte 0 + packed bits, 100 rows
    z = zlib.compressobj(9)
    body = [z.compress(rows) for _ in range(height // 100)]
    body += [z.compress(rows[: len(rows) // 100 * (height % 100)]), z.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b"")


def refused(data: bytes, name: str = "photo.jpg") -> InvalidPhoto:
    with pytest.raises(InvalidPhoto) as info:
        validate_photo(data, name=name)
    assert info.value.reason == "invalid_photo"
    assert len(info.value.problems) == 1
    return info.value


def code(data: bytes, name: str = "photo.jpg") -> str:
    return refused(data, name).problems[0].code


def check_output(photo: Photo) -> Image.Image:
    """The output is a baseline JPEG within the slot, and the dataclass describes it."""
    assert photo.sha256 == hashlib.sha256(photo.jpeg).hexdigest()
    out = Image.open(io.BytesIO(photo.jpeg))
    assert out.format == "JPEG" and out.mode == "RGB"
    assert out.size == (photo.width, photo.height)
    assert photo.width <= OUT_WIDTH and photo.height <= OUT_HEIGHT
    assert b"\xff\xc0" in photo.jpeg and b"\xff\xc2" not in photo.jpeg  # SOF0 baseline, not progressive
    assert "progressive" not in out.info and "progression" not in out.info
    out.load()
    return out


# ------------------------------------------------------------------------------------------
# Honest photos pass


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_valid_photo_passes_as_a_clean_jpeg(fmt: str) -> None:
    photo = validate_photo(encode(picture((800, 1000)), fmt), name=f"a.{fmt.lower()}")
    out = check_output(photo)
    assert out.size == (600, 750)
    assert "jpeg=" not in repr(photo)  # the bytes stay out of logs


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1200, 1200), (600, 600)),
        ((3000, 1000), (600, 200)),
        ((600, 2000), (252, 840)),
        ((150, 200), (150, 200)),  # never scaled up
        ((100, 100), (100, 100)),  # the smallest accepted
        ((600, 840), (600, 840)),
    ],
)
def test_scaled_down_to_fit_keeping_the_aspect_ratio(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert check_output(validate_photo(encode(picture(size), "PNG"))).size == expected


def test_exactly_the_limits_pass() -> None:
    # 4000 × 3000 is both the longest side and MAX_PIXELS; a file of exactly MAX_BYTES passes.
    assert MAX_PIXELS == 4000 * 3000
    assert check_output(validate_photo(flat_png(4000, 3000))).size == (600, 450)
    small = encode(picture((300, 400)), "PNG")
    padded = small + b"\x00" * (MAX_BYTES - len(small))  # trailing bytes after IEND are ignored
    assert check_output(validate_photo(padded)).size == (300, 400)
    assert refused(padded + b"\x00").problems[0].code == "photo_file_too_large"


def test_content_decides_not_the_name() -> None:
    png = encode(picture((300, 400)), "PNG")
    assert check_output(validate_photo(png, name="photo.jpg")).size == (300, 400)
    jpeg = encode(picture((300, 400)), "JPEG")
    assert check_output(validate_photo(jpeg, name="photo.png")).size == (300, 400)


def test_multi_picture_jpeg_from_a_phone_passes() -> None:
    image = picture((400, 500))
    mpo = encode(image, "MPO", save_all=True, append_images=[image.rotate(90)])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"
    assert check_output(validate_photo(mpo, name="IMG_0001.jpg")).size == (400, 500)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparency_is_flattened_on_white(mode: str) -> None:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (50, 50, 150, 150))
    out = check_output(validate_photo(encode(image.convert(mode), "PNG")))
    assert out.getpixel((5, 5)) >= (250, 250, 250)  # type: ignore[operator]
    assert out.getpixel((100, 100)) <= (5, 5, 5)  # type: ignore[operator]


def test_16_bit_grayscale_is_scaled_not_clipped() -> None:
    data = encode(Image.new("I;16", (200, 300), 40000), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    red, green, blue = check_output(validate_photo(data)).getpixel((100, 150))  # type: ignore[misc]
    assert abs(red - 40000 // 256) <= 2 and red == green == blue


# ------------------------------------------------------------------------------------------
# Metadata is dropped, orientation is applied


def test_exif_gps_icc_and_comment_are_stripped() -> None:
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (34.0, 45.0, 0.0)
    exif[0x010F] = "CameraMaker"
    data = encode(picture((400, 500)), "JPEG", exif=exif, icc_profile=b"fake-icc", comment=b"hidden note")
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(GPS_IFD)[2] == (34.0, 45.0, 0.0)
    assert source.info["icc_profile"] == b"fake-icc" and source.info["comment"] == b"hidden note"
    assert b"Exif\x00\x00" in data

    photo = validate_photo(data, name="a.jpg")
    out = check_output(photo)
    assert len(out.getexif()) == 0
    assert b"Exif" not in photo.jpeg and b"\xff\xe1" not in photo.jpeg  # no APP1 at all
    assert b"\xff\xe2" not in photo.jpeg and "icc_profile" not in out.info  # no APP2 (ICC)
    assert b"hidden note" not in photo.jpeg and "comment" not in out.info
    assert b"CameraMaker" not in photo.jpeg


def test_exif_orientation_6_is_applied() -> None:
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))  # left half red, right half blue
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored rotated: display turns it 90° clockwise
    data = encode(image, "JPEG", exif=exif, quality=95)
    assert Image.open(io.BytesIO(data)).size == (200, 100)
    out = check_output(validate_photo(data))
    assert out.size == (100, 200)  # portrait
    top, bottom = out.getpixel((50, 20)), out.getpixel((50, 180))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


# ------------------------------------------------------------------------------------------
# Refusals


def test_other_formats_named_jpg_are_refused() -> None:
    image = picture((300, 400))
    others = {"GIF": encode(image, "GIF"), "BMP": encode(image, "BMP"), "TIFF": encode(image, "TIFF")}
    if features.check("webp"):
        others["WEBP"] = encode(image, "WEBP")
    for fmt, data in others.items():
        assert Image.open(io.BytesIO(data)).format == fmt  # a real image Pillow could read
        assert code(data, "photo.jpg") == "photo_not_jpeg_or_png", fmt


@pytest.mark.parametrize(
    "data",
    [random.Random(7).randbytes(5000), "这不是照片\n".encode() * 100, b"\xff\xd8\xff" + b"\x00" * 500],
    ids=["random", "text", "jpeg_magic_only"],
)
def test_non_images_are_refused(data: bytes) -> None:
    assert code(data, "photo.jpg") in {"photo_not_jpeg_or_png", "photo_unreadable"}
    if not data.startswith(b"\xff\xd8"):
        assert code(data) == "photo_not_jpeg_or_png"


def test_empty_file_is_refused() -> None:
    assert code(b"") == "photo_empty"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_files_are_refused(fmt: str, keep: float) -> None:
    data = encode(Image.effect_noise((400, 500), 60).convert("RGB"), fmt)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert code(data[: int(len(data) * keep)]) == "photo_unreadable"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_oversize_file_is_refused_before_decoding() -> None:
    noise = Image.frombytes("RGB", (1000, 800), random.Random(1).randbytes(1000 * 800 * 3))
    data = encode(noise, "PNG")
    assert len(data) > MAX_BYTES
    assert Image.open(io.BytesIO(data)).size == (1000, 800)  # a valid image otherwise
    error = refused(data, "big.png")
    assert error.problems[0].code == "photo_file_too_large"
    assert error.problems[0].found == str(len(data)) and error.problems[0].allowed == str(MAX_BYTES)
    # Refused on size alone: garbage of the same size gets the same answer, not "not an image".
    assert code(b"\x00" * (MAX_BYTES + 1)) == "photo_file_too_large"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((50, 50), "photo_too_small"),
        ((99, 300), "photo_too_small"),
        ((300, 99), "photo_too_small"),
        ((5000, 100), "photo_too_large"),
        ((MAX_SIDE + 1, 200), "photo_too_large"),
        ((200, MAX_SIDE + 1), "photo_too_large"),
    ],
)
def test_sides_out_of_bounds_are_refused(size: tuple[int, int], expected: str) -> None:
    error = refused(encode(Image.new("L", size, 128), "PNG"), "a.png")
    assert error.problems[0].code == expected
    assert error.problems[0].found == f"{size[0]}×{size[1]}"


def test_side_limit_holds_below_the_pixel_limit() -> None:
    assert MAX_PIXELS > 8000 * 1000
    assert code(flat_png(8000, 1000)) == "photo_too_large"


def test_pixel_limit_holds_without_pillows_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert MAX_PIXELS < 3500 * 3500 and MAX_SIDE >= 3500
    error = refused(flat_png(3500, 3500))
    assert error.problems[0].code == "photo_too_many_pixels"
    assert error.problems[0].found == str(3500 * 3500)


@pytest.mark.parametrize("size", [(1500, 1000), (2100, 1000)], ids=["warning", "error"])
def test_pillows_bomb_guard_is_a_refusal(size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow warns past MAX_IMAGE_PIXELS and raises past twice that; both must refuse, even when the
    # caller's own filters ignore warnings.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert code(flat_png(*size)) == "photo_decompression_bomb"


def test_flat_png_is_a_real_png(monkeypatch: pytest.MonkeyPatch) -> None:
    small = Image.open(io.BytesIO(flat_png(301, 250)))
    small.load()  # complete: every row is there
    assert (small.format, small.mode, small.size, small.getextrema()) == ("PNG", "1", (301, 250), (0, 0))
    assert check_output(validate_photo(flat_png(301, 250))).size == (301, 250)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    bomb = flat_png(20000, 20000)
    assert Image.open(io.BytesIO(bomb)).size == (20000, 20000)  # header only: nothing decoded


CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from PIL import Image
from verify.domain.errors import VerifyError
from verify.render.photo import validate_photo
if sys.argv[2] == "off":
    Image.MAX_IMAGE_PIXELS = None
with open(sys.argv[1], "rb", buffering=0) as f:
    data = f.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu = time.process_time()
try:
    validate_photo(data, name="bomb.png")
    reason, code = None, None
except VerifyError as exc:
    reason, code = exc.reason, exc.problems[0].code if exc.problems else None
except MemoryError:
    reason, code = "MemoryError", None
cpu = time.process_time() - cpu
rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"reason": reason, "code": code, "cpu": cpu, "rss_mb": rss_mb}))
"""


@pytest.mark.parametrize(
    ("side", "pillow_guard", "expected"),
    [
        (20000, "on", "photo_decompression_bomb"),  # 400 MP: Pillow's DecompressionBombError
        (10000, "on", "photo_decompression_bomb"),  # 100 MP: Pillow's warning, made an error
        (20000, "off", "photo_too_large"),  # Pillow's global disabled: our own header checks
        (10000, "off", "photo_too_large"),
    ],
)
def test_real_decompression_bomb_is_refused_cheaply(
    side: int, pillow_guard: str, expected: str, tmp_path: Path
) -> None:
    bomb = flat_png(side, side)
    assert len(bomb) < 512 * 1024  # a few dozen KB that would decode to side² bytes or more
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), pillow_guard],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert (got["reason"], got["code"]) == ("invalid_photo", expected), got
    assert got["cpu"] < 0.5, got  # refused from the header, before any pixel is decoded
    assert got["rss_mb"] < 32, got  # decoding would take at least 100 MB


# ------------------------------------------------------------------------------------------
# Messages: what, where, why


def test_message_names_the_file_and_the_reason() -> None:
    gif = encode(picture((300, 400)), "GIF")
    error = refused(gif, "a.jpg")
    assert error.message_zh == "照片 a.jpg 不是 JPEG 或 PNG 图像（按文件内容判断）"
    assert error.message_en == "Photo a.jpg is not a JPEG or PNG image (judged by its content)"
    assert error.details == {"name": "a.jpg"}
    assert error.to_json()["problems"][0]["code"] == "photo_not_jpeg_or_png"
    small = refused(encode(Image.new("L", (50, 60)), "PNG"), "C:\\fakepath\\张三\x00.png")
    assert small.message_zh == "照片 张三.png 为 50×60 像素，每边至少需要 100 像素"
    assert small.message_en == "Photo 张三.png is 50×60 pixels; each side must have at least 100"
    nameless = refused(b"", "")
    assert (nameless.message_zh, nameless.message_en) == ("照片是空文件", "The photo is empty")
    assert nameless.details == {}
