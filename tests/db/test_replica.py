"""Public lookups served from a real streaming replica (VERIFY_DATABASE_REPLICA_URL, DECISIONS D28).

The test starts its own small primary and a hot standby cloned from it with ``pg_basebackup -R``
(``EmbeddedCluster.ensure_standby``), both under /tmp, from the same binaries as the session's
cluster. Its own primary, not the shared var/pg one, because a base backup copies the whole cluster
(every other session's and benchmark's databases) and replay is paused on the standby in the middle
of the test. The app is the real one (``create_app`` with its lifespan, ``open_registry``), driven
over ASGI. The finalizer stops both servers and deletes their directories, even when a test failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from loadtests.local import free_port
from tests.conftest import ENC_KEY, INDEX_KEY, PASSPHRASE, TODAY, default_scopes, unique_henan_code
from tests.db.clusters import force_stop
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify.config import Settings
from verify.crypto.signing import Signer
from verify.db import institutions, signatures
from verify.db.cluster import EmbeddedCluster
from verify.domain import payload
from verify.domain.certificate import Certificate, Published
from verify.domain.codes import CodeKind
from verify.domain.events import CertificateEvent
from verify.domain.holder_ids import IdType
from verify.domain.institution import IssuerState
from verify.domain.snapshot import Snapshot, build_snapshot, overlay
from verify.domain.standing import CertificateState
from verify.http.app import create_app
from verify.services import lookup
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.runtime import REPLICA_APPLICATION, open_registry

pytestmark = [pytest.mark.db, pytest.mark.slow]

MB = 1 << 20
DATABASE = "verify"
NAME = "李四光"


@dataclass
class Replication:
    primary: EmbeddedCluster
    standby: EmbeddedCluster
    home: Path


@pytest.fixture(scope="module")
def replication(cluster: EmbeddedCluster) -> Iterator[Replication]:
    if not (cluster.bin_dir / "pg_basebackup").is_file():
        pytest.skip(f"pg_basebackup is missing from {cluster.bin_dir}")
    base = Path(tempfile.mkdtemp(prefix="verify-replica-", dir="/tmp"))
    primary = EmbeddedCluster(base / "primary", bin_dir=cluster.bin_dir)
    # Its own port (and socket directory), as a replica on another host would have.
    standby = EmbeddedCluster(base / "standby", port=free_port(), bin_dir=cluster.bin_dir)
    try:
        primary.ensure_running()
        primary.ensure_database(DATABASE)
        assert standby.ensure_standby(primary) is True  # cloned just now
        yield Replication(primary, standby, base / "home")
    finally:
        for c in (standby, primary):
            force_stop(c)
            if c.socket_dir.parent != c.root:
                shutil.rmtree(c.socket_dir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


async def _fetchval(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _until(what: str, check: Any, within: float = 30.0) -> float:
    """Poll ``check()`` until it is true; returns the seconds it took. Fails after ``within``."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            pytest.fail(f"{what}: not within {within}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


@contextlib.asynccontextmanager
async def _replay_paused(standby_dsn: str) -> AsyncIterator[None]:
    """Replay paused on the standby (it keeps streaming WAL but applies none), resumed on the way out
    even when the test fails, so the next test is not left waiting for a standby that never replays."""
    await _fetchval(standby_dsn, "SELECT pg_wal_replay_pause()")
    try:

        async def paused() -> bool:
            return bool(await _fetchval(standby_dsn, "SELECT pg_get_wal_replay_pause_state() = 'paused'"))

        await _until("replay paused", paused)
        yield
    finally:
        await _fetchval(standby_dsn, "SELECT pg_wal_replay_resume()")


@dataclass
class Served:
    replication: Replication
    settings: Settings
    registry: Registry
    client: httpx.AsyncClient
    signer: Signer

    @property
    def primary_dsn(self) -> str:
        return self.replication.primary.dsn(DATABASE)

    @property
    def standby_dsn(self) -> str:
        return self.replication.standby.dsn(DATABASE)

    async def caught_up(self) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        lsn = await _fetchval(self.primary_dsn, "SELECT pg_current_wal_lsn()::text")
        sql = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"

        async def replayed() -> bool:
            return bool(await _fetchval(self.standby_dsn, sql, lsn))

        await _until("standby replay", replayed)

    async def published(self, n: int = 1) -> list[Row]:
        """A new institution with one published, signed batch of ``n`` certificates."""
        code = unique_henan_code()
        iid = await institutions.insert_institution(
            self.registry.pool,
            {"code": code, "kind": "social", "name": f"副本测试机构 {code}", "filing_authority": "city",
             "province_code": "41", "city_code": code[7:9], "status": "active",
             "status_since": date(2020, 1, 1), "filing_date": date(2020, 1, 1)},
        )  # fmt: skip
        await institutions.add_scopes(self.registry.pool, iid, default_scopes())
        rows = [Row(code, serial=i, name=NAME) for i in range(1, n + 1)]
        result = await self.registry.import_batch(code, csv_bytes(rows), "r.csv", actor="t", max_bytes=MB)
        await publish_batch(self.registry, result.batch_id, signer=self.signer, actor="t")
        return rows

    async def lookup(self, body: dict[str, str]) -> httpx.Response:
        return await self.client.post("/api/v1/lookup", json={"name": NAME, **body})

    async def outcome(self, number: str) -> str:
        data = await signatures.qr_payload(self.registry.pool, number)
        assert data is not None
        r = await self.client.get(f"/api/v1/verify/{payload.to_text(data)}")
        assert r.status_code == 200
        result: str = r.json()["outcome"]
        return result


