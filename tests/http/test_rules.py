"""docs/RULES.md §7 requirements implemented across the service, one named test each (the number is in
the test name). Rules 1-19 and 70 are in tests/unit/test_codes.py; 13, 14, 25, 30, 37-42, 50 and
52 in tests/db/."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import institution_token, publish_batch
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import codes, occupations, payload
from verify.domain.errors import BatchRejected
from verify.domain.events import CertificateEvent
from verify.domain.institution import SPECIAL_STANDARD, Scope
from verify.render import qr
from verify.services.keyring import Keyring
from verify.services.registry import Registry

MB = 1 << 20


async def _publish(registry: Registry, signer: Signer, rows: list[Row]) -> str:
    code = rows[0].institution
    result = await registry.import_batch(
        code, csv_bytes(rows), f"{code}-{rows[0].serial}.csv", actor="t", max_bytes=MB
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return result.batch_id


async def test_rule_20_certificate_fields_are_stored(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    await registry.import_batch(inst["code"], csv_bytes([row]), "f.csv", actor="t", max_bytes=MB)
    rec = await pool.fetchrow("SELECT * FROM certificates WHERE number = $1", number_of(row))
    assert rec is not None
    for column in ("holder_name", "id_type", "id_index", "id_cipher", "occupation_code", "occupation_name", "job",
                   "level", "issue_date", "issue_form", "batch_id", "institution_id"):  # fmt: skip
        assert rec[column] is not None, column


async def test_rule_21_missing_job_is_stored_as_double_hyphen(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1, job=""), Row(inst["code"], serial=2, job="——")]
    await registry.import_batch(inst["code"], csv_bytes(rows), "j.csv", actor="t", max_bytes=MB)
    jobs = {
        r["job"]
        for r in await pool.fetch("SELECT job FROM certificates WHERE institution_id = $1", inst["id"])
    }
    assert jobs == {"--"}


def test_rule_22_level_displayed_as_number_and_name() -> None:
    assert codes.LEVEL_NAMES == {
        1: "一级/高级技师",
        2: "二级/技师",
        3: "三级/高级工",
        4: "四级/中级工",
        5: "五级/初级工",
    }


async def test_rule_23_year_and_level_must_agree_with_the_number(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1, number=f"{inst['code']}244000001"),
            Row(inst["code"], serial=2, number=f"{inst['code']}253000002")]  # fmt: skip
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(inst["code"], csv_bytes(rows), "y.csv", actor="t", max_bytes=MB)
    assert {(p.line, p.code, p.rule) for p in info.value.problems} == {
        (2, "year_mismatch", 23),
        (3, "level_mismatch", 23),
    }


async def test_rule_29_special_ability_certificates_have_no_level(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    code = f"1601{'5'}{(await pool.fetchval('SELECT count(*) FROM institutions')) % 900 + 100:03d}"
    inst = await make_institution(
        code=code, kind="special_assessor",
        scopes=[Scope("", "家庭餐制作", "--", None, date(2020, 1, 1), None, SPECIAL_STANDARD)],
    )  # fmt: skip
    number = f"25{inst['code']}00001"
    header = "证书编号,姓名,证件类型,证件号码,职业名称,发证日期\n"
    ok = header + f"{number},张三,居民身份证,{Row(code, 1).id_number},家庭餐制作,2025-03-01\n"
    result = await registry.import_batch(inst["code"], ok.encode(), "s.csv", actor="t", max_bytes=MB)
    assert result.rows == 1
    assert await pool.fetchval("SELECT level FROM certificates WHERE number = $1", number) is None


async def test_rule_32_only_published_certificates_are_public(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    result = await registry.import_batch(inst["code"], csv_bytes([row]), "p.csv", actor="t", max_bytes=MB)
    body = {"number": number_of(row), "name": row.name}
    assert (await client.post("/api/v1/lookup", json=body)).status_code == 404
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    assert (await client.post("/api/v1/lookup", json=body)).status_code == 200


async def test_rule_35_and_36_revocation_is_a_distinct_recorded_status(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    await _publish(registry, signer, [row])
    event = await registry.certificate_event(
        CertificateEvent(
            number_of(row),
            "revoked",
            effective=date(2026, 1, 2),
            reason_category="invalid_result",
            reason="第八条 成绩无效",
            decided_by="鉴定中心",
            document_ref="豫〔2026〕1号",
            served="公告",
        ),
        actor="t",
    )
    [h] = event["history"]
    assert h["event"] == "revoked" and h["decided_by"] == "鉴定中心" and h["document_ref"] == "豫〔2026〕1号"
    found = await client.post("/api/v1/lookup", json={"number": number_of(row), "name": row.name})
    assert found.json()["certificates"][0]["status"] == "revoked"  # distinct from not found


async def test_rule_56_second_factor_and_masked_id(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    await _publish(registry, signer, [row])
    no_name = await client.post("/api/v1/lookup", json={"number": number_of(row)})
    assert no_name.status_code == 400
    ok = await client.post("/api/v1/lookup", json={"number": number_of(row), "name": row.name})
    masked = ok.json()["certificates"][0]["id_masked"]
    assert masked.endswith(row.id_number[-4:]) and row.id_number[:6] not in masked


async def test_rule_57_enumeration_is_throttled(client: httpx.AsyncClient) -> None:
    statuses = [
        (
            await client.post("/api/v1/lookup", json={"number": "Y000041010012224999998", "name": f"张{i}"})
        ).status_code
        for i in range(8)
    ]
    assert statuses[:5] == [404] * 5 and set(statuses[5:]) == {429}


async def test_rule_58_institutions_read_only_their_own_batches(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    mine, theirs = await make_institution(), await make_institution()
    result = await registry.import_batch(
        mine["code"], csv_bytes([Row(mine["code"], serial=1)]), "m.csv", actor="t", max_bytes=MB
    )
    token = await institution_token(registry, theirs["code"])
    r = await client.get(f"/api/v1/batches/{result.batch_id}", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 404


async def test_rule_60_writes_are_audited(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    batch = await _publish(registry, signer, [Row(inst["code"], serial=1)])
    actions = {r["action"] for r in await pool.fetch("SELECT action FROM audit_log WHERE target = $1", batch)}
    assert actions == {"batch.submit", "batch.approve", "batch.publish"}


async def test_rule_61_distinct_results(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution(status="active")
    row = Row(inst["code"], serial=1)
    await _publish(registry, signer, [row])
    malformed = await client.post("/api/v1/lookup", json={"number": "Y0000", "name": "张三"})
    missing = await client.post(
        "/api/v1/lookup", json={"number": number_of(row)[:-1] + "9", "name": row.name}
    )
    await registry.set_status(inst["code"], "terminated", effective=date(2026, 2, 1), reason="第十四条",
                              document_ref=None, actor="t")  # fmt: skip
    retired_issuer = await client.post("/api/v1/lookup", json={"number": number_of(row), "name": row.name})
    assert malformed.status_code == 422 and missing.status_code == 404
    cert = retired_issuer.json()["certificates"][0]
    assert (
        cert["status"] == "valid" and cert["institution"]["status"] == "terminated" and cert["issuer_notice"]
    )


async def test_rule_62_and_63_official_sites_and_hotline_on_pages(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert "010-84661234" in page.text
    forged = await client.get("/c/AAAA")
    assert "jndj.osta.org.cn" in forged.text and "010-84661234" in forged.text


def test_rule_65_qr_fits_30mm_at_half_millimetre_modules() -> None:
    body = payload.encode_body(
        payload.CertificateRecord(
            "S000041010012254000001",
            "张三丰",
            "123X",
            "6-18-01-01",
            "车工",
            "普通车床",
            date(2025, 6, 1),
            "0001",
        )  # fmt: skip
    )
    url = payload.qr_url("https://verify.example.cn", payload.assemble(body, b"\0" * 64))
    spec = qr.qr_spec(url, error_correction="M")
    assert spec.version <= 10 and spec.module_mm >= 0.5 and spec.symbol_mm <= 30


async def test_rule_66_67_68_signed_fields_then_online_status_and_rotation(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer, keyring: Keyring,
) -> None:  # fmt: skip
    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="周芷若")
    await _publish(registry, signer, [row])
    data = await signatures.qr_payload(pool, number_of(row))
    assert data is not None
    record = payload.decode(data)[0]  # rule 66: the printed fields are what is signed
    assert (record.number, record.holder_name, record.occupation_name, record.issue_date) == (
        number_of(row), "周芷若", row.occupation_name, row.issue_date
    )  # fmt: skip
    path = f"/api/v1/verify/{payload.to_text(data)}"
    assert (await client.get(path)).json()["checks"][
        "status"
    ] == "ok"  # rule 67: status checked after signature
    assert (await client.get(path)).json()[
        "outcome"
    ] == "valid"  # rule 68: verifies whatever key is current now


def test_rule_71_occupation_table_marks_what_is_verified() -> None:
    seed_rows = [s for s in occupations.SCOPES if s.from_seed]
    assert {s.code for s in seed_rows} >= {"6-18-01-01", "4-10-01-06", "4-12-01-01", "6-20-01-01"}
    assert all(all(1 <= level <= 5 for level in s.levels) for s in occupations.SCOPES)
