"""Signing-key lifecycle: generate, list, rotate, retire, compromise, and the public JWKS.

Private keys live only in encrypted files under the signing-keys directory (outside git, outside
the database) and are opened only by the publishing process (CLI). The database holds the public
halves and their states, which is all the web process needs to verify.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from verify.crypto import signing
from verify.db import audit
from verify.db import keys as key_rows
from verify.db.pool import Conn, Executor, atomic
from verify.domain.errors import ConfigError, NotFound
from verify.domain.snapshot import KeyRecord


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A signing key as the registry knows it, and whether its private file is on this machine."""

    record: KeyRecord
    has_private_key: bool

    @property
    def kid(self) -> str:
        return self.record.kid

    @property
    def public_key(self) -> bytes:
        return self.record.public_key

    @property
    def status(self) -> str:
        return self.record.status

    def to_json(self) -> dict[str, Any]:
        k = self.record
        return {
            "kid": k.kid,
            "status": k.status,
            "not_before": k.not_before.isoformat(),
            "not_after": k.not_after.isoformat() if k.not_after else None,
            "status_since": k.status_since.isoformat(),
            "private_key_here": self.has_private_key,
            "note": k.note,
            "public_key_sha256": hashlib.sha256(k.public_key).hexdigest()[:16],
        }


class Keyring:
    """The signing keys. Every change (generate, rotate, retire, compromise) is one transaction with
    its audit entry (rule 60), attributed to ``actor`` and ``role`` (the CLI passes ``cli:<user>``
    and ``operator``)."""

    def __init__(
        self,
        pool: Executor,
        private_dir: Path,
        public_dir: Path | None,
        *,
        actor: str = "system",
        role: str | None = None,
    ) -> None:
        self.pool = pool
        self.private_dir = private_dir
        self.public_dir = public_dir
        self.actor = actor
        self.role = role

    def _private_path(self, kid: str) -> Path:
        return self.private_dir / f"{kid}.key.pem"

    async def keys(self) -> list[KeyInfo]:
        return await self._keys(self.pool)

    async def _keys(self, conn: Executor) -> list[KeyInfo]:
        return [KeyInfo(k, self._private_path(k.kid).exists()) for k in await key_rows.signing_keys(conn)]

    async def generate(
        self,
        passphrase: bytes,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        note: str | None = None,
    ) -> KeyInfo:
        """A new active key; ``note`` is kept on the key and is the audit entry's reason. Raises
        ConfigError (passphrase too short, file exists)."""
        async with atomic(self.pool) as conn:
            key = await self._new_key(conn, passphrase, not_before, not_after, note)
            await audit.audit(
                conn, self.actor, "key.generate", key.kid, _detail(key), role=self.role, reason=note
            )
        return key

    async def _new_key(
        self,
        conn: Conn,
        passphrase: bytes,
        not_before: datetime | None,
        not_after: datetime | None,
        note: str | None,
    ) -> KeyInfo:
        # A 16-bit kid can repeat. Verifiers cope (they try every key with the kid), but keep files
        # and kids of keys we generate apart anyway: a new key never reuses a kid ever used here.
        used = {k.kid for k in await self._keys(conn)}
        pair = signing.generate()
        while (
            pair.kid in used
            or self._private_path(pair.kid).exists()
            or (self.public_dir is not None and (self.public_dir / f"{pair.kid}.pub.jwk.json").exists())
        ):
            pair = signing.generate()
        signing.save_private(pair, self.private_dir, passphrase)
        if self.public_dir is not None:
            signing.export_public(pair, self.public_dir)
        start = not_before or datetime.now(UTC)
        await key_rows.insert_signing_key(conn, pair.public_key, pair.kid, start, not_after, note)
        return next(k for k in await self._keys(conn) if k.public_key == pair.public_key)

    async def rotate(self, passphrase: bytes, *, note: str | None = None) -> tuple[KeyInfo, list[str]]:
        """New active key; every previously active key is retired: it stops signing, keeps verifying.
        One transaction and one audit entry (``key.rotate``, target the new kid)."""
        async with atomic(self.pool) as conn:
            previous = [k for k in await self._keys(conn) if k.status == "active"]
            new = await self._new_key(conn, passphrase, None, None, note or "rotation")
            now = datetime.now(UTC)
            for k in previous:
                await key_rows.set_key_status(conn, k.public_key, "retired", not_after=now)
            await audit.audit(
                conn, self.actor, "key.rotate", new.kid, {**_detail(new), "retired": [k.kid for k in previous]},
                role=self.role, reason=note or "rotation",
            )  # fmt: skip
        return new, [k.kid for k in previous]

    async def _one(self, kid: str, conn: Executor | None = None) -> KeyInfo:
        matches = [k for k in await self._keys(conn or self.pool) if k.kid == kid]
        if not matches:
            raise NotFound(f"没有密钥 {kid}", f"no key {kid}")
        if len(matches) > 1:
            raise ConfigError(
                f"有多个密钥的 kid 为 {kid}，请先轮换后再处理",
                f"several keys share kid {kid}; resolve by public key",
            )
        return matches[0]

    async def _set_status(self, kid: str, status: str, action: str, reason: str | None) -> KeyInfo:
        async with atomic(self.pool) as conn:
            key = await self._one(kid, conn)
            await key_rows.set_key_status(conn, key.public_key, status, not_after=datetime.now(UTC))
            changed = await self._one(kid, conn)
            await audit.audit(conn, self.actor, action, kid, _detail(changed), role=self.role, reason=reason)
        return changed

    async def retire(self, kid: str, *, reason: str | None = None) -> KeyInfo:
        """Stop signing with the key; its signatures keep verifying. Raises NotFound, ConfigError (kid shared)."""
        return await self._set_status(kid, "retired", "key.retire", reason)

    async def compromise(self, kid: str, *, reason: str | None = None) -> KeyInfo:
        """Mark a key compromised: every signature it made now verifies as forged ("key compromised").
        Raises NotFound, ConfigError (kid shared)."""
        return await self._set_status(kid, "compromised", "key.compromise", reason)

    async def signer(self, passphrase: bytes) -> signing.Signer:
        """The newest active key in its window whose private file is here. Raises ConfigError."""
        now = datetime.now(UTC)
        usable = [
            k
            for k in await self.keys()
            if k.status == "active"
            and k.record.not_before <= now
            and (k.record.not_after is None or now < k.record.not_after)
        ]
        for key in sorted(usable, key=lambda k: k.record.not_before, reverse=True):
            path = self._private_path(key.kid)
            if path.exists():
                pair = signing.load_private(path, passphrase)
                if pair.public_key == key.public_key:
                    return signing.Signer(pair)
        raise ConfigError(
            f"没有可用的签名密钥（在 {self.private_dir}）：先运行 verify keys generate",
            f"no usable signing key in {self.private_dir}: run verify keys generate",
        )


def _detail(key: KeyInfo) -> dict[str, Any]:
    # The public half's fingerprint, as `verify keys list` shows it; no private material.
    k = key.to_json()
    return {name: k[name] for name in ("public_key_sha256", "status", "not_before", "not_after")}
