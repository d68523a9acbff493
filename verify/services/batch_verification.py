"""Batch verification for verifier accounts (rules 54-57, 60): every row of a file gets the verdict
the same single check would give, and the whole answer gets a signed receipt. A mixin of
``verify.services.registry.Registry``.

QR rows are verified like a scan: signature and the worker's status view, no database. Number and
ID rows are read in chunks, one statement per chunk (``certificates.BY_NUMBERS`` /
``BY_ID_INDEXES``), and matched to the name by the same constant-time comparison as single
lookups, so an unknown number and a wrong name give one answer. Rows per account per day are
capped (``VERIFY_BATCH_ROWS_PER_DAY``), counted before any row is answered; every batch is one
audit entry with the row count and the digests, never a name or an ID.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from verify import __version__
from verify.crypto.idprotect import IdProtector
from verify.crypto.receipts import (
    PURPOSE,
    ReceiptCheck,
    ReceiptFields,
    ReceiptSigner,
    check_receipt,
    results_root,
    row_leaf,
)
from verify.crypto.signing import public_jwk
from verify.db import audit, certificates
from verify.db import receipts as receipt_rows
from verify.db.pool import Executor, Pool, atomic
from verify.domain import batch_verification as bv
from verify.domain import codes, names
from verify.domain.accounts import Principal
from verify.domain.certificate import Published, certificate_fields, issuer_notice
from verify.domain.clock import CST
from verify.domain.errors import ConfigError, InvalidId, InvalidInput, InvalidName, NotFound, RateLimited
from verify.domain.events import PUBLIC_STATUS
from verify.domain.history import event_json, events_since, status_at
from verify.domain.holder_ids import IdType, id_type_of, validate_id
from verify.domain.standing import outcome_of, standing_facts
from verify.domain.verification import Verification, judge
from verify.files.rows import gc_paused
from verify.files.verdict_sheet import to_csv, to_xlsx
from verify.files.verify_batch import read_verify_file
from verify.services import qr_worker
from verify.services.checkers import WORKERS, checker_pool
from verify.services.status_view import StatusView

log = logging.getLogger("verify.batch")

# Rows read per statement: large enough that a 10,000-row file is ten round trips, small enough
# that one statement's parameter array stays cheap to plan and send.
CHUNK = 1_000
DEFAULT_ROWS_PER_DAY = 50_000
# From this many QR rows on, their signatures are checked in the checker processes: below it the
# parts' transfer and a pool's first start cost more than they save (docs/BENCHMARKS.md).
QR_PARALLEL_ROWS = 2_000


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    results: list[dict[str, Any]]
    counts: dict[str, int]
    receipt: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "results": self.results, "receipt": self.receipt}


@dataclass(slots=True)
class _Pending:
    """A number or ID row waiting for its chunk's read."""

    index: int
    key: object  # canonical number, or the ID's blind index
    name_key: str