@pytest.fixture(scope="module")
async def served(replication: Replication) -> AsyncIterator[Served]:
    home = replication.home
    settings = Settings.from_env(
        {
            "VERIFY_HOME": str(home),
            "VERIFY_DATABASE_URL": replication.primary.dsn(DATABASE),
            "VERIFY_DATABASE_REPLICA_URL": replication.standby.dsn(DATABASE),
            "VERIFY_ID_INDEX_KEY": INDEX_KEY.hex(),
            "VERIFY_ID_ENC_KEY": ENC_KEY.hex(),
            "VERIFY_LOOKUP_PER_MINUTE": "1000",
            # Imports, signing and the cluster calls run on the test's own event loop; load shedding
            # on loop lag would refuse the lookups that follow them.
            "VERIFY_MAX_LAG_MS": "0",
        }
    )
    signer: list[Signer] = []

    async def factory() -> Registry:
        reg = await open_registry(settings)  # migrates the primary; the standby replays it
        reg.today = lambda: TODAY
        # The signing key exists before the lifespan starts the status view.
        keys = Keyring(reg.pool, home / "keys" / "private", home / "keys" / "public")
        await keys.generate(PASSPHRASE, note="replica test key")
        signer.append(await keys.signer(PASSPHRASE))
        return reg

    app = create_app(settings, registry_factory=factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Served(replication, settings, app.state.registry, client, signer[0])


async def test_standby_is_streaming_from_the_primary(served: Served) -> None:
    assert await _fetchval(served.standby_dsn, "SELECT pg_is_in_recovery()") is True

    async def streaming() -> bool:
        receiver = await _fetchval(served.standby_dsn, "SELECT status FROM pg_stat_wal_receiver")
        sender = await _fetchval(
            served.primary_dsn,
            "SELECT state FROM pg_stat_replication WHERE application_name = 'verify-standby'",
        )
        return bool(receiver == "streaming" and sender == "streaming")

    await _until("streaming replication", streaming)
    # The registry's lookup reads use a second, read-only pool; the status view reads the primary.
    assert served.registry.read_pool is not served.registry.pool
    assert served.settings.database_replica_url == served.standby_dsn


async def test_lookups_read_the_replica_and_never_show_what_the_primary_revoked(served: Served) -> None:
    revoked_rows = await served.published(2)
    suspended_rows = await served.published(1)
    await served.caught_up()
    first, other = number_of(revoked_rows[0]), number_of(revoked_rows[1])
    suspended = number_of(suspended_rows[0])

    # (a) Served from the replica: its pool's connections are on the standby, none on the primary.
    r = await served.lookup({"number": first})
    assert r.status_code == 200, r.text
    assert r.json()["certificates"][0]["status"] == "valid"
    count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2"
    assert await _fetchval(served.standby_dsn, count, REPLICA_APPLICATION, DATABASE) >= 1
    assert await _fetchval(served.primary_dsn, count, REPLICA_APPLICATION, DATABASE) == 0
    # (c) The throttle's upsert went to the primary: the standby refuses writes, and cannot even read
    # the UNLOGGED throttle table, while the primary holds its rows.
    assert await _fetchval(served.primary_dsn, "SELECT count(*) FROM lookup_throttle") >= 1
    with pytest.raises(asyncpg.PostgresError, match="unlogged|recovery"):
        await _fetchval(served.standby_dsn, "SELECT count(*) FROM lookup_throttle")
    with pytest.raises(asyncpg.PostgresError, match="read-only"):
        await served.registry.read_pool.execute("CREATE TABLE replica_write_probe (x int)")
    wrong = await served.lookup({"number": first, "name": "王五"})  # a wrong name: one more write
    assert wrong.status_code == 404

    # (b) Replay paused: the standby keeps its old rows while the primary moves on.
    async with _replay_paused(served.standby_dsn):
        await served.registry.certificate_event(
            CertificateEvent(first, "revoked", effective=date(2026, 11, 1), reason_category="fraud",
                             reason="第八条 冒名顶替", decided_by="鉴定中心"),
            actor="t",
        )  # fmt: skip

        async def revoked_on_qr() -> bool:
            return await served.outcome(first) == "revoked"

        await _until("QR verification shows the revocation", revoked_on_qr, within=1.0)
        await served.registry.set_status(
            suspended_rows[0].institution, "suspended", effective=date(2026, 11, 2), reason="第十三条",
            document_ref=None, actor="t",
        )  # fmt: skip
        late_rows = await served.published(1)  # published after the pause: not on the standby
        late = number_of(late_rows[0])

        async def suspended_on_qr() -> bool:
            return await served.outcome(suspended) == "issuer_suspended"

        await _until("QR verification shows the suspension", suspended_on_qr, within=1.0)
        # The standby still has the old rows (replay is paused)...
        status_sql = "SELECT status FROM certificates WHERE number = $1"
        issuer_sql = "SELECT status FROM institutions WHERE code = $1"
        assert await _fetchval(served.standby_dsn, status_sql, first) == "active"
        assert await _fetchval(served.standby_dsn, issuer_sql, suspended_rows[0].institution) == "active"
        assert await _fetchval(served.standby_dsn, status_sql, late) is None
        # ...and the lookup reads them from there (a certificate published since is not found there),
        r = await served.lookup({"number": late})
        assert r.status_code == 404 and r.json()["found"] is False
        # but never shows the revoked certificate as valid, by number or by ID,
        r = await served.lookup({"number": first})
        assert r.status_code == 200
        assert r.json()["certificates"][0]["status"] == "revoked"
        r = await served.lookup({"id_number": revoked_rows[0].id_number})
        assert r.status_code == 200
        assert [c["status"] for c in r.json()["certificates"]] == ["revoked"]
        r = await served.lookup({"number": other})  # its batch-mate stays valid
        assert r.json()["certificates"][0]["status"] == "valid"
        # nor the suspended issuer as active (the certificate itself stays valid, rule 38).
        r = await served.lookup({"number": suspended})
        cert = r.json()["certificates"][0]
        assert cert["status"] == "valid" and cert["institution"]["status"] == "suspended"
        assert cert["issuer_notice"] is not None

    # Replay resumed: the standby catches up and the late certificate is found.
    await served.caught_up()
    r = await served.lookup({"number": late})
    assert r.status_code == 200 and r.json()["certificates"][0]["status"] == "valid"


async def test_lookups_fall_back_to_the_primary_when_the_replica_is_down(served: Served) -> None:
    rows = await served.published(1)
    await served.caught_up()
    number = number_of(rows[0])
    assert (await served.lookup({"number": number})).status_code == 200  # from the replica
    await asyncio.to_thread(served.replication.standby.stop, "fast")  # stays down; the finalizer cleans up
    start = time.monotonic()
    r = await served.lookup({"number": number})
    first = time.monotonic() - start
    assert r.status_code == 200 and r.json()["certificates"][0]["status"] == "valid"
    assert served.registry.replica_down_until > time.monotonic()  # the replica is skipped a while
    start = time.monotonic()
    r = await served.lookup({"number": number})
    again = time.monotonic() - start
    assert r.status_code == 200
    assert first < lookup.REPLICA_TIMEOUT + 1.0 and again < 0.5, (first, again)
    # The primary answers by itself, and the health check (primary only) stays green.
    assert (await served.client.get("/healthz")).status_code == 200


def test_overlay_keeps_the_exceptions_of_either_side() -> None:
    """The rule itself (``snapshot.overlay``): the view's exceptions win over an active row; the row's
    own exceptions stand over an active view (the replica may be the newer of the two, e.g. a
    reinstatement the view has already seen): an answer never turns active because of the overlay."""
    cert = Certificate(
        number="S000041015001254000001", kind=CodeKind.SKILL_LEVEL, holder_name=NAME, name_key=NAME,
        id_type=IdType.RESIDENT, id_index=b"i", id_cipher=b"c", id_tail="1234", occupation_code="6-20-01-01",
        occupation_name="钳工", job="--", level=4, issue_date=date(2025, 6, 18),
    )  # fmt: skip
    code = cert.number[:13]
    active = IssuerState(code, "机构", "active", date(2020, 1, 1))
    suspended = IssuerState(code, "机构", "suspended", date(2026, 11, 2))
    row = Published(cert, "active", active)
    revoked = CertificateState("revoked", date(2026, 11, 1), "fraud", None)
    as_of = datetime.now(UTC)

    def view(certs: dict[str, CertificateState], issuer: IssuerState) -> Snapshot:
        return build_snapshot(certs, [issuer], [], as_of)

    assert overlay(row, view({}, active)) is row  # nothing known: the row as it is
    assert overlay(row, view({cert.number: revoked}, active)).status == "revoked"
    assert overlay(row, view({}, suspended)).issuer == suspended
    stale_row = Published(cert, "revoked", suspended)  # replica behind a reinstatement
    assert overlay(stale_row, view({}, active)) == stale_row
    assert overlay(Published(cert, "active", active), build_snapshot({}, [], [], as_of)) == row
