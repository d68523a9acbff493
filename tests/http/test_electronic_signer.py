"""The signer makes the electronic certificates (DECISIONS D60): a signer holding the document key
queues what it publishes, corrects and what gets a photo, and signs the queue a round at a time;
the web serves on a QR's path only the copy made for that very payload, so a corrected
certificate's old copy never answers the new QR, and a revoked one is not signed."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pypdf
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, jpeg, number_of, zip_of
from tests.workflow import account_token, approve, institution_token
from verify.config import Settings
from verify.crypto import pdf_signature
from verify.crypto.signing import Signer
from verify.domain import payload
from verify.domain.events import CertificateEvent
from verify.services import signer as signer_service
from verify.services.electronic import Documents
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20


@pytest.fixture(scope="module")
def chain(settings: Settings) -> tuple[Documents, bytes]:
    signer, root = pdf_signature.create_chain("河南省职业技能鉴定指导中心", now=datetime.now(UTC))
    return Documents(signer, settings.public_url, settings.channels), root


async def _path(registry: Registry, number: str) -> str:
    return payload.to_text(await registry.qr_payload(number))


async def _served(client: httpx.AsyncClient, status_view: StatusView, path: str) -> bytes:
    await status_view.refresh()
    r = await client.get(f"/c/{path}/certificate.pdf")
    assert r.status_code == 200, r.text
    return r.content


def _signed_ok(pdf: bytes, root: bytes) -> bool:
    check = pdf_signature.validate_pdf(pdf, root)
    return check.ok and check.trusted and check.whole_file


def _subject(pdf: bytes) -> str:
    info = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None
    return str(info.subject)


async def _correct(client: httpx.AsyncClient, registry: Registry, code: str, number: str, name: str) -> None:
    """The institution asks to correct the holder's name, a reviewer of Henan approves it."""
    auth = {"authorization": f"Bearer {await institution_token(registry, code)}"}
    asked = await client.post(f"/api/v1/certificates/{number}/requests", headers=auth,
                              json={"kind": "correction", "reason": "姓名录入错误", "changes": {"holder_name": name}})  # fmt: skip
    assert asked.status_code == 201, asked.text
    reviewer = {"authorization": f"Bearer {await account_token(registry, 'reviewer', jurisdiction='41')}"}
    decided = await client.post(f"/api/v1/certificates/{number}/requests/decision", headers=reviewer,
                                json={"approve": True})  # fmt: skip
    assert decided.status_code == 200, decided.text


async def _drain_all(registry: Registry, signer: Signer, documents: Documents) -> list[dict[str, object]]:
    """Publish what is approved, then work the whole queue (other tests may have queued rows)."""
    done = await signer_service.drain(registry, actor="signer:e", signer=signer, documents=documents)
    await signer_service.make_electronic(registry, documents)
    return done


