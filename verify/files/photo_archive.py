"""A ZIP of holder photos uploaded with a batch: one JPEG or PNG per holder, named by certificate
number or ID number (``Y000041010001243000123.jpg``, ``41010519900307002X.png``), or named
anyhow with a photo list beside them (``verify.files.photo_list``: a CSV or XLSX whose 照片文件
column names each file and whose 证书编号 or 证件号码 column says whose it is).

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
from verify.files.photo_list import LIST_SUFFIXES, read_photo_list

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
    entries: list[tuple[str, bytes]] = []
    lists: list[tuple[str, bytes]] = []
    problems: list[Problem] = []
    total = 0
    for info in infos:
        path = PurePosixPath(info.filename)
        if info.is_dir() or any(part.startswith((".", "__MACOSX")) for part in path.parts):
            continue
        if info.flag_bits & 0x1:
            problems.append(
                Problem(
                    "photo_encrypted", f"{info.filename[:80]} 已加密", f"{info.filename[:80]} is encrypted"
                )
            )
            continue
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
        (lists if path.suffix.lower() in LIST_SUFFIXES else entries).append((info.filename, body))
    if len(lists) > 1:
        problems.append(Problem("photo_list_several", "压缩包中只能有一个照片清单（CSV 或 XLSX）",
                                "the archive may hold one photo list (CSV or XLSX)"))  # fmt: skip
    if problems:
        raise BadFile("照片压缩包有错误，未保存任何照片", "the photo archive has errors; no photo was stored",
                      problems=problems)  # fmt: skip
    listed = read_photo_list(lists[0][1], lists[0][0]) if lists else {}
    return _keyed(entries, listed)


def _keyed(entries: list[tuple[str, bytes]], listed: dict[str, str]) -> list[PhotoFile]:
    """Each photo under its key: the list's number for a file it names, else the file's own name.
    Raises BadFile for two photos of one key or a listed file the archive does not hold."""
    out: list[PhotoFile] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    names = {PurePosixPath(name).name.upper() for name, _ in entries}
    for file in sorted(set(listed) - names):
        problems.append(Problem("photo_list_missing_file", f"照片清单中的 {file[:80]} 不在压缩包中",
                                f"{file[:80]} is in the photo list but not in the archive"))  # fmt: skip
    for name, body in entries:
        path = PurePosixPath(name)
        key = listed.get(path.name.upper(), path.stem.strip().upper())
        if key in seen:
            problems.append(
                Problem("photo_duplicate", f"{key[:40]} 有两张照片", f"two photos for {key[:40]}")
            )
            continue
        seen.add(key)
        out.append(PhotoFile(name, key, body))
    if problems:
        raise BadFile("照片压缩包有错误，未保存任何照片", "the photo archive has errors; no photo was stored",
                      problems=problems)  # fmt: skip
    return out
