"""The review workflow over the authenticated API, end to end: an institution uploads a batch with
its plan and roster, the reviewing centre sees it in its queue with the warnings and approves it,
the signer publishes it, and its QR verifies (rules 31-34, 58)."""

from __future__ import annotations

import httpx

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import account_token, institution_token
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.services import signer as signer_loop
from verify.services.registry import Registry


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_upload_review_publish_scan(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=i) for i in (1, 2, 4)]  # serial 3 missing: a rule 14 warning
    roster = ("证件号码\n" + "".join(f"{r.id_number}\n" for r in rows[:2])).encode()
    institution = _auth(await institution_token(registry, inst["code"]))
    created = await client.post(
        "/api/v1/batches",
        files={"file": ("成绩.csv", csv_bytes(rows), "text/csv"), "roster": ("名册.csv", roster, "text/csv")},
        data={"plan_ref": "豫鉴计划〔2025〕9号", "plan_filed_on": "2025-05-01", "assessed_on": "2025-06-10"},
        headers=institution,
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store" and created.headers["x-request-id"]
    batch = created.json()["batch_id"]
    codes = {w["code"] for w in created.json()["warnings"]}
    assert {"not_on_roster", "results_late"} <= codes

    reviewer = _auth(await account_token(registry, "reviewer", jurisdiction="4101"))
    queue = (await client.get("/api/v1/batches?state=submitted", headers=reviewer)).json()["batches"]
    assert batch in {b["batch_id"] for b in queue}
    detail = (await client.get(f"/api/v1/batches/{batch}", headers=reviewer)).json()
    assert detail["plan"]["plan_ref"] == "豫鉴计划〔2025〕9号" and len(detail["warnings"]) >= 2
    assert rows[2].id_number not in str(detail)
    approved = await client.post(f"/api/v1/batches/{batch}/approve", json={"note": "同意"}, headers=reviewer)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    again = await client.post(f"/api/v1/batches/{batch}/approve", json={}, headers=reviewer)
    assert again.status_code == 409 and again.json()["error"] == "invalid_transition"

    published = await signer_loop.drain(registry, actor="signer:t", signer=signer)
    assert batch in {p["batch_id"] for p in published}
    mine = (await client.get(f"/api/v1/batches/{batch}", headers=institution)).json()
    assert mine["state"] == "published" and mine["reviewed_by"].startswith("reviewer:")
    data = await signatures.qr_payload(registry.pool, number_of(rows[0]))
    assert data is not None
    scanned = (await client.get(f"/api/v1/verify/{payload.to_text(data)}")).json()
    assert scanned["outcome"] == "valid"


async def test_a_rejection_and_a_withdrawal_say_why(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    institution = _auth(await institution_token(registry, inst["code"]))
    reviewer = _auth(await account_token(registry, "reviewer", jurisdiction="41"))
    first = (await client.post("/api/v1/batches?filename=a.csv", content=csv_bytes([Row(inst["code"], serial=1)]),
                               headers=institution)).json()["batch_id"]  # fmt: skip
    second = (await client.post("/api/v1/batches?filename=b.csv", content=csv_bytes([Row(inst["code"], serial=2)]),
                                headers=institution)).json()["batch_id"]  # fmt: skip
    bad = await client.post(
        f"/api/v1/batches/{first}/reject", json={"rows": [{"line": 1, "reason": "x"}]}, headers=reviewer
    )
    assert bad.status_code == 400 and bad.json()["details"]["field"] == "rows"
    rejected = await client.post(
        f"/api/v1/batches/{first}/reject", json={"reason": "照片缺失", "rows": [{"line": 2, "reason": "无照片"}]},
        headers=reviewer,
    )  # fmt: skip
    assert rejected.json()["state"] == "rejected" and rejected.json()["decision"]["rows"][0]["line"] == 2
    withdrawn = await client.post(
        f"/api/v1/batches/{second}/withdraw", json={"reason": "传错文件"}, headers=institution
    )
    assert withdrawn.json()["state"] == "withdrawn"
    refused = await client.post(f"/api/v1/batches/{second}/approve", json={}, headers=reviewer)
    assert refused.status_code == 409 and refused.json()["details"] == {
        "state": "withdrawn",
        "action": "approve",
    }
    upload_as_reviewer = await client.post("/api/v1/batches?filename=c.csv", content=b"x", headers=reviewer)
    assert upload_as_reviewer.status_code == 403 and upload_as_reviewer.json()["error"] == "role_not_allowed"


async def test_reviewer_suspends_and_resumes_an_institution_of_its_city_only(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    local = _auth(await account_token(registry, "reviewer", jurisdiction="4101"))
    elsewhere = _auth(await account_token(registry, "reviewer", jurisdiction="4103"))
    body = {"status": "suspended", "reason": "第十三条：限期整改", "effective": "2026-11-25"}
    far = await client.post(f"/api/v1/institutions/{inst['code']}/status", json=body, headers=elsewhere)
    assert far.status_code == 403 and far.json()["error"] == "outside_jurisdiction"
    done = await client.post(f"/api/v1/institutions/{inst['code']}/status", json=body, headers=local)
    assert done.status_code == 200 and done.json()["status"]["code"] == "suspended"
    terminate = await client.post(f"/api/v1/institutions/{inst['code']}/status",
                                  json={**body, "status": "terminated"}, headers=local)  # fmt: skip
    assert terminate.status_code == 403 and terminate.json()["error"] == "role_not_allowed"
    resumed = await client.post(f"/api/v1/institutions/{inst['code']}/status",
                                json={**body, "status": "active", "reason": "整改完成"}, headers=local)  # fmt: skip
    assert resumed.json()["status"]["code"] == "active"
