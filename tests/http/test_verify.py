"""Signed certificates verified from their QR URL: every outcome, over HTTP, against the real
database and the real status view (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import time
from datetime import date

import asyncpg
import httpx
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image

from tests.conftest import PASSPHRASE, InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import publish_batch
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.domain.errors import SuccessorNotAllowed
from verify.domain.events import CertificateEvent
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20


async def _signed(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer, n: int = 3
) -> list[Row]:
    inst = await make_institution()
    holder = holder_id()  # one holder, so that one certificate may supersede another (rule 43)
    rows = [Row(inst["code"], serial=i, name="张三丰", id_number=holder) for i in range(1, n + 1)]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "s.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return rows


async def _path(pool: asyncpg.Pool, number: str) -> str:
    data = await signatures.qr_payload(pool, number)
    assert data is not None
    return payload.to_text(data)


async def _outcome(client: httpx.AsyncClient, path: str) -> dict[str, object]:
    r = await client.get(f"/api/v1/verify/{path}")
    assert r.status_code == 200
    body: dict[str, object] = r.json()
    return body


async def _eventually(
    client: httpx.AsyncClient, path: str, outcome: str, within: float = 1.0
) -> dict[str, object]:
    """Poll until the status view reflects a change; the requirement is within 1 second."""
    deadline = time.monotonic() + within
    while True:
        body = await _outcome(client, path)
        if body["outcome"] == outcome or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.02)


async def test_publish_signs_every_certificate(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    rows = await _signed(registry, make_institution, signer)
    for row in rows:
        data = await signatures.qr_payload(pool, number_of(row))
        assert data is not None
        record, body, signature = payload.decode(data)
        assert record.number == number_of(row) and record.holder_name == row.name
        assert record.id_tail == row.id_number[-4:] and record.kid == signer.kid
        assert record.issue_date == row.issue_date and record.occupation_name == row.occupation_name
        # the independent implementation accepts what the service signed
        Ed25519PublicKey.from_public_bytes(signer.public_key).verify(signature, payload.signed_message(body))


async def test_valid_and_printed_fields(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    rows = await _signed(registry, make_institution, signer)
    path = await _path(pool, number_of(rows[0]))
    body = await _outcome(client, path)
    assert body["outcome"] == "valid"
    assert body["checks"] == {"format": "ok", "signature": "ok", "status": "ok"}
    assert body["status_as_of"]
    cert = body["certificate"]
    assert isinstance(cert, dict)
    assert cert["holder_name"] == "张三丰" and cert["id_tail"] == rows[0].id_number[-4:]
    assert cert["level"] == {"code": 4, "name": "四级/中级工"}
    assert rows[0].id_number[:10] not in str(body)
    # the scan landing path, any case, JSON when asked
    r = await client.get(f"/C/{path}", headers={"accept": "application/json"})
    assert r.json()["outcome"] == "valid"
    r = await client.get(f"/c/{path.lower()}")
    assert r.headers["content-type"].startswith("text/html") and "证书真实有效" in r.text


async def test_revoked_superseded_and_reinstated(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    rows = await _signed(registry, make_institution, signer)
    first, second = number_of(rows[0]), number_of(rows[1])
    path = await _path(pool, first)
    # Scanned before the revocation, so the decoded payload and its signature check are cached:
    # the status must still come fresh from the status view on the next scan.
    for _ in range(3):
        assert (await _outcome(client, path))["outcome"] == "valid"
    await registry.certificate_event(
        CertificateEvent(
            first,
            "revoked",
            effective=date(2026, 11, 1),
            reason_category="fraud",
            reason="第八条 冒名顶替",
            decided_by="鉴定中心",
            document_ref="豫〔2026〕9号",
        ),
        actor="t",
    )
    body = await _eventually(client, path, "revoked")
    assert body["outcome"] == "revoked"
    assert body["revocation"] == {
        "effective": "2026-11-01",
        "category": "fraud",
        "category_label": {"zh": "弄虚作假、冒名顶替等违规取得", "en": "obtained by fraud or impersonation"},
    }
    back = await registry.certificate_event(
        CertificateEvent(
            first,
            "reinstated",
            effective=date(2026, 11, 20),
            reason_category="other",
            reason="复核撤销原决定",
            decided_by="鉴定中心",
        ),
        actor="t",
    )
    assert [h["event"] for h in back["history"]] == ["revoked", "reinstated"]  # history kept (rule 36)
    assert (await _eventually(client, path, "valid"))["outcome"] == "valid"
    path2 = await _path(pool, second)
    await registry.certificate_event(
        CertificateEvent(
            second,
            "superseded",
            effective=date(2026, 11, 2),
            reason_category="data_error",
            reason="更正姓名",
            decided_by="机构",
            superseded_by=first,
        ),
        actor="t",
    )
    body = await _eventually(client, path2, "superseded")
    assert body["outcome"] == "superseded" and body["superseded_by"] == first


async def test_issuer_suspended_and_terminated(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    rows = await _signed(registry, make_institution, signer)
    path = await _path(pool, number_of(rows[0]))
    code = rows[0].institution
    await registry.set_status(code, "suspended", effective=date(2026, 11, 1), reason="第十三条", document_ref=None,
                              actor="t")  # fmt: skip
    assert (await _eventually(client, path, "issuer_suspended"))["outcome"] == "issuer_suspended"
    await registry.set_status(code, "terminated", effective=date(2026, 11, 2), reason="第十四条", document_ref=None,
                              actor="t")  # fmt: skip
    assert (await _eventually(client, path, "issuer_terminated"))["outcome"] == "issuer_terminated"


async def test_forged_payloads(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    rows = await _signed(registry, make_institution, signer, n=1)
    data = await signatures.qr_payload(pool, number_of(rows[0]))
    assert data is not None
    record, body, signature = payload.decode(data)
    # the holder name changed on a copy of the payload, signature kept
    altered = payload.encode_body(dataclasses.replace(record, holder_name="李四"))
    r = await _outcome(client, payload.to_text(payload.assemble(altered, signature)))
    assert r["outcome"] == "forged" and r["reason"]["code"] == "bad_signature"  # type: ignore[index]
    # an unknown kid
    other = payload.encode_body(dataclasses.replace(record, kid=_unused_kid(signer.kid)))
    r = await _outcome(client, payload.to_text(payload.assemble(other, signature)))
    assert r["outcome"] == "forged" and r["reason"]["code"] == "unknown_key"  # type: ignore[index]
    # malformed text
    r = await _outcome(client, "NOT-A-PAYLOAD")
    assert r["outcome"] == "forged" and r["reason"]["code"] == "malformed"  # type: ignore[index]
    truncated = payload.to_text(data)[:-8]
    r = await _outcome(client, truncated)
    assert r["outcome"] == "forged"


def _unused_kid(kid: str) -> str:
    return f"{(int(kid, 16) + 1) % 65536:04x}"


async def test_status_unavailable_when_the_view_is_stale(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer, test_dsn: str,
    client: httpx.AsyncClient,
) -> None:  # fmt: skip
    rows = await _signed(registry, make_institution, signer, n=1)
    path = await _path(pool, number_of(rows[0]))
    now = [time.monotonic()]
    stale = StatusView(test_dsn, pool, max_age=60, clock=lambda: now[0])
    await stale.refresh()
    transport = client._transport  # the same app, with a view that stops being fresh
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    app.state.status_view = stale  # type: ignore[attr-defined]
    assert (await _outcome(client, path))["outcome"] == "valid"
    now[0] += 61
    body = await _outcome(client, path)
    assert body["outcome"] == "status_unavailable"
    assert body["checks"] == {"format": "ok", "signature": "ok", "status": "unavailable"}


async def test_jwks_with_etag(client: httpx.AsyncClient, signer: Signer) -> None:
    r = await client.get("/.well-known/verify-keys.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jwk-set+json")
    keys = {k["kid"]: k for k in r.json()["keys"]}
    jwk = keys[signer.kid]
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == signer.public_key and jwk["crv"] == "Ed25519"
    again = await client.get("/.well-known/verify-keys.json", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304


async def test_qr_images_only_through_lookup_links(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    rows = await _signed(registry, make_institution, signer, n=1)
    number = number_of(rows[0])
    direct = await client.get(f"/api/v1/certificates/{number}/qr.png")
    assert direct.status_code == 403
    found = await client.post("/api/v1/lookup", json={"number": number, "name": "张三丰"})
    links = found.json()["certificates"][0]["qr"]
    png = await client.get(links["png"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert decoded and decoded[0].text.startswith("HTTP") and "/C/" in decoded[0].text
    svg = await client.get(links["svg"])
    assert svg.status_code == 200 and svg.content.lstrip().startswith(b"<")
    tampered = links["png"].replace("t=", "t=A")
    assert (await client.get(tampered)).status_code == 403
    assert (await client.get(links["png"].replace("qr.png", "qr.gif"))).status_code == 404


async def test_key_rotation_and_compromise_drill(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    keyring: Keyring, signer: Signer,
) -> None:  # fmt: skip
    # The drill uses keys of its own (A, then B), so the session key is only ever retired, never compromised.
    await keyring.generate(PASSPHRASE, note="drill A")
    signer_a = await keyring.signer(PASSPHRASE)
    assert signer_a.kid != signer.kid
    rows = await _signed(registry, make_institution, signer_a, n=2)
    old_path = await _path(pool, number_of(rows[0]))
    assert (await _eventually(client, old_path, "valid"))["outcome"] == "valid"
    key_b, retired = await keyring.rotate(PASSPHRASE, note="drill B")
    assert signer_a.kid in retired
    signer_b = await keyring.signer(PASSPHRASE)
    assert signer_b.kid == key_b.kid
    # certificates signed under the retired key still verify; the new key signs and verifies
    fresh = await _signed(registry, make_institution, signer_b, n=1)
    assert (await _eventually(client, await _path(pool, number_of(fresh[0])), "valid"))["outcome"] == "valid"
    assert (await _outcome(client, old_path))["outcome"] == "valid"
    # compromise A: everything it signed now fails, with the reason said
    await keyring.compromise(signer_a.kid)
    body = await _eventually(client, old_path, "forged")
    assert body["outcome"] == "forged" and body["reason"]["code"] == "key_compromised"  # type: ignore[index]
    assert "key compromised" in body["reason"]["en"]  # type: ignore[index]
    # re-sign what A signed with B: the new prints verify again
    assert await registry.resign(signer_a.kid, actor="t", signer=signer_b) == 2
    assert (await _outcome(client, await _path(pool, number_of(rows[0]))))["outcome"] == "valid"


async def test_publishing_twice_is_refused_and_flips_only_the_batch(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    from verify.domain.errors import Conflict

    inst = await make_institution()
    rows = [Row(inst["code"], serial=i) for i in (1, 2)]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "twice.csv", actor="t", max_bytes=MB)
    before = await pool.fetchval("SELECT xmin::text FROM certificates WHERE number = $1", number_of(rows[0]))
    published = await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    assert published["certificates"] == 2
    # the certificate rows themselves were not rewritten: publication is the batch's state
    assert (
        await pool.fetchval("SELECT xmin::text FROM certificates WHERE number = $1", number_of(rows[0]))
        == before
    )
    with pytest.raises(Conflict):
        await registry.publish(result.batch_id, actor="t", signer=signer)


_STANDING_KEYS = ("outcome", "revocation", "superseded_by", "effective", "issuer_since", "merged_into")


def _standing(body: dict[str, object]) -> dict[str, object]:
    return {k: body[k] for k in _STANDING_KEYS if k in body}


async def _looked_up(client: httpx.AsyncClient, number: str, name: str = "张三丰") -> dict[str, object]:
    r = await client.post("/api/v1/lookup", json={"number": number, "name": name})
    assert r.status_code == 200, r.text
    found: dict[str, object] = r.json()["certificates"][0]
    return found


async def test_rule_61_lookup_and_qr_give_the_same_facts(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    """A revoked certificate's lookup answer gives its date and public category, a superseded one's
    its successor, exactly as the QR answer does (one function, verify.domain.standing)."""
    rows = await _signed(registry, make_institution, signer)
    revoked, superseded, successor = (number_of(r) for r in rows)
    await registry.certificate_event(
        CertificateEvent(revoked, "revoked", date(2026, 11, 1), "invalid_result", "第十二条 当次成绩无效",
                         "鉴定中心", "豫〔2026〕9号"),
        actor="t",
    )  # fmt: skip
    await registry.certificate_event(
        CertificateEvent(superseded, "superseded", date(2026, 11, 2), "data_error", "更正工种", "机构",
                         superseded_by=successor),
        actor="t",
    )  # fmt: skip
    qr = await _eventually(client, await _path(pool, revoked), "revoked")
    looked = await _looked_up(client, revoked)
    assert _standing(looked) == _standing(qr)
    assert looked["revocation"] == {
        "effective": "2026-11-01",
        "category": "invalid_result",
        "category_label": {"zh": "评价成绩被宣布无效", "en": "assessment result declared invalid"},
    }
    assert "第十二条" not in str(looked) and "豫〔2026〕9号" not in str(
        looked
    )  # internal facts stay internal
    qr = await _eventually(client, await _path(pool, superseded), "superseded")
    looked = await _looked_up(client, superseded)
    assert _standing(looked) == _standing(qr)
    assert looked["outcome"] == "superseded" and looked["superseded_by"] == successor
    assert looked["effective"] == "2026-11-02"
    page = await client.post("/lookup", data={"mode": "number", "number": superseded, "name": "张三丰"})
    assert successor in page.text and "2026" in page.text


async def test_rule_41_a_merged_issuer_is_its_own_outcome_naming_the_absorbing_institution(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    rows = await _signed(registry, make_institution, signer, n=1)
    number = number_of(rows[0])
    absorbing = await make_institution()
    await registry.set_status(rows[0].institution, "merged", effective=date(2026, 11, 3), reason="并入",
                              document_ref="豫〔2026〕10号", actor="t", merged_into=absorbing["code"])  # fmt: skip
    qr = await _eventually(client, await _path(pool, number), "issuer_merged")
    assert qr["outcome"] == "issuer_merged"
    assert qr["merged_into"] == {"code": absorbing["code"], "name": absorbing["name"]}
    assert qr["issuer_since"] == "2026-11-03"
    looked = await _looked_up(client, number)
    assert _standing(looked) == _standing(qr) and looked["status"] == "valid"
    notice = looked["issuer_notice"]
    assert (
        isinstance(notice, dict) and absorbing["code"] in notice["zh"] and absorbing["name"] in notice["zh"]
    )
    page = await client.get(f"/c/{await _path(pool, number)}")
    assert f'href="/institutions/{absorbing["code"]}' in page.text and "发证机构已合并" in page.text


async def test_rule_43_a_successor_must_be_the_same_holders_from_a_related_issuer(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    mine = await _signed(registry, make_institution, signer, n=2)
    theirs = await _signed(registry, make_institution, signer, n=1)  # another holder, another institution
    other_holder = Row(mine[0].institution, serial=9, name="张三丰")  # same institution, another holder
    result = await registry.import_batch(
        mine[0].institution, csv_bytes([other_holder]), "o.csv", actor="t", max_bytes=MB
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")

    def supersede(by: str) -> CertificateEvent:
        return CertificateEvent(number_of(mine[0]), "superseded", date(2026, 11, 2), "data_error", "更正", "机构",
                                superseded_by=by)  # fmt: skip

    for unrelated, why in ((number_of(theirs[0]), "another holder"), (number_of(other_holder), "another holder"),
                           (number_of(mine[0]), "itself")):  # fmt: skip
        with pytest.raises(SuccessorNotAllowed) as refused:
            await registry.certificate_event(supersede(unrelated), actor="t")
        assert why in refused.value.message_en and refused.value.details["rule"] == 43
    done = await registry.certificate_event(supersede(number_of(mine[1])), actor="t")
    assert done["status"] == "superseded"
