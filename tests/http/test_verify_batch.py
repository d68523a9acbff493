"""Batch verification over the API (rules 54-57, 60): every way a row can ask, every verdict, the
verifier's own columns returned untouched, the signed receipt checked by an independent verifier,
the recheck that reports what changed since the receipt, the daily allowance, and the audit."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date

import asyncpg
import httpx
import openpyxl
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import account_token, publish_batch
from verify.crypto.receipts import RECEIPT_DOMAIN, canonical, results_root
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.domain.events import CertificateEvent
from verify.services.registry import Registry

MB = 1 << 20


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _published(registry: Registry, make_institution: InstitutionFactory, signer: Signer) -> list[Row]:
    inst = await make_institution()
    rows = [
        Row(inst["code"], serial=i, name=f"李{'一二三四'[i - 1]}", id_number=holder_id()) for i in range(1, 5)
    ]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "p.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return rows


async def _qr_url(pool: asyncpg.Pool, number: str) -> str:
    data = await signatures.qr_payload(pool, number)
    assert data is not None
    return f"https://verify.example.cn/C/{payload.to_text(data)}"


def _file(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
async def verifier(registry: Registry) -> dict[str, str]:
    return _auth(await account_token(registry, "verifier"))


async def test_rule_54_every_way_of_asking_gets_the_single_lookup_verdict(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer, verifier: dict[str, str],
) -> None:  # fmt: skip
    rows = await _published(registry, make_institution, signer)
    a, b, c, d = rows
    tampered = (await _qr_url(pool, number_of(c)))[:-6] + "AAAAAA"
    header = ["工号", "证书编号", "姓名", "证件号码", "二维码内容", "声称等级", "部门"]
    body = _file(header, [
        ["E1", number_of(a), a.name, "", "", "", "人事部"],
        ["E2", number_of(b), "王五", "", "", "", ""],  # wrong name
        ["E3", "", "", "", await _qr_url(pool, number_of(c)), "", ""],
        ["E4", "", c.name, "", tampered, "", ""],
        ["E5", "", d.name, d.id_number, "", "三级/高级工", ""],  # the certificate is 四级
        ["E6", "Y0000410100122X4000001", "张三", "", "", "", ""],  # malformed number
        ["E7", "", "", "", "", "", "无内容"],
        ["E8", "Y000041010012225000099"[:-1] + "8", "张三", "", "", "", ""],  # well formed, unknown
    ])  # fmt: skip
    r = await client.post(
        "/api/v1/verify-batch", files={"file": ("hires.csv", body, "text/csv")}, headers=verifier
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    verdicts = [x["verdict"] for x in answer["results"]]
    assert verdicts == [
        "valid", "not_found_or_mismatch", "valid", "forged", "claim_mismatch", "malformed", "malformed",
        "not_found_or_mismatch",
    ]  # fmt: skip
    first = answer["results"][0]
    assert first["row"] == 2 and first["columns"] == {"工号": "E1", "部门": "人事部"}
    assert first["certificate"]["number"] == number_of(a) and first["certificate"]["id_masked"].endswith(
        a.id_number[-4:]
    )
    assert a.id_number not in r.text and d.id_number not in r.text  # masked only, as single lookups
    assert answer["results"][3]["facts"]["reason"] in {"bad_signature", "malformed"}
    assert answer["results"][4]["claim_differences"] == [
        {"field": "level", "claimed": "三级/高级工", "actual": "四级/中级工"}
    ]
    assert (
        answer["results"][5]["problems"]
        and answer["results"][6]["problems"][0]["code"] == "nothing_to_verify"
    )
    assert answer["counts"]["valid"] == 2 and sum(answer["counts"].values()) == 8
    receipt = answer["receipt"]
    assert receipt["rows"] == 8 and receipt["results_root"] == results_root(answer["results"])
    # An independent verifier: `cryptography` (the service signs with PyNaCl) and the JWKS alone.
    jwks = (await client.get("/.well-known/verify-keys.json")).json()
    key = next(k for k in jwks["keys"] if k["kid"] == receipt["kid"] and k.get("purpose") == "receipt")
    x = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
    signature = base64.urlsafe_b64decode(receipt["signature"] + "=" * (-len(receipt["signature"]) % 4))
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    Ed25519PublicKey.from_public_bytes(x).verify(signature, RECEIPT_DOMAIN + canonical(unsigned))


async def test_rule_43_superseded_and_revoked_rows_and_the_recheck_reports_the_change(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer,
    verifier: dict[str, str],
) -> None:  # fmt: skip
    rows = await _published(registry, make_institution, signer)
    body = _file(["证书编号", "姓名", "员工"], [[number_of(r), r.name, f"E{i}"] for i, r in enumerate(rows)])
    first = await client.post(
        "/api/v1/verify-batch", files={"file": ("a.csv", body, "text/csv")}, headers=verifier
    )
    receipt = first.json()["receipt"]
    assert [x["verdict"] for x in first.json()["results"]] == ["valid"] * 4
    await registry.certificate_event(
        CertificateEvent(number_of(rows[1]), "revoked", effective=date(2026, 11, 1), reason_category="fraud",
                         reason="第八条", decided_by="鉴定中心"),
        actor="t",
    )  # fmt: skip
    recheck = await client.post(
        "/api/v1/receipts/recheck",
        files={"file": ("a.csv", body, "text/csv")}, data={"receipt": json.dumps(receipt)}, headers=verifier,
    )  # fmt: skip
    assert recheck.status_code == 200, recheck.text
    report = recheck.json()
    assert report["changed_rows"] == 1
    changed = report["rows"][1]
    assert changed["status_at_receipt"] == "valid" and changed["status_now"] == "revoked"
    assert changed["verdict_now"] == "revoked" and changed["changes"][0]["effective"] == "2026-11-01"
    assert "第八条" not in recheck.text  # the article stays internal (rule 36)
    assert [r["changed"] for r in report["rows"]] == [False, True, False, False]
    # Another file under the same receipt, or an altered receipt, is refused.
    other = await client.post(
        "/api/v1/receipts/recheck",
        files={"file": ("b.csv", body + b"x,y,z\n", "text/csv")}, data={"receipt": json.dumps(receipt)}, headers=verifier,
    )  # fmt: skip
    assert other.status_code == 400 and other.json()["details"]["reason"] == "receipt_file_mismatch"
    forged = await client.post(
        "/api/v1/receipts/recheck",
        files={"file": ("a.csv", body, "text/csv")}, data={"receipt": json.dumps({**receipt, "account": "someone-else"})},
        headers=verifier,
    )  # fmt: skip
    assert forged.status_code == 400 and forged.json()["details"]["reason"] == "bad_signature"


async def test_xlsx_and_csv_answers_keep_the_verifiers_columns(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer,
    verifier: dict[str, str],
) -> None:  # fmt: skip
    rows = await _published(registry, make_institution, signer)
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["证书编号", "姓名", "备注"])
    for row in rows:
        ws.append([number_of(row), row.name, "新员工"])
    buf = io.BytesIO()
    wb.save(buf)
    r = await client.post(
        "/api/v1/verify-batch?format=xlsx", files={"file": ("hires.xlsx", buf.getvalue(), "application/octet-stream")},
        headers=verifier,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    out = openpyxl.load_workbook(io.BytesIO(r.content))
    results, summary, signed = out.worksheets
    header = [c.value for c in results[1]]
    assert header[1] == "查验结果 / Verdict" and header[-1] == "备注"
    assert results.cell(2, 2).fill.start_color.rgb.endswith("C6EFCE")  # valid: green
    assert results.cell(2, len(header)).value == "新员工"
    assert any(row[1].value == "valid" and row[2].value == 4 for row in summary.iter_rows(min_row=2))
    receipt = json.loads(base64.urlsafe_b64decode(r.headers["x-verify-receipt"]))
    assert {row[0].value: row[1].value for row in signed.iter_rows()}["receipt_id"] == receipt["receipt_id"]
    own = _file(["证书编号", "姓名", "备注"], [[number_of(rows[0]), rows[0].name, "=HYPERLINK(1)"]])
    c = await client.post("/api/v1/verify-batch?format=csv", files={"file": ("h.csv", own)}, headers=verifier)
    assert c.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert table[0][3] == "证书编号 / Certificate No." and table[1][-1] == "'=HYPERLINK(1)"  # never a formula


async def test_bad_files_are_refused_whole_and_roles_are_checked(
    client: httpx.AsyncClient, registry: Registry, verifier: dict[str, str]
) -> None:
    no_header = await client.post(
        "/api/v1/verify-batch", files={"file": ("a.csv", b"x,y\n1,2\n")}, headers=verifier
    )
    assert no_header.status_code == 400 and no_header.json()["problems"][0]["code"] == "header_missing"
    gbk = "证书编号,姓名\nY000041010012225000001,张三\n".encode("gbk")
    ok = await client.post("/api/v1/verify-batch", files={"file": ("g.csv", gbk)}, headers=verifier)
    assert ok.status_code == 200 and ok.json()["results"][0]["verdict"] == "not_found_or_mismatch"
    institution = _auth(await account_token(registry, "reviewer", jurisdiction="41"))
    refused = await client.post("/api/v1/verify-batch", files={"file": ("g.csv", gbk)}, headers=institution)
    assert refused.status_code == 403
    anonymous = await client.post("/api/v1/verify-batch", files={"file": ("g.csv", gbk)})
    assert anonymous.status_code == 401


async def test_rule_57_rows_per_account_per_day_and_rule_60_one_audit_entry(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool
) -> None:
    login = "t-veri-quota"
    token = _auth(await account_token(registry, "verifier", login=f"{login}-{id(client) % 10000}"))
    rows = "".join(f"Y0000410100122250{i:05d},张三\n" for i in range(600))
    body = ("证书编号,姓名\n" + rows).encode()
    registry.batch_rows_per_day = 1000
    try:
        first = await client.post("/api/v1/verify-batch", files={"file": ("q.csv", body)}, headers=token)
        assert first.status_code == 200
        second = await client.post("/api/v1/verify-batch", files={"file": ("q.csv", body)}, headers=token)
        assert second.status_code == 429 and int(second.headers["retry-after"]) > 0
        assert second.json()["error"] == "rate_limited"
    finally:
        registry.batch_rows_per_day = 50_000
    receipt_id = first.json()["receipt"]["receipt_id"]
    entry = await pool.fetchrow("SELECT actor, detail FROM audit_log WHERE target = $1", receipt_id)
    assert entry is not None and entry["detail"]["rows"] == 600
    assert "张三" not in json.dumps(entry["detail"], ensure_ascii=False)
