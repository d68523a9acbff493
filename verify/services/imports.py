"""Importing a result batch: read the file, check every row, store all or nothing (DECISIONS D5, D10).

A mixin of ``verify.services.registry.Registry``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.db import audit, batches, certificates, institutions
from verify.db.pool import Pool, UniqueViolation, transaction
from verify.domain.accounts import OPERATOR_ROLE
from verify.domain.batch.checked import CheckedBatch, capped, duplicate_existing, finish, repeat_warnings
from verify.domain.batch.checks import BatchContext, check_rows
from verify.domain.batch.columns import RawRow
from verify.domain.batch.plan import BatchPlan, plan_warnings
from verify.domain.errors import BatchRejected, Forbidden, InvalidId, NotFound, Problem
from verify.domain.holder_ids import IdType, id_type_of, validate_id
from verify.domain.institution import ACTIVE, STATUS_LABELS, ScopeIndex, status_on
from verify.files.batchfile import read_batch_file
from verify.files.roster import read_roster
from verify.services.bans import batch_ban_warnings
from verify.services.checkers import WORKERS, checker_pool
from verify.services.import_worker import check_part, compact, encoded, unsealed


@dataclass(frozen=True, slots=True)
class ImportResult:
    batch_id: str
    institution: str
    state: str
    rows: int
    created: bool
    warnings: tuple[Problem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "institution": self.institution,
            "state": self.state,
            "rows": self.rows,
            "duplicate_upload": not self.created,
            "warnings": [w.to_json() for w in self.warnings],
        }


class BatchImports:
    pool: Pool
    protector: IdProtector
    id_keys: IdKeys | None
    today: Callable[[], date]
    parallel_min_rows: int

    async def import_batch(
        self,
        institution_code: str,
        data: bytes,
        filename: str,
        *,
        actor: str,
        max_bytes: int,
        plan: BatchPlan | None = None,
        roster: tuple[bytes, str] | None = None,
        account_id: int | None = None,
        role: str = OPERATOR_ROLE,
        request_id: str | None = None,
    ) -> ImportResult:
        """Check and store a result batch, all or nothing, as submitted for review.

        ``plan`` is the assessment plan the batch reports on (rule 31, warnings of rule 33);
        ``roster`` the roster file of the candidates filed before the assessment, as (bytes,
        filename) (rule 34: holders not on it are flagged for the reviewer).

        Raises BadFile / FileTooLarge (file unreadable), NotFound (no such institution), Forbidden
        (institution not active, rule 39), BatchRejected (every bad row listed, the roster's bad
        rows too; nothing written). Re-uploading the same file returns the first batch and writes
        nothing.
        """
        # Reading a large file takes seconds of CPU: keep the event loop (lookups) responsive meanwhile.
        parsed = await asyncio.to_thread(read_batch_file, data, filename, max_bytes=max_bytes)
        institution = await institutions.get_institution(self.pool, institution_code)
        if institution.code != institution_code:
            raise Forbidden(
                f"机构代码 {institution_code} 已停用，请使用现行代码 {institution.code}",
                f"institution code {institution_code} is retired; use the current code {institution.code}",
            )
        existing = await batches.find_batch_by_file(self.pool, institution.id, parsed.sha256)
        if existing is not None:
            return ImportResult(
                existing.public_id, institution.code, existing.state, existing.row_count, False, ()
            )
        today = self.today()
        await institutions.apply_due_statuses(self.pool, today)
        history = tuple(await institutions.status_changes(self.pool, institution.id))
        status_now = status_on(history, today, initial=institution.status) if history else institution.status
        if status_now != ACTIVE:
            institution = replace(institution, status=status_now)
            zh, en = STATUS_LABELS[institution.status]
            raise Forbidden(
                f"机构状态为“{zh}”（自 {institution.status_since}），不得上传新的证书数据",
                f"the institution is {en} since {institution.status_since}; it may not upload certificates",
                details={"rule": 39, "status": institution.status},
            )
        scopes = ScopeIndex(await institutions.institution_scopes(self.pool, institution.id))
        roster_keys = None
        if roster is not None:
            rows = await asyncio.to_thread(read_roster, roster[0], roster[1], max_bytes=max_bytes)
            roster_keys = self._roster_keys(rows)
            plan = replace(plan or BatchPlan(None, None, None, None, None), roster_size=len(rows))
        checked = CheckedBatch()
        duplicate = False
        public_id = "B" + secrets.token_hex(8).upper()
        try:
            async with transaction(self.pool) as conn:
                batch_id = await batches.insert_batch(
                    conn,
                    public_id=public_id,
                    institution_id=institution.id,
                    file_sha256=parsed.sha256,
                    filename=filename[:200],
                    file_format=parsed.file_format,
                    row_count=len(parsed.rows),
                    submitted_by=actor,
                    submitted_account=account_id,
                    plan=plan.to_json() if plan else None,
                )
                if roster_keys is not None:
                    await batches.add_roster(conn, batch_id, sorted(roster_keys))
                # Parts are checked in worker processes while earlier good parts stream into the open
                # transaction with COPY; any problem anywhere rolls the whole batch back (D5, D10).
                async for part in self._check_parts(
                    parsed.rows,
                    BatchContext(institution, scopes, self.protector, today, history, roster_keys),
                    batch_id,
                ):
                    checked.extend(part)
                    if checked.ok and not duplicate and part.encoded:
                        try:
                            await certificates.copy_certificates_text(conn, part.encoded)
                        except UniqueViolation:
                            duplicate = True  # keep checking the rest so every bad row is reported
                finish(checked)
                if not checked.ok or duplicate:
                    raise _RollBack
                repeats = await certificates.repeats(conn, batch_id)
                checked.warnings.extend(repeat_warnings(repeats, dict(checked.numbers)))  # rule 48
                checked.warnings.extend(await batch_ban_warnings(  # rule 46, on the rows just written
                    conn, batch_id, checked.numbers, plan.assessed_on if plan is not None else None))  # fmt: skip
                if plan is not None:
                    checked.warnings.extend(
                        plan_warnings(plan, submitted_on=today, appraisal=institution.kind == "appraisal")
                    )
                warnings = capped(checked.warnings)
                await batches.set_warnings(conn, batch_id, [w.to_json() for w in warnings])
                await audit.audit(
                    conn, actor, "batch.submit", public_id,
                    {"institution": institution.code, "rows": checked.good, "warnings": len(checked.warnings)},
                    role=role, request_id=request_id,
                )  # fmt: skip
        except _RollBack:
            problems = list(checked.problems)
            if duplicate:
                taken = await certificates.existing_numbers(self.pool, [n for n, _ in checked.numbers])
                problems += duplicate_existing(checked, taken)
                problems.sort(key=lambda p: p.line or 0)
            raise _rejected(problems, len(parsed.rows), len({p.line for p in problems})) from None
        except UniqueViolation as exc:
            if exc.table_name != "batches":
                raise
            # The same file raced in from another request; the first one won.
            again = await batches.find_batch_by_file(self.pool, institution.id, parsed.sha256)
            assert again is not None
            return ImportResult(again.public_id, institution.code, again.state, again.row_count, False, ())
        return ImportResult(public_id, institution.code, "submitted", checked.good, True, tuple(warnings))

    def _roster_keys(self, roster: list[tuple[int, str, str]]) -> frozenset[bytes]:
        """Blind indexes of the roster's IDs (no ID is stored). Raises BatchRejected listing every
        roster row whose ID does not read."""
        keys: set[bytes] = set()
        problems: list[Problem] = []
        for line, raw_type, raw_id in roster:
            id_type = id_type_of(raw_type)
            try:
                canonical = validate_id(raw_id, id_type or IdType.RESIDENT, today=self.today())
            except InvalidId as exc:
                problems.append(Problem(code=exc.reason, message_zh=f"考生名册：{exc.message_zh}",
                                        message_en=f"roster: {exc.message_en}", line=line, column="证件号码"))  # fmt: skip
                continue
            keys.add(self.protector.blind_index(id_type or IdType.RESIDENT, canonical))
        if problems:
            raise BatchRejected(
                f"考生名册有 {len(problems)} 行证件号码无效，未写入任何数据",
                f"{len(problems)} roster rows have an invalid ID; nothing was written",
                problems=problems[:1000],
                details={"roster_rows": len(roster), "bad_rows": len(problems)},
            )
        return frozenset(keys)

    async def _check_parts(
        self, rows: list[RawRow], ctx: BatchContext, batch_id: int
    ) -> AsyncIterator[CheckedBatch]:
        """Yield the checked parts of a batch in file order.

        Small batches are checked in this process; large ones in a process pool, because checking is
        CPU-bound pure Python (~20 µs a row) and would otherwise both use one core and stall the
        event loop that serves lookups.
        """
        institution = ctx.issuer
        if self.id_keys is None or len(rows) < self.parallel_min_rows:
            yield encoded(check_rows(rows, ctx, cross_row=False), institution.id, batch_id)
            return
        loop = asyncio.get_running_loop()
        executor = checker_pool()
        size = max(self.parallel_min_rows // 2, -(-len(rows) // (4 * WORKERS)))
        keys = self.id_keys
        futures = [
            loop.run_in_executor(
                executor,
                check_part,
                compact(rows[i : i + size]),
                unsealed(ctx),
                keys.index_key,
                keys.enc_key,
                batch_id,
            )  # fmt: skip
            for i in range(0, len(rows), size)
        ]
        try:
            for future in futures:
                yield await future
        finally:
            for future in futures:
                future.cancel()

    async def batch_of(self, public_id: str, institution_code: str) -> batches.BatchRow:
        """An institution's own batch (rule 58). Another institution's batch raises NotFound, like a missing one."""
        b = await batches.get_batch(self.pool, public_id)
        if b.institution_code != institution_code:
            raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
        return b


class _RollBack(Exception):
    """Leaves the import transaction so that nothing of a rejected batch is kept."""


def _rejected(problems: list[Problem], total: int, bad_rows: int) -> BatchRejected:
    return BatchRejected(
        f"批次被拒绝：{total} 行中有 {bad_rows} 行不合格，未写入任何数据",
        f"batch rejected: {bad_rows} of {total} rows are invalid; nothing was written",
        problems=problems,
        details={"rows": total, "bad_rows": bad_rows},
    )
