"""Rules 28 and 69 (paper and electronic forms of one number are one certificate, with one QR) and
rule 76 (certificate records never expire; certificates, their events and the audit log are kept).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import InstitutionFactory, default_scopes
from tests.factories import HEADER, Row, number_of
from tests.workflow import publish_batch
from verify.crypto.issuance import sign_certificates
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.db.roles import DELETABLE_TABLES
from verify.domain import payload
from verify.domain.batch.columns import COLUMNS
from verify.domain.certificate import ELECTRONIC, PAPER, Certificate, record_of
from verify.domain.codes import CodeKind
from verify.domain.errors import BatchRejected
from verify.domain.events import CertificateEvent
from verify.domain.holder_ids import IdType
from verify.services.registry import Registry

MB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]
FORM_HEADER = next(c.header_zh for c in COLUMNS if c.key == "issue_form")
# What rule 76 keeps: the certificates, their batches, revocation decisions and events, the audit log.
KEPT = ("certificates", "batches", "certificate_events", "certificate_decisions", "audit_log")


def _csv(rows: list[tuple[Row, str]]) -> bytes:
    """A batch file with the 证书形式 column: each row with its form as written (纸质 / 电子)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([*HEADER, FORM_HEADER])
    for row, form in rows:
        w.writerow([*row.cells(), form])
    return out.getvalue().encode()


async def _path(pool: asyncpg.Pool, number: str) -> str:
    data = await signatures.qr_payload(pool, number)
    assert data is not None
    return payload.to_text(data)


async def _scan(client: httpx.AsyncClient, path: str, outcome: str = "valid") -> dict[str, Any]:
    """The QR answer, polled until the status view shows ``outcome`` (it follows within a second)."""
    deadline = time.monotonic() + 2.0
    while True:
        r = await client.get(f"/api/v1/verify/{path}")
        assert r.status_code == 200
        body: dict[str, Any] = r.json()
        if body["outcome"] == outcome or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.02)


async def _lookup(client: httpx.AsyncClient, row: Row) -> dict[str, Any]:
    r = await client.post("/api/v1/lookup", json={"number": number_of(row), "name": row.name})
    assert r.status_code == 200, r.text
    [found] = r.json()["certificates"]
    assert isinstance(found, dict)
    return found


# --------------------------------------------------------------------------- rules 28 and 69


