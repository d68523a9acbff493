"""Budget tests count lookups in the throttle's fixed windows (``verify.domain.throttle``): a
window that rolls over halfway through the count resets it, and the test would see no refusal.
They start in a window with time to spare."""

from __future__ import annotations

import asyncio
import time

from verify.domain.throttle import ThrottlePolicy


async def in_a_fresh_window(policy: ThrottlePolicy, spare_seconds: float = 20.0) -> None:
    """Wait, if need be, until the current window has ``spare_seconds`` left. The windows are
    counted on the database's clock, which is this machine's (the embedded cluster)."""
    left = policy.window - time.time() % policy.window
    if left < spare_seconds:
        await asyncio.sleep(left + 0.1)
