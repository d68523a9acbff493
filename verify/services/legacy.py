"""Importing legacy 职业资格证书 (rule 44): records a 鉴定机构 issued before the 2019–2020 reform, read
from a CSV/XLSX file, checked row by row, stored all or nothing as a batch submitted for review.
A mixin of ``verify.services.registry.Registry``.

The batch then follows the review workflow of every batch (rule 32: a reviewing centre approves,
the signer publishes), so historical data meets the same gate as new data ("严禁问题数据入网",
docs/DECISIONS.md D50). Publication signs no QR for these records: the paper has none of ours.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import date

from verify.crypto.idprotect import IdProtector
from verify.db import audit, batches, certificates, institutions
from verify.db.copy_format import copy_text
from verify.db.pool import Pool, UniqueViolation, transaction
from verify.domain.accounts import Action, Owner, Principal, audit_role, authorize
from verify.domain.batch.checked import capped, duplicate_existing
from verify.domain.batch.legacy import ISSUER_KIND, LegacyContext, check_legacy_rows, legacy_batch_notice
from verify.domain.errors import BatchRejected, Forbidden, Problem
from verify.domain.institution import KIND_LABELS
from verify.files.batchfile import read_batch_file
from verify.services.bans import batch_ban_warnings
from verify.services.imports import ImportResult


class LegacyImports:
    pool: Pool
    protector: IdProtector
    today: Callable[[], date]

    async def import_legacy(
        self,
        issuer_code: str,
        data: bytes,
        filename: str,
        *,
        actor: str,
        max_bytes: int,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> ImportResult:
        """Check and store legacy 职业资格证书 of one issuing 鉴定机构, all or nothing, as a batch
        submitted for review (rule 44).

        ``issuer_code`` is the institution's code, a retired code or an alias such as its old 鉴定所
        code (rule 52); the institution must be of kind ``appraisal``. Its status today does not
        matter (many 鉴定所 have closed since), but no row may be dated inside a suspension or after
        a termination (rule 39). No scope check: the occupation may have left the catalogue.
        ``by`` is the reviewer importing, checked against its jurisdiction; None is the operator on
        the command line. Either way the batch needs another reviewer's approval.

        Raises BadFile / FileTooLarge (file unreadable), NotFound (no such institution), Forbidden
        (not a 鉴定机构), RoleNotAllowed / OutsideJurisdiction (``by`` may not), BatchRejected (every
        bad row listed, numbers already registered too; nothing written). Re-importing the same file
        returns the first batch and writes nothing.
        """
        parsed = await asyncio.to_thread(read_batch_file, data, filename, max_bytes=max_bytes)
        requested = issuer_code.strip()
        issuer = await institutions.get_institution(self.pool, requested)
        if issuer.kind != ISSUER_KIND:
            zh, en = KIND_LABELS.get(issuer.kind, (issuer.kind, issuer.kind))
            raise Forbidden(
                f"机构 {issuer.code} 是{zh}，不是职业技能考核鉴定机构；职业资格证书只能以鉴定机构为发证机构导入",
                f"institution {issuer.code} is a {en}, not a skills appraisal institution; legacy qualification "
                "certificates are imported under the appraisal institution that issued them",
                details={"rule": 44, "kind": issuer.kind},
            )
        if by is not None:
            r = issuer.record
            authorize(
                by,
                Action.BATCH_REVIEW,
                Owner(issuer.code, r["parent_code"], r["province_code"], r["city_code"]),
            )
        existing = await batches.find_batch_by_file(self.pool, issuer.id, parsed.sha256)
        if existing is not None:
            return ImportResult(
                existing.public_id, issuer.code, existing.state, existing.row_count, False, ()
            )
        history = tuple(await institutions.status_changes(self.pool, issuer.id))
        ctx = LegacyContext(issuer, self.protector, self.today(), history)
        # Legacy files come once per archive, not in peak season: a thread keeps the loop serving
        # while they are checked, without the result batches' worker processes.
        checked = await asyncio.to_thread(check_legacy_rows, parsed.rows, ctx)
        if not checked.ok:
            raise _rejected(checked.problems, len(parsed.rows))
        public_id = "B" + secrets.token_hex(8).upper()
        alias = requested if requested != issuer.code else None
        try:
            async with transaction(self.pool) as conn:
                batch_id = await batches.insert_batch(
                    conn, public_id=public_id, institution_id=issuer.id, file_sha256=parsed.sha256,
                    filename=filename[:200], file_format=parsed.file_format, row_count=len(parsed.rows),
                    submitted_by=actor, submitted_account=by.account_id if by is not None else None,
                )  # fmt: skip
                try:
                    await certificates.copy_certificates_text(
                        conn, copy_text(checked.certificates, issuer.id, batch_id)
                    )
                except UniqueViolation as exc:
                    raise _AlreadyRegistered from exc  # leaves the transaction, which the error aborted
                found = await batch_ban_warnings(conn, batch_id, checked.numbers, None)
                warnings = capped([legacy_batch_notice(issuer, alias), *checked.warnings, *found])
                await batches.set_warnings(conn, batch_id, [w.to_json() for w in warnings])
                await audit.audit(
                    conn, actor, "batch.submit", public_id,
                    {"institution": issuer.code, "rows": checked.good, "warnings": len(warnings),
                     "kind": "qualification", "alias": alias},
                    role=audit_role(by), request_id=request_id,
                )  # fmt: skip
        except _AlreadyRegistered:
            taken = await certificates.existing_numbers(self.pool, [n for n, _ in checked.numbers])
            raise _rejected(duplicate_existing(checked, taken), len(parsed.rows)) from None
        except UniqueViolation as exc:
            if exc.table_name != "batches":
                raise
            # The same file raced in from another request; the first one won.
            again = await batches.find_batch_by_file(self.pool, issuer.id, parsed.sha256)
            assert again is not None
            return ImportResult(again.public_id, issuer.code, again.state, again.row_count, False, ())
        return ImportResult(public_id, issuer.code, "submitted", checked.good, True, tuple(warnings))


class _AlreadyRegistered(Exception):
    """A number of the file is registered already (rule 13): leave the transaction, then list them."""


def _rejected(problems: list[Problem], total: int) -> BatchRejected:
    bad_rows = len({p.line for p in problems})
    return BatchRejected(
        f"职业资格证书导入被拒绝：{total} 行中有 {bad_rows} 行不合格，未写入任何数据",
        f"legacy import rejected: {bad_rows} of {total} rows are invalid; nothing was written",
        problems=problems,
        details={"rows": total, "bad_rows": bad_rows},
    )
