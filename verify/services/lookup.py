"""Public lookups (rule 56) and the holder's QR images. A mixin of ``verify.services.registry.Registry``.

Unknown number and wrong name give the same answer; both paths run one query and one
constant-time comparison, so timing does not tell them apart either (DECISIONS D6).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from verify.crypto.idprotect import IdProtector
from verify.db import audit, certificates, signatures
from verify.db.pool import DATABASE_ERRORS, Executor, Pool
from verify.domain import codes, names
from verify.domain.certificate import Published, published_json
from verify.domain.errors import InvalidCode, InvalidInput, InvalidName, NotFound
from verify.domain.holder_ids import IdType, validate_id
from verify.domain.snapshot import Snapshot, overlay
from verify.services.status_view import StatusView
from verify.services.throttle import Throttle, Ticket

log = logging.getLogger("verify.lookup")

# A read on the replica that has not answered within this many seconds is abandoned for the primary,
# and after a failure the replica is left alone for REPLICA_RETRY_SECONDS (DECISIONS D28).
REPLICA_TIMEOUT = 2.0
REPLICA_RETRY_SECONDS = 30.0

NOT_FOUND_MESSAGE = {
    "zh": "未找到与所填信息一致的已发布证书。请核对证书编号（或证件号码）与姓名。",
    "en": "No published certificate matches the details given. Check the number (or ID number) and the name.",
}


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """A public lookup answer. ``found=False`` answers are identical whatever the reason."""

    found: bool
    certificates: tuple[Published, ...] = ()

    def to_json(self) -> dict[str, Any]:
        if not self.found:
            return {"found": False, "message": NOT_FOUND_MESSAGE}
        return {"found": True, "certificates": [published_json(p) for p in self.certificates]}


class Lookups:
    pool: Pool
    read_pool: Pool
    status_view: StatusView | None
    replica_down_until: float
    protector: IdProtector
    today: Callable[[], date]
    qr_link_key: bytes | None
    throttle: Throttle

    async def lookup_by_number(self, number: str, name: str, *, client: str | None = None) -> LookupAnswer:
        """Number + name (rule 56), a legacy 职业资格证书 number too (rule 44); a public lookup from
        ``client`` (its address) is throttled (rule 57). Raises InvalidCode for a malformed number (a
        distinct answer, rule 61), RateLimited."""
        check = codes.check_certificate_number(number, today=self.today())
        if not check.valid:
            # A legacy 职业资格证书 number has no shape of its own (rule 44, DECISIONS D49): tried only
            # when no current format fits, so a mistyped current number keeps its own problems (rule 61).
            legacy = codes.check_qualification_number(number)
            if not legacy.valid:
                raise InvalidCode(problems=check.problems)
            check = legacy
        key = _name_key_or_blank(name)
        ticket, listed = await self._find(
            client, self.throttle.number_target(check.canonical), certificates.BY_NUMBER, check.canonical
        )
        found = listed[0] if listed else None
        stored_key = found.certificate.name_key if found is not None else "\0"
        if found is None or not key or not hmac.compare_digest(stored_key.encode(), key.encode()):
            answer = LookupAnswer(False)
        else:
            answer = LookupAnswer(True, (found,))
        if ticket is not None:
            await self.throttle.settle(ticket, answer.found)
        return answer

    async def lookup_by_id(
        self, id_number: str, name: str, id_type: str = IdType.RESIDENT.value, *, client: str | None = None
    ) -> LookupAnswer:
        """ID + name (rule 56): that holder's published certificates; throttled like lookup_by_number.
        Raises InvalidId for a malformed ID, InvalidInput for an unknown ID type, RateLimited."""
        try:
            kind = IdType(id_type)
        except ValueError:
            raise InvalidInput("证件类型无效", "unknown ID type", details={"id_type": id_type}) from None
        canonical = validate_id(id_number, kind, today=self.today())
        key = _name_key_or_blank(name)
        index = self.protector.blind_index(kind, canonical)
        ticket, found = await self._find(
            client, self.throttle.id_target(index), certificates.BY_ID_INDEX, index
        )
        matched = tuple(
            p for p in found if key and hmac.compare_digest(p.certificate.name_key.encode(), key.encode())
        )
        answer = LookupAnswer(True, matched) if matched else LookupAnswer(False)
        if ticket is not None:
            await self.throttle.settle(ticket, answer.found)
        return answer

    async def _find(
        self, client: str | None, target: bytes, read: certificates.PublishedRead, value: object
    ) -> tuple[Ticket | None, list[Published]]:
        """A lookup's certificate read, throttled when it comes from ``client``. Without a usable
        replica the throttle's admission and the read are one statement on the primary (one round
        trip); with one, the admission goes to the primary and the read to the replica. Raises
        RateLimited."""
        if client is not None and self._replica_snapshot() is None:
            return await self.throttle.admit_and_read(client, target, read, value)
        ticket = None if client is None else await self.throttle.admit(client, target)
        found = await self._read_published(
            lambda conn: certificates.published_certificates(conn, read, value)
        )
        return ticket, found

    def _replica_snapshot(self) -> Snapshot | None:
        """The status view's snapshot when the read replica may be read (there is one, it has not
        failed lately, and there is a snapshot to lay over what it returns), else None."""
        if self.read_pool is self.pool or time.monotonic() < self.replica_down_until:
            return None
        return self.status_view.snapshot if self.status_view is not None else None

    async def _read_published(
        self, query: Callable[[Executor], Awaitable[list[Published]]]
    ) -> list[Published]:
        """Run a lookup's certificate read on the read replica when there is one, else on the primary.

        A replica may lag, so what it returns gets the status view's exceptions laid over it
        (``snapshot.overlay``): it never shows a certificate as valid, or an issuer as active, once the
        view knows otherwise. Without a snapshot to lay over (no view yet) the replica is not read.
        A replica that fails or does not answer within REPLICA_TIMEOUT is skipped for
        REPLICA_RETRY_SECONDS and the primary answers instead (DECISIONS D28)."""
        snapshot = self._replica_snapshot()
        if snapshot is not None:
            try:
                async with asyncio.timeout(REPLICA_TIMEOUT):
                    rows = await query(self.read_pool)
            except DATABASE_ERRORS as exc:  # TimeoutError is an OSError
                self.replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
                log.warning(
                    "read replica unavailable (%s): lookups read the primary for %.0fs",
                    type(exc).__name__,
                    REPLICA_RETRY_SECONDS,
                )
            else:
                return [overlay(p, snapshot) for p in rows]
        return await query(self.pool)

    # ------------------------------------------------------------------ QR images for the holder

    def qr_link_token(self, number: str, expires: int) -> str:
        """A link token for a certificate's QR image, valid until ``expires`` (unix seconds).

        The image is the holder's: it is offered only in a successful lookup answer (number + name or
        ID + name), so the links are capabilities derived from the ID index key."""
        assert self.qr_link_key is not None
        mac = hmac.digest(self.qr_link_key, f"{number}|{expires}".encode(), "sha256")
        return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")

    def qr_link_valid(self, number: str, expires: int, token: str, now: float) -> bool:
        if self.qr_link_key is None or expires < now:
            return False
        # As bytes: compare_digest refuses str with non-ASCII characters (TypeError), and the token
        # comes from the query string as typed.
        return hmac.compare_digest(
            self.qr_link_token(number, expires).encode(), token.encode("utf-8", "replace")
        )

    async def qr_payload(self, number: str) -> bytes:
        """The signed payload of a published certificate. Raises NotFound."""
        found = await signatures.qr_payload(self.pool, codes.normalize(number))
        if found is None:
            raise NotFound("该证书未发布或尚未签名", "the certificate is not published or not signed")
        return found

    async def published_payloads(
        self, *, actor: str, role: str | None = None, reason: str | None = None
    ) -> AsyncIterator[tuple[str, bytes]]:
        """Every published, signed certificate's (number, payload), streamed (for bulk printing).

        A non-public read of everything: audited (``certificates.qr_all``) on its own, before the
        first row, so a reader that stops early was still recorded and the chain's lock is not held
        while the rows stream."""
        await audit.audit(self.pool, actor, "certificates.qr_all", None, None, role=role, reason=reason)
        async with self.pool.acquire() as conn:
            async for item in signatures.published_payloads(conn):
                yield item


def _name_key_or_blank(name: str) -> str:
    try:
        return names.name_key(name)
    except InvalidName:
        return ""
