"""A certificate's status at a past moment, from its recorded events (``verify.domain.history``):
what a recheck compares a receipt with, across a revocation, its reversal (复核) and a
supersession (rules 36, 37, 43)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import asyncpg

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import publish_batch
from verify.crypto.signing import Signer
from verify.db import certificates
from verify.domain.events import CertificateEvent
from verify.domain.history import event_json, events_since, status_at
from verify.services.registry import Registry

MB = 1 << 20


async def _moment(pool: asyncpg.Pool) -> datetime:
    """The database's clock now (events are stamped by it), a little after the last write."""
    await asyncio.sleep(0.01)
    moment: datetime = await pool.fetchval("SELECT clock_timestamp()")
    await asyncio.sleep(0.01)
    return moment


async def test_status_at_follows_revocation_reversal_and_supersession(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    holder = holder_id()
    rows = [Row(inst["code"], serial=i, name="孙八", id_number=holder) for i in (1, 2, 3)]
    done = await registry.import_batch(inst["code"], csv_bytes(rows), "h.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, done.batch_id, signer=signer)
    a, b, c = (number_of(r) for r in rows)
    t0 = await _moment(pool)

    def event(number: str, kind: str, **kw: str) -> CertificateEvent:
        return CertificateEvent(number, kind, effective=date(2026, 11, 2), reason_category="data_error",
                                reason="内部事实", decided_by="鉴定中心", **kw)  # fmt: skip

    await registry.certificate_event(event(a, "revoked"), actor="t")
    t1 = await _moment(pool)
    await registry.certificate_event(event(a, "reinstated"), actor="t")
    t2 = await _moment(pool)
    await registry.certificate_event(event(b, "superseded", superseded_by=c), actor="t")
    t3 = await _moment(pool)

    history = await certificates.events_of(pool, [a, b, c])
    assert [status_at(history[a], t) for t in (t0, t1, t2, t3)] == ["active", "revoked", "active", "active"]
    assert [status_at(history[b], t) for t in (t0, t1, t2, t3)] == [
        "active",
        "active",
        "active",
        "superseded",
    ]
    assert c not in history and status_at(history.get(c, []), t3) == "active"
    assert status_at(history[a], datetime.min.replace(tzinfo=UTC)) == "active"
    since = [event_json(e) for e in events_since(history[a], t0)]
    assert [(e["event"], e["status"], e["effective"]) for e in since] == [
        ("revoked", "revoked", "2026-11-02"),
        ("reinstated", "valid", "2026-11-02"),
    ]
    assert all("内部事实" not in str(e) for e in since)  # the facts stay internal (rule 36)
    assert [event_json(e)["superseded_by"] for e in events_since(history[b], t2)] == [c]
