"""The two secret keys behind ID protection: load them, or create them once.

The keys must live outside the database (GB/T 35273 §6.2; docs/SECURITY.md §5 D8, P1). Losing them is
unrecoverable: every stored blind index stops matching and every ID ciphertext becomes unreadable.
So this module never overwrites or regenerates an existing key file, even a broken one; it stops
with a message telling the operator how to restore it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from verify.domain.errors import ConfigError

KEY_BYTES = 32
FILE_VERSION = 1
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
# A valid file is about 200 bytes; refusing big files keeps a wrong path (a log, a dump) from being slurped.
_MAX_FILE_BYTES = 64 * 1024

_ENV_NAMES = "VERIFY_ID_INDEX_KEY / VERIFY_ID_ENC_KEY"


@dataclass(frozen=True, slots=True, repr=False)
class IdKeys:
    """The blind-index (HMAC) key and the AES-256-GCM key, 32 bytes each.

    Raises ConfigError on construction if a key is not 32 bytes or the two keys are equal.
    """

    index_key: bytes
    enc_key: bytes

    def __post_init__(self) -> None:
        for name, key in (("index_key", self.index_key), ("enc_key", self.enc_key)):
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise ConfigError(
                    f"证件号密钥 {name} 必须正好 {KEY_BYTES} 字节（64 位十六进制字符）",
                    f"The ID key {name} must be exactly {KEY_BYTES} bytes (64 hex characters)",
                )
        # One key for two primitives is a copy-paste mistake waiting to happen; refuse it while it is cheap.
        if self.index_key == self.enc_key:
            raise ConfigError(
                "证件号盲索引密钥与加密密钥不能相同",
                "The ID blind-index key and the ID encryption key must be different",
            )

    def __repr__(self) -> str:
        return "IdKeys(index_key=<hidden>, enc_key=<hidden>)"


def load_or_create_id_keys(
    path: Path, *, index_key: bytes | None = None, enc_key: bytes | None = None
) -> tuple[IdKeys, bool]:
    """Return ``(keys, created)``.

    Explicit keys (from VERIFY_ID_INDEX_KEY / VERIFY_ID_ENC_KEY) win and the file is not touched.
    Otherwise the JSON file ``{"version": 1, "index_key": hex, "enc_key": hex}`` at ``path`` is read;
    if it does not exist it is created with fresh random keys (mode 0600; a parent directory created
    here gets mode 0700) and ``created`` is True. Several processes starting at once all end up with
    the same keys.

    Raises ConfigError if only one explicit key is given, a key is malformed, or the file exists but
    cannot be read or parsed (it is never regenerated: that would orphan every stored blind index), or
    the file cannot be created.
    """
    if (index_key is None) != (enc_key is None):
        raise ConfigError(
            "VERIFY_ID_INDEX_KEY 与 VERIFY_ID_ENC_KEY 必须同时设置或同时不设置",
            "Set both VERIFY_ID_INDEX_KEY and VERIFY_ID_ENC_KEY, or neither",
        )
    if index_key is not None and enc_key is not None:
        return IdKeys(index_key, enc_key), False
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    try:
        keys = _create(path)
    except FileExistsError:
        # Another process published the file between our read and our create; it is complete (see
        # _create), so read it.
        try:
            return _read(path), False
        except FileNotFoundError:
            raise _unreadable(
                path, "路径存在但指向不存在的文件（悬空符号链接？）", "dangling symlink?"
            ) from None
    return keys, True


def _unreadable(path: Path, why_zh: str, why_en: str) -> ConfigError:
    return ConfigError(
        f"证件号密钥文件 {path} 无法读取或已损坏（{why_zh}）。不要删除或重新生成它：数据库中已存的盲索引和"
        f"证件号密文都依赖这两个密钥。请从备份恢复该文件，或通过 {_ENV_NAMES} 提供原来的密钥。只有确认数据库"
        "从未存储过任何证件号时，才可以删除该文件，让服务在下次启动时生成新密钥。",
        f"The ID key file {path} cannot be read or is corrupt ({why_en}). Do not delete or regenerate it: "
        "the blind indexes and ID ciphertexts already in the database depend on these keys. Restore the "
        f"file from a backup, or supply the original keys through {_ENV_NAMES}. Delete the file (so new "
        "keys are generated at the next start) only if the database has never stored an ID number.",
    )


def _read(path: Path) -> IdKeys:
    """Raises FileNotFoundError if there is no file, ConfigError for anything else wrong."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unreadable(
            path, exc.strerror or type(exc).__name__, exc.strerror or type(exc).__name__
        ) from None
    if len(data) > _MAX_FILE_BYTES:
        raise _unreadable(path, "文件过大", "file too large")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _unreadable(path, "不是有效的 JSON", "not valid JSON") from None
    if not isinstance(doc, dict):
        raise _unreadable(path, "不是 JSON 对象", "not a JSON object")
    if doc.get("version") != FILE_VERSION:
        raise _unreadable(path, f"version 应为 {FILE_VERSION}", f"version must be {FILE_VERSION}")
    keys: list[bytes] = []
    for field in ("index_key", "enc_key"):
        value = doc.get(field)
        if not isinstance(value, str) or _HEX_KEY.fullmatch(value) is None:
            raise _unreadable(path, f"{field} 应为 64 位十六进制字符", f"{field} must be 64 hex characters")
        keys.append(bytes.fromhex(value))
    try:
        return IdKeys(keys[0], keys[1])
    except ConfigError:
        raise _unreadable(path, "两个密钥相同", "the two keys are equal") from None


def _create(path: Path) -> IdKeys:
    """Raises FileExistsError if the file appeared meanwhile, ConfigError if it cannot be written."""
    keys = IdKeys(secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES))
    body = (
        json.dumps(
            {"version": FILE_VERSION, "index_key": keys.index_key.hex(), "enc_key": keys.enc_key.hex()},
            indent=2,
        )
        + "\n"
    ).encode("ascii")
    parent = path.parent
    try:
        if not parent.is_dir():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(parent, 0o700)  # mkdir's mode is filtered through the umask
        _publish(path, body)
        _fsync_dir(parent)
    except FileExistsError:
        raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"无法创建证件号密钥文件 {path}（{reason}）。请检查目录权限，或设置 VERIFY_ID_KEYS_FILE 指向"
            f"可写的位置，或通过 {_ENV_NAMES} 提供密钥。",
            f"Cannot create the ID key file {path} ({reason}). Check the directory permissions, point "
            f"VERIFY_ID_KEYS_FILE at a writable place, or supply the keys through {_ENV_NAMES}.",
        ) from None
    return keys


def _write_new(path: Path, body: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may have removed bits from the O_CREAT mode; never added any
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        # The keys must survive a crash right after start-up; data written under them would be orphaned.
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(path: Path, body: bytes) -> None:
    """Make ``path`` appear with ``body`` complete, or raise FileExistsError if it already exists.

    A plain O_EXCL create would let a second process read the file half-written and report it corrupt.
    Writing a private temporary file and hard-linking it into place is atomic and never replaces.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    _write_new(tmp, body)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # Some filesystems (certain FUSE and network mounts) have no hard links; fall back to O_EXCL.
        _write_new(path, body)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the file itself is already synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