async def test_the_signer_makes_and_remakes_the_electronic_certificate(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer, status_view: StatusView, chain: tuple[Documents, bytes],
) -> None:  # fmt: skip
    documents, root = chain
    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="张三丰")
    number = number_of(row)
    batch = await registry.import_batch(inst["code"], csv_bytes([row]), "e.csv", actor="t", max_bytes=MB)
    await approve(registry, batch.batch_id)

    # Publication by a signer holding the document key makes the signed copy, served on the QR path.
    done = await _drain_all(registry, signer, documents)
    assert any(d.get("batch_id") == batch.batch_id for d in done)
    first_path = await _path(registry, number)
    first = await _served(client, status_view, first_path)
    assert await asyncio.to_thread(_signed_ok, first, root)
    assert _subject(first) == f"{number}; photo sha256 none"  # no photo yet

    # A photo queues a remake: the new copy's signed record carries the photo's hash.
    await registry.add_photos(
        batch.batch_id, zip_of({f"{number}.jpg": jpeg((20, 120, 200))}), "p.zip", actor="t"
    )
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM electronic_queue WHERE number = $1 AND taken_at IS NULL", number
        )
        == 1
    )
    await signer_service.make_electronic(registry, documents)
    stored = await pool.fetchval("SELECT jpeg FROM certificate_photos WHERE number = $1", number)
    with_photo = await _served(client, status_view, first_path)
    assert with_photo != first and await asyncio.to_thread(_signed_ok, with_photo, root)
    assert _subject(with_photo) == f"{number}; photo sha256 {hashlib.sha256(stored).hexdigest()}"

    # A correction signs a new payload: until the signer remakes the copy, the new QR's path does
    # not serve the old name's signed PDF (it renders an unsigned one); after, the signed new one.
    await _correct(client, registry, inst["code"], number, "张三峰")
    await signer_service.drain(registry, actor="signer:e", signer=signer)  # a signer without the key
    new_path = await _path(registry, number)
    assert new_path != first_path
    interim = await _served(client, status_view, new_path)
    check = await asyncio.to_thread(pdf_signature.validate_pdf, interim, root)
    assert interim != with_photo and check.problem == "unsigned"
    await _drain_all(registry, signer, documents)  # nothing was queued by the keyless signer ...
    assert await _served(client, status_view, new_path) == interim
    await registry.queue_electronic([number])  # ... the keyed one queues its corrections itself
    await signer_service.make_electronic(registry, documents)
    remade = await _served(client, status_view, new_path)
    assert await asyncio.to_thread(_signed_ok, remade, root)
    text = "".join(pypdf.PdfReader(io.BytesIO(remade)).pages[0].extract_text().split())
    assert "张三峰" in text and "张三丰" not in text


async def test_a_correction_by_the_keyed_signer_is_queued_and_remade(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory,
    signer: Signer, status_view: StatusView, chain: tuple[Documents, bytes],
) -> None:  # fmt: skip
    documents, root = chain
    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="李四")
    number = number_of(row)
    batch = await registry.import_batch(inst["code"], csv_bytes([row]), "e.csv", actor="t", max_bytes=MB)
    await approve(registry, batch.batch_id)
    await _drain_all(registry, signer, documents)
    await _correct(client, registry, inst["code"], number, "李思")
    done = await _drain_all(registry, signer, documents)
    assert any(d.get("number") == number and d.get("version") == 2 for d in done)
    remade = await _served(client, status_view, await _path(registry, number))
    assert await asyncio.to_thread(_signed_ok, remade, root)
    assert "李思" in "".join(pypdf.PdfReader(io.BytesIO(remade)).pages[0].extract_text().split())


async def test_a_revoked_certificate_leaves_the_queue_unsigned(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer,
    chain: tuple[Documents, bytes],
) -> None:  # fmt: skip
    documents, _ = chain
    inst = await make_institution()
    rows = [Row(inst["code"], serial=i) for i in (1, 2)]
    batch = await registry.import_batch(inst["code"], csv_bytes(rows), "r.csv", actor="t", max_bytes=MB)
    await approve(registry, batch.batch_id)
    await signer_service.drain(registry, actor="signer:e", signer=signer)  # published, nothing made
    assert await registry.queue_electronic_batch(batch.batch_id) == 2
    revoked, kept = number_of(rows[0]), number_of(rows[1])
    await registry.certificate_event(
        CertificateEvent(revoked, "revoked", effective=date(2026, 11, 1), reason_category="fraud",
                         reason="第八条", decided_by="鉴定中心"),
        actor="t",
    )  # fmt: skip
    await signer_service.make_electronic(registry, documents)
    made = await pool.fetch(
        "SELECT number FROM electronic_certificates WHERE number = ANY($1)", [revoked, kept]
    )
    assert [r["number"] for r in made] == [kept]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM electronic_queue WHERE number = ANY($1) AND taken_at IS NULL",
            [revoked, kept],
        )
        == 0
    )
