"""The in-memory status view every web worker keeps, so verifying a QR needs no database query.

It holds what can change after a certificate is signed: certificates that are no longer active
(revoked, superseded), institution names and states, and signing keys with their states. A
dedicated connection LISTENs on ``verify_status`` (triggers NOTIFY on every change) and a
periodic full refresh covers lost notifications; ``as_of`` says how fresh the view is, and a view
older than ``max_age`` is not trusted as a status source (the answer is then status_unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from verify.db import status
from verify.db.notify import Listener
from verify.db.pool import DATABASE_ERRORS, Pool
from verify.domain.snapshot import Snapshot, build_snapshot

log = logging.getLogger("verify.status")
CHANNEL = "verify_status"


class StatusView:
    """Keeps a Snapshot fresh: LISTEN/NOTIFY for changes within ~100 ms, plus a refresh every
    ``refresh_interval`` seconds (and reconnection) in case a notification or the connection is lost.

    The background refreshes reload the non-active certificates only when the number of certificate
    events changed (or after ``full_interval`` seconds); institutions and keys are always reloaded.
    At 100,000 revoked certificates (1% of 10 million) a full reload costs each worker ~0.3 s of
    database and decoding time: done every 30 s whether or not anything changed, it set the
    worker's p99 latency (docs/BENCHMARKS.md, scale). A reload reads the certificates in chunks
    (``verify.db.status.CHUNK``) so that the loop keeps serving between them."""

    def __init__(
        self,
        dsn: str,
        pool: Pool,
        *,
        refresh_interval: float = 30.0,
        full_interval: float = 600.0,
        max_age: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dsn = dsn
        self._pool = pool
        self.refresh_interval = refresh_interval
        self.full_interval = full_interval
        self._events = -1  # certificate events counted before the last certificate reload
        self._full_at = 0.0  # clock() of that reload
        self.max_age = max_age
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._listener: Listener | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One reload at a time: a background reload that read the database before a change and
        # finished after an explicit refresh would otherwise put the older snapshot back.
        self._reloading = asyncio.Lock()

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def fresh(self) -> bool:
        """True when the snapshot may be used as a status source."""
        s = self._snapshot
        return s is not None and self._clock() - s.loaded_at <= self.max_age

    async def start(self) -> None:
        """Load once (raises Unavailable if the database is down at start) and start listening."""
        await self.refresh()
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="verify-status-view")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            await self._listener.close()

    async def refresh(self, *, only_changed: bool = False) -> None:
        """Reload the snapshot; with ``only_changed`` the certificates are kept from the last one
        unless the certificate events changed since (or ``full_interval`` has passed).

        Reloads are serialised, so each one reads the database after the one before it finished
        and the view never goes back in time. Raises the pool's database errors."""
        async with self._reloading:
            await self._reload(only_changed=only_changed)

    async def _reload(self, *, only_changed: bool) -> None:
        as_of = datetime.now(UTC)
        previous = self._snapshot
        if (
            only_changed
            and previous is not None
            and await status.certificate_events_count(self._pool) == self._events
            and self._clock() - self._full_at < self.full_interval
        ):
            institutions, keys = await status.issuer_and_key_rows(self._pool)
            self._snapshot = build_snapshot(
                previous.certificates, institutions, keys, as_of, previous.current
            )
            return
        async with self._pool.acquire() as conn:
            events, certificates, institutions, keys = await status.status_snapshot_rows(conn)
            current = await status.current_versions(conn)
        self._snapshot = build_snapshot(certificates, institutions, keys, as_of, current)
        self._events, self._full_at = events, self._clock()

    async def _listen(self) -> None:
        try:
            self._listener = await Listener.open(self._dsn, CHANNEL, on_notify=self._wakeup.set)
        except DATABASE_ERRORS:
            log.warning("status view: cannot LISTEN; relying on periodic refresh until reconnected")
            self._listener = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.refresh_interval)
            self._wakeup.clear()
            # Coalesce a burst of notifications (one publish can change many rows) into one reload.
            await asyncio.sleep(0.05)
            self._wakeup.clear()
            try:
                if self._listener is None or self._listener.closed:
                    await self._listen()
                await self.refresh(only_changed=True)
            except DATABASE_ERRORS:
                log.warning(
                    "status view: refresh failed; answers turn status_unavailable after %.0fs", self.max_age
                )
            except Exception:  # a bug here must not kill the refresher: log it and keep the last snapshot
                log.exception("status view: unexpected error")
