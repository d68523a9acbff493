"""Store-level invariants, each test inside one transaction that is rolled back afterwards."""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import date
from pathlib import Path
from typing import get_args, get_type_hints

import asyncpg
import pytest

from tests.conftest import unique_henan_code
from verify.db import audit, batches, certificates, copy_format, institutions
from verify.db import pool as db_pool
from verify.domain.certificate import FIELDS, Certificate
from verify.domain.codes import CodeKind
from verify.domain.errors import Conflict
from verify.domain.holder_ids import IdType


async def _institution(conn: db_pool.Conn) -> tuple[int, str]:
    code = unique_henan_code("S", city="07", first="7")
    iid = await institutions.insert_institution(
        conn, {"code": code, "kind": "social", "name": "事务内测试机构", "filing_authority": "city"}
    )
    return iid, code


async def test_migrations_are_applied_once(pool: asyncpg.Pool) -> None:
    assert await db_pool.migrate(pool) == []
    names = [r["name"] for r in await pool.fetch("SELECT name FROM schema_migrations ORDER BY name")]
    files = sorted(p.name for p in (Path(db_pool.__file__).parent / "migrations").glob("*.sql"))
    assert names == files and names[:4] == [
        "001_registry.sql",
        "002_signing.sql",
        "003_throttle.sql",
        "004_accounts.sql",
    ]


async def test_rule_40_trigger_refuses_a_retired_code(conn: db_pool.Conn) -> None:
    iid, code = await _institution(conn)
    await institutions.retire_code(conn, iid, code, date(2025, 1, 1), "终止备案")
    await conn.execute("UPDATE institutions SET code = code || '-old' WHERE id = $1", iid)
    # a savepoint that sees the error rolls back to it, so the test's transaction goes on
    with pytest.raises(Conflict):
        async with conn.transaction():
            await institutions.insert_institution(
                conn, {"code": code, "kind": "social", "name": "另一机构", "filing_authority": "city"}
            )
    assert await institutions.all_institution_codes(conn) >= {code}


async def test_certificates_must_belong_to_a_batch_of_their_institution(conn: db_pool.Conn) -> None:
    iid, _ = await _institution(conn)
    other, _ = await _institution(conn)
    batch = await batches.insert_batch(
        conn, public_id="BTESTSTORE0001", institution_id=iid, file_sha256="x", filename="x.csv",
        file_format="csv", row_count=1, submitted_by="t",
    )  # fmt: skip
    cert = Certificate(
        number="S000041070700254000001", kind=CodeKind.SKILL_LEVEL_HENAN, holder_name="张三", name_key="张三",
        id_type=IdType.RESIDENT, id_index=b"\0" * 32, id_cipher=b"\1" * 40, id_tail="1234",
        occupation_code="6-20-01-01", occupation_name="钳工", job="--", level=4, issue_date=date(2025, 1, 1),
    )  # fmt: skip
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with conn.transaction():
            await certificates.copy_certificates(conn, [(cert, other, batch)])
    await certificates.copy_certificates(conn, [(cert, iid, batch)])
    with pytest.raises(asyncpg.RestrictViolationError):
        async with conn.transaction():
            await conn.execute(
                "UPDATE certificates SET batch_id = batch_id + 1 WHERE number = $1", cert.number
            )


async def test_rule_37_nothing_is_deleted(conn: db_pool.Conn) -> None:
    for table in ("certificates", "batches", "institutions", "certificate_events", "signing_keys"):
        with pytest.raises(asyncpg.RestrictViolationError):
            async with conn.transaction():
                await conn.execute(f"DELETE FROM {table} WHERE false")


async def test_audit_log_is_append_only(conn: db_pool.Conn) -> None:
    await audit.audit(conn, "t", "test", None, {"x": 1})
    for statement in ("DELETE FROM audit_log", "UPDATE audit_log SET actor = 'x'"):
        with pytest.raises(asyncpg.RaiseError):
            async with conn.transaction():
                await conn.execute(statement)


# --------------------------------------------------------------------------- the certificate model


def _full_certificate(number: str) -> Certificate:
    """A certificate with every field set, characters COPY text must escape included."""
    return Certificate(
        number=number, kind=CodeKind.SKILL_LEVEL_HENAN, holder_name="阿依古丽·买买提\t𠮷", name_key="阿依古丽买买提𠮷",
        id_type=IdType.HK_MACAO_PASS, id_index=bytes(range(32)), id_cipher=b"\x01\\\n" + bytes(37), id_tail="5678",
        occupation_code="6-20-01-01", occupation_name="钳工\\", job="普通\n车床", level=4, issue_date=date(2025, 1, 2),
        issue_form="electronic", print_serial="No.88888888", assessment_method="考试考核", photo_ref="p\r1.jpg",
        extra={"gender": "女", "score": "95\t分"},
    )  # fmt: skip


async def test_copy_columns_are_the_model_fields_and_the_table_columns(conn: db_pool.Conn) -> None:
    # The COPY list is derived from the model, so the two cannot drift; this pins it to the table
    # too: every column but the status and the version (set by the server) is written, and nothing else is.
    assert (*FIELDS, "institution_id", "batch_id") == copy_format.COPY_COLUMNS
    columns = {
        r["column_name"]: r
        for r in await conn.fetch(
            "SELECT column_name, column_default, is_nullable FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'certificates'"
        )
    }
    assert set(columns) - set(copy_format.COPY_COLUMNS) == {"status", "version"}
    assert set(copy_format.COPY_COLUMNS) <= set(columns)
    assert columns["status"]["column_default"] is not None
    optional = {f.name for f in fields(Certificate) if f.default is not MISSING}
    hints = get_type_hints(Certificate)
    for name in FIELDS:
        # a field that may be None is a nullable column, and only such a field; a field with a
        # default may be left out of a row
        column = columns[name]
        assert (column["is_nullable"] == "YES") == (type(None) in get_args(hints[name])), name
        if name in optional:
            assert column["is_nullable"] == "YES" or column["column_default"] is not None, name


@pytest.mark.parametrize("encoding", ["text", "binary"])
async def test_a_certificate_round_trips_through_copy(conn: db_pool.Conn, encoding: str) -> None:
    iid, code = await _institution(conn)
    batch = await batches.insert_batch(
        conn, public_id=f"BTESTCOPY{encoding.upper()}", institution_id=iid, file_sha256=encoding, filename="x.csv",
        file_format="csv", row_count=1, submitted_by="t",
    )  # fmt: skip
    original = _full_certificate(f"{code}254000001")
    if encoding == "text":
        await certificates.copy_certificates_text(conn, copy_format.copy_text([original], iid, batch))
    else:
        await certificates.copy_certificates(conn, [(original, iid, batch)])
    row = await conn.fetchrow("SELECT * FROM certificates WHERE number = $1", original.number)
    assert row is not None and row["institution_id"] == iid and row["batch_id"] == batch
    assert certificates.certificate_of(dict(row)) == original
