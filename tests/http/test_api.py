"""The JSON API over HTTP (in-process ASGI), against the real database."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import institution_token, publish_batch
from verify.crypto.signing import Signer
from verify.domain import errors
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1024 * 1024
DATA = Path(__file__).resolve().parents[2] / "verify" / "domain" / "data"


async def _published(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer, rows: int = 2
) -> list[Row]:
    inst = await make_institution()
    made = [Row(inst["code"], serial=i, name="欧阳·娜娜" if i == 1 else "张三") for i in range(1, rows + 1)]
    result = await registry.import_batch(inst["code"], csv_bytes(made), "p.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return made


async def test_codes_endpoint_valid_and_invalid(client: httpx.AsyncClient) -> None:
    ok = await client.get("/api/v1/codes/Y000041010012224000007")
    assert ok.status_code == 200
    body = ok.json()
    assert body["valid"] is True and body["canonical"] == "Y000041010012224000007"
    assert body["parts"]["city"]["name"] == "郑州市" and body["parts"]["level"]["name"] == "四级/中级工"
    bad = await client.get("/api/v1/codes/X000019000001216000000")
    assert bad.status_code == 422
    problems = bad.json()["problems"]
    assert len(problems) >= 3 and all(p["message_zh"] and p["message_en"] for p in problems)


async def test_lookup_by_number_and_name_is_masked(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    rows = await _published(registry, make_institution, signer)
    r = await client.post("/api/v1/lookup", json={"number": number_of(rows[0]), "name": "欧阳•娜娜"})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    cert = r.json()["certificates"][0]
    assert cert["status"] == "valid" and cert["level"]["name"] == "四级/中级工"
    assert cert["id_masked"] == "*" * 14 + rows[0].id_number[-4:]
    assert rows[0].id_number[:14] not in r.text


async def test_not_found_and_wrong_name_are_byte_identical(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    rows = await _published(registry, make_institution, signer)
    wrong_name = await client.post("/api/v1/lookup", json={"number": number_of(rows[1]), "name": "李四"})
    missing_number = number_of(rows[1])[:-6] + "999999"
    missing = await client.post("/api/v1/lookup", json={"number": missing_number, "name": "张三"})
    assert wrong_name.status_code == missing.status_code == 404
    assert wrong_name.content == missing.content
    assert dict(wrong_name.headers) == dict(missing.headers)


async def test_unpublished_certificates_are_invisible(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    await registry.import_batch(inst["code"], csv_bytes([row]), "u.csv", actor="t", max_bytes=MB)
    r = await client.post("/api/v1/lookup", json={"number": number_of(row), "name": row.name})
    assert r.status_code == 404


async def test_lookup_by_id_returns_that_holders_certificates(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    person = holder_id()
    rows = [
        Row(inst["code"], serial=1, name="王芳", id_number=person),
        Row(
            inst["code"],
            serial=2,
            name="王芳",
            id_number=person,
            occupation_code="6-18-01-01",
            occupation_name="车工",
            level=5,
        ),
        Row(inst["code"], serial=3, name="王芳"),  # same name, another person
    ]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "i.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    r = await client.post("/api/v1/lookup", json={"id_number": person.lower(), "name": "王芳"})
    assert r.status_code == 200
    numbers = {c["number"] for c in r.json()["certificates"]}
    assert numbers == {number_of(rows[0]), number_of(rows[1])}
    wrong = await client.post("/api/v1/lookup", json={"id_number": person, "name": "王方"})
    assert wrong.status_code == 404
    bad = await client.post("/api/v1/lookup", json={"id_number": "123", "name": "王芳"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_id"


async def test_personal_data_only_in_post_bodies(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/lookup", params={"number": "Y000041010012224000007", "name": "张三"})
    assert r.status_code == 405


async def test_lookup_is_rate_limited_per_address(client: httpx.AsyncClient, registry: Registry) -> None:
    statuses = []
    for _ in range(1005):
        r = await client.post("/api/v1/lookup", json={"number": "Y000041010012224999999", "name": "张三"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    # per-number failed-name budget (5 / 24 h) trips long before the per-address budget in the test settings
    assert statuses[-1] == 429 and statuses.count(404) == 5
    assert r.json()["error"] == "rate_limited" and r.headers["retry-after"]


async def test_upload_needs_institution_token(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    data = csv_bytes([Row(inst["code"], serial=1)])
    anon = await client.post("/api/v1/batches", content=data, headers={"content-type": "text/csv"})
    assert anon.status_code == 401
    token = await institution_token(registry, inst["code"])
    auth = {"authorization": f"Bearer {token}"}
    created = await client.post("/api/v1/batches", files={"file": ("r.csv", data, "text/csv")}, headers=auth)
    assert created.status_code == 201, created.text
    batch_id = created.json()["batch_id"]
    again = await client.post("/api/v1/batches?filename=r.csv", content=data, headers=auth)
    assert (
        again.status_code == 200 and again.json()["batch_id"] == batch_id and again.json()["duplicate_upload"]
    )
    status = await client.get(f"/api/v1/batches/{batch_id}", headers=auth)
    assert status.json()["state"] == "submitted"
    other = await make_institution()
    other_token = await institution_token(registry, other["code"])
    hidden = await client.get(
        f"/api/v1/batches/{batch_id}", headers={"authorization": f"Bearer {other_token}"}
    )
    assert hidden.status_code == 404


async def test_upload_rejection_lists_rows(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    token = await institution_token(registry, inst["code"])
    rows = [
        Row(inst["code"], serial=1, level=6),
        Row(inst["code"], serial=2, number=f"{inst['code']}244000002"),  # year 24 vs issue date 2025
    ]
    r = await client.post(
        "/api/v1/batches?filename=b.csv",
        content=csv_bytes(rows),
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "batch_rejected"
    assert {p["line"] for p in body["problems"]} == {2, 3}


async def test_institution_lookup(client: httpx.AsyncClient, make_institution: InstitutionFactory) -> None:
    inst = await make_institution(phone="0371-12345678", complaint_channel="0371-12333")
    r = await client.get(f"/api/v1/institutions/{inst['code'].lower()}")
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == inst["code"] and body["status"]["code"] == "active"
    assert body["city"]["name"] == "郑州市"
    assert {s["occupation_name"] for s in body["scope"]} == {"车工", "钳工"}
    assert body["complaint_channel"]["national_hotline"] == "010-84661234"
    missing = await client.get("/api/v1/institutions/S000041019999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/", "/api/v1/codes/123", "/nope"])
async def test_security_headers_everywhere(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_names_and_ids_never_reach_the_logs(
    client: httpx.AsyncClient,
    registry: Registry,
    make_institution: InstitutionFactory,
    caplog: pytest.LogCaptureFixture,
    signer: Signer,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    rows = await _published(registry, make_institution, signer)
    secret_name, secret_id = "欧阳·娜娜", rows[0].id_number
    await client.post("/api/v1/lookup", json={"number": number_of(rows[0]), "name": secret_name})
    await client.post("/api/v1/lookup", json={"id_number": secret_id, "name": secret_name})
    await client.post("/api/v1/lookup", json={"id_number": secret_id[:-1] + "0", "name": "李四"})
    inst = await make_institution()
    token = await institution_token(registry, inst["code"])
    bad = csv_bytes([Row(inst["code"], serial=1, id_number=secret_id[:-1] + "Y", name=secret_name)])
    await client.post(
        "/api/v1/batches?filename=b.csv", content=bad, headers={"authorization": f"Bearer {token}"}
    )
    logged = caplog.text
    assert secret_id not in logged and secret_id[:-1] not in logged and secret_name not in logged


async def test_reference_tables_are_published_byte_for_byte_and_cacheable(client: httpx.AsyncClient) -> None:
    index = await client.get("/api/v1/reference")
    assert index.status_code == 200
    tables = index.json()["tables"]
    # codes-v1.json is superseded by codes-v2.json but still served unchanged (pinned copies stay valid).
    assert set(tables) == {
        "codes-v2.json",
        "codes-v1.json",
        "occupations-v1.json",
        "occupation-rules-v1.json",
    }
    for name, href in tables.items():
        r = await client.get(href)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.content == (DATA / name).read_bytes()
        assert "immutable" in r.headers["cache-control"]
        again = await client.get(href, headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
    missing = await client.get("/api/v1/reference/codes-v9.json")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert (await client.get("/api/v1/reference/..%2Fdb%2Fpool.py")).status_code == 404


async def test_institution_directory_names_every_issuer_from_the_status_view(
    client: httpx.AsyncClient, make_institution: InstitutionFactory, status_view: StatusView
) -> None:
    inst = await make_institution()
    await status_view.refresh()
    r = await client.get("/api/v1/institutions")
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=60"
    listed = {i["code"]: i for i in r.json()["institutions"]}
    assert listed[inst["code"]] == {
        "code": inst["code"], "name": inst["name"], "status": "active", "since": "2020-01-01"
    }  # fmt: skip
    assert (
        await client.get("/api/v1/institutions", headers={"if-none-match": r.headers["etag"]})
    ).status_code == 304


async def test_rule_57_wrong_names_on_an_id_close_that_id_for_every_address(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    # ID + name guesses are bounded per ID (its blind index), not only per address: five wrong names
    # from five addresses, then the sixth address is refused too, and other IDs stay open.
    person, other = holder_id(), holder_id()
    for i in range(5):
        answer = await registry.lookup_by_id(person, f"赵{i}", client=f"198.51.100.{i}")
        assert not answer.found
    with pytest.raises(errors.RateLimited) as refused:
        await registry.lookup_by_id(person, "赵五", client="198.51.100.99")
    assert refused.value.retry_after is not None and 1 <= refused.value.retry_after <= 30
    assert not (await registry.lookup_by_id(other, "赵五", client="198.51.100.99")).found
    # The lookup form and API answer that refusal as 429 with Retry-After.
    r = await client.post("/api/v1/lookup", json={"id_number": person, "name": "赵六"})
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 30


async def test_rule_57_throttle_table_holds_no_address_number_or_id(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool
) -> None:
    person = holder_id()
    await registry.lookup_by_id(person, "钱一", client="198.51.100.42")
    await registry.lookup_by_number("Y000041010012224999997", "钱一", client="198.51.100.42")
    rows = await pool.fetch("SELECT * FROM lookup_throttle")
    assert len(rows) == 3  # one address, two targets
    dumped = repr([dict(r) for r in rows]).encode()
    for secret in (person, "198.51.100.42", "Y000041010012224999997", "2224999997"):
        assert secret.encode() not in dumped
    assert {len(r["key"]) for r in rows} == {16}


async def test_a_method_a_path_does_not_serve_names_every_method_it_does(client: httpx.AsyncClient) -> None:
    r = await client.request("DELETE", "/api/v1/batches")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
