"""Holder ID protection: a keyed blind index (HMAC-SHA-256) for lookups and an AES-256-GCM
ciphertext for the few authorised views. Both keys live outside the database
(``verify.crypto.idkeys``); the database never sees an ID number (docs/SECURITY.md §2.2)."""

from __future__ import annotations

import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from verify.domain.errors import ConfigError, InvalidId
from verify.domain.holder_ids import CANONICAL_ID, IdType

_KEY_LEN = 32
_NONCE_LEN = 12
_TAG_LEN = 16
_CT_VERSION = b"\x01"

# Stable one-byte codes inside the ciphertext. Never renumber: stored blobs depend on them.
_TYPE_CODES: dict[IdType, int] = {
    IdType.RESIDENT: 1,
    IdType.HKMOTW_RESIDENCE: 2,
    IdType.HK_MACAO_PASS: 3,
    IdType.TAIWAN_PASS: 4,
    IdType.FOREIGN_PERMANENT: 5,
    IdType.PASSPORT: 6,
}
_CODE_TYPES = {code: t for t, code in _TYPE_CODES.items()}

# Domain separation: the same characters under two types (a passport "E12345678" vs. anything else) must
# not collide, and a later v2 scheme must never produce a v1 value.
_INDEX_PREFIX: dict[IdType, bytes] = {
    t: b"verify/id-index/v1\x00" + t.value.encode() + b"\x00" for t in IdType
}


def _require_canonical(canonical: str) -> bytes:
    if CANONICAL_ID.fullmatch(canonical) is None:
        # Deliberately no value in the message: the argument is probably a raw ID number.
        raise ValueError("expected a canonical ID (call validate_id first)")
    return canonical.encode("ascii")


class IdProtector:
    """Keyed blind index (HMAC-SHA-256) for lookups + AES-256-GCM ciphertext for authorised views.

    The blind index leaks only equality (two rows with the same ID look the same), which is what a
    lookup needs; an unkeyed hash would fall to brute force over the ~10¹¹ plausible IDs in hours
    (docs/SECURITY.md §2.2). Both keys must live outside the database (GB/T 35273 §6.2).
    """

    __slots__ = ("_aead", "_index_key")

    def __init__(self, index_key: bytes, enc_key: bytes) -> None:
        """Raises ConfigError unless both keys are exactly 32 bytes."""
        for name, key in (("index_key", index_key), ("enc_key", enc_key)):
            if not isinstance(key, bytes) or len(key) != _KEY_LEN:
                raise ConfigError(
                    f"证件号密钥 {name} 必须正好 32 字节",
                    f"The ID key {name} must be exactly 32 bytes",
                )
        self._index_key = index_key
        self._aead = AESGCM(enc_key)

    def __repr__(self) -> str:
        return "IdProtector(<keys hidden>)"

    def blind_index(self, id_type: IdType, canonical: str) -> bytes:
        """Return the 32-byte HMAC-SHA-256 of the canonical ID, domain-separated by ID type.

        Raises ValueError if ``canonical`` is not in canonical form (a bug in the caller: the index of a
        non-canonical string would silently never match).
        """
        return hmac.digest(self._index_key, _INDEX_PREFIX[id_type] + _require_canonical(canonical), "sha256")

    def encrypt(self, id_type: IdType, canonical: str, *, aad: bytes) -> bytes:
        """Encrypt the ID; returns version byte + 12-byte random nonce + ciphertext and tag.

        ``aad`` should name the row the blob belongs to (e.g. the certificate id), so a blob copied to
        another row fails to decrypt. Random 96-bit nonces are safe for far more than 10⁹ encryptions
        per key. Raises ValueError if ``canonical`` is not in canonical form.
        """
        plaintext = bytes((_TYPE_CODES[id_type],)) + _require_canonical(canonical)
        nonce = os.urandom(_NONCE_LEN)
        return _CT_VERSION + nonce + self._aead.encrypt(nonce, plaintext, _CT_VERSION + aad)

    def decrypt(self, blob: bytes, *, aad: bytes) -> tuple[IdType, str]:
        """Return (type, canonical ID) from a blob made by ``encrypt`` with the same ``aad``.

        Raises InvalidId if the blob was altered, belongs to another ``aad``, or was made with another key.
        """
        blob = bytes(blob)
        if len(blob) < 1 + _NONCE_LEN + _TAG_LEN + 2 or blob[:1] != _CT_VERSION:
            raise _undecryptable()
        nonce = blob[1 : 1 + _NONCE_LEN]
        try:
            plaintext = self._aead.decrypt(nonce, blob[1 + _NONCE_LEN :], _CT_VERSION + aad)
        except InvalidTag:
            raise _undecryptable() from None
        id_type = _CODE_TYPES.get(plaintext[0])
        if id_type is None:
            raise _undecryptable()
        return id_type, plaintext[1:].decode("ascii")


def _undecryptable() -> InvalidId:
    return InvalidId(
        "证件号密文无法解密：数据被改动、关联数据不符或密钥不正确",
        "The stored ID ciphertext cannot be decrypted: altered data, wrong associated data or wrong key",
    )