class BatchVerification:
    pool: Pool
    status_view: StatusView | None
    protector: IdProtector
    today: Callable[[], date]
    receipt_signer: ReceiptSigner | None
    batch_rows_per_day: int
    qr_parallel_rows: int

    _read_published: Callable[[Callable[[Executor], Awaitable[list[Published]]]], Awaitable[list[Published]]]

    async def verify_batch(
        self,
        rows: Sequence[bv.InputRow],
        *,
        request_sha256: str,
        by: Principal,
        request_id: str | None = None,
        view: StatusView | None = None,
    ) -> BatchAnswer:
        """Verify every row; answer them in file order with a signed receipt. QR rows read ``view``
        (default: the registry's status view). Raises RateLimited (the
        account's rows for today would pass ``batch_rows_per_day``), ConfigError (no receipt key),
        and what the database raises (nothing is answered then: the file can be sent again)."""
        signer = self._receipt_signer()
        await self._charge(by, len(rows))
        # Answering builds some 30 objects a row, none in a cycle: the cyclic collector would rescan
        # the worker's whole heap (its status view included) many times over for nothing, which cost
        # a fifth of a 10,000-row batch (docs/BENCHMARKS.md).
        with gc_paused():
            leaves: dict[int, bytes] = {}
            results = await self._answer(rows, view or self.status_view, leaves)
            root = results_root(results, leaves)
        counts = bv.counts(results)
        fields = ReceiptFields(
            receipt_id=secrets.token_hex(16), issued_at=_utc_now(), account=by.login,
            service_version=__version__, request_sha256=request_sha256, rows=len(results),
            results_root=root, counts=counts,
        )  # fmt: skip
        receipt = signer.sign(fields)
        async with atomic(self.pool) as conn:  # the receipt is kept exactly when it is audited
            await receipt_rows.store(conn, by.account_id, receipt)
            await audit.audit(
                conn, by.actor, "verification.batch", fields.receipt_id,
                {"rows": len(results), "request_sha256": request_sha256, "results_root": fields.results_root,
                 "counts": {k: v for k, v in counts.items() if v}},
                role=by.role.value, request_id=request_id,
            )  # fmt: skip
        return BatchAnswer(results, counts, receipt)

    async def receipt(self, receipt_id: str) -> tuple[dict[str, Any], ReceiptCheck]:
        """A receipt this service gave, and its check against the published receipt keys (the
        printed receipt's page). Raises NotFound."""
        async with self.pool.acquire() as conn:
            found = await receipt_rows.find(conn, receipt_id) if len(receipt_id) <= 64 else None
        if found is None:
            raise NotFound("没有该回执", "no such receipt")
        return found, await self.check_receipt(found)

    async def verify_file(
        self, data: bytes, filename: str, *, content_type: str = "", max_bytes: int, max_rows: int, by: Principal,
        request_id: str | None = None, view: StatusView | None = None,
    ) -> BatchAnswer:  # fmt: skip
        """``verify_batch`` of a verifier's file (``verify.files.verify_batch``). Raises BadFile and
        FileTooLarge (nothing is answered or counted then), and what ``verify_batch`` raises."""
        rows = read_verify_file(
            data, filename, max_bytes=max_bytes, max_rows=max_rows, content_type=content_type
        )
        return await self.verify_batch(
            rows, request_sha256=request_digest(data), by=by, request_id=request_id, view=view
        )

    async def recheck_file(
        self, data: bytes, filename: str, receipt: Mapping[str, Any] | bytes, *, content_type: str = "",
        max_bytes: int, max_rows: int, by: Principal, request_id: str | None = None, view: StatusView | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """``recheck`` of the file a receipt covers. Raises what ``verify_file`` and ``recheck`` raise."""
        rows = read_verify_file(
            data, filename, max_bytes=max_bytes, max_rows=max_rows, content_type=content_type
        )
        return await self.recheck(
            rows, receipt, request_sha256=request_digest(data), by=by, request_id=request_id, view=view
        )

    async def recheck(
        self,
        rows: Sequence[bv.InputRow],
        receipt: Mapping[str, Any] | bytes,
        *,
        request_sha256: str,
        by: Principal,
        request_id: str | None = None,
        view: StatusView | None = None,
    ) -> dict[str, Any]:
        """Check ``receipt`` and verify the same rows again now: per row, the status the registry
        had recorded at the receipt's time, the status now and every decision recorded since.
        Raises InvalidInput (``receipt_invalid``: not a receipt of this service, or altered;
        ``receipt_file_mismatch``: the file is not the one the receipt covers), RateLimited."""
        checked = await self.check_receipt(receipt)
        if not checked.ok or checked.receipt is None:
            raise InvalidInput(
                f"回执无效（{checked.reason}）：不是本服务签发的回执，或已被改动",
                f"the receipt is not valid ({checked.reason}): not issued by this service, or altered",
                details={"reason": checked.reason},
            )
        signed = checked.receipt
        if not hmac.compare_digest(str(signed.get("request_sha256", "")), request_sha256):
            raise InvalidInput(
                "所附文件不是该回执所查验的文件（SHA-256 不一致）",
                "the file is not the one this receipt covers (its SHA-256 differs)",
                details={"reason": "receipt_file_mismatch"},
            )
        then = datetime.fromisoformat(str(signed["issued_at"]).replace("Z", "+00:00"))
        answer = await self.verify_batch(
            rows, request_sha256=request_sha256, by=by, request_id=request_id, view=view
        )
        numbers = [r["certificate"]["number"] for r in answer.results if r["certificate"]]
        async with self.pool.acquire() as conn:
            history = await certificates.events_of(conn, numbers)
        report = []
        for r in answer.results:
            number = r["certificate"]["number"] if r["certificate"] else None
            events = history.get(number, []) if number else []
            before, now = status_at(events, then), status_at(events, datetime.max.replace(tzinfo=UTC))
            since = events_since(events, then)
            report.append({
                "row": r["row"], "number": number, "verdict_now": r["verdict"],
                "status_at_receipt": PUBLIC_STATUS[before] if number else None, "status_now": PUBLIC_STATUS[now] if number else None,
                "changed": bool(since), "changes": [event_json(e) for e in since], "columns": r["columns"],
            })  # fmt: skip
        return {
            "receipt": signed,
            "rechecked": answer.receipt,
            "changed_rows": sum(1 for r in report if r["changed"]),
            "rows": report,
        }

    async def check_receipt(self, receipt: Mapping[str, Any] | bytes) -> ReceiptCheck:
        """``crypto.receipts.check_receipt`` against this service's receipt keys. Raises nothing but
        what the database raises."""
        return check_receipt(receipt, await self.receipt_jwks())

    async def receipt_jwks(self) -> dict[str, Any]:
        """Every receipt key this service has signed with (``purpose: receipt``), for the JWKS."""
        async with self.pool.acquire() as conn:
            return {"keys": [_receipt_jwk(public_key) for _, public_key in await receipt_rows.keys(conn)]}

    # ------------------------------------------------------------------ internals

    def _receipt_signer(self) -> ReceiptSigner:
        if self.receipt_signer is None:
            raise ConfigError(
                "未配置回执签名密钥（VERIFY_RECEIPT_KEY）",
                "no receipt key is configured (VERIFY_RECEIPT_KEY)",
            )
        return self.receipt_signer

    async def _charge(self, by: Principal, rows: int) -> None:
        """Count ``rows`` against the account's rows for today (China time); refuse all of them when
        the day's allowance would be passed. Raises RateLimited with the seconds until midnight."""
        now = datetime.now(UTC).astimezone(CST)
        allowed = await receipt_rows.charge(
            self.pool, by.account_id, now.date(), rows, self.batch_rows_per_day
        )
        if not allowed:
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), CST)
            raise RateLimited(
                f"本账户今日查验行数将超过上限 {self.batch_rows_per_day} 行，请明日再试",
                f"this account would pass its {self.batch_rows_per_day} rows for today; try again tomorrow",
                retry_after=int((midnight - now).total_seconds()) + 1,
                details={"rows_per_day": self.batch_rows_per_day, "rows": rows},
            )

    async def _answer(
        self, rows: Sequence[bv.InputRow], view: StatusView | None, leaves: dict[int, bytes]
    ) -> list[dict[str, Any]]:
        """Every row's result, in file order; ``leaves`` gets the Merkle leaves of rows answered
        while the checker processes work (``results_root`` computes the others)."""
        results: list[dict[str, Any] | None] = [None] * len(rows)
        by_number: list[_Pending] = []
        by_id: list[_Pending] = []
        by_qr: list[int] = []
        today = self.today()
        for i, row in enumerate(rows):
            if row.kind == bv.KIND_QR:
                by_qr.append(i)
            elif row.kind == bv.KIND_NUMBER:
                # A stored number passed every check at import, so the checks run only for a number
                # the read does not find (``_unknown_number``): most rows of a real file skip them.
                by_number.append(_Pending(i, codes.normalize(row.number), _name_key_or_blank(row.name)))
            elif row.kind == bv.KIND_ID:
                kind = id_type_of(row.id_type) if row.id_type else IdType.RESIDENT
                if kind is None:
                    results[i] = bv.row_result(row, "malformed", problems=[_problem(
                        "id_type_unknown", "证件类型无效", "unknown ID type", column="id_type")])  # fmt: skip
                    continue
                try:
                    canonical = validate_id(row.id_number, kind, today=today)
                except InvalidId as exc:
                    results[i] = bv.row_result(row, "malformed", problems=[p.to_json() for p in exc.problems])
                    continue
                index = self.protector.blind_index(kind, canonical)
                by_id.append(_Pending(i, index, _name_key_or_blank(row.name)))
            else:
                results[i] = bv.row_result(row, "malformed", problems=[_problem(
                    "nothing_to_verify", "该行没有二维码内容、证书编号或证件号码",
                    "the row has no QR content, certificate number or ID number")])  # fmt: skip
        await self._qr_rows(rows, by_qr, view, results, leaves)
        await self._read_rows(
            rows, by_number, certificates.BY_NUMBERS, results, lambda p: p.certificate.number,
            lambda row: _unknown_number(row, today),
        )  # fmt: skip
        await self._read_rows(
            rows, by_id, certificates.BY_ID_INDEXES, results, lambda p: p.certificate.id_index
        )
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    async def _qr_rows(
        self, rows: Sequence[bv.InputRow], indexes: list[int], view: StatusView | None,
        results: list[dict[str, Any] | None], leaves: dict[int, bytes],
    ) -> None:  # fmt: skip
        """Answer the QR rows like scans, against one snapshot of the status view. From
        ``qr_parallel_rows`` rows on, the decoding and signature checks run in the checker processes
        (``qr_worker``, a part each) while this process judges the parts already back."""
        snapshot = view.snapshot if view is not None else None
        fresh = view is not None and view.fresh()
        keys = snapshot.keys_by_kid if snapshot is not None else None
        # Not Base32 ("!"): answered as a malformed QR (forged).
        segments = [(bv.qr_segment(rows[i].qr) or "!").upper() for i in indexes]
        if keys is None or len(indexes) < self.qr_parallel_rows:
            for i, segment in zip(indexes, segments, strict=True):
                results[i] = _qr_row(
                    rows[i], judge(qr_worker.authenticate(segment, keys), snapshot, fresh=fresh)
                )
            return
        loop = asyncio.get_running_loop()
        executor = checker_pool()
        size = max(100, -(-len(segments) // (16 * WORKERS)))
        parts = [
            (offset, _in_pool(loop, executor, segments[offset : offset + size], keys))
            for offset in range(0, len(segments), size)
        ]
        try:
            for offset, future in parts:
                try:
                    checked = [qr_worker.unship(shipped, keys) for shipped in await future]
                except BrokenProcessPool:  # a checker died (killed, out of memory): this part here
                    log.warning("batch verification: a checker process died; checking a part in the worker")
                    checked = [qr_worker.authenticate(s, keys) for s in segments[offset : offset + size]]
                for j, a in enumerate(checked, start=offset):
                    i = indexes[j]
                    result = results[i] = _qr_row(rows[i], judge(a, snapshot, fresh=fresh))
                    leaves[i] = row_leaf(result)  # now, while the checkers work on the next parts
        finally:
            for _, future in parts:
                future.cancel()

    async def _read_rows(
        self,
        rows: Sequence[bv.InputRow],
        pending: list[_Pending],
        read: certificates.PublishedRead,
        results: list[dict[str, Any] | None],
        key_of: Callable[[Published], object],
        unknown: Callable[[bv.InputRow], dict[str, Any] | None] = lambda row: None,
    ) -> None:
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start : start + CHUNK]
            keys = list({p.key: None for p in chunk})
            found = await self._read_published(
                lambda conn, keys=keys: certificates.published_certificates(conn, read, keys)  # type: ignore[misc]
            )
            by_key: dict[object, list[Published]] = {}
            for p in found:
                by_key.setdefault(key_of(p), []).append(p)
            for item in chunk:
                row = rows[item.index]
                matched = [
                    p for p in by_key.get(item.key, [])
                    if item.name_key and hmac.compare_digest(p.certificate.name_key.encode(), item.name_key.encode())
                ]  # fmt: skip
                known = item.key in by_key
                results[item.index] = (None if known else unknown(row)) or _lookup_row(row, matched)


def _in_pool(
    loop: asyncio.AbstractEventLoop, executor: ProcessPoolExecutor, segments: list[str], keys: qr_worker.Keys
) -> asyncio.Future[list[qr_worker.Shipped]]:
    """``qr_worker.authenticate_part`` in the pool; a pool that broke before the part was sent gives
    the same BrokenProcessPool its answer would."""
    try:
        return loop.run_in_executor(executor, qr_worker.authenticate_part, segments, keys)
    except BrokenProcessPool as exc:
        failed: asyncio.Future[list[qr_worker.Shipped]] = loop.create_future()
        failed.set_exception(exc)
        return failed


def _qr_row(row: bv.InputRow, v: Verification) -> dict[str, Any]:
    facts = dict(v.details)
    if v.reason:
        facts["reason"] = v.reason
    verdict, differences = v.outcome, []
    if v.certificate is not None and row.claims:
        differences = bv.claim_differences(row.claims, v.certificate)
        if differences and verdict == "valid":
            verdict = "claim_mismatch"
    return bv.row_result(row, verdict, certificate=v.certificate, facts=facts, differences=differences)


def _unknown_number(row: bv.InputRow, today: date) -> dict[str, Any] | None:
    """The malformed answer of a number no certificate has, when its checks fail (rule 61: a
    malformed number is told apart from an unknown one); None when it is well formed."""
    check = codes.check_certificate_number(row.number, today=today)
    if check.valid or codes.check_qualification_number(row.number).valid:
        return None
    return bv.row_result(row, "malformed", problems=[p.to_json() for p in check.problems])


def _lookup_row(row: bv.InputRow, matched: list[Published]) -> dict[str, Any]:
    """A number or ID row's answer from the certificates it matched (an ID may match several: the
    one that fits the claims is chosen, a valid one before others, the latest first)."""
    if not matched:
        return bv.row_result(row, "not_found_or_mismatch")
    scored = []
    for p in matched:
        fields = certificate_fields(p.certificate, p.issuer, p.issuer.code)
        differences = bv.claim_differences(row.claims, fields) if row.claims else []
        outcome = outcome_of(p.status, p.issuer)
        scored.append((bool(differences), outcome != "valid", p, fields, differences, outcome))
    scored.sort(key=lambda s: (s[0], s[1]))  # stable: the read's order (latest first) breaks ties
    _, _, p, fields, differences, outcome = scored[0]
    verdict = "claim_mismatch" if differences and outcome == "valid" else outcome
    facts = standing_facts(p.status, p.state, p.issuer)
    notice = issuer_notice(p.issuer)
    if notice:
        facts["issuer_notice"] = notice
    if len(matched) > 1:
        facts["other_certificates"] = [s[2].certificate.number for s in scored[1:]]
    return bv.row_result(row, verdict, certificate=fields, facts=facts, differences=differences)


def _receipt_jwk(public_key: bytes) -> dict[str, Any]:
    jwk = public_jwk(public_key, not_before=None, not_after=None, status="active")
    jwk["purpose"] = PURPOSE
    return jwk


def _problem(code: str, zh: str, en: str, column: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message_zh": zh, "message_en": en}
    if column:
        out["column"] = column
    return out


def _name_key_or_blank(name: str) -> str:
    try:
        return names.name_key(name)
    except InvalidName:
        return ""


def _utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def spreadsheet(answer: BatchAnswer, fmt: str) -> bytes:
    """The answer as a ``csv`` or ``xlsx`` file (``verify.files.verdict_sheet``)."""
    if fmt == "csv":
        return to_csv(answer.results)
    with gc_paused():  # XlsxWriter makes an object a cell, none in a cycle: ~10 % of its time (BENCHMARKS)
        return to_xlsx(answer.results, answer.counts, answer.receipt)


def check_offline(
    receipt: Mapping[str, Any] | bytes, jwks: Mapping[str, Any], results: Sequence[Mapping[str, Any]] | None
) -> ReceiptCheck:
    """A receipt checked with a JWKS alone, as any verifier can (``crypto.receipts.check_receipt``,
    for the command line, which does not reach into the crypto layer). Raises nothing."""
    return check_receipt(receipt, jwks, results)


def request_digest(data: bytes) -> str:
    """The SHA-256 a receipt names for the request's file (hex)."""
    return hashlib.sha256(data).hexdigest()
