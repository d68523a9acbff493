"""The signer: the long-running process that publishes approved batches and signs approved
corrections as new versions (``verify signer run``).

It is the only process that holds the signing key; the web workers never do. It takes approved
batches from the batches table itself (approved, oldest decision first) with FOR UPDATE SKIP
LOCKED and publishes each in the transaction that claimed it, so any number of signers may run
and none publishes a batch twice. It sleeps on the ``verify_signer`` channel (an approval wakes it
at once) with a polling interval as a fallback, and on every round applies status decisions that
have come due (rule 39).

A signer that also holds the document-signing key (``verify keys document``) makes the electronic
certificates: it queues what it publishes or corrects (a photo upload queues too) and makes
``ELECTRONIC_ROUND`` of them a round, so a large batch never holds up the next publication for
long (docs/CERTIFICATES.md).
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
from verify.services.electronic import Documents
from verify.services.registry import Registry

log = logging.getLogger("verify.signer")
CHANNEL = "verify_signer"


async def drain(
    reg: Registry, *, actor: str, signer: issuance.SignerLike, documents: Documents | None = None
) -> list[dict[str, Any]]:
    """Publish every approved batch and sign every approved correction (rule 43) waiting now; with
    ``documents``, queue their electronic certificates and make one round of the queue. Returns what
    was done (an empty list: nothing was waiting)."""
    done = []
    await institutions.apply_due_statuses(reg.pool, reg.today())
    while (result := await reg.publish_next(actor=actor, signer=signer)) is not None:
        log.info("published %s: %s certificates", result["batch_id"], result["certificates"])
        if documents is not None:
            await reg.queue_electronic_batch(result["batch_id"])
        done.append(result)
    while (corrected := await reg.apply_next_correction(actor=actor, signer=signer)) is not None:
        log.info("corrected %s: version %s", corrected["number"], corrected["version"])
        if documents is not None:
            await reg.queue_electronic([corrected["number"]])
        done.append(corrected)
    if documents is not None:
        stored, failed = await _electronic_round(reg, documents)
        if stored or failed:
            done.append({"electronic_certificates": stored, "not_made": failed})
    return done


async def _electronic_round(reg: Registry, documents: Documents) -> tuple[int, list[str]]:
    stored, failed = await reg.sign_queued_electronic(
        documents.make, public_url=documents.public_url, channels=documents.channels
    )
    for number, why in failed:
        log.warning("electronic certificate %s not made: %s", number, why)
    if stored:
        log.info("electronic certificates: %s made", stored)
    return stored, [n for n, _ in failed]


async def make_electronic(reg: Registry, documents: Documents) -> dict[str, Any]:
    """Work the electronic-certificate queue until it is empty (``verify publish`` on a machine
    with the document key); returns how many were made and which could not be."""
    total, not_made = 0, list[str]()
    while True:
        stored, failed = await _electronic_round(reg, documents)
        if not stored and not failed:
            return {"made": total, "not_made": not_made}
        total += stored
        not_made += failed


async def run(
    reg: Registry,
    *,
    actor: str,
    signer: issuance.SignerLike,
    poll_seconds: float = 30.0,
    stop: Callable[[], bool] = lambda: False,
    on_publish: Callable[[dict[str, Any]], None] | None = None,
    documents: Documents | None = None,
) -> None:
    """Publish approved batches until ``stop()`` (or cancellation). Raises what publishing raises
    for a database that is gone (the caller's watchdog reports it)."""
    assert reg.dsn is not None
    woken = asyncio.Event()
    listener = await Listener.open(reg.dsn, CHANNEL, on_notify=woken.set)
    try:
        while not stop():
            woken.clear()
            done = await drain(reg, actor=actor, signer=signer, documents=documents)
            for result in done:
                if on_publish is not None:
                    on_publish(result)
            if listener.closed:
                listener = await Listener.open(reg.dsn, CHANNEL, on_notify=woken.set)
            if done:  # there may be more (the electronic queue is worked a round at a time)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), poll_seconds)
    finally:
        await listener.close()
