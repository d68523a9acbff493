"""Batch import against the real database: all or nothing, every bad row reported (docs/RULES.md §7.2-7.3)."""

from __future__ import annotations

import io
from datetime import date

import asyncpg
import openpyxl
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from verify.db import batches, certificates, signatures
from verify.domain.errors import BadFile, BatchRejected, FileTooLarge, Forbidden
from verify.domain.institution import Scope
from verify.services.registry import Registry

MB = 1024 * 1024


async def count_for(pool: asyncpg.Pool, institution_id: int) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM certificates WHERE institution_id = $1", institution_id)
    )


async def test_good_batch_is_stored_complete_and_submitted(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=i) for i in range(1, 6)]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "r.csv", actor="t", max_bytes=MB)
    assert result.created and result.state == "submitted" and result.rows == 5
    assert await count_for(pool, inst["id"]) == 5
    batch = await batches.get_batch(pool, result.batch_id)
    assert batch.state == "submitted" and batch.row_count == 5
    # Not public until published (rule 32): no lookup finds it and it has no QR yet.
    assert await certificates.published_certificate(pool, number_of(rows[0])) is None
    assert await signatures.qr_payload(pool, number_of(rows[0])) is None


async def test_reupload_returns_original_batch_and_writes_nothing(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    data = csv_bytes([Row(inst["code"], serial=1), Row(inst["code"], serial=2)])
    first = await registry.import_batch(inst["code"], data, "a.csv", actor="t", max_bytes=MB)
    again = await registry.import_batch(inst["code"], data, "renamed.csv", actor="t", max_bytes=MB)
    assert again.batch_id == first.batch_id and not again.created
    assert await count_for(pool, inst["id"]) == 2
    assert await pool.fetchval("SELECT count(*) FROM batches WHERE institution_id = $1", inst["id"]) == 1


async def test_bad_batch_lists_every_bad_row_and_writes_nothing(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    other = await make_institution()
    rows = [
        Row(inst["code"], serial=1),  # line 2: good
        Row(other["code"], serial=2),  # line 3: another institution's prefix (rule 12)
        Row(inst["code"], serial=3, number=f"{inst['code']}244000003"),  # line 4: year 24 vs 2025 (rule 23)
        Row(
            inst["code"], serial=4, number=f"{inst['code']}253000004"
        ),  # line 5: level 3 in number vs 4 (rule 23)
        Row(
            inst["code"], serial=5, occupation_code="4-10-01-06", occupation_name="家政服务员"
        ),  # line 6: 超范围
        Row(inst["code"], serial=6, id_number="11010519491231002Y"),  # line 7: bad ID
        Row(inst["code"], serial=7, name=""),  # line 8: no name
        Row(inst["code"], serial=1),  # line 9: duplicate of line 2 inside the batch (rule 13)
        Row(inst["code"], serial=9, number=f"{inst['code']}254000000"),  # line 10: serial 000000 (rule 7)
    ]
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(inst["code"], csv_bytes(rows), "bad.csv", actor="t", max_bytes=MB)
    by_line: dict[int, set[str]] = {}
    for p in info.value.problems:
        assert p.line is not None and p.column and p.message_zh and p.message_en
        by_line.setdefault(p.line, set()).add(p.code)
    assert set(by_line) == {3, 4, 5, 6, 7, 8, 9, 10}
    assert "not_own_institution" in by_line[3]
    assert "year_mismatch" in by_line[4]
    assert "level_mismatch" in by_line[5]
    assert "out_of_scope" in by_line[6]
    assert "duplicate_in_batch" in by_line[9]
    assert info.value.details == {"rows": 9, "bad_rows": 8}
    assert await count_for(pool, inst["id"]) == 0
    assert await pool.fetchval("SELECT count(*) FROM batches WHERE institution_id = $1", inst["id"]) == 0


async def test_bad_id_is_never_echoed_in_problems(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    bad_id = "11010519491231002Y"
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(
            inst["code"],
            csv_bytes([Row(inst["code"], serial=1, id_number=bad_id)]),
            "x.csv",
            actor="t",
            max_bytes=MB,
        )
    assert bad_id not in str(info.value.to_json())


async def test_rule_13_duplicate_of_existing_certificate_rejected(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    await registry.import_batch(
        inst["code"], csv_bytes([Row(inst["code"], serial=1)]), "1.csv", actor="t", max_bytes=MB
    )
    second = [Row(inst["code"], serial=2), Row(inst["code"], serial=1, name="李四")]
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(inst["code"], csv_bytes(second), "2.csv", actor="t", max_bytes=MB)
    dup = [p for p in info.value.problems if p.code == "duplicate_existing"]
    assert [(p.line, p.rule) for p in dup] == [(3, 13)]
    assert await count_for(pool, inst["id"]) == 1


async def test_rule_25_scope_depends_on_job_and_level_together(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    # §6.1: 车工 level 5 has no 工种; 车工 / 普通车床 / 五级 is outside the filed scope.
    inst = await make_institution()
    ok = Row(inst["code"], serial=1, occupation_code="6-18-01-01", occupation_name="车工", level=5)
    ok4 = Row(
        inst["code"], serial=1, occupation_code="6-18-01-01", occupation_name="车工", job="普通车床", level=4
    )
    await registry.import_batch(inst["code"], csv_bytes([ok, ok4]), "ok.csv", actor="t", max_bytes=MB)
    bad = Row(
        inst["code"], serial=2, occupation_code="6-18-01-01", occupation_name="车工", job="普通车床", level=5
    )
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(inst["code"], csv_bytes([bad]), "bad.csv", actor="t", max_bytes=MB)
    assert [(p.code, p.rule) for p in info.value.problems] == [("out_of_scope", 25)]


async def test_rule_42_scope_addition_counts_only_from_its_date(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    added = date(2024, 6, 1)
    inst = await make_institution(scopes=[Scope("6-20-01-01", "钳工", "--", 4, added)])
    before = Row(inst["code"], serial=1, issue_date=date(2024, 5, 31))
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(inst["code"], csv_bytes([before]), "b.csv", actor="t", max_bytes=MB)
    assert info.value.problems[0].code == "out_of_scope"
    after = Row(inst["code"], serial=1, issue_date=date(2024, 6, 1))
    result = await registry.import_batch(inst["code"], csv_bytes([after]), "a.csv", actor="t", max_bytes=MB)
    assert result.created


async def test_rule_39_suspended_institution_cannot_upload(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution(status="suspended")
    with pytest.raises(Forbidden) as info:
        await registry.import_batch(
            inst["code"], csv_bytes([Row(inst["code"], serial=1)]), "s.csv", actor="t", max_bytes=MB
        )
    assert info.value.details["rule"] == 39


async def test_rule_14_serial_gap_is_a_warning_not_a_rejection(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1), Row(inst["code"], serial=5), Row(inst["code"], serial=3)]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "g.csv", actor="t", max_bytes=MB)
    codes_ = {w.code for w in result.warnings}
    assert {"serial_gap", "serial_out_of_order"} <= codes_
    assert all(w.severity == "warning" and w.rule == 14 for w in result.warnings)


async def test_xlsx_batch_is_accepted(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=i) for i in (1, 2)]
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    from tests.factories import HEADER

    ws.append(HEADER)
    for r in rows:
        cells: list[object] = list(r.cells())
        cells[8] = r.issue_date  # a real Excel date cell
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    result = await registry.import_batch(inst["code"], buf.getvalue(), "r.xlsx", actor="t", max_bytes=MB)
    assert result.rows == 2
    stored = await pool.fetchval("SELECT issue_date FROM certificates WHERE number = $1", number_of(rows[0]))
    assert stored == date(2025, 6, 18)


async def test_file_errors_are_clear(registry: Registry, make_institution: InstitutionFactory) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1, name="王五")]
    with pytest.raises(BadFile) as gbk:
        await registry.import_batch(
            inst["code"], csv_bytes(rows, encoding="gbk"), "g.csv", actor="t", max_bytes=MB
        )
    assert "GBK" in gbk.value.message_zh and "UTF-8" in gbk.value.message_en
    with pytest.raises(FileTooLarge):
        await registry.import_batch(inst["code"], csv_bytes(rows), "big.csv", actor="t", max_bytes=10)
    with pytest.raises(BadFile):
        await registry.import_batch(inst["code"], b"", "empty.csv", actor="t", max_bytes=MB)
    with pytest.raises(BadFile):
        await registry.import_batch(
            inst["code"], "证书编号,姓名\nX,Y\n".encode(), "cols.csv", actor="t", max_bytes=MB
        )


async def test_stored_id_is_encrypted_and_indexed(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    await registry.import_batch(inst["code"], csv_bytes([row]), "e.csv", actor="t", max_bytes=MB)
    rec = await pool.fetchrow("SELECT * FROM certificates WHERE number = $1", number_of(row))
    assert rec is not None
    assert row.id_number.encode() not in bytes(rec["id_cipher"])
    assert rec["id_tail"] == row.id_number[-4:]
    kind, plain = registry.protector.decrypt(bytes(rec["id_cipher"]), aad=number_of(row).encode())
    assert plain == row.id_number and kind.value == "resident_id"
    assert all(row.id_number not in str(v) for v in dict(rec).values())


async def test_large_batches_are_checked_in_worker_processes_with_the_same_result(
    pool: asyncpg.Pool, registry: Registry, make_institution: InstitutionFactory
) -> None:
    # The parallel path (worker processes, COPY per part) must accept and reject exactly like the
    # in-process path, including duplicates that straddle two parts.
    parallel = Registry(
        pool, registry.protector, id_keys=registry.id_keys, today=registry.today, parallel_min_rows=4
    )
    inst = await make_institution()
    good = [Row(inst["code"], serial=i) for i in range(1, 30)]
    result = await parallel.import_batch(inst["code"], csv_bytes(good), "p.csv", actor="t", max_bytes=MB)
    assert result.rows == 29 and await count_for(pool, inst["id"]) == 29
    bad = [Row(inst["code"], serial=i) for i in range(100, 130)]
    bad[25] = Row(inst["code"], serial=100)  # duplicate of line 2, in a later part
    bad[3] = Row(inst["code"], serial=5)  # duplicate of an existing certificate
    bad[20] = Row(inst["code"], serial=120, level=9)
    with pytest.raises(BatchRejected) as info:
        await parallel.import_batch(inst["code"], csv_bytes(bad), "q.csv", actor="t", max_bytes=MB)
    found = {(p.line, p.code) for p in info.value.problems}
    assert (27, "duplicate_in_batch") in found and (5, "duplicate_existing") in found
    assert any(line == 22 for line, _ in found)
    assert await count_for(pool, inst["id"]) == 29


async def test_rule_30_rows_that_cannot_be_signed_are_rejected_at_import(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    # A name longer than the QR record can carry (255 UTF-8 bytes) passes the name rules but could
    # never be signed; it must be refused now, not discovered at publication.
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1, name="欧" * 90), Row(inst["code"], serial=2)]
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(inst["code"], csv_bytes(rows), "n.csv", actor="t", max_bytes=MB)
    [problem] = info.value.problems
    assert problem.line == 2 and problem.column == "姓名" and problem.rule == 30
    assert problem.code.startswith("not_encodable_")
    assert await count_for(pool, inst["id"]) == 0
