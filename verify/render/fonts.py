"""The certificate's faces and the per-character fallback that keeps rare names free of boxes.

The reference style writes Chinese in 楷体 and English in Times; the faces are Debian packages the
project's setup installs (``make fonts``), never fetched at run time, and their licences are in
docs/CERTIFICATES.md:

- ``kai``: AR PL UKai (``fonts-arphic-ukai``, Arphic Public License), a 楷体 with the common and the
  rarer BMP characters of names; it has nothing from the supplementary planes.
- ``serif``: Liberation Serif (``fonts-liberation``, SIL OFL 1.1), metric-compatible with Times.
- fallback for both: HanaMin A and B (``fonts-hanazono``, SIL OFL 1.1), a Mincho covering CJK
  Extension A to F, so 𠮷 or 𬌗 prints in a Song/Mincho style rather than as a box.

No single Kai face covers Extension B (docs/DECISIONS.md D60), so each character is drawn with the
first face of its chain whose character map has it; ``missing`` names what no face has, and the
renderers refuse such a text rather than print a box.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

FONT_ROOT: Final = Path("/usr/share/fonts/truetype")


@dataclass(frozen=True, slots=True)
class Face:
    """One font file: the name the PDF knows it by, its path and index inside a collection."""

    key: str
    path: Path
    index: int = 0
    package: str = ""


KAI: Final = Face("UKai", FONT_ROOT / "arphic/ukai.ttc", 0, "fonts-arphic-ukai")
SERIF: Final = Face(
    "LiberationSerif", FONT_ROOT / "liberation/LiberationSerif-Regular.ttf", 0, "fonts-liberation"
)
HANA_A: Final = Face("HanaMinA", FONT_ROOT / "hanazono/HanaMinA.ttf", 0, "fonts-hanazono")
HANA_B: Final = Face("HanaMinB", FONT_ROOT / "hanazono/HanaMinB.ttf", 0, "fonts-hanazono")

# The chain of each role: Chinese texts start in Kai, English ones in the serif; both end in the
# faces that cover the supplementary planes.
CHAINS: Final[dict[str, tuple[Face, ...]]] = {
    "kai": (KAI, SERIF, HANA_A, HANA_B),
    "serif": (SERIF, KAI, HANA_A, HANA_B),
}
PACKAGES: Final = tuple(sorted({f.package for chain in CHAINS.values() for f in chain}))

_lock = threading.Lock()


def _utf16_hex(code_point: int) -> str:
    return chr(code_point).encode("utf-16-be").hex().upper()


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab 5.1's ToUnicode CMap with each character as UTF-16BE, as the PDF reference asks.

    reportlab writes ``<20BB7>`` for 𠮷: not UTF-16, so text extraction, search and copy lose every
    character from the supplementary planes, which rare names are made of. The surrogate pair
    ``<D842DFB7>`` is what readers expect; nothing else in the CMap changes."""
    head = [
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap", "/CIDSystemInfo",
        f"<< /Registry ({fontname})", f"/Ordering ({fontname})", "/Supplement 0", ">> def",
        f"/CMapName /{fontname} def", "/CMapType 2 def", "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>", "endcodespacerange", f"{len(subset)} beginbfchar",
    ]  # fmt: skip
    chars = [f"<{i:02X}> <{_utf16_hex(v)}>" for i, v in enumerate(subset)]
    tail = ["endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(head + chars + tail)


ttfonts.makeToUnicodeCMap = _to_unicode_cmap  # module-level function, looked up at each PDF save


@cache
def _font(face: Face) -> TTFont:
    """The face loaded (about 0.1 s for a CJK face) and registered with reportlab, once a process.

    Raises FileNotFoundError naming the Debian package when the file is missing."""
    if not face.path.is_file():
        raise FileNotFoundError(
            f"font {face.path} is missing: install the Debian package {face.package} (make fonts)"
        )
    with _lock:
        font = TTFont(face.key, str(face.path), subfontIndex=face.index)
        pdfmetrics.registerFont(font)
    return font


def ensure_registered() -> None:
    """Load every face (the PDF renderer needs them registered). Raises FileNotFoundError."""
    for chain in CHAINS.values():
        for face in chain:
            _font(face)


def _has(face: Face, char: str) -> bool:
    return ord(char) in _font(face).face.charToGlyph


def face_for(char: str, role: str) -> Face | None:
    """The first face of ``role``'s chain that has ``char``; None when none has it."""
    for face in CHAINS[role]:
        if _has(face, char):
            return face
    return None


def runs(text: str, role: str) -> list[tuple[Face, str]]:
    """``text`` cut into runs drawn with one face each. Raises ValueError naming a character no
    face has (a box on a certificate is a misprint, so it is refused, not drawn)."""
    out: list[tuple[Face, str]] = []
    for char in text:
        face = face_for(char, role) if not char.isspace() else CHAINS[role][0]
        if face is None:
            raise ValueError(f"no font has the character {char!r} (U+{ord(char):04X})")
        if out and out[-1][0] is face:
            out[-1] = (face, out[-1][1] + char)
        else:
            out.append((face, char))
    return out


def missing(text: str, role: str = "kai") -> list[str]:
    """The characters of ``text`` no face of ``role``'s chain has (empty when it prints whole)."""
    return [c for c in text if not c.isspace() and face_for(c, role) is None]


def width_pt(text: str, role: str, size_pt: float) -> float:
    """The advance width of ``text`` at ``size_pt``, in points. Raises ValueError like ``runs``."""
    return sum(pdfmetrics.stringWidth(part, face.key, size_pt) for face, part in runs(text, role))
