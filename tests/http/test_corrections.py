"""Corrections and re-issues (rule 43) over the API: the institution asks, a reviewer of its
jurisdiction decides, the signer signs a correction as a new version; an old QR then answers
"superseded" with a link to the current one, while a re-issue's old prints keep verifying."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import account_token, institution_token, publish_batch
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.services import signer as signer_service
from verify.services.registry import Registry

MB = 1 << 20


async def _published(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> tuple[str, str]:
    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="张三丰")
    result = await registry.import_batch(inst["code"], csv_bytes([row]), "c.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return inst["code"], number_of(row)


async def _qr(pool: asyncpg.Pool, number: str) -> str:
    data = await signatures.qr_payload(pool, number)
    assert data is not None
    return payload.to_text(data)


async def _verify_until(client: httpx.AsyncClient, path: str, outcome: str) -> dict[str, object]:
    deadline = time.monotonic() + 2
    while True:
        body: dict[str, object] = (await client.get(f"/api/v1/verify/{path}")).json()
        if body["outcome"] == outcome or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.02)


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_rule_43_a_correction_is_a_new_signed_version_and_the_old_qr_is_superseded(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    code, number = await _published(registry, make_institution, signer)
    old_path = await _qr(pool, number)
    staff, reviewer = (
        await institution_token(registry, code),
        await account_token(registry, "reviewer", jurisdiction="41"),
    )
    asked = await client.post(
        f"/api/v1/certificates/{number}/requests",
        json={
            "kind": "correction",
            "reason": "姓名录入错误（身份证为张三峰）",
            "changes": {"holder_name": "张三峰"},
        },
        headers=_auth(staff),
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["request"]["state"] == "submitted"
    again = await client.post(f"/api/v1/certificates/{number}/requests",
                              json={"kind": "reissue", "print_serial": "P2", "reason": "遗失"}, headers=_auth(staff))  # fmt: skip
    assert again.status_code == 409  # one open request per certificate
    # the institution cannot decide its own request; a reviewer can
    own = await client.post(f"/api/v1/certificates/{number}/requests/decision", json={"approve": True},
                            headers=_auth(staff))  # fmt: skip
    assert own.status_code == 403
    decided = await client.post(f"/api/v1/certificates/{number}/requests/decision", json={"approve": True, "note": "核实无误"},
                                headers=_auth(reviewer))  # fmt: skip
    assert decided.status_code == 200 and decided.json()["request"]["state"] == "approved"
    assert (await _verify_until(client, old_path, "valid"))["outcome"] == "valid"  # not signed yet: unchanged
    done = await signer_service.drain(registry, actor="signer:test", signer=signer)
    assert any(d.get("number") == number and d.get("version") == 2 for d in done)

    new_path = await _qr(pool, number)
    assert new_path != old_path
    current = await _verify_until(client, new_path, "valid")
    assert current["outcome"] == "valid" and current["certificate"]["holder_name"] == "张三峰"  # type: ignore[index]
    old = await _verify_until(client, old_path, "superseded")
    assert (
        old["outcome"] == "superseded"
        and old["superseded_by"] == number
        and old["current"] == f"/c/{new_path}"
    )
    page = await client.get(f"/c/{old_path}")
    assert f'href="/c/{new_path}' in page.text
    # the lookup answers the current version; the replaced one is kept (rule 37)
    looked = await client.post("/api/v1/lookup", json={"number": number, "name": "张三峰"})
    assert looked.status_code == 200 and looked.json()["certificates"][0]["holder_name"] == "张三峰"
    kept = await pool.fetchrow(
        "SELECT version, fields, payload FROM certificate_versions WHERE number = $1", number
    )
    assert kept is not None
    assert (
        kept["version"] == 1
        and kept["fields"]["holder_name"] == "张三丰"
        and payload.to_text(kept["payload"]) == old_path
    )
    history = (await client.get(f"/api/v1/certificates/{number}/requests", headers=_auth(staff))).json()
    assert [r["state"] for r in history["requests"]] == ["applied"]
    assert history["requests"][0]["previous"] == {"holder_name": "张三丰"}


async def test_rule_43_a_reissue_keeps_the_number_and_old_prints_still_verify(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    code, number = await _published(registry, make_institution, signer)
    path = await _qr(pool, number)
    staff, reviewer = (
        await institution_token(registry, code),
        await account_token(registry, "reviewer", jurisdiction="4101"),
    )
    asked = await client.post(f"/api/v1/certificates/{number}/requests",
                              json={"kind": "reissue", "print_serial": "HA2026-000123", "reason": "原证书遗失，申请补发"},
                              headers=_auth(staff))  # fmt: skip
    assert asked.status_code == 201, asked.text
    decided = await client.post(f"/api/v1/certificates/{number}/requests/decision", json={"approve": True},
                                headers=_auth(reviewer))  # fmt: skip
    assert decided.json()["request"]["state"] == "applied"
    assert (
        await pool.fetchval("SELECT print_serial FROM certificates WHERE number = $1", number)
        == "HA2026-000123"
    )
    assert await _qr(pool, number) == path  # the QR does not carry the print serial: old prints still verify
    assert (await _verify_until(client, path, "valid"))["outcome"] == "valid"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"kind": "correction", "reason": "x", "changes": {"level": "3"}}, "invalid_input"),
        (
            {"kind": "correction", "reason": "x", "changes": {"holder_name": "张三丰"}},
            "invalid_input",
        ),  # no change
        ({"kind": "correction", "reason": "x", "changes": {"holder_name": "张\u0000"}}, "bad_character"),
        ({"kind": "reissue", "reason": "x"}, "invalid_input"),
        ({"kind": "renumber", "reason": "x"}, "invalid_input"),
        ({"kind": "correction", "reason": " ", "changes": {"job": "数控车床"}}, "invalid_input"),
    ],
)
async def test_rule_43_a_bad_request_is_refused_clearly(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer,
    body: dict[str, object], why: str,
) -> None:  # fmt: skip
    code, number = await _published(registry, make_institution, signer)
    staff = await institution_token(registry, code)
    r = await client.post(f"/api/v1/certificates/{number}/requests", json=body, headers=_auth(staff))
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"] in (why, "invalid_name") and r.json()["message"]["zh"]


async def test_rule_43_another_institution_cannot_ask_and_a_rejection_closes_the_request(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    code, number = await _published(registry, make_institution, signer)
    other = await make_institution()
    stranger = await institution_token(registry, other["code"])
    r = await client.post(f"/api/v1/certificates/{number}/requests",
                          json={"kind": "reissue", "print_serial": "P1", "reason": "x"}, headers=_auth(stranger))  # fmt: skip
    assert r.status_code == 404
    staff, reviewer = (
        await institution_token(registry, code),
        await account_token(registry, "reviewer", jurisdiction="41"),
    )
    await client.post(f"/api/v1/certificates/{number}/requests",
                      json={"kind": "reissue", "print_serial": "P1", "reason": "x"}, headers=_auth(staff))  # fmt: skip
    no = await client.post(f"/api/v1/certificates/{number}/requests/decision", json={"approve": False, "note": "材料不全"},
                           headers=_auth(reviewer))  # fmt: skip
    assert no.json()["request"]["state"] == "rejected"
    none_open = await client.post(f"/api/v1/certificates/{number}/requests/decision", json={"approve": True},
                                  headers=_auth(reviewer))  # fmt: skip
    assert none_open.status_code == 409
