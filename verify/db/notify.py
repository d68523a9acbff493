"""A dedicated connection that LISTENs on one channel (the status view's change notifications)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg


class Listener:
    """Calls ``on_notify`` on every notification, and once more when the connection is lost (so the
    caller reloads and reconnects instead of waiting for its periodic refresh)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, dsn: str, channel: str, *, on_notify: Callable[[], None]) -> Listener:
        """Raises one of ``verify.db.pool.DATABASE_ERRORS`` when the database cannot be reached."""
        conn = await asyncpg.connect(dsn)
        await conn.add_listener(channel, lambda *_args: on_notify())
        conn.add_termination_listener(lambda _c: on_notify())
        return cls(conn)

    @property
    def closed(self) -> bool:
        return self._conn.is_closed()

    async def close(self) -> None:
        if not self._conn.is_closed():
            await self._conn.close()
