"""Corrections and re-issues (rule 43): the institution asks online, a reviewer of its
jurisdiction decides (never the account that asked), and the signer applies an approved
correction as a new signed version. A mixin of ``verify.services.registry.Registry``."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from verify.crypto import issuance
from verify.db import audit, certificates, institutions, requests, signatures
from verify.db.pool import Pool, UniqueViolation, transaction
from verify.domain import codes, errors
from verify.domain.accounts import Action, Principal, authorize
from verify.domain.corrections import APPROVED, REISSUE, REJECTED, ChangeRequest, move
from verify.domain.events import ACTIVE


class Corrections:
    pool: Pool

    async def request_change(
        self, principal: Principal, request: ChangeRequest, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """An institution asks to correct or re-issue one of its certificates. Raises NotFound
        (another institution's certificate too), RoleNotAllowed, InvalidInput / InvalidName (the
        request's checks), Conflict (the certificate is not active, or already has an open request)."""
        authorize(principal, Action.CERTIFICATE_REQUEST)
        number = codes.normalize(request.number)
        async with transaction(self.pool) as conn:
            current = await self._certificate_in_scope(conn, principal, Action.CERTIFICATE_REQUEST, number)
            if current["status"] != ACTIVE:
                raise errors.Conflict(
                    "只能为有效证书申请更正或补发", "only an active certificate can be corrected or re-issued"
                )
            fields = await requests.record_fields(conn, number)
            assert fields is not None
            checked = ChangeRequest(number, request.kind, request.reason, request.changes).checked(fields)
            public_id = "Q" + secrets.token_hex(6).upper()
            try:
                async with conn.transaction():
                    await requests.add_request(
                        conn, public_id, checked.kind, number, dict(checked.changes), checked.reason,
                        requested_by=principal.actor, account_id=principal.account_id,
                    )  # fmt: skip
            except UniqueViolation:
                raise errors.Conflict(
                    "该证书已有待处理的更正或补发申请", "the certificate already has an open request"
                ) from None
            await audit.audit(conn, principal.actor, f"certificate.request_{checked.kind}", number,
                              {"request": public_id, "fields": sorted(checked.changes)}, role=principal.role.value,
                              request_id=request_id, reason=checked.reason)  # fmt: skip
            return {"request": requests.request_json((await requests.requests_of(conn, number))[-1])}

    async def certificate_requests(
        self, principal: Principal, number: str, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """A certificate's requests, for its institution and the reviewers of its jurisdiction; the
        read is audited (rule 60). Raises NotFound, RoleNotAllowed, OutsideJurisdiction."""
        number = codes.normalize(number)
        async with transaction(self.pool) as conn:
            await self._certificate_in_scope(conn, principal, Action.BATCH_READ, number)
            rows = await requests.requests_of(conn, number)
            await audit.audit(conn, principal.actor, "certificate.requests_read", number, {"count": len(rows)},
                              role=principal.role.value, request_id=request_id)  # fmt: skip
        return {"number": number, "requests": [requests.request_json(r) for r in rows]}

    async def decide_request(
        self, principal: Principal, number: str, *, approve: bool, note: str, request_id: str | None = None
    ) -> dict[str, Any]:
        """A reviewer approves or rejects the certificate's open request. An approved re-issue takes
        effect at once (its QR does not change); an approved correction waits for the signer, which
        signs the new version (``apply_next_correction``). Raises NotFound, Conflict (no open request), RoleNotAllowed,
        OutsideJurisdiction, OwnUpload (the asking account), InvalidTransition."""
        authorize(principal, Action.CERTIFICATE_REQUEST_REVIEW)
        number = codes.normalize(number)
        async with transaction(self.pool) as conn:
            await self._certificate_in_scope(conn, principal, Action.CERTIFICATE_REQUEST_REVIEW, number)
            open_request = await requests.lock_open_request(conn, number)
            if open_request is None:
                raise errors.Conflict("该证书没有待审核的申请", "the certificate has no open request")
            if open_request["requested_account"] == principal.account_id:
                raise errors.OwnUpload(
                    "不能审核自己提交的申请", "a request cannot be decided by the account that made it"
                )
            state = move(open_request["state"], APPROVED if approve else REJECTED)
            await requests.set_state(conn, open_request["id"], state, reviewed_by=principal.actor,
                                     account_id=principal.account_id, note=note or None)  # fmt: skip
            if state == APPROVED and open_request["kind"] == REISSUE:
                fields = await requests.record_fields(conn, number)
                assert fields is not None
                await requests.apply_reissue(conn, open_request["id"], number, open_request["changes"]["print_serial"],
                                             fields["print_serial"])  # fmt: skip
            await audit.audit(conn, principal.actor, f"certificate.request_{state}", number,
                              {"request": open_request["public_id"], "kind": open_request["kind"]},
                              role=principal.role.value, request_id=request_id, reason=note or None)  # fmt: skip
            rows = await requests.requests_of(conn, number)
        return {"request": requests.request_json(rows[-1])}

    async def apply_next_correction(
        self, *, actor: str, signer: issuance.SignerLike
    ) -> dict[str, Any] | None:
        """Sign the oldest approved correction as the certificate's next version, keeping the version
        it replaces (``verify signer run``); None when none waits. Two signers never apply one
        correction: each claims its request with FOR UPDATE SKIP LOCKED."""
        async with transaction(self.pool) as conn:
            claimed = await requests.claim_approved_correction(conn)
            if claimed is None:
                return None
            number = claimed["number"]
            current = await requests.record_fields(conn, number)
            assert current is not None
            old_payload = await signatures.qr_payload(conn, number)
            await requests.apply_correction(
                conn, claimed["id"], number, current, claimed["changes"], old_payload
            )
            corrected = await requests.record_fields(conn, number)
            assert corrected is not None
            signed = await asyncio.to_thread(issuance.sign_certificates, [corrected], signer)
            if old_payload is None:
                await signatures.copy_signatures(conn, signed)
            else:
                await signatures.replace_signatures(conn, signed)
            await audit.audit(conn, actor, "certificate.correct", number,
                              {"request": claimed["public_id"], "version": corrected["version"], "kid": signer.kid},
                              role="signer")  # fmt: skip
        return {"number": number, "request": claimed["public_id"], "version": corrected["version"]}

    async def _certificate_in_scope(
        self, conn: Any, principal: Principal, action: Action, number: str
    ) -> dict[str, Any]:
        """The certificate's status row if it is in the principal's scope; another institution's
        answers NotFound, as a missing one. Raises NotFound, OutsideJurisdiction."""
        row = await certificates.certificate_status_row(conn, number)
        if row is None:
            raise errors.NotFound(f"未找到证书 {number}", f"no certificate {number}")
        try:
            authorize(principal, action, await institutions.owner_of(conn, row["institution_code"]))
        except errors.NotFound:
            raise errors.NotFound(f"未找到证书 {number}", f"no certificate {number}") from None
        return row
