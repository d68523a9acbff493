"""The signer: the long-running process that publishes approved batches and signs approved
corrections as new versions (``verify signer run``).

It is the only process that holds the signing key; the web workers never do. It takes approved
batches from the batches table itself (approved, oldest decision first) with FOR UPDATE SKIP
LOCKED and publishes each in the transaction that claimed it, so any number of signers may run
and none publishes a batch twice. It sleeps on the ``verify_signer`` channel (an approval wakes it
at once) with a polling interval as a fallback, and on every round applies status decisions that
have come due (rule 39).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from verify.crypto import issuance
from verify.db import institutions
from verify.db.notify import Listener
from verify.services.registry import Registry

log = logging.getLogger("verify.signer")
CHANNEL = "verify_signer"


async def drain(reg: Registry, *, actor: str, signer: issuance.SignerLike) -> list[dict[str, Any]]:
    """Publish every approved batch and sign every approved correction (rule 43) waiting now;
    returns what was done."""
    done = []
    await institutions.apply_due_statuses(reg.pool, reg.today())
    while (result := await reg.publish_next(actor=actor, signer=signer)) is not None:
        log.info("published %s: %s certificates", result["batch_id"], result["certificates"])
        done.append(result)
    while (corrected := await reg.apply_next_correction(actor=actor, signer=signer)) is not None:
        log.info("corrected %s: version %s", corrected["number"], corrected["version"])
        done.append(corrected)
    return done


async def run(
    reg: Registry,
    *,
    actor: str,
    signer: issuance.SignerLike,
    poll_seconds: float = 30.0,
    stop: Callable[[], bool] = lambda: False,
    on_publish: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Publish approved batches until ``stop()`` (or cancellation). Raises what publishing raises
    for a database that is gone (the caller's watchdog reports it)."""
    assert reg.dsn is not None
    woken = asyncio.Event()
    listener = await Listener.open(reg.dsn, CHANNEL, on_notify=woken.set)
    try:
        while not stop():
            woken.clear()
            for result in await drain(reg, actor=actor, signer=signer):
                if on_publish is not None:
                    on_publish(result)
            if listener.closed:
                listener = await Listener.open(reg.dsn, CHANNEL, on_notify=woken.set)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), poll_seconds)
    finally:
        await listener.close()
