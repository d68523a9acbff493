"""A dedicated connection that LISTENs on one channel (the status view's change notifications)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg

# As the pool's connect timeout (verify.db.pool): an unreachable database fails fast, never 60 s.
CONNECT_TIMEOUT = 2.0
CLOSE_TIMEOUT = 2.0


class Listener:
    """Calls ``on_notify`` on every notification, and once more when the connection is lost (so the
    caller reloads and reconnects instead of waiting for its periodic refresh)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, dsn: str, channel: str, *, on_notify: Callable[[], None]) -> Listener:
        """Raises one of ``verify.db.pool.DATABASE_ERRORS`` when the database cannot be reached."""
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
        await conn.add_listener(channel, lambda *_args: on_notify())
        conn.add_termination_listener(lambda _c: on_notify())
        return cls(conn)

    @property
    def closed(self) -> bool:
        return self._conn.is_closed()

    async def close(self) -> None:
        """Close politely if the server answers, else drop the socket; never waits long."""
        if not self._conn.is_closed():
            try:
                await asyncio.wait_for(self._conn.close(), CLOSE_TIMEOUT)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                with contextlib.suppress(Exception):
                    self._conn.terminate()
