"""The review workflow (rules 31-35, 58): institutions list and withdraw their batches, reviewing
centres approve or reject them and revoke certificates, within their scope. A mixin of
``verify.services.registry.Registry``; publication (signing) stays with ``Publication`` and the
signer process.

Every read here is non-public and audited (rule 60), as is every decision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from verify.db import audit, batches, certificates, institutions
from verify.db.pool import Pool, transaction
from verify.domain import codes, errors
from verify.domain.accounts import Action, Principal, Role, authorize
from verify.domain.batch.lifecycle import BatchMove, BatchState, after
from verify.domain.events import CertificateEvent

MAX_REASON = 500
MAX_ROW_REASONS = 1000


class Review:
    pool: Pool
    today: Callable[[], date]

    # Publication's, reached through the Registry.
    certificate_event: Callable[..., Awaitable[dict[str, Any]]]

    async def _batch_for(self, principal: Principal, public_id: str, action: Action) -> batches.BatchRow:
        """The batch, if ``principal`` may take ``action`` on it. Raises NotFound (missing, or
        another institution's), RoleNotAllowed, OutsideJurisdiction."""
        authorize(principal, action)
        return _in_scope(principal, action, await batches.get_batch(self.pool, public_id))

    async def batch_list(
        self, principal: Principal, *, state: str | None = None, request_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The batches ``principal`` may see, newest first: an institution's own (and its 站点's),
        a reviewer's jurisdiction (its review queue with ``state="submitted"``), the province for
        a regulator. Raises RoleNotAllowed, InvalidInput (unknown state)."""
        authorize(principal, Action.BATCH_LIST)
        if state is not None and state not in {s.value for s in BatchState}:
            raise errors.InvalidInput(
                f"state 必须是 {', '.join(BatchState)} 之一", f"state must be one of {', '.join(BatchState)}"
            )
        if principal.role is Role.INSTITUTION:
            rows = await batches.list_batches(
                self.pool, institution_code=principal.institution_code, state=state
            )
        else:
            j = principal.jurisdiction
            assert j is not None
            rows = await batches.list_batches(self.pool, province=j[:2], city=j[2:] or None, state=state)
        await audit.audit(self.pool, principal.actor, "batch.list", principal.institution_code or principal.jurisdiction,
                          {"state": state, "count": len(rows)}, role=principal.role.value, request_id=request_id)  # fmt: skip
        return [b.summary_json() for b in rows]

    async def batch_detail(
        self, principal: Principal, public_id: str, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """One batch with every warning the reviewer must see (rules 11, 14, 33, 34). Raises
        NotFound, RoleNotAllowed, OutsideJurisdiction."""
        b = await self._batch_for(principal, public_id, Action.BATCH_READ)
        await audit.audit(self.pool, principal.actor, "batch.read", b.public_id, None, role=principal.role.value,
                          request_id=request_id)  # fmt: skip
        return {**b.summary_json(), "warnings": b.warnings}

    async def withdraw_batch(
        self, principal: Principal, public_id: str, *, reason: str, request_id: str | None = None
    ) -> dict[str, Any]:
        """The institution takes back a batch not yet reviewed. Raises NotFound, RoleNotAllowed,
        InvalidTransition."""
        return await self._decide(principal, public_id, BatchMove.WITHDRAW, Action.BATCH_WITHDRAW,
                                  {"reason": reason.strip()[:MAX_REASON]}, request_id)  # fmt: skip

    async def approve_batch(
        self, principal: Principal, public_id: str, *, note: str = "", request_id: str | None = None
    ) -> dict[str, Any]:
        """A reviewing centre approves a submitted batch of its jurisdiction; the signer then
        publishes it (rule 32). Two reviewers at once: the batch row is locked, the second finds it
        decided and gets InvalidTransition. Raises NotFound, RoleNotAllowed, OutsideJurisdiction,
        OwnUpload, InvalidTransition."""
        return await self._decide(principal, public_id, BatchMove.APPROVE, Action.BATCH_REVIEW,
                                  {"note": note.strip()[:MAX_REASON]}, request_id)  # fmt: skip

    async def reject_batch(
        self,
        principal: Principal,
        public_id: str,
        *,
        reason: str,
        rows: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Reject a submitted batch, with a reason for the whole batch and/or per row (line,
        reason). Raises InvalidInput (no reason, bad rows), and as ``approve_batch``."""
        row_reasons = _row_reasons(rows or [])
        if not reason.strip() and not row_reasons:
            raise errors.InvalidInput("驳回须写明理由（整批或逐行）", "a rejection needs a reason, for the batch or per row",
                                      details={"field": "reason"})  # fmt: skip
        return await self._decide(principal, public_id, BatchMove.REJECT, Action.BATCH_REVIEW,
                                  {"reason": reason.strip()[:MAX_REASON], "rows": row_reasons}, request_id)  # fmt: skip

    async def _decide(
        self,
        principal: Principal,
        public_id: str,
        move: BatchMove,
        action: Action,
        decision: dict[str, Any],
        request_id: str | None,
    ) -> dict[str, Any]:
        authorize(principal, action)
        async with transaction(self.pool) as conn:
            # Concurrent deciders queue on the row lock; the scope is checked on the locked row.
            b = _in_scope(principal, action, await batches.lock_batch(conn, public_id))
            target = after(b.state, move)
            if move is not BatchMove.WITHDRAW and principal.actor == b.submitted_by:
                raise errors.OwnUpload()
            await batches.record_decision(conn, b.id, target.value, reviewed_by=principal.actor,
                                          account_id=principal.account_id, decision=decision)  # fmt: skip
            await audit.audit(conn, principal.actor, f"batch.{move.value}", public_id, decision,
                              role=principal.role.value, request_id=request_id,
                              reason=decision.get("reason") or decision.get("note") or None)  # fmt: skip
            done = await batches.get_batch(conn, public_id)
        return {**done.summary_json(), "warnings": done.warnings}

    async def revoke_certificate(
        self, principal: Principal, event: CertificateEvent, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """A reviewing centre revokes (or supersedes, or reinstates) one certificate of an
        institution in its jurisdiction (rules 35, 36). Raises NotFound, RoleNotAllowed,
        OutsideJurisdiction, and what ``certificate_event`` raises."""
        authorize(principal, Action.CERTIFICATE_REVOKE)
        number = codes.normalize(event.number)
        row = await certificates.certificate_status_row(self.pool, number)
        if row is None:
            raise errors.NotFound(f"未找到证书 {number}", f"no certificate {number}")
        authorize(
            principal,
            Action.CERTIFICATE_REVOKE,
            await institutions.owner_of(self.pool, row["institution_code"]),
        )
        return await self.certificate_event(event, actor=principal.actor)


def _in_scope(principal: Principal, action: Action, b: batches.BatchRow) -> batches.BatchRow:
    """``b`` if it is in ``principal``'s scope; another institution's batch is NotFound, as a
    missing one. Raises NotFound, OutsideJurisdiction."""
    try:
        authorize(principal, action, b.owner)
    except errors.NotFound:
        raise errors.NotFound(
            f"未找到批次 {b.public_id}", f"no batch {b.public_id}", details={"batch": b.public_id}
        ) from None
    return b


def _row_reasons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(rows) > MAX_ROW_REASONS:
        raise errors.InvalidInput(
            f"逐行理由最多 {MAX_ROW_REASONS} 条", f"at most {MAX_ROW_REASONS} row reasons"
        )
    out = []
    for i, r in enumerate(rows):
        line, why = (
            r.get("line") if isinstance(r, dict) else None,
            r.get("reason") if isinstance(r, dict) else None,
        )
        if (
            not isinstance(line, int)
            or isinstance(line, bool)
            or line < 2
            or not isinstance(why, str)
            or not why.strip()
        ):
            raise errors.InvalidInput(
                f"第 {i + 1} 条逐行理由须有 line（≥2 的行号）和 reason",
                f"row reason {i + 1} needs a line (a row number from 2) and a reason",
                details={"field": "rows", "index": i},
            )
        out.append({"line": line, "reason": why.strip()[:MAX_REASON]})
    return out
