"""In-process rate limits for public lookups (rule 57; docs/SECURITY.md §3, D4).

Two independent buckets, as the OWASP bot-management guidance asks: requests per source address,
and failed names per certificate number. State is per worker process: with N workers an address
gets at most N times the budget, which still bounds enumeration; a shared store (PostgreSQL or a
cache) is the step up when the service runs on several hosts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key; remembers at most ``max_keys`` keys."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._events: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, key: str) -> list[float]:
        now = self.clock()
        events = [t for t in self._events.get(key, ()) if now - t < self.window]
        self._events[key] = events
        self._events.move_to_end(key)
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)
        return events

    def allow(self, key: str) -> bool:
        """Record one event for key if it fits the budget; False when over the limit."""
        events = self._recent(key)
        if len(events) >= self.limit:
            return False
        events.append(self.clock())
        return True

    def exhausted(self, key: str) -> bool:
        return len(self._recent(key)) >= self.limit

    def hit(self, key: str) -> None:
        self._recent(key).append(self.clock())
