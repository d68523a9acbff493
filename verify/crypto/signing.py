"""Ed25519 keys, signatures and key files for the signed QR record.

Signing and verification use PyNaCl (libsodium). Private keys are stored as passphrase-encrypted
PKCS#8 PEM written by ``cryptography``. Public keys are published as JWKs (RFC 8037, ``OKP`` /
``Ed25519``) named by a short ``kid``.

``verify_signature`` is on the hottest path of the service (every QR scan), so it does the least
work possible and never raises: any reason to reject a signature is just ``False``.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import errno
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from verify.domain.errors import ConfigError, InvalidInput

__all__ = [
    "KEY_STATUSES",
    "MIN_PASSPHRASE_BYTES",
    "KeyPair",
    "Signer",
    "export_public",
    "generate",
    "kid_of",
    "load_private",
    "public_jwk",
    "save_private",
    "sign_many",
    "verify_signature",
]

PUBLIC_KEY_BYTES = 32
SEED_BYTES = 32
SIGNATURE_BYTES = 64
MIN_PASSPHRASE_BYTES = 12
# cryptography refuses longer passwords for PEM encryption; checking first gives a zh+en error instead.
_MAX_PASSPHRASE_BYTES = 1023
# An encrypted Ed25519 PKCS#8 PEM is about 300 bytes; reading at most this much keeps a wrong path
# (a log file, a device) from being slurped into memory.
_MAX_KEY_FILE_BYTES = 64 * 1024
KEY_STATUSES = frozenset({"active", "retired", "compromised"})
# Domain separation: the kid hash can never collide with a SHA-256 computed elsewhere over the raw key.
_KID_PREFIX = b"verify.kid.v1\x00"
_PRIVATE_SUFFIX = ".key.pem"
_PUBLIC_SUFFIX = ".pub.jwk.json"


def kid_of(public_key: bytes) -> str:
    """Key id: 4 lower-case hex chars, the first 2 bytes of SHA-256(b"verify.kid.v1\\x00" + key).

    Short on purpose because it sits in every QR; collisions are therefore possible and verifiers
    must try every key carrying the kid (the EU DCC verifier rule, docs/SECURITY.md §1.2).

    Raises ``InvalidInput`` if ``public_key`` is not 32 bytes.
    """
    _check_public_key(public_key)
    return hashlib.sha256(_KID_PREFIX + public_key).hexdigest()[:4]


@dataclass(frozen=True, slots=True)
class KeyPair:
    """One Ed25519 key pair. ``seed`` is the 32-byte private seed and never appears in ``repr``.

    Construction checks that the three fields belong together (seed → public key → kid), so a
    ``KeyPair`` that exists is a consistent one; raises ``ConfigError`` otherwise.
    """

    kid: str
    public_key: bytes
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != SEED_BYTES:
            raise ConfigError("私钥种子必须为 32 字节", "The private seed must be 32 bytes")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != PUBLIC_KEY_BYTES:
            raise ConfigError("公钥必须为 32 字节", "The public key must be 32 bytes")
        if bytes(SigningKey(self.seed).verify_key) != self.public_key:
            raise ConfigError("公钥与私钥不匹配", "The public key does not belong to the private seed")
        if self.kid != kid_of(self.public_key):
            raise ConfigError("密钥标识(kid)与公钥不符", "The kid does not match the public key")


def pair_from_seed(seed: bytes) -> KeyPair:
    public_key = bytes(SigningKey(seed).verify_key)
    return KeyPair(kid=kid_of(public_key), public_key=public_key, seed=seed)


def generate() -> KeyPair:
    """A new key pair from a ``secrets`` (OS CSPRNG) seed; the public key is derived by PyNaCl.

    Raises nothing in normal operation.
    """
    return pair_from_seed(secrets.token_bytes(SEED_BYTES))


class Signer:
    """Holds one private key (PyNaCl SigningKey); only the publishing process ever builds one."""

    __slots__ = ("_key", "kid", "public_key")
    kid: str
    public_key: bytes

    def __init__(self, pair: KeyPair) -> None:
        self._key = SigningKey(pair.seed)
        self.kid = pair.kid
        self.public_key = pair.public_key

    def __repr__(self) -> str:
        # Spelled out so that no future attribute can leak key material through a log line.
        return f"Signer(kid={self.kid!r})"

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached Ed25519 signature of ``message`` (deterministic, RFC 8032).

        Raises ``TypeError`` if ``message`` is not bytes (a programming error).
        """
        signature: bytes = self._key.sign(message).signature
        return signature


