"""A batch's QR rows checked in the checker processes (``verify.services.qr_worker``) get exactly
the answers the same rows get in this process: valid, revoked, claim mismatch, tampered, malformed,
an unknown key; and what a worker ships back (a tuple) stands for the same check as before."""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from nacl.signing import SigningKey

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import account_token, publish_batch
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.domain.accounts import Principal
from verify.domain.batch_verification import InputRow, input_row
from verify.domain.events import CertificateEvent
from verify.domain.snapshot import KeyRecord
from verify.domain.verification import Authenticity
from verify.services import batch_verification, checkers, qr_worker
from verify.services.batch_verification import BatchAnswer
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20


def _foreign(data: bytes) -> bytes:
    """The same record signed by a key the registry has never seen (kid ffff)."""
    record, _, _ = payload.decode(data)
    body = payload.encode_body(dataclasses.replace(record, kid="ffff"))
    return payload.assemble(body, SigningKey.generate().sign(payload.signed_message(body)).signature)


async def _rows(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer,
    status_view: StatusView,
) -> list[InputRow]:  # fmt: skip
    """210 QR rows of every kind: valid, revoked, a claim mismatch, tampered, truncated, not Base32,
    an unknown key."""
    inst = await make_institution()
    people = [Row(inst["code"], serial=i) for i in range(1, 5)]
    result = await registry.import_batch(inst["code"], csv_bytes(people), "q.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    await registry.certificate_event(
        CertificateEvent(number_of(people[1]), "revoked", effective=date(2026, 11, 1), reason_category="fraud",
                         reason="测试", decided_by="鉴定中心"),
        actor="t",
    )  # fmt: skip
    await status_view.refresh()
    texts = [
        payload.to_text(d) for d in [await signatures.qr_payload(pool, number_of(p)) for p in people] if d
    ]
    assert len(texts) == 4
    cells = [
        {"qr": f"https://verify.example.cn/C/{texts[0]}"},
        {"qr": texts[1].lower()},  # revoked; the payload alone, in lower case
        {"qr": texts[2], "claimed_level": "一级/高级技师"},  # the certificate is 四级
        {"qr": texts[3][:-4] + ("AAAA" if not texts[3].endswith("AAAA") else "BBBB")},  # tampered signature
        {"qr": texts[3][:40]},  # truncated
        {"qr": "https://verify.example.cn/C/not-base32!"},
        {"qr": payload.to_text(_foreign(payload.from_text(texts[0])))},
    ]
    return [input_row(i + 2, c, {"工号": f"E{i}"}) for i, c in enumerate(cells * 30)]


async def _answered_here(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer,
    status_view: StatusView, monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[InputRow], Principal, BatchAnswer]:  # fmt: skip
    """The rows of ``_rows``, a verifier, and the rows' answer with every QR row checked in this
    process; the registry is left sending any QR rows to the checker processes."""
    rows = await _rows(registry, pool, make_institution, signer, status_view)
    by = await registry.principal_for_token(await account_token(registry, "verifier"))
    monkeypatch.setattr(registry, "qr_parallel_rows", len(rows) + 1)
    inline = await registry.verify_batch(rows, request_sha256="0" * 64, by=by, view=status_view)
    monkeypatch.setattr(registry, "qr_parallel_rows", 1)
    return rows, by, inline


async def test_checker_processes_answer_qr_rows_as_this_process_does(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer,
    status_view: StatusView, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    rows, by, inline = await _answered_here(
        registry, pool, make_institution, signer, status_view, monkeypatch
    )
    parallel = await registry.verify_batch(rows, request_sha256="0" * 64, by=by, view=status_view)

    assert [r["verdict"] for r in inline.results[:7]] == [
        "valid", "revoked", "claim_mismatch", "forged", "forged", "forged", "forged",
    ]  # fmt: skip
    assert [r["facts"].get("reason") for r in inline.results[3:7]] == [
        "bad_signature",
        "malformed",
        "malformed",
        "unknown_key",
    ]
    assert parallel.results == inline.results
    assert parallel.receipt["results_root"] == inline.receipt["results_root"]


async def test_a_checker_process_that_dies_costs_the_batch_nothing(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer,
    status_view: StatusView, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    rows, by, inline = await _answered_here(
        registry, pool, make_institution, signer, status_view, monkeypatch
    )
    broken = checkers.checker_pool()
    broken.submit(int).result()  # the checker processes are up
    for process in list(broken._processes.values()):  # what the kernel's OOM killer would do
        process.kill()
        process.join()
    answer = await registry.verify_batch(rows, request_sha256="0" * 64, by=by, view=status_view)
    assert answer.results == inline.results
    # and the next batch gets a pool that works again
    again = checkers.checker_pool()
    assert again is not broken and again.submit(int).result() == 0

    # A checker that dies while the batch is out: its parts are checked in this process instead.
    real, sent = batch_verification._in_pool, []

    def dying(*args: Any) -> asyncio.Future[list[qr_worker.Shipped]]:
        sent.append(args)
        if len(sent) % 2:
            return real(*args)
        lost: asyncio.Future[list[qr_worker.Shipped]] = asyncio.get_running_loop().create_future()
        lost.set_exception(BrokenProcessPool("a checker process died"))
        return lost

    monkeypatch.setattr(batch_verification, "_in_pool", dying)
    answer = await registry.verify_batch(rows, request_sha256="0" * 64, by=by, view=status_view)
    assert len(sent) >= 2 and answer.results == inline.results


def test_what_a_worker_ships_stands_for_the_same_check() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    keys = {
        "1a2b": (
            KeyRecord(b"\x01" * 32, "1a2b", since, None, "retired", since),
            KeyRecord(b"\x02" * 32, "1a2b", since, None, "compromised", since),
        )
    }
    record = payload.CertificateRecord(
        number="Y000041010012224900001", holder_name="王𠮷", id_tail="123X", occupation_code="",
        occupation_name="电工", job="--", issue_date=date(2026, 11, 25), kid="1a2b",
    )  # fmt: skip
    for a in (
        Authenticity("ok", record, key=keys["1a2b"][0]),
        Authenticity("key_compromised", record, key=keys["1a2b"][1]),
        Authenticity("bad_signature", record),
        Authenticity("unknown_key", dataclasses.replace(record, kid="ffff")),
        Authenticity("malformed", format_error="truncated"),
    ):
        assert qr_worker.unship(qr_worker.ship(a, keys), keys) == a
