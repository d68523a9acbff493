"""The holder's photo on a printed certificate: checked by content, bounded, re-encoded clean.

An assessment institution uploads one photo per holder for the 1-inch slot (25 mm × 35 mm) of the
printed certificate. The photo appears only on the holder's own certificate, never in any public
answer of the service (a verification result names the certificate, not the face), so nothing here
is ever served to the public; it is still untrusted input decoded inside a web worker.

* **Content, never the name.** Pillow identifies the file from its bytes, restricted to the JPEG and
  PNG decoders: a PNG named ``a.jpg`` is fine, a GIF, BMP, WebP or text file named ``a.jpg`` is not.
  A multi-picture JPEG (``MPO``, what many phones write) is a JPEG whose first picture is used.
* **Bounded before decoding.** At most ``MAX_BYTES`` of input; ``Image.open`` reads only the header,
  so each side (``MIN_SIDE``..``MAX_SIDE``) and the pixel count (``MAX_PIXELS``, 12 MP: a 4000 × 3000
  camera picture, 36 MB once decoded as RGB) are checked before a single pixel is decoded. These
  limits do not rely on Pillow's global ``Image.MAX_IMAGE_PIXELS`` (which anything in the process may
  change); its decompression-bomb warning is turned into a refusal as well.
* **Fully decoded.** ``image.load()`` runs to the end and ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left
  False, so a truncated or damaged file is refused instead of printed half grey.
* **Re-encoded.** EXIF orientation is applied, transparency is flattened on white, the picture is
  scaled down (LANCZOS) to fit ``OUT_WIDTH`` × ``OUT_HEIGHT`` (600 × 840 px: the 25 × 35 mm slot at
  about 600 dpi) and written as a fresh baseline JPEG, quality 90, with no EXIF, ICC profile, XMP or
  comment. Only decoded pixels are carried over, so GPS positions, camera serial numbers, thumbnails
  and anything hidden after the image data are dropped.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

from verify.domain.errors import InvalidPhoto, Problem

__all__ = [
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "OUT_HEIGHT",
    "OUT_WIDTH",
    "Photo",
    "validate_photo",
]

MiB = 1024 * 1024
MAX_BYTES = 2 * MiB  # a cropped ID photo is far smaller; the cap bounds the work of one upload
MIN_SIDE = 100  # ~100 dpi across the 25 mm slot: below this a face is not recognisable on print
MAX_SIDE = 4000
MAX_PIXELS = 12_000_000  # 4000 × 3000; a 4000 × 4000 square is refused by count, not by side
OUT_WIDTH, OUT_HEIGHT = 600, 840
JPEG_QUALITY = 90
FORMATS = ("JPEG", "PNG")  # the decoders Pillow may try; MPO is reported by the JPEG decoder
_ACCEPTED = frozenset({"JPEG", "MPO", "PNG"})
_WHITE = (255, 255, 255)
# Everything a Pillow decoder raises on hostile input (UnidentifiedImageError is an OSError).
_DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo that passed: the re-encoded baseline JPEG, its SHA-256 (hex) and its size in pixels."""

    jpeg: bytes = field(repr=False)
    sha256: str
    width: int
    height: int