def sign_many(pair: KeyPair, messages: Iterable[bytes]) -> list[bytes]:
    """Signatures of ``messages``, in order, made with one ``Signer`` (the key is expanded once)."""
    signer = Signer(pair)
    return [signer.sign(m) for m in messages]


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message`` under ``public_key``.

    Never raises. Returns False for a bad signature, a signature or key of the wrong length or type,
    and anything else libsodium refuses: non-canonical S (malleability), small-order or
    non-canonical keys and R values. The Wycheproof vectors run through this function.
    """
    try:
        # VerifyKey checks lengths and types; libsodium's crypto_sign_open does the strict checks.
        VerifyKey(public_key).verify(message, signature)
    except (CryptoError, TypeError):
        # CryptoError covers BadSignatureError and PyNaCl's own ValueError/TypeError (wrong lengths or
        # types); the builtin TypeError covers a non-bytes message meeting the bytes signature.
        return False
    return True


def save_private(pair: KeyPair, directory: Path, passphrase: bytes) -> Path:
    """Write ``<directory>/<kid>.key.pem``: PKCS#8 PEM encrypted with ``passphrase``, mode 0600.

    A missing ``directory`` is created with mode 0700 (an existing one is left as it is). The file
    appears atomically (temporary file, then a hard link that cannot replace anything), so a crash
    never leaves a half-written key under the final name.

    Raises ``ConfigError`` (zh+en) if the passphrase is shorter than 12 or longer than 1023 bytes,
    if the file already exists (also the case for a different key whose kid collides: generate
    another key), or if the directory or file cannot be written.
    """
    _check_passphrase(passphrase)
    pem = Ed25519PrivateKey.from_private_bytes(pair.seed).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    _make_private_dir(directory)
    path = directory / f"{pair.kid}{_PRIVATE_SUFFIX}"
    try:
        _create_file(path, pem, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"私钥文件已存在，拒绝覆盖：{path}（若是另一把 kid 相同的密钥，请重新生成）",
            f"Refusing to overwrite the existing private key file {path} "
            "(if it holds a different key with the same kid, generate another key)",
            details={"path": str(path)},
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"无法写入私钥文件：{path}（{exc.strerror}）",
            f"Cannot write the private key file {path} ({exc.strerror})",
            details={"path": str(path)},
        ) from None
    return path


def load_private(path: Path, passphrase: bytes) -> KeyPair:
    """Read a key file written by ``save_private``.

    Raises ``ConfigError`` (zh+en) if the file cannot be read, is not an encrypted PEM private key,
    is corrupt, was encrypted with another passphrase, or holds a key that is not Ed25519. The
    passphrase never appears in the error (the underlying exception is not chained either).
    """
    details = {"path": str(path)}
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"无法读取私钥文件：{path}（{exc.strerror}）",
            f"Cannot read the private key file {path} ({exc.strerror})",
            details=details,
        ) from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(
            f"私钥文件过大，不是本服务写入的密钥文件：{path}",
            f"The private key file {path} is too large to be a key written by this service",
            details=details,
        )
    if not isinstance(passphrase, bytes) or not passphrase:
        raise ConfigError("未提供私钥口令", "No passphrase was given for the private key", details=details)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        # With a non-empty passphrase, cryptography raises TypeError only for an unencrypted key.
        raise ConfigError(
            f"私钥文件未加密，拒绝使用：{path}",
            f"The private key file {path} is not encrypted; refusing to use it",
            details=details,
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        # cryptography reports a wrong passphrase and a damaged file through the same exception
        # type; its message is not a stable interface, so both get one honest message.
        raise ConfigError(
            f"无法解密私钥文件（口令错误或文件已损坏）：{path}",
            f"Cannot decrypt the private key file {path} (wrong passphrase or corrupt file)",
            details=details,
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"私钥文件中的密钥不是 Ed25519 密钥：{path}",
            f"The private key file {path} does not hold an Ed25519 key",
            details=details,
        )
    return pair_from_seed(key.private_bytes_raw())


def public_jwk(
    public_key: bytes, *, not_before: datetime | None, not_after: datetime | None, status: str
) -> dict[str, Any]:
    """The published JWK (RFC 8037) of ``public_key`` with its validity window and status.

    ``nbf``/``exp`` are Unix seconds (fractions dropped) and absent when the bound is ``None``.

    Raises ``InvalidInput`` if the key is not 32 bytes, a datetime is naive (its instant would
    depend on the server's time zone), ``not_before`` is after ``not_after``, or ``status`` is not
    one of ``active``, ``retired``, ``compromised``.
    """
    jwk = _base_jwk(public_key)
    nbf = None if not_before is None else _unix_seconds(not_before, "not_before")
    exp = None if not_after is None else _unix_seconds(not_after, "not_after")
    if nbf is not None and exp is not None and nbf > exp:
        raise InvalidInput("密钥生效时间晚于失效时间", "The key's not_before is after its not_after")
    if status not in KEY_STATUSES:
        raise InvalidInput(
            f"密钥状态无效：{status!r}（允许 active、retired、compromised）",
            f"Invalid key status {status!r} (allowed: active, retired, compromised)",
        )
    if nbf is not None:
        jwk["nbf"] = nbf
    if exp is not None:
        jwk["exp"] = exp
    jwk["status"] = status
    return jwk


def export_public(pair_or_public: KeyPair | bytes, directory: Path) -> Path:
    """Write ``<directory>/<kid>.pub.jwk.json`` (mode 0644) and return its path; idempotent.

    The file holds the key's identity only (``kty``, ``crv``, ``x``, ``kid``, ``alg``, ``use``).
    Status and validity window change over a key's life, so they belong to the published key set
    (``public_jwk``), not to this file. Exporting the same key again leaves the file untouched.

    Raises ``InvalidInput`` if a raw public key is not 32 bytes; ``ConfigError`` if the file exists
    with other content (for instance a different key whose kid collides) or cannot be written.
    """
    public_key = pair_or_public.public_key if isinstance(pair_or_public, KeyPair) else pair_or_public
    jwk = _base_jwk(public_key)
    path = directory / f"{jwk['kid']}{_PUBLIC_SUFFIX}"
    content = (json.dumps(jwk, indent=2) + "\n").encode("ascii")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"无法创建公钥目录：{directory}（{exc.strerror}）",
            f"Cannot create the public key directory {directory} ({exc.strerror})",
            details={"path": str(directory)},
        ) from None
    try:
        _create_file(path, content, 0o644)
    except FileExistsError:
        # Either exported before (fine) or a different key under the same file name (not fine).
        if _read_json(path) != jwk:
            raise ConfigError(
                f"公钥文件已存在且内容不同，拒绝覆盖：{path}",
                f"The public key file {path} exists with different content; refusing to overwrite it",
                details={"path": str(path)},
            ) from None
    except OSError as exc:
        raise ConfigError(
            f"无法写入公钥文件：{path}（{exc.strerror}）",
            f"Cannot write the public key file {path} ({exc.strerror})",
            details={"path": str(path)},
        ) from None
    return path


# -- helpers -----------------------------------------------------------------------------------------


def _check_public_key(public_key: bytes) -> None:
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_BYTES:
        raise InvalidInput("Ed25519 公钥必须为 32 字节", "An Ed25519 public key must be 32 bytes")


def _base_jwk(public_key: bytes) -> dict[str, Any]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(public_key).rstrip(b"=").decode("ascii"),
        "kid": kid_of(public_key),
        "alg": "EdDSA",
        "use": "sig",
    }


def _unix_seconds(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            f"{name} 必须带时区（例如 UTC 或 +08:00）",
            f"{name} must be timezone-aware (for example UTC or +08:00)",
        )
    # timegm on the UTC tuple is exact integer arithmetic (no float rounding of far dates).
    return calendar.timegm(moment.utctimetuple())


def _check_passphrase(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes):
        raise ConfigError("私钥口令必须为字节串", "The passphrase must be bytes")
    if len(passphrase) < MIN_PASSPHRASE_BYTES:
        raise ConfigError(
            f"私钥口令太短：至少需要 {MIN_PASSPHRASE_BYTES} 字节",
            f"The passphrase is too short: at least {MIN_PASSPHRASE_BYTES} bytes are required",
        )
    if len(passphrase) > _MAX_PASSPHRASE_BYTES:
        raise ConfigError(
            f"私钥口令太长：最多 {_MAX_PASSPHRASE_BYTES} 字节",
            f"The passphrase is too long: at most {_MAX_PASSPHRASE_BYTES} bytes are allowed",
        )


def _make_private_dir(directory: Path) -> None:
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            if not directory.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory)) from None
            return
        # mkdir's mode is filtered by the umask; set it explicitly so the result never depends on it.
        os.chmod(directory, 0o700)
    except OSError as exc:
        raise ConfigError(
            f"无法创建私钥目录：{directory}（{exc.strerror}）",
            f"Cannot create the private key directory {directory} ({exc.strerror})",
            details={"path": str(directory)},
        ) from None


def _create_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` holding ``data`` with ``mode``, atomically; FileExistsError if it exists.

    The temporary file is created 0600 by mkstemp, so private key bytes are never readable by others
    even for a moment. ``os.link`` publishes it under the final name and, unlike ``os.replace``,
    fails instead of replacing a file that appeared in the meantime.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the new directory entry durable; some file systems refuse fsync on a directory, and the
    # file itself is already complete, so that refusal is not worth failing over.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            return json.loads(f.read(_MAX_KEY_FILE_BYTES))
    except (OSError, ValueError):
        return None