async def test_rule_28_paper_and_electronic_forms_of_one_number_are_one_certificate(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    inst = await make_institution()
    paper, electronic = Row(inst["code"], serial=1), Row(inst["code"], serial=2)
    first = await registry.import_batch(
        inst["code"], _csv([(paper, "纸质"), (electronic, "电子")]), "forms.csv", actor="t", max_bytes=MB
    )
    await publish_batch(registry, first.batch_id, signer=signer)
    stored = {
        r["number"]: r["issue_form"]
        for r in await pool.fetch("SELECT number, issue_form FROM certificates WHERE institution_id = $1", inst["id"])
    }  # fmt: skip
    assert stored == {number_of(paper): PAPER, number_of(electronic): ELECTRONIC}

    # The electronic form of a number already registered on paper is a duplicate (rule 13), not a
    # second certificate; nor may one file carry both forms of one number.
    with pytest.raises(BatchRejected) as again:
        await registry.import_batch(inst["code"], _csv([(paper, "电子")]), "e.csv", actor="t", max_bytes=MB)
    assert [(p.line, p.code, p.rule) for p in again.value.problems] == [(2, "duplicate_existing", 13)]
    third = Row(inst["code"], serial=3)
    with pytest.raises(BatchRejected) as both:
        await registry.import_batch(
            inst["code"], _csv([(third, "纸质"), (third, "电子")]), "both.csv", actor="t", max_bytes=MB
        )
    assert {(p.code, p.rule) for p in both.value.problems} == {("duplicate_in_batch", 13)}
    rows = await pool.fetch("SELECT issue_form FROM certificates WHERE number = $1", number_of(paper))
    assert [r["issue_form"] for r in rows] == [PAPER]
    assert not await pool.fetchval("SELECT count(*) FROM certificates WHERE number = $1", number_of(third))

    # Equal validity: the lookup and the QR answer the same way whichever the form.
    looked = {form: await _lookup(client, row) for form, row in ((PAPER, paper), (ELECTRONIC, electronic))}
    assert [looked[f]["issue_form"] for f in (PAPER, ELECTRONIC)] == [PAPER, ELECTRONIC]
    assert looked[PAPER]["status"] == looked[ELECTRONIC]["status"] == "valid"
    assert looked[PAPER]["outcome"] == looked[ELECTRONIC]["outcome"]
    assert looked[PAPER].keys() == looked[ELECTRONIC].keys()
    scans = {
        f: await _scan(client, await _path(pool, number_of(r)))
        for f, r in ((PAPER, paper), (ELECTRONIC, electronic))
    }
    assert scans[PAPER]["outcome"] == scans[ELECTRONIC]["outcome"] == "valid"
    assert scans[PAPER]["checks"] == scans[ELECTRONIC]["checks"]

    # One status: a revocation of the number is what both forms' QR and the lookup answer.
    await registry.certificate_event(
        CertificateEvent(number_of(paper), "revoked", date(2026, 1, 2), "data_error", "第八条（测试）", "测试中心"),
        actor="t",
    )  # fmt: skip
    assert (await _scan(client, await _path(pool, number_of(paper)), "revoked"))["outcome"] == "revoked"
    assert (await _lookup(client, paper))["status"] == "revoked"
    assert (await _scan(client, await _path(pool, number_of(electronic))))["outcome"] == "valid"


def _certificate(form: str) -> Certificate:
    return Certificate(
        number="Y000041010512225400001", kind=CodeKind.SKILL_LEVEL_HENAN, holder_name="张三", name_key="张三",
        id_type=IdType.RESIDENT, id_index=bytes(32), id_cipher=bytes(40), id_tail="002X",
        occupation_code="6-20-01-01", occupation_name="钳工", job="--", level=4, issue_date=date(2025, 6, 18),
        issue_form=form, print_serial="No.88888888" if form == PAPER else None,
    )  # fmt: skip


async def test_rule_69_the_qr_does_not_depend_on_the_form(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    # Two certificates that differ only in form (and the printing serial only paper has) carry the
    # same signed record, so an electronic certificate shows the very QR its paper form would.
    on_paper, online = _certificate(PAPER), _certificate(ELECTRONIC)
    assert record_of(on_paper, signer.kid) == record_of(online, signer.kid)
    assert sign_certificates([on_paper], signer) == sign_certificates([online], signer)

    # And as published: the stored payload of an electronic certificate is the one its row would
    # get on paper.
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    result = await registry.import_batch(
        inst["code"], _csv([(row, "电子")]), "e.csv", actor="t", max_bytes=MB
    )
    await publish_batch(registry, result.batch_id, signer=signer)
    stored = await pool.fetchrow("SELECT * FROM certificates WHERE number = $1", number_of(row))
    assert stored is not None and stored["issue_form"] == ELECTRONIC
    as_paper = {**dict(stored), "issue_form": PAPER}
    [(_, _, expected)] = sign_certificates([as_paper], signer)
    assert await signatures.qr_payload(pool, number_of(row)) == expected
    # The record has no form field to differ in.
    assert "issue_form" not in {f.name for f in dataclasses.fields(payload.CertificateRecord)}


# --------------------------------------------------------------------------- rule 76


async def _tables(pool: asyncpg.Pool) -> set[str]:
    rows = await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r["tablename"] for r in rows}


async def test_rule_76_the_app_role_cannot_delete_certificates_events_batches_or_the_audit_log(
    pool: asyncpg.Pool, app_pool: asyncpg.Pool
) -> None:
    tables = await _tables(pool)
    assert set(KEPT) <= tables
    for table in sorted(tables - set(DELETABLE_TABLES) | set(KEPT)):
        for statement in (f"DELETE FROM {table} WHERE false", f"TRUNCATE {table}"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app_pool.execute(statement)
    # The schema's owner is refused too: the tables' triggers (migrations 001, 002, 005, 006).
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            for table in KEPT:
                with pytest.raises((asyncpg.RestrictViolationError, asyncpg.RaiseError)):
                    async with conn.transaction():
                        await conn.execute(f"DELETE FROM {table} WHERE false")
        finally:
            await tx.rollback()


async def test_rule_76_no_table_holding_certificates_or_events_is_deletable(pool: asyncpg.Pool) -> None:
    # Every table with a certificate number, or pointing at a certificate or a batch, is kept.
    holding = {
        r["table_name"]
        for r in await pool.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND column_name IN ('number', 'certificate_number', 'batch_id')"
        )
    }
    holding |= {
        r["relname"]
        for r in await pool.fetch(
            "SELECT c.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " WHERE k.contype = 'f' AND k.confrelid IN ('certificates'::regclass, 'batches'::regclass)"
        )
    }
    assert {"certificates", "certificate_events", "certificate_signatures"} <= holding
    assert not (holding | set(KEPT)) & set(DELETABLE_TABLES)
    # And nothing in the code deletes from a table outside DELETABLE_TABLES.
    deleted = {
        (path.name, table)
        for path in (ROOT / "verify").rglob("*.py")
        for table in re.findall(r"DELETE FROM (\w+)", path.read_text(encoding="utf-8"))
    }
    assert {table for _, table in deleted} <= set(DELETABLE_TABLES), deleted


async def test_rule_76_certificate_records_never_expire(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    # No expiry in the model or the tables: a certificate stays what it was on the day it was issued.
    columns = {
        r["column_name"]
        for r in await pool.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name IN ('certificates', 'certificate_signatures')"
        )
    }
    assert not {c for c in columns if re.search(r"expir|valid_(until|to)|not_after|retain|ttl", c)}
    assert not {f.name for f in dataclasses.fields(Certificate)} - set(columns)
    # One issued in 2019, the first year of the coding rule, still answers valid years later.
    since = date(2019, 1, 1)
    inst = await make_institution(scopes=default_scopes(since), filing_date=since, status_since=since)
    row = Row(inst["code"], serial=1, issue_date=date(2019, 6, 18))
    result = await registry.import_batch(
        inst["code"], _csv([(row, "纸质")]), "2019.csv", actor="t", max_bytes=MB
    )
    await publish_batch(registry, result.batch_id, signer=signer)
    assert (await _lookup(client, row))["status"] == "valid"
    assert (await _scan(client, await _path(pool, number_of(row))))["outcome"] == "valid"