def _label(name: str) -> str:
    """The file's own name (no client path), printable characters only, at most 80 of them."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(ch for ch in base if ch.isprintable()).strip()
    return clean if len(clean) <= 80 else clean[:79] + "…"


def _refuse(
    name: str, code: str, zh: str, en: str, *, found: str | None = None, allowed: str | None = None
) -> InvalidPhoto:
    """``zh``/``en`` continue a sentence that starts with the photo and its name."""
    label = _label(name)
    zh = f"照片 {label} {zh}" if label else f"照片{zh}"
    en = f"Photo {label} {en}" if label else f"The photo {en}"
    problem = Problem(code, zh, en, found=found, allowed=allowed)
    return InvalidPhoto(zh, en, problems=[problem], details={"name": label} if label else None)


def _not_jpeg_or_png(name: str, found: str | None = None) -> InvalidPhoto:
    zh, en = "不是 JPEG 或 PNG 图像（按文件内容判断）", "is not a JPEG or PNG image (judged by its content)"
    return _refuse(name, "photo_not_jpeg_or_png", zh, en, found=found, allowed="JPEG, PNG")


def _megabytes(n: int) -> str:
    value = n / MiB
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _check_header(image: Image.Image, name: str) -> None:
    """Format, sides and pixel count from the header alone (nothing decoded yet)."""
    if image.format not in _ACCEPTED:
        raise _not_jpeg_or_png(name, found=str(image.format))
    width, height = image.size
    found = f"{width}×{height}"
    if min(width, height) < MIN_SIDE:
        raise _refuse(
            name,
            "photo_too_small",
            f"为 {found} 像素，每边至少需要 {MIN_SIDE} 像素",
            f"is {found} pixels; each side must have at least {MIN_SIDE}",
            found=found,
            allowed=f"{MIN_SIDE}..{MAX_SIDE}",
        )
    if max(width, height) > MAX_SIDE:
        raise _refuse(
            name,
            "photo_too_large",
            f"为 {found} 像素，每边最多 {MAX_SIDE} 像素",
            f"is {found} pixels; each side may have at most {MAX_SIDE}",
            found=found,
            allowed=f"{MIN_SIDE}..{MAX_SIDE}",
        )
    if width * height > MAX_PIXELS:
        raise _refuse(
            name,
            "photo_too_many_pixels",
            f"为 {found} 像素（共 {width * height:,} 像素），超过 {MAX_PIXELS:,} 像素的上限",
            f"is {found} pixels ({width * height:,} in all), over the limit of {MAX_PIXELS:,}",
            found=str(width * height),
            allowed=str(MAX_PIXELS),
        )


def _flatten(image: Image.Image) -> Image.Image:
    """8-bit RGB on a fresh white canvas: transparency flattened, and no ``info`` carried over
    (Pillow's JPEG writer would otherwise copy a comment of the source into the output)."""
    if image.mode.startswith("I"):  # a 16-bit grayscale PNG: scale to 8 bits instead of clipping
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    canvas = Image.new("RGB", image.size, _WHITE)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
    else:
        canvas.paste(image.convert("RGB"))
    return canvas


def _fit(image: Image.Image) -> Image.Image:
    """Scaled down (never up) to fit ``OUT_WIDTH`` × ``OUT_HEIGHT``, keeping the aspect ratio."""
    width, height = image.size
    scale = min(OUT_WIDTH / width, OUT_HEIGHT / height)
    if scale >= 1:
        return image
    size = (max(1, min(OUT_WIDTH, round(width * scale))), max(1, min(OUT_HEIGHT, round(height * scale))))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def validate_photo(data: bytes, *, name: str = "") -> Photo:
    """Check an uploaded holder's photo and return it re-encoded as a clean baseline JPEG.

    ``name`` is the file's name in the upload; it only appears in error messages (the content alone
    decides what the file is). Raises InvalidPhoto, whose ``problems[0].code`` is one of
    ``photo_empty``, ``photo_file_too_large`` (over ``MAX_BYTES``, checked before decoding),
    ``photo_not_jpeg_or_png``, ``photo_too_small`` / ``photo_too_large`` (a side outside
    ``MIN_SIDE``..``MAX_SIDE``), ``photo_too_many_pixels`` (over ``MAX_PIXELS``),
    ``photo_decompression_bomb`` (Pillow's own bomb guard tripped) or ``photo_unreadable``
    (damaged, truncated or otherwise not decodable).
    """
    if not data:
        raise _refuse(name, "photo_empty", "是空文件", "is empty", found="0")
    if len(data) > MAX_BYTES:
        raise _refuse(
            name,
            "photo_file_too_large",
            f"为 {_megabytes(len(data))} MB，超过 {_megabytes(MAX_BYTES)} MB 的上限",
            f"is {_megabytes(len(data))} MB, over the limit of {_megabytes(MAX_BYTES)} MB",
            found=str(len(data)),
            allowed=str(MAX_BYTES),
        )
    try:
        # Pillow warns past MAX_IMAGE_PIXELS (and raises past twice that) inside Image.open; the
        # filter makes the warning a refusal whatever the caller's filters say.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                _check_header(image, name)
                image.load()
                upright = ImageOps.exif_transpose(image)
        picture = _fit(_flatten(upright))
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=JPEG_QUALITY, progressive=False, optimize=False, exif=b"")
    except InvalidPhoto:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(
            name,
            "photo_decompression_bomb",
            "声明的像素数过大（可能是解压炸弹）",
            "declares too many pixels (a possible decompression bomb)",
            allowed=str(MAX_PIXELS),
        ) from exc
    except UnidentifiedImageError as exc:  # neither decoder recognises the bytes
        raise _not_jpeg_or_png(name) from exc
    except _DECODER_ERRORS as exc:
        raise _refuse(
            name,
            "photo_unreadable",
            "已损坏或不完整，无法解码",
            "is damaged or truncated and cannot be decoded",
        ) from exc
    jpeg = out.getvalue()
    return Photo(
        jpeg=jpeg, sha256=hashlib.sha256(jpeg).hexdigest(), width=picture.width, height=picture.height
    )
