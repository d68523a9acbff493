"""Rule 60: the audit log is a hash chain, append-only for everyone, and the service's own
connections (role verify_app) may only read and append to it (docs/SECURITY.md §7).

Tampering happens in a scratch database of its own (``chain_db``), as the cluster's superuser with
the triggers switched off: exactly what an attacker with owner rights could do. ``verify audit
check`` runs in-process as the application role and must name the entry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib.resources
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, PASSPHRASE, TEST_DB, InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify import cli
from verify.config import Settings
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer
from verify.db import audit
from verify.db import pool as db_pool
from verify.db.cluster import EmbeddedCluster
from verify.db.roles import APP_ROLE
from verify.domain.audit import AuditEntry, ChainWalk, entry_sha256
from verify.domain.errors import AuditChainBroken, ConfigError
from verify.domain.events import CertificateEvent
from verify.services import audit as audit_service
from verify.services import runtime
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20


# --------------------------------------------------------------------------- a scratch database


@dataclasses.dataclass
class ChainDb:
    name: str
    owner: asyncpg.Pool  # the cluster's superuser: owns the tables, can switch triggers off
    owner_dsn: str
    app_dsn: str
    ids: list[int] = dataclasses.field(default_factory=list)  # the populated entries, in order
    gap: int = 0  # an id the sequence handed out and nobody used


async def _new_database(cluster: EmbeddedCluster, name: str) -> None:
    admin = await asyncpg.connect(cluster.dsn("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _drop_database(cluster: EmbeddedCluster, name: str) -> None:
    admin = await asyncpg.connect(cluster.dsn("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def chain_db(cluster: EmbeddedCluster) -> AsyncIterator[ChainDb]:
    name = f"{TEST_DB}_chain_{secrets.token_hex(3)}"
    await _new_database(cluster, name)
    owner = await db_pool.create_pool(cluster.dsn(name), max_size=4)
    try:
        await db_pool.migrate(owner)
        yield ChainDb(name, owner, cluster.dsn(name), cluster.dsn(name, user=APP_ROLE))
    finally:
        await owner.close()
        await _drop_database(cluster, name)


async def _populate(db: ChainDb) -> None:
    """Ten entries: through ``audit()`` as the owner and as verify_app, one with every column, one
    written as raw SQL with jsonb values whose text form is not Python's (1.10, 2e3, key order), and
    a gap in the ids (an id drawn and never used) between the 5th and the 6th."""
    app = await db_pool.create_pool(db.app_dsn, max_size=1)  # with the service's jsonb codec
    try:
        for i in range(4):
            await audit.audit(db.owner, f"cli:t{i}", "test.entry", f"T{i}", {"i": i, "名": "测试"})
        await audit.audit(
            app, "account:reviewer1", "batch.approve", "BTEST0001", {"rows": [1, 2], "note": "tab\there \"q\""},
            role="reviewer", request_id="req-0001", reason="第二十三条 审核通过",
        )  # fmt: skip
        db.gap = await db.owner.fetchval("SELECT nextval('audit_log_id_seq')")
        await db.owner.execute(
            "INSERT INTO audit_log (actor, action, target, detail) VALUES"
            """ ('sql', 'test.raw', NULL, '{"zz": 1.10, "a": [2e3, null, true], "é": "\\u00e9 𠮷"}')"""
        )
        await audit.audit(app, "cli:t5", "test.null_detail", None)
        for i in range(6, 9):
            await audit.audit(db.owner, f"cli:t{i}", "test.entry", f"T{i}", {"i": i})
    finally:
        await app.close()
    db.ids = [r["id"] for r in await db.owner.fetch("SELECT id FROM audit_log ORDER BY id")]
    assert len(db.ids) == 10 and db.ids[4] < db.gap < db.ids[5]


async def _entry(db: ChainDb, entry_id: int) -> AuditEntry:
    rows = await audit.entries_after(db.owner, entry_id - 1, 1)
    assert rows and rows[0].id == entry_id
    return rows[0]


async def _tamper(db: ChainDb, sql: str, *args: Any) -> None:
    """Run ``sql`` as the superuser with every ordinary trigger off (session_replication_role)."""
    async with db.owner.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(sql, *args)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VERIFY_HOME", str(tmp_path))
    monkeypatch.setenv("VERIFY_ID_INDEX_KEY", INDEX_KEY.hex())
    monkeypatch.setenv("VERIFY_ID_ENC_KEY", ENC_KEY.hex())
    monkeypatch.setenv("VERIFY_SIGNING_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("VERIFY_PUBLIC_KEYS_DIR", str(tmp_path / "public-keys"))
    monkeypatch.setenv("VERIFY_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("USER", "auditor")


async def _cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], dsn: str, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("VERIFY_DATABASE_URL", dsn)
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def _check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: ChainDb, *extra: str
) -> tuple[int, dict[str, Any]]:
    """``verify audit check`` as verify_app: (exit code, the JSON it printed on stdout or stderr)."""
    code, out, err = await _cli(monkeypatch, capsys, db.app_dsn, "audit", "check", *extra)
    return code, json.loads(out if code == 0 else err)


# --------------------------------------------------------------------------- the chain


async def test_rule_60_the_chain_holds_under_concurrent_inserts_from_many_connections(
    pool: asyncpg.Pool, app_pool: asyncpg.Pool
) -> None:
    before = await audit_service.check_chain(pool)

    async def committed(i: int) -> None:
        async with (pool if i % 2 else app_pool).acquire() as conn, conn.transaction():
            await audit.audit(conn, f"t{i}", "test.concurrent", None, {"i": i})
            if i % 5 == 0:  # two entries in one transaction stay adjacent
                await audit.audit(conn, f"t{i}", "test.concurrent", None, {"i": i, "second": True})

    class Abort(Exception):
        pass

    async def rolled_back(i: int) -> None:
        with pytest.raises(Abort):
            async with app_pool.acquire() as conn, conn.transaction():
                await audit.audit(conn, f"r{i}", "test.rolled_back", None, {"i": i})
                raise Abort

    await asyncio.gather(*(committed(i) for i in range(200)), *(rolled_back(i) for i in range(20)))
    # The old head still lies on the chain, and small pages walk it as well as big ones.
    after = await audit_service.check_chain(pool, expect_head=before.head, chunk=7)
    assert after.entries == before.entries + 200 + 40
    assert after == await audit_service.check_chain(app_pool)
    rows = await pool.fetch(
        "SELECT id, at, action FROM audit_log WHERE id > $1 ORDER BY id", before.head_id or 0
    )
    assert {r["action"] for r in rows} == {"test.concurrent"}
    # Chain order is commit order: ids and the server's clock taken under the lock both ascend.
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)


async def test_rule_60_the_chain_refuses_snapshots_older_than_the_lock(pool: asyncpg.Pool) -> None:
    # Under REPEATABLE READ the entry committed just before could be invisible: refused, not forked.
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.InvalidTransactionStateError):
            async with conn.transaction(isolation="repeatable_read"):
                await audit.audit(conn, "t", "test.repeatable_read", None)


async def test_rule_60_a_writer_cannot_choose_the_id_time_or_links(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO audit_log (id, at, actor, action, prev_sha256, sha256)"
        " VALUES (1, '2001-01-01', 'forger', 'test.forged_fields', '\\x00', '\\x00')"
    )
    row = await pool.fetchrow(
        "SELECT *, now() - at AS age FROM audit_log WHERE action = 'test.forged_fields'"
    )
    assert (
        row is not None
        and row["id"] != 1
        and abs(row["age"].total_seconds()) < 60
        and len(row["sha256"]) == 32
    )
    await audit_service.check_chain(pool)


async def test_rule_60_the_migration_chains_the_entries_already_there(cluster: EmbeddedCluster) -> None:
    name = f"{TEST_DB}_backfill"
    await _new_database(cluster, name)
    conn = await asyncpg.connect(cluster.dsn(name))
    try:
        # The schema as the first release left it, with entries written the old way.
        folder = importlib.resources.files("verify.db") / "migrations"
        await conn.execute((folder / "001_registry.sql").read_text(encoding="utf-8"))
        for i in range(5):
            await conn.execute(
                "INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, 'old.entry', $2, $3::jsonb)",
                f"cli:{i}", f"T{i}", json.dumps({"i": i, "x": [1.5, "é"]}),
            )  # fmt: skip
        await conn.execute(
            "CREATE TABLE schema_migrations (name text PRIMARY KEY, sha256 text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute(
            "INSERT INTO schema_migrations (name, sha256) VALUES ('001_registry.sql', $1)",
            hashlib.sha256((folder / "001_registry.sql").read_text(encoding="utf-8").encode()).hexdigest(),
        )
    finally:
        await conn.close()
    owner = await db_pool.create_pool(cluster.dsn(name), max_size=2)
    try:
        assert "005_audit_chain.sql" in await db_pool.migrate(owner)
        report = await audit_service.check_chain(owner)
        assert report.entries == 5
        first = await owner.fetchrow("SELECT prev_sha256, sha256 FROM audit_log ORDER BY id LIMIT 1")
        assert first is not None and first["prev_sha256"] is None and len(first["sha256"]) == 32
        await audit.audit(owner, "t", "new.entry", None)
        assert (await audit_service.check_chain(owner, expect_head=report.head)).entries == 6
    finally:
        await owner.close()
        await _drop_database(cluster, name)


# --------------------------------------------------------------------------- tampering is caught


async def test_rule_60_check_names_a_modified_entry(
    chain_db: ChainDb, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _populate(chain_db)
    code, ok = await _check(monkeypatch, capsys, chain_db)
    head = await _entry(chain_db, chain_db.ids[-1])
    assert code == 0 and ok == {
        "entries": 10,
        "head_id": head.id,
        "head": head.sha256.hex() if head.sha256 else None,
    }
    # An owner switches the append-only trigger off and rewrites one entry's detail.
    target = chain_db.ids[3]
    async with chain_db.owner.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        await conn.execute("""UPDATE audit_log SET detail = '{"i": 99}' WHERE id = $1""", target)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    code, err = await _check(monkeypatch, capsys, chain_db)
    assert code == 8 and err["error"] == "audit_chain_broken"
    assert err["details"]["problem"] == "modified" and err["details"]["id"] == target
    assert err["message"]["zh"] and err["message"]["en"] and err["problems"][0]["code"] == "modified"


async def test_rule_60_check_names_the_entry_after_a_removed_one(
    chain_db: ChainDb, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _populate(chain_db)
    await _tamper(chain_db, "DELETE FROM audit_log WHERE id = $1", chain_db.ids[6])
    code, err = await _check(monkeypatch, capsys, chain_db)
    assert code == 8 and err["details"]["problem"] == "broken_link"
    assert err["details"]["id"] == chain_db.ids[7] and err["details"]["previous_id"] == chain_db.ids[5]
    # Removing the first entry is caught at the new first one.
    await _tamper(chain_db, "DELETE FROM audit_log WHERE id = $1", chain_db.ids[0])
    code, err = await _check(monkeypatch, capsys, chain_db)
    assert code == 8 and err["details"] == {
        "problem": "broken_link",
        "id": chain_db.ids[1],
        "previous_id": None,
    }


async def test_rule_60_check_names_an_entry_inserted_in_the_middle(
    chain_db: ChainDb, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _populate(chain_db)
    # A well-made forgery in the id gap: linked to the entry before it and hashed correctly, as an
    # attacker who read this code would. The entry after it no longer follows.
    before = await _entry(chain_db, chain_db.ids[4])
    forged = AuditEntry(
        id=chain_db.gap, at=datetime.now(UTC).replace(microsecond=123456), actor="cli:someone", role="operator",
        action="certificate.reinstated", target="S000041010012254000001", detail_text='{"category": "other"}',
        request_id=None, reason="复核", prev_sha256=before.sha256, sha256=None,
    )  # fmt: skip
    forged = dataclasses.replace(forged, sha256=entry_sha256(forged))
    await _tamper(
        chain_db,
        "INSERT INTO audit_log (id, at, actor, role, action, target, detail, request_id, reason, prev_sha256, sha256)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10, $11)",
        *(getattr(forged, f.name) for f in dataclasses.fields(forged)),
    )
    assert await chain_db.owner.fetchval("SELECT count(*) FROM audit_log") == 11
    code, err = await _check(monkeypatch, capsys, chain_db)
    assert code == 8 and err["details"]["problem"] == "broken_link"
    assert err["details"]["id"] == chain_db.ids[5] and err["details"]["previous_id"] == chain_db.gap


async def test_rule_60_expect_head_catches_a_removed_tail_and_a_recomputed_chain(
    chain_db: ChainDb, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _populate(chain_db)
    code, first = await _check(monkeypatch, capsys, chain_db)
    assert code == 0
    middle = (await _entry(chain_db, chain_db.ids[5])).sha256
    assert middle is not None
    # A head kept from earlier, with entries added since: still follows from it.
    assert (await _check(monkeypatch, capsys, chain_db, "--expect-head", middle.hex()))[0] == 0
    await _tamper(chain_db, "DELETE FROM audit_log WHERE id >= $1", chain_db.ids[8])
    code, shorter = await _check(monkeypatch, capsys, chain_db)
    assert code == 0 and shorter["entries"] == 8  # a cut tail leaves a valid chain ...
    code, err = await _check(monkeypatch, capsys, chain_db, "--expect-head", first["head"])
    assert code == 8  # ... which the kept head exposes
    assert err["details"]["problem"] == "head_missing" and err["details"]["id"] == chain_db.ids[7]
    assert err["details"]["expected_head"] == first["head"]
    # Rewrite entry 3 and recompute every hash after it: the chain verifies, the kept head does not.
    entries = [e for e in await audit.entries_after(chain_db.owner, 0, 100)]
    walk = ChainWalk()
    prev: bytes | None = None
    for e in entries:
        changed = dataclasses.replace(
            e, prev_sha256=prev, detail_text='{"i": 0}' if e.id == chain_db.ids[2] else e.detail_text
        )
        changed = dataclasses.replace(changed, sha256=entry_sha256(changed))
        walk.feed(changed)
        await _tamper(
            chain_db, "UPDATE audit_log SET detail = $2::text::jsonb, prev_sha256 = $3, sha256 = $4 WHERE id = $1",
            e.id, changed.detail_text, changed.prev_sha256, changed.sha256,
        )  # fmt: skip
        prev = changed.sha256
    assert (await _check(monkeypatch, capsys, chain_db))[0] == 0
    code, err = await _check(monkeypatch, capsys, chain_db, "--expect-head", shorter["head"])
    assert code == 8 and err["details"]["problem"] == "head_missing"
    # A malformed head is a usage error, not a broken chain.
    assert (await _check(monkeypatch, capsys, chain_db, "--expect-head", "abc"))[0] == 1


def test_rule_60_the_walk_reports_the_first_problem_in_python() -> None:
    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

    def entry(i: int, prev: bytes | None) -> AuditEntry:
        e = AuditEntry(i, at, "a", None, "x", None, None, None, None, prev, None)
        return dataclasses.replace(e, sha256=entry_sha256(e))

    one = entry(1, None)
    two = entry(2, one.sha256)
    walk = ChainWalk()
    walk.feed_all([one, two])
    assert walk.finish().entries == 2
    with pytest.raises(AuditChainBroken) as caught:
        ChainWalk().feed_all([one, dataclasses.replace(two, actor="b")])
    assert caught.value.details == {"problem": "modified", "id": 2}
    # NULL and the empty string are different fields, and the encoding is pinned.
    assert entry_sha256(dataclasses.replace(one, role="")) != one.sha256
    assert (
        one.sha256 is not None
        and one.sha256.hex()
        == hashlib.sha256(
            b"".join(
                len(p).to_bytes(4, "big") + p for p in (b"verify.audit.v1", b"1", b"1795593600000000", b"a")
            )
            + b"\xff\xff\xff\xff"
            + len(b"x").to_bytes(4, "big")
            + b"x"
            + b"\xff\xff\xff\xff" * 5
        ).hexdigest()
    )


# --------------------------------------------------------------------------- the application role


async def test_rule_60_the_app_role_may_only_read_and_append_to_the_audit_log(
    pool: asyncpg.Pool, app_pool: asyncpg.Pool
) -> None:
    assert await app_pool.fetchval("SELECT current_user") == APP_ROLE
    assert not await app_pool.fetchval(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
    )
    await audit.audit(app_pool, "t", "test.app_insert", None, {"ok": True})
    assert await app_pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'test.app_insert'") >= 1
    refused = (
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        # nor may it switch the triggers off, change the schema or record a migration
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
        "SET session_replication_role = replica",
        "CREATE TABLE public.intruder (x int)",
        "CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "INSERT INTO schema_migrations (name, sha256) VALUES ('999_skip.sql', 'x')",
        # and deletes only where the app deletes
        "DELETE FROM certificates WHERE false",
        "DELETE FROM batches WHERE false",
        "TRUNCATE lookup_throttle",
    )
    for statement in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_pool.execute(statement)
    await app_pool.execute("DELETE FROM lookup_throttle WHERE false")
    # The owner is refused TRUNCATE by the trigger (inside a transaction rolled back, to be safe).
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                async with conn.transaction():
                    await conn.execute("TRUNCATE audit_log")
        finally:
            await tx.rollback()


async def test_rule_60_migrations_keep_the_grants_exact_and_refuse_a_non_owner(
    cluster: EmbeddedCluster, pool: asyncpg.Pool, app_pool: asyncpg.Pool
) -> None:
    # A privilege granted by hand is taken back on the next run; the role itself is left alone.
    await pool.execute(f"GRANT DELETE, TRUNCATE ON audit_log TO {APP_ROLE}")
    assert await db_pool.migrate(pool) == []
    privileges = await pool.fetchval(
        "SELECT array_agg(privilege_type ORDER BY privilege_type) FROM information_schema.role_table_grants"
        " WHERE grantee = $1 AND table_name = 'audit_log'",
        APP_ROLE,
    )
    assert privileges == ["INSERT", "SELECT"]
    # A non-owner URL with nothing pending starts (it only reads schema_migrations) ...
    assert await db_pool.migrate(app_pool, app_role=None) == []
    # ... and one with migrations pending is told to run them as the owner.
    name = f"{TEST_DB}_empty"
    await _new_database(cluster, name)
    try:
        empty = await db_pool.create_pool(cluster.dsn(name, user=APP_ROLE), max_size=1)
        try:
            with pytest.raises(ConfigError, match="owner"):
                await db_pool.migrate(empty, app_role=None)
        finally:
            await empty.close()
    finally:
        await _drop_database(cluster, name)


async def test_rule_60_embedded_pools_connect_as_the_app_role_and_migrate_as_the_owner(
    settings: Settings, chain_db: ChainDb
) -> None:
    embedded = dataclasses.replace(settings, database_url=None)
    assert f"//{APP_ROLE}@/" in runtime.database_dsn(embedded)
    assert "//postgres@/" in runtime.migration_dsn(embedded) and runtime.app_role(embedded) == APP_ROLE
    external = dataclasses.replace(settings, database_url="postgresql://someone@db.example/verify")
    assert runtime.database_dsn(external) == runtime.migration_dsn(external) == external.database_url
    assert runtime.app_role(external) is None
    reg = await runtime.open_registry(
        embedded, dsn=chain_db.app_dsn, owner_dsn=chain_db.owner_dsn, max_size=2
    )
    try:
        assert await reg.pool.fetchval("SELECT current_user") == APP_ROLE
    finally:
        await reg.close()


async def test_rule_60_the_service_works_as_the_app_role(
    app_pool: asyncpg.Pool,
    app_dsn: str,
    pool: asyncpg.Pool,
    protector: IdProtector,
    settings: Settings,
    make_institution: InstitutionFactory,
    signer: Signer,
    tmp_path: Path,
) -> None:
    from tests.conftest import TODAY

    reg = Registry(
        app_pool, protector, id_keys=IdKeys(INDEX_KEY, ENC_KEY), today=lambda: TODAY, dsn=app_dsn,
        throttle=settings.throttle,
    )  # fmt: skip
    view = StatusView(app_dsn, app_pool, max_age=120)  # LISTEN and its reload, as verify_app
    await view.start()
    try:
        inst = await make_institution()
        rows = [Row(inst["code"], serial=1), Row(inst["code"], serial=2)]
        result = await reg.import_batch(
            inst["code"], csv_bytes(rows), "app.csv", actor="t", max_bytes=MB
        )  # COPY
        await publish_batch(reg, result.batch_id, signer=signer)  # COPY into certificate_signatures
        answer = await reg.lookup_by_number(number_of(rows[0]), rows[0].name, client="192.0.2.60")  # throttle
        assert answer.found
        await reg.certificate_event(
            CertificateEvent(number_of(rows[1]), "revoked", TODAY, "data_error", "第八条（测试）", "测试中心"), actor="t"
        )  # fmt: skip
        ring = Keyring(app_pool, tmp_path / "private", tmp_path / "public", actor="t", role="operator")
        key = await ring.generate(PASSPHRASE, note="app-role key")
        await ring.retire(key.kid, reason="test over")
        numbers = [n async for n, _ in reg.published_payloads(actor="t", role="operator", reason="test")]
        assert number_of(rows[0]) in numbers
        await view.refresh()
        assert view.snapshot is not None
    finally:
        await view.stop()
    kinds = {
        r["action"]
        for r in await pool.fetch("SELECT action FROM audit_log WHERE actor = 't' AND role = 'operator'")
    }
    assert {"key.generate", "key.retire", "certificates.qr_all"} <= kinds
    await audit_service.check_chain(app_pool)


@pytest.mark.slow
async def test_rule_60_the_cli_works_as_the_app_role_and_audits_keys_and_bulk_reads(
    chain_db: ChainDb, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = chain_db.app_dsn

    async def ok(*argv: str) -> str:
        code, out, err = await _cli(monkeypatch, capsys, dsn, *argv)
        assert code == 0, (argv, err)
        return out

    first = json.loads(await ok("keys", "generate", "--note", "first key"))["kid"]
    await ok("demo", "--ensure")  # signed with the first key
    rotated = json.loads(await ok("keys", "rotate", "--note", "scheduled rotation"))
    assert rotated["retired"] == [first]
    await ok("seed", "--institutions", "2", "--certificates", "200", "--seed", "60")
    assert json.loads(await ok("resign", "--kid", first))["resigned"] > 0  # a temp table, as verify_app
    await ok("keys", "compromise", first, "--note", "key file found on a shared drive")
    urls = (await ok("qr", "--all", "--url", "--reason", "print run 2026-11")).split()
    assert len(urls) >= 200
    shown = json.loads(await ok("audit", "show", "--target", first))
    assert [e["action"] for e in shown] == ["key.generate", "certificates.resign", "key.compromise"]
    assert shown[-1]["reason"] == "key file found on a shared drive" and shown[-1]["role"] == "operator"
    assert shown[-1]["actor"] == "cli:auditor" and shown[-1]["detail"]["status"] == "compromised"
    checked = json.loads(await ok("audit", "check"))
    actions = [r["action"] for r in await chain_db.owner.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-1] == "audit.show" and checked["entries"] == len(actions)
    assert {"key.generate", "key.rotate", "demo.load", "seed", "certificates.resign", "key.compromise",
            "certificates.qr_all"} <= set(actions)  # fmt: skip
    qr_all = await chain_db.owner.fetchrow("SELECT * FROM audit_log WHERE action = 'certificates.qr_all'")
    assert qr_all is not None and qr_all["actor"] == "cli:auditor" and qr_all["reason"] == "print run 2026-11"


# --------------------------------------------------------------------------- no personal data


async def test_rule_60_the_audit_log_holds_no_id_number_or_holder_name(
    registry: Registry,
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    make_institution: InstitutionFactory,
    signer: Signer,
) -> None:
    inst = await make_institution()
    rows = [
        Row(inst["code"], serial=1, name="欧阳审计"),
        Row(inst["code"], serial=2, name="司马链测"),
        Row(inst["code"], serial=3, name="阿依古丽·买买提"),
    ]
    result = await registry.import_batch(
        inst["code"], csv_bytes(rows), "privacy.csv", actor="t", max_bytes=MB
    )
    await publish_batch(registry, result.batch_id, signer=signer)
    for row in rows:
        assert (await registry.lookup_by_number(number_of(row), row.name)).found
        assert (await registry.lookup_by_id(row.id_number, row.name)).found
        r = await client.post("/api/v1/lookup", json={"number": number_of(row), "name": row.name})
        assert r.status_code == 200
        r = await client.post("/api/v1/lookup", json={"id_number": row.id_number, "name": row.name})
        assert r.status_code == 200
    text = "\n".join(
        r["t"]
        for r in await pool.fetch(
            "SELECT concat_ws(' ', actor, role, action, target, detail::text, request_id, reason) AS t FROM audit_log"
        )
    )
    assert result.batch_id in text  # the log does speak about this batch
    for row in rows:
        for secret in (row.name, row.name.replace("·", ""), row.id_number, row.id_number[:17]):
            assert secret not in text, secret
