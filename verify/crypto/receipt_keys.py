"""The receipt key's file: written once, unencrypted, readable by the web workers' group.

The receipt key may live in the internet-facing process because it signs nothing but receipts
(``verify.crypto.receipts``); certificate keys are stored encrypted, so neither file loads as the
other (docs/DECISIONS.md D59).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verify.crypto.receipts import ReceiptSigner
from verify.crypto.signing import _create_file
from verify.domain.errors import ConfigError

_SEED_BYTES: Final = 32
_KEY_FILE_MODE: Final = 0o640
_MAX_KEY_FILE_BYTES: Final = 64 * 1024


def generate_receipt_key(path: Path) -> ReceiptSigner:
    """Create a new receipt key and write it to ``path``: unencrypted PKCS#8 PEM, mode 0640.

    Unencrypted on purpose: the web process loads it at start without an operator, and the key can
    sign receipts only. The file appears atomically and never replaces an existing one.

    Raises ``ConfigError`` (zh+en) if ``path`` exists or cannot be written.
    """
    seed = secrets.token_bytes(_SEED_BYTES)
    pem = Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    details = {"path": str(path)}
    try:
        _create_file(path, pem, _KEY_FILE_MODE)
    except FileExistsError:
        raise ConfigError(
            f"收据密钥文件已存在，拒绝覆盖：{path}",
            f"Refusing to overwrite the existing receipt key file {path}",
            details=details,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"无法写入收据密钥文件：{path}（{exc.strerror}）",
            f"Cannot write the receipt key file {path} ({exc.strerror})",
            details=details,
        ) from None
    return ReceiptSigner.from_seed(seed)


def load_receipt_key(path: Path) -> ReceiptSigner:
    """Read a key file written by ``generate_receipt_key`` (at most 64 KiB of it).

    Raises ``ConfigError`` (zh+en) if the file cannot be read, is too large, is not a PEM private
    key, is encrypted (certificate signing keys are; one must never serve as the receipt key), or
    holds a key that is not Ed25519.
    """
    details = {"path": str(path)}
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"无法读取收据密钥文件：{path}（{exc.strerror}）",
            f"Cannot read the receipt key file {path} ({exc.strerror})",
            details=details,
        ) from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(
            f"收据密钥文件过大，不是本服务写入的密钥文件：{path}",
            f"The receipt key file {path} is too large to be a key written by this service",
            details=details,
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        # Without a password, cryptography raises TypeError only for an encrypted key.
        raise ConfigError(
            f"收据密钥文件已加密（这可能是证书签名私钥），拒绝使用：{path}",
            f"The receipt key file {path} is encrypted (it may be a certificate signing key); refusing to use it",
            details=details,
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"收据密钥文件不是 PEM 私钥或已损坏：{path}",
            f"The receipt key file {path} is not a PEM private key, or is corrupt",
            details=details,
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"收据密钥文件中的密钥不是 Ed25519 密钥：{path}",
            f"The receipt key file {path} does not hold an Ed25519 key",
            details=details,
        )
    return ReceiptSigner.from_seed(key.private_bytes_raw())
