"""Decisions over many certificates (rule 35): revoke listed certificates, part or all of a batch,
or everything an institution issued in a date range, and reverse such a decision after 复核
(rule 36). A mixin of ``verify.services.registry.Registry``.

Each decision is one transaction: it covers its whole scope or, when the scope is wrong, nothing
(listed numbers that are unknown or no longer active are named and nothing is written)."""

from __future__ import annotations

import secrets
from typing import Any

from verify.db import audit, decisions, institutions
from verify.db.pool import Conn, Pool, transaction
from verify.domain import errors
from verify.domain.accounts import Action, Principal, audit_role, authorize
from verify.domain.events import ACTIVE, REVOKED, SCOPE_CERTIFICATES, SCOPE_DECISION, Decision


class Decisions:
    pool: Pool

    async def decide(
        self,
        decision: Decision,
        *,
        actor: str,
        by: Principal | None = None,
        request_id: str | None = None,
        conn: Conn | None = None,
    ) -> dict[str, Any]:
        """Revoke every published, active certificate of ``decision.scope`` (or, for a scope of kind
        ``decision``, reinstate what that earlier revocation still holds revoked), recording the
        decision once and an event per certificate. ``by`` (an account) must be a reviewer with every
        certificate's institution in its jurisdiction; None is the operator (CLI). Runs in its own
        transaction, or in the caller's ``conn``.

        Raises InvalidInput (the decision's checks; listed numbers unknown or not active, named in
        ``details``), NotFound (a batch or decision that does not exist, an empty scope),
        RoleNotAllowed, OutsideJurisdiction, Conflict (a reversal of something that is not a
        revocation)."""
        decision = decision.checked()
        if by is not None:
            authorize(by, Action.CERTIFICATE_REVOKE)
        if conn is not None:
            return await self._record(conn, decision, actor=actor, by=by, request_id=request_id)
        async with transaction(self.pool) as own:
            return await self._record(own, decision, actor=actor, by=by, request_id=request_id)

    async def _record(
        self, conn: Conn, decision: Decision, *, actor: str, by: Principal | None, request_id: str | None
    ) -> dict[str, Any]:
        scope = decision.scope
        public_id = "D" + secrets.token_hex(6).upper()
        reverses = None
        if scope.kind == SCOPE_DECISION:
            earlier = await decisions.decision_by_public_id(conn, scope.decision or "")
            if earlier is None:
                raise errors.NotFound(f"未找到决定 {scope.decision}", f"no decision {scope.decision}")
            if earlier["event"] != REVOKED:
                raise errors.Conflict("只能复核撤销决定", "only a revocation can be reversed")
            reverses = earlier["id"]
        target = decisions.target_of(scope, reverses)
        summary = await decisions.scope_summary(conn, target)
        # Scope before content: a reviewer learns nothing of another jurisdiction's certificates.
        if by is not None:
            for code in summary["institutions"]:
                authorize(by, Action.CERTIFICATE_REVOKE, await institutions.owner_of(conn, code))
        if scope.batch and scope.numbers and summary["total"] != len(scope.numbers):
            raise errors.InvalidInput(
                "所列证书不全属于该批次；未作任何更改", "not every listed certificate is in that batch; nothing was changed",
                details={"batch": scope.batch},
            )  # fmt: skip
        if scope.kind == SCOPE_CERTIFICATES:
            missing, inactive = await decisions.listed_problems(conn, list(scope.numbers))
            if missing or inactive:
                raise errors.InvalidInput(
                    f"{len(missing)} 个证书编号不在登记库中，{len(inactive)} 个已不是有效状态；未作任何更改",
                    f"{len(missing)} numbers are not registered and {len(inactive)} are no longer active; "
                    "nothing was changed",
                    details={"missing": missing[:100], "not_active": dict(list(inactive.items())[:100])},
                )
        if summary["total"] == 0:
            raise errors.NotFound(
                "该范围内没有证书", "the scope covers no certificate", details={"scope": scope.to_json()}
            )
        if not reverses and summary["active"] == 0:
            raise errors.InvalidInput(
                "范围内没有已发布且有效的证书（未发布的批次请驳回）；未作任何更改",
                "the scope holds no published, active certificate (reject an unpublished batch instead); "
                "nothing was changed",
                details={"scope": scope.to_json(), "certificates": summary["total"]},
            )
        if scope.kind == SCOPE_CERTIFICATES and summary["unpublished"]:
            raise errors.InvalidInput(
                f"所列证书中有 {summary['unpublished']} 个尚未发布（未发布的批次请驳回）；未作任何更改",
                f"{summary['unpublished']} listed certificates are not published (reject their batch instead); "
                "nothing was changed",
            )
        changed = await decisions.record_decision(
            conn, public_id, decision, target, from_status=REVOKED if reverses else ACTIVE,
            recorded_by=actor, reverses=reverses,
        )  # fmt: skip
        await audit.audit(
            conn, actor, f"certificates.{decision.event}", public_id,
            {"scope": scope.to_json(), "certificates": changed, "category": decision.reason_category,
             "document_ref": decision.document_ref},
            role=audit_role(by), request_id=request_id, reason=decision.reason,
        )  # fmt: skip
        return {
            "decision_id": public_id,
            "event": decision.event,
            "scope": scope.to_json(),
            "effective": decision.effective.isoformat(),
            "certificates": changed,
            # In the scope but left as they were: already revoked or superseded, or not yet published.
            "unchanged": summary["total"] - changed,
            "unpublished": summary["unpublished"],
        }

    async def decision_view(self, public_id: str) -> dict[str, Any]:
        """A recorded decision, as its deciding body sees it. Raises NotFound."""
        row = await decisions.decision_by_public_id(self.pool, public_id)
        if row is None:
            raise errors.NotFound(f"未找到决定 {public_id}", f"no decision {public_id}")
        return {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in row.items()
            if k not in ("id", "reverses")
        }
