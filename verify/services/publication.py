"""Publication and certificate events: signing a batch at publication, re-signing after a key
compromise, revocation / supersession / reinstatement with history. A mixin of
``verify.services.registry.Registry``; only the publishing process holds a signer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from verify.crypto import issuance
from verify.db import audit, batches, certificates, signatures
from verify.db.pool import Conn, Pool, transaction
from verify.domain.batch.lifecycle import BatchMove, after
from verify.domain.errors import Conflict, InvalidInput, NotFound
from verify.domain.events import (
    REVOKED,
    SCOPE_CERTIFICATES,
    CertificateEvent,
    Decision,
    Scope,
    check_successor,
)


class Publication:
    pool: Pool
    decide: Callable[..., Awaitable[dict[str, Any]]]  # verify.services.decisions.Decisions

    async def publish(
        self, batch_public_id: str, *, actor: str, signer: issuance.SignerLike
    ) -> dict[str, Any]:
        """Sign every certificate of an approved batch and make them publicly verifiable, in one
        transaction (rule 32: only after a reviewing centre approved it).

        Only the publishing process holds ``signer`` (the web process never does). Raises NotFound,
        InvalidTransition (not approved, already published)."""
        async with transaction(self.pool) as conn:
            b = await batches.lock_batch(conn, batch_public_id)
            return await self._publish_locked(conn, b, actor=actor, signer=signer)

    async def publish_next(self, *, actor: str, signer: issuance.SignerLike) -> dict[str, Any] | None:
        """Publish the oldest approved batch no other signer holds (``verify signer run``);
        None when the queue is empty. Two signers never publish one batch: each claims its batch
        with FOR UPDATE SKIP LOCKED and publishes it in that same transaction."""
        async with transaction(self.pool) as conn:
            b = await batches.claim_approved(conn)
            if b is None:
                return None
            return await self._publish_locked(conn, b, actor=actor, signer=signer)

    async def _publish_locked(
        self, conn: Conn, b: batches.BatchRow, *, actor: str, signer: issuance.SignerLike
    ) -> dict[str, Any]:
        after(b.state, BatchMove.PUBLISH)
        items = await signatures.batch_records_to_sign(conn, b.id)
        signed = await asyncio.to_thread(issuance.sign_certificates, items, signer)
        await signatures.copy_signatures(conn, signed)
        await batches.mark_batch_published(conn, b.id)
        count = len(signed)
        await audit.audit(
            conn,
            actor,
            "batch.publish",
            b.public_id,
            {"certificates": count, "kid": signer.kid},
            role="signer",
        )
        return {"batch_id": b.public_id, "state": "published", "certificates": count, "kid": signer.kid}

    async def resign(self, kid: str, *, actor: str, signer: issuance.SignerLike) -> int:
        """Re-sign every certificate signed by ``kid`` with ``signer`` (after a key compromise; the
        holders then need new prints). Returns how many were re-signed."""
        async with transaction(self.pool) as conn:
            items = await signatures.records_signed_by(conn, kid)
            signed = await asyncio.to_thread(issuance.sign_certificates, items, signer)
            count = await signatures.replace_signatures(conn, signed)
            await audit.audit(
                conn, actor, "certificates.resign", kid, {"count": count, "new_kid": signer.kid}
            )
        return count

    async def certificate_event(self, event: CertificateEvent, *, actor: str) -> dict[str, Any]:
        """Record a revocation, supersession or reinstatement (a 复核 reversal) of one certificate,
        keeping the history (rules 35-37). A revocation is a decision over one certificate
        (``Decisions.decide``); a successor must be the same holder's, from a related issuer
        (rule 43). Raises InvalidInput (the event's own checks, a successor that is not registered),
        SuccessorNotAllowed, NotFound, Conflict (already in that status)."""
        event = event.checked()
        async with transaction(self.pool) as conn:
            current = await certificates.holding(conn, event.number)
            if current is None:
                raise NotFound(f"未找到证书 {event.number}", f"no certificate {event.number}")
            if current.status == event.status:
                raise Conflict(
                    f"证书当前状态已是 {event.status}", f"the certificate is already {event.status}"
                )
            if event.event == REVOKED:
                decided = await self.decide(
                    Decision(Scope(SCOPE_CERTIFICATES, (event.number,)), event.effective, event.reason_category,
                             event.reason, event.decided_by, event.document_ref, event.served),
                    actor=actor, conn=conn,
                )  # fmt: skip
            else:
                decided = None
                if event.superseded_by:
                    successor = await certificates.holding(conn, event.superseded_by)
                    if successor is None:
                        raise InvalidInput(
                            "取代它的新证书必须已在登记库中",
                            "the superseding certificate must exist in the registry",
                        )
                    check_successor(current, successor)
                await certificates.record_certificate_event(conn, event, recorded_by=actor)
                await audit.audit(conn, actor, f"certificate.{event.event}", event.number,
                                  {"category": event.reason_category, "document_ref": event.document_ref})  # fmt: skip
            history = await certificates.certificate_history(conn, event.number)
        result = {"number": event.number, "status": event.status, "history": [_jsonable(h) for h in history]}
        if decided is not None:
            result["decision_id"] = decided["decision_id"]
        return result


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in row.items()}
