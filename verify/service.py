"""Use cases shared by the HTTP app and the CLI: import, publish, lookup, institutions.

Owns the order of operations and transactions; SQL stays in ``verify.store`` and row rules in
``verify.batch``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import multiprocessing
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import asyncpg

from verify import batch, batchfile, codes, ids, names, store
from verify.errors import (
    BatchRejected,
    Forbidden,
    InvalidCode,
    InvalidId,
    InvalidInput,
    InvalidName,
    NotFound,
    Problem,
)
from verify.idkeys import IdKeys
from verify.institutions import (
    ACTIVE,
    STATUS_LABELS,
    InstitutionAdmin,
    _iso,
    _level,
)
from verify.publication import Publication

NOT_FOUND_MESSAGE = {
    "zh": "未找到与所填信息一致的已发布证书。请核对证书编号（或证件号码）与姓名。",
    "en": "No published certificate matches the details given. Check the number (or ID number) and the name.",
}


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


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """A public lookup answer. ``found=False`` answers are identical whatever the reason."""

    found: bool
    certificates: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        if not self.found:
            return {"found": False, "message": NOT_FOUND_MESSAGE}
        return {"found": True, "certificates": list(self.certificates)}


_CST = timezone(timedelta(hours=8), "CST")


def today_utc8() -> date:
    """Certificates are dated in China Standard Time; a UTC date would be wrong for 8 hours a day."""
    return datetime.now(UTC).astimezone(_CST).date()


class Registry(InstitutionAdmin, Publication):
    """The service's use cases over one pool and one ID protector."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        protector: ids.IdProtector,
        *,
        id_keys: IdKeys | None = None,
        today: Callable[[], date] = today_utc8,
        parallel_min_rows: int = 20_000,
        dsn: str | None = None,
    ) -> None:
        self.pool = pool
        self.dsn = dsn  # for connections outside the pool (the status view's LISTEN)
        self.protector = protector
        self.id_keys = id_keys  # lets worker processes rebuild the protector for large batches
        # QR-image link tokens are keyed from the ID index key, domain-separated; derived once.
        self._qr_link_key = (
            hmac.digest(id_keys.index_key, b"verify.qr-link.v1", "sha256") if id_keys is not None else None
        )
        self.today = today
        self.parallel_min_rows = parallel_min_rows

    # ------------------------------------------------------------------ import

    async def import_batch(
        self, institution_code: str, data: bytes, filename: str, *, actor: str, max_bytes: int
    ) -> ImportResult:
        """Check and store a result batch, all or nothing.

        Raises BadFile / FileTooLarge (file unreadable), NotFound (no such institution), Forbidden
        (institution not active, rule 39), BatchRejected (every bad row listed; nothing written).
        Re-uploading the same file returns the first batch and writes nothing.
        """
        # Reading a large file takes seconds of CPU: keep the event loop (lookups) responsive meanwhile.
        parsed = await asyncio.to_thread(batchfile.read_batch_file, data, filename, max_bytes=max_bytes)
        institution = await store.get_institution(self.pool, institution_code)
        if institution.code != institution_code:
            raise Forbidden(
                f"机构代码 {institution_code} 已停用，请使用现行代码 {institution.code}",
                f"institution code {institution_code} is retired; use the current code {institution.code}",
            )
        existing = await store.find_batch_by_file(self.pool, institution.id, parsed.sha256)
        if existing is not None:
            return ImportResult(
                existing.public_id, institution.code, existing.state, existing.row_count, False, ()
            )
        if institution.status != ACTIVE:
            zh, en = STATUS_LABELS[institution.status]
            raise Forbidden(
                f"机构状态为“{zh}”（自 {institution.status_since}），不得上传新的证书数据",
                f"the institution is {en} since {institution.status_since}; it may not upload certificates",
                details={"rule": 39, "status": institution.status},
            )
        scopes = batch.ScopeIndex(
            batch.Scope(
                s.occupation_code, s.occupation_name, s.job, s.level, s.effective_from, s.effective_to
            )
            for s in await store.institution_scopes(self.pool, institution.id)
        )
        issuer = batch.Issuer(institution.code, institution.kind, institution.name)
        checked = batch.CheckedBatch()
        duplicate: asyncpg.UniqueViolationError | None = None
        public_id = "B" + secrets.token_hex(8).upper()
        try:
            async with store.transaction(self.pool) as conn:
                batch_id = await store.insert_batch(
                    conn,
                    public_id=public_id,
                    institution_id=institution.id,
                    file_sha256=parsed.sha256,
                    filename=filename[:200],
                    file_format=parsed.file_format,
                    row_count=len(parsed.rows),
                    submitted_by=actor,
                )
                # Parts are checked in worker processes while earlier good parts stream into the open
                # transaction with COPY; any problem anywhere rolls the whole batch back (D5, D10).
                async for part in self._check_parts(parsed.rows, issuer, scopes, institution.id, batch_id):
                    checked.extend(part)
                    if checked.ok and duplicate is None and part.payload:
                        try:
                            await store.copy_certificates_text(conn, part.payload)
                        except asyncpg.UniqueViolationError as exc:
                            duplicate = exc  # keep checking the rest so every bad row is reported
                batch.finish(checked)
                if not checked.ok or duplicate is not None:
                    raise _RollBack
                await store.audit(
                    conn,
                    actor,
                    "batch.submit",
                    public_id,
                    {"institution": institution.code, "rows": checked.good},
                )
        except _RollBack:
            problems = list(checked.problems)
            if duplicate is not None:
                problems += await self._existing_duplicates(checked)
                problems.sort(key=lambda p: p.line or 0)
            raise _rejected(problems, len(parsed.rows), len({p.line for p in problems})) from None
        except asyncpg.UniqueViolationError as exc:
            if exc.table_name != "batches":
                raise
            # The same file raced in from another request; the first one won.
            again = await store.find_batch_by_file(self.pool, institution.id, parsed.sha256)
            assert again is not None
            return ImportResult(again.public_id, institution.code, again.state, again.row_count, False, ())
        return ImportResult(
            public_id, institution.code, "submitted", checked.good, True, tuple(checked.warnings)
        )

    async def _check_parts(
        self,
        rows: list[batchfile.RawRow],
        issuer: batch.Issuer,
        scopes: batch.ScopeIndex,
        institution_id: int,
        batch_id: int,
    ) -> AsyncIterator[batch.CheckedBatch]:
        """Yield the checked parts of a batch in file order.

        Small batches are checked in this process; large ones in a process pool, because checking is
        CPU-bound pure Python (~20 µs a row) and would otherwise both use one core and stall the
        event loop that serves lookups.
        """
        today = self.today()
        if self.id_keys is None or len(rows) < self.parallel_min_rows:
            part = batch.check_rows(rows, issuer=issuer, scopes=scopes, protector=self.protector, today=today,
                                    cross_row=False)  # fmt: skip
            if part.ok:
                part.payload = batch.copy_text(part.drafts, institution_id, batch_id)
            yield part
            return
        loop = asyncio.get_running_loop()
        executor = _checker_pool()
        size = max(self.parallel_min_rows // 2, -(-len(rows) // (4 * _WORKERS)))
        futures = []
        for i in range(0, len(rows), size):
            keys, chunk = batch.compact(rows[i : i + size])
            futures.append(
                loop.run_in_executor(
                    executor,
                    batch.check_part,
                    keys,
                    chunk,
                    issuer,
                    scopes,
                    self.id_keys.index_key,
                    self.id_keys.enc_key,
                    today,
                    institution_id,
                    batch_id,
                )  # fmt: skip
            )
        try:
            for future in futures:
                yield await future
        finally:
            for future in futures:
                future.cancel()

    async def _existing_duplicates(self, checked: batch.CheckedBatch) -> list[Problem]:
        numbers = [n for n, _ in checked.numbers]
        taken = await store.existing_numbers(self.pool, numbers)
        return [
            Problem(
                code="duplicate_existing",
                message_zh="证书编号已存在于登记库中",
                message_en="the certificate number already exists in the registry",
                line=line,
                column=batch.HEADER["number"],
                found=number,
                rule=13,
            )
            for number, line in checked.numbers
            if number in taken
        ]

    # ------------------------------------------------------------------ public lookup

    async def lookup_by_number(self, number: str, name: str) -> LookupAnswer:
        """Number + name (rule 56). Raises InvalidCode for a malformed number (a distinct answer, rule 61).

        Unknown number and wrong name give the same answer; both paths run one query and one
        constant-time comparison so timing does not tell them apart either.
        """
        check = codes.check_certificate_number(number, today=self.today())
        if not check.valid:
            raise InvalidCode(problems=check.problems)
        key = _name_key_or_blank(name)
        row = await store.published_certificate(self.pool, check.canonical)
        stored_key = row["name_key"] if row is not None else "\0"
        if row is None or not key or not hmac.compare_digest(stored_key.encode(), key.encode()):
            return LookupAnswer(False)
        return LookupAnswer(True, (public_view(row),))

    async def lookup_by_id(
        self, id_number: str, name: str, id_type: str = ids.IdType.RESIDENT.value
    ) -> LookupAnswer:
        """ID + name (rule 56): that holder's published certificates. Raises InvalidId for a malformed ID."""
        try:
            kind = ids.IdType(id_type)
        except ValueError:
            raise InvalidInput("证件类型无效", "unknown ID type", details={"id_type": id_type}) from None
        canonical = ids.validate_id(id_number, kind, today=self.today())
        key = _name_key_or_blank(name)
        rows = await store.published_certificates_by_index(
            self.pool, self.protector.blind_index(kind, canonical)
        )
        matched = [r for r in rows if key and hmac.compare_digest(r["name_key"].encode(), key.encode())]
        if not matched:
            return LookupAnswer(False)
        return LookupAnswer(True, tuple(public_view(r) for r in matched))

    async def issue_token(self, institution_code: str, *, label: str, actor: str) -> str:
        """Mint an API token for an institution's uploads; only its SHA-256 is stored. Raises NotFound."""
        inst = await store.get_institution(self.pool, institution_code)
        token = "vt_" + secrets.token_urlsafe(32)
        await store.add_credential(self.pool, hashlib.sha256(token.encode()).digest(), inst.id, label)
        await store.audit(self.pool, actor, "credential.issue", inst.code, {"label": label})
        return token

    async def batch_of(self, public_id: str, institution_code: str) -> store.BatchRow:
        """An institution's own batch (rule 58). Another institution's batch raises NotFound, like a missing one."""
        b = await store.get_batch(self.pool, public_id)
        if b.institution_code != institution_code:
            raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
        return b

    # ------------------------------------------------------------------ QR images for the holder

    def qr_link_token(self, number: str, expires: int) -> str:
        """A link token for a certificate's QR image, valid until ``expires`` (unix seconds).

        The image is the holder's: it is offered only in a successful lookup answer (number + name or
        ID + name), so the links are capabilities derived from the ID index key."""
        assert self._qr_link_key is not None
        mac = hmac.digest(self._qr_link_key, f"{number}|{expires}".encode(), "sha256")
        return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")

    def qr_link_valid(self, number: str, expires: int, token: str, now: float) -> bool:
        if self.id_keys is None or expires < now:
            return False
        return hmac.compare_digest(self.qr_link_token(number, expires), token)

    async def qr_payload(self, number: str) -> bytes:
        """The signed payload of a published certificate. Raises NotFound."""
        found = await store.qr_payload(self.pool, codes.normalize(number))
        if found is None:
            raise NotFound("该证书未发布或尚未签名", "the certificate is not published or not signed")
        return found

    async def institution_for_token(self, token: str) -> store.InstitutionRow | None:
        return await store.institution_for_token(self.pool, hashlib.sha256(token.encode()).digest())


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    """What a public lookup may show: masked ID (last 4 only), never the birth date or region."""
    status = row["status"]
    institution_status = row["institution_status"]
    notice = None
    if institution_status != ACTIVE:
        zh, en = STATUS_LABELS[institution_status]
        notice = {
            "zh": f"发证机构当前状态：{zh}（自 {row['institution_status_since']}）。证书本身仍然有效。",
            "en": f"The issuing institution is {en} since {row['institution_status_since']}. "
            "The certificate itself stays valid.",
        }
    return {
        "number": row["number"],
        "kind": row["kind"],
        "holder_name": row["holder_name"],
        "id_type": row["id_type"],
        "id_masked": "*" * 14 + row["id_tail"]
        if row["id_type"] == ids.IdType.RESIDENT.value
        else "****" + row["id_tail"],
        "occupation": {"code": row["occupation_code"], "name": row["occupation_name"]},
        "job": row["job"],
        "level": _level(row["level"]),
        "issue_date": _iso(row["issue_date"]),
        "issue_form": row["issue_form"],
        "institution": {
            "code": row["institution_code"],
            "name": row["institution_name"],
            "status": institution_status,
        },
        "status": {"active": "valid", "revoked": "revoked", "superseded": "superseded"}[status],
        "issuer_notice": notice,
    }


class _RollBack(Exception):
    """Leaves the import transaction so that nothing of a rejected batch is kept."""


_POOL: concurrent.futures.ProcessPoolExecutor | None = None
_WORKERS = max(1, os.cpu_count() or 1)


def _checker_pool() -> concurrent.futures.ProcessPoolExecutor:
    """One pool of row checkers per process, started on first use ("forkserver": the web process
    may run threads, and a fork of a threaded process is unsafe)."""
    global _POOL
    if _POOL is None:
        context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
        _POOL = concurrent.futures.ProcessPoolExecutor(
            max_workers=max(1, os.cpu_count() or 1), mp_context=context
        )
    return _POOL


def shutdown_checkers() -> None:
    """Stop the row-checker processes, if any were started (at app or command exit)."""
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
        _POOL = None


def _rejected(problems: list[Problem], total: int, bad_rows: int) -> BatchRejected:
    return BatchRejected(
        f"批次被拒绝：{total} 行中有 {bad_rows} 行不合格，未写入任何数据",
        f"batch rejected: {bad_rows} of {total} rows are invalid; nothing was written",
        problems=problems,
        details={"rows": total, "bad_rows": bad_rows},
    )


def _name_key_or_blank(name: str) -> str:
    try:
        return names.name_key(name)
    except InvalidName:
        return ""


__all__ = ["ImportResult", "InvalidId", "LookupAnswer", "NotFound", "Registry", "public_view"]
