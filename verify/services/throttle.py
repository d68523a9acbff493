"""The lookup throttle over PostgreSQL (rule 57): the policy of ``verify.domain.throttle``, the
counters of ``verify.db.throttle``, shared by every worker process of every host using the database.

Addresses and targets are keyed by a 16-byte HMAC under a key derived from the ID index key, so
the table holds no address, certificate number or ID number, and keys cannot be precomputed.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass

from verify.db import throttle
from verify.db.certificates import PublishedRead
from verify.db.pool import Pool
from verify.domain.certificate import Published
from verify.domain.errors import RateLimited
from verify.domain.throttle import ThrottlePolicy

SWEEP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted lookup: what to settle once its answer is known."""

    target: bytes
    target_known: bool


class Throttle:
    def __init__(self, pool: Pool, key: bytes, policy: ThrottlePolicy) -> None:
        self.pool = pool
        self.key = key
        self.policy = policy
        self._steps = policy.backoff_steps()
        self._next_sweep = 0.0

    def _key(self, kind: bytes, value: bytes) -> bytes:
        return hmac.digest(self.key, kind + b"\0" + value, "sha256")[:16]

    def number_target(self, canonical_number: str) -> bytes:
        return self._key(b"number", canonical_number.encode())

    def id_target(self, blind_index: bytes) -> bytes:
        return self._key(b"id", blind_index)

    def account_target(self, login: str) -> bytes:
        return self._key(b"login", login.encode("utf-8", "replace"))

    async def admit(self, address: str, target: bytes) -> Ticket:
        """Count one lookup of ``target`` from ``address``. Raises RateLimited (with the seconds to
        wait) when the address is over its budget or the target is closed."""
        await self._sweep_now_and_then()
        a = await throttle.admit(self.pool, self._address(address), self.policy.window, target)
        return self._ticket(a, target)

    async def admit_and_read(
        self, address: str, target: bytes, read: PublishedRead, value: object
    ) -> tuple[Ticket, list[Published]]:
        """``admit``, with the certificate ``read`` of ``value`` in the same round trip (on the
        primary). Raises RateLimited as ``admit`` does, and then nothing read is returned."""
        await self._sweep_now_and_then()
        a, found = await throttle.admit_and_read(
            self.pool, self._address(address), self.policy.window, target, read, value
        )
        return self._ticket(a, target), found

    async def _sweep_now_and_then(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            await throttle.sweep(self.pool, self.policy.window, self.policy.quiet_seconds)

    def _address(self, address: str) -> bytes:
        return self._key(b"address", address.encode("utf-8", "replace"))

    def _ticket(self, a: throttle.Admission, target: bytes) -> Ticket:
        if a.hits > self.policy.per_address:
            raise RateLimited(retry_after=math.ceil(a.window_left))
        if a.closed_for > 0:
            raise RateLimited(
                "该证书编号（或证件号码）查询姓名不符次数过多，请稍后再试",
                "Too many wrong names for this number (or ID); please try again later",
                retry_after=math.ceil(a.closed_for),
            )
        return Ticket(target, a.target_known)

    async def settle(self, ticket: Ticket, found: bool) -> None:
        """Record the answer: a wrong name counts against the target, a right one clears it."""
        if not found:
            await throttle.record_failure(
                self.pool, ticket.target, self.policy.free_failures, self._steps, self.policy.quiet_seconds
            )
        elif ticket.target_known:
            await throttle.clear(self.pool, ticket.target)
