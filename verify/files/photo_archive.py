"""A ZIP of holder photos uploaded with a batch: one JPEG or PNG per holder, named by certificate
number or ID number (``Y000041010001243000123.jpg``, ``41010519900307002X.png``).

Only the container is read here, with bounds on everything a hostile archive could inflate: the
entry count, each entry's size (read at most ``photo.MAX_BYTES`` + 1 bytes, whatever the header
claims) and the total. The photos themselves are checked by ``verify.render.photo``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from verify.domain.errors import BadFile, Problem

MAX_ENTRIES: Final = 20_000
MAX_ENTRY_BYTES: Final = 2 * 1024 * 1024
MAX_TOTAL_BYTES: Final = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PhotoFile:
    name: str  # the entry's name in the archive, for messages
    key: str  # the file name without extension, upper case: a certificate or ID number
    data: bytes


def read_photo_archive(data: bytes, filename: str) -> list[PhotoFile]:
    """Every photo entry of the ZIP ``data`` (directories and hidden files skipped). Raises BadFile
    naming the archive and the entry for a file that is not a ZIP, too many entries, an entry over
    the size limit, an encrypted entry or two entries for one key."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BadFile(
            f"{filename[:80]} 不是有效的 ZIP 文件：{exc}", f"{filename[:80]} is not a valid ZIP file: {exc}"
        ) from None
    if len(infos) > MAX_ENTRIES:
        raise BadFile(f"ZIP 中文件过多（{len(infos)}，上限 {MAX_ENTRIES}）",
                      f"too many files in the ZIP ({len(infos)}, limit {MAX_ENTRIES})")  # fmt: skip
    out: list[PhotoFile] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        path = PurePosixPath(info.filename)
        if info.is_dir() or any(part.startswith((".", "__MACOSX")) for part in path.parts):
            continue
        key = path.stem.strip().upper()
        if info.flag_bits & 0x1:
            problems.append(
                Problem(
                    "photo_encrypted", f"{info.filename[:80]} 已加密", f"{info.filename[:80]} is encrypted"
                )
            )
            continue
        if key in seen:
            problems.append(
                Problem("photo_duplicate", f"{key[:40]} 有两张照片", f"two photos for {key[:40]}")
            )
            continue
        seen.add(key)
        try:
            with archive.open(info) as entry:
                body = entry.read(MAX_ENTRY_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            problems.append(Problem("photo_unreadable", f"{info.filename[:80]} 无法读取：{exc}",
                                    f"{info.filename[:80]} cannot be read: {exc}"))  # fmt: skip
            continue
        total += len(body)
        if len(body) > MAX_ENTRY_BYTES or total > MAX_TOTAL_BYTES:
            problems.append(Problem("photo_file_too_large", f"{info.filename[:80]} 超过 2 MB",
                                    f"{info.filename[:80]} is over 2 MB"))  # fmt: skip
            continue
        out.append(PhotoFile(info.filename, key, body))
    if problems:
        raise BadFile("照片压缩包有错误，未保存任何照片", "the photo archive has errors; no photo was stored",
                      problems=problems)  # fmt: skip
    return out
