"""Printable certificates of real published certificates: every demo certificate rendered and its
QR read back with zxing-cpp, the holder's two ways in (the QR URL and a lookup answer's link), the
print run's full ID against the public copy's mask."""

from __future__ import annotations

import io
import zipfile

import asyncpg
import httpx
import pypdf
import pytest
import zxingcpp
from PIL import Image

from tests.conftest import TODAY, InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import account_token, publish_batch
from verify.config import Settings
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer, verify_signature
from verify.domain import payload
from verify.domain.verification import verify_path
from verify.render import certificate
from verify.services import demo
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _scan(image: Image.Image) -> str:
    found = zxingcpp.read_barcodes(image, formats=QR_ONLY)
    assert len(found) == 1
    return str(found[0].text)


async def _publish(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer, **row: str
) -> str:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1, id_number=holder_id(), **row)]  # type: ignore[arg-type]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "r.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return number_of(rows[0])


@pytest.mark.slow
async def test_every_demo_certificate_renders_and_its_qr_verifies(
    registry: Registry, pool: asyncpg.Pool, protector: IdProtector, signer: Signer,
    status_view: StatusView, settings: Settings,
) -> None:  # fmt: skip
    await demo.load(pool, protector, today=TODAY, signer=signer)
    await status_view.refresh()
    listed = await demo.certificates(pool, protector)
    numbers = [c["number"] for c in listed]
    pages = await registry.printed_pages(numbers, public_url=settings.public_url, channels=settings.channels)
    assert [p.number for p in pages] == numbers  # every demo certificate is published and signed
    outcomes: dict[str, int] = {}
    for page in pages:
        assert certificate.render(page, "pdf").startswith(b"%PDF-")
        phone_png = Image.open(io.BytesIO(certificate.render(page, "png", dpi=certificate.PHONE_DPI)))
        text = _scan(phone_png)
        assert text == page.qr_url
        answer = verify_path(
            text.rsplit("/", 1)[1], status_view.snapshot, fresh=True, check_signature=verify_signature
        )
        assert answer.checks["signature"] == "ok" and answer.certificate is not None
        assert answer.certificate["number"] == page.number
        outcomes[answer.outcome] = outcomes.get(answer.outcome, 0) + 1
    assert outcomes["valid"] > 200, outcomes  # the demo's revoked, superseded ... verify as themselves
    # The print at 300 dpi, then as a phone camera sees it: downscaled and turned a little.
    for page in pages[:: len(pages) // 6]:
        image: Image.Image = Image.open(io.BytesIO(certificate.render(page, "png"))).convert("L")
        assert _scan(image) == page.qr_url
        phone = image.resize((1600, round(1600 * image.height / image.width)), Image.Resampling.BILINEAR)
        for angle in (-4, 3):
            assert _scan(phone.rotate(angle, expand=True, fillcolor=255)) == page.qr_url


async def test_print_run_prints_the_id_in_full_and_the_public_copy_masks(
    registry: Registry,
    make_institution: InstitutionFactory,
    signer: Signer,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    number = await _publish(registry, make_institution, signer, name="欧阳𠮷")
    full = await registry.printed_pages([number], public_url=settings.public_url, channels=settings.channels,
                                        full_id=True, actor="t", reason="print run")  # fmt: skip
    public = await registry.printed_page(number, public_url=settings.public_url, channels=settings.channels)
    id_full = {f.label_en: f.value for f in full[0].fields}["ID No."]
    id_masked = {f.label_en: f.value for f in public.fields}["ID No."]
    assert id_masked.startswith("*") and id_masked[-4:] == id_full[-4:] and "*" not in id_full
    text = "".join(
        pypdf.PdfReader(io.BytesIO(certificate.render(public, "pdf"))).pages[0].extract_text().split()
    )
    assert id_masked in text and id_full not in text and "欧阳𠮷" in text
    # the full ID is a non-public read: audited (rule 60)
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'certificates.print'") >= 1


async def test_the_qr_url_offers_the_certificate_of_a_valid_certificate_only(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer,
    status_view: StatusView, settings: Settings,
) -> None:  # fmt: skip
    number = await _publish(registry, make_institution, signer)
    signed = await registry.qr_payload(number)
    await status_view.refresh()
    path = f"/c/{payload.to_text(signed)}/certificate"
    r = await client.get(f"{path}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert _scan(Image.open(io.BytesIO(r.content))) == payload.qr_url(settings.public_url, signed)
    r = await client.get(f"{path}.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF-") and number in pypdf_text(r.content)
    assert (await client.get(f"{path}.docx")).status_code == 404
    forged = bytearray(signed)
    forged[-1] ^= 1
    assert (await client.get(f"/c/{payload.to_text(bytes(forged))}/certificate.png")).status_code == 404
    assert (await client.get("/c/NOTAPAYLOAD/certificate.pdf")).status_code in (400, 404)


def pypdf_text(data: bytes) -> str:
    return "".join(pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text().split())


async def test_a_lookup_answer_links_the_certificate_files(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    number = await _publish(registry, make_institution, signer, name="李四")
    r = await client.post("/api/v1/lookup", json={"number": number, "name": "李四"})
    assert r.status_code == 200
    links = r.json()["certificates"][0]["certificate_files"]
    pdf = await client.get(links["pdf"])
    assert pdf.status_code == 200 and number in pypdf_text(pdf.content)
    assert "**************" in pypdf_text(pdf.content)  # masked on every public copy
    png = await client.get(links["png"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    tampered = links["pdf"].replace("t=", "t=x")
    assert (await client.get(tampered)).status_code == 403


async def test_an_institution_downloads_the_print_run_of_its_own_published_batch(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    inst, other = await make_institution(), await make_institution()
    ids = [holder_id(), holder_id()]
    rows = [Row(inst["code"], serial=i, name="钱𠮷", id_number=ids[i - 1]) for i in (1, 2)]
    done = await registry.import_batch(inst["code"], csv_bytes(rows), "z.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, done.batch_id, signer=signer, actor="t")
    # One certificate no font can print: it is named inside the archive, the other is there.
    await pool.execute(
        "UPDATE certificates SET holder_name = '钱\U0010fffd' WHERE number = $1", number_of(rows[1])
    )
    own = await account_token(registry, "institution", institution=inst["code"])
    path = f"/api/v1/batches/{done.batch_id}/certificates.zip"
    r = await client.get(path, headers={"Authorization": f"Bearer {own}"})
    assert r.status_code == 200 and r.headers["x-parts"] == "1", r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert sorted(archive.namelist()) == sorted([f"{number_of(rows[0])}.pdf", "not-rendered.txt"])
        assert number_of(rows[1]) in archive.read("not-rendered.txt").decode()
        assert ids[0] in pypdf_text(archive.read(f"{number_of(rows[0])}.pdf"))  # the print run: ID in full
    assert (await client.get(f"{path}?part=1", headers={"Authorization": f"Bearer {own}"})).status_code == 404
    stranger = await account_token(registry, "institution", institution=other["code"])
    assert (await client.get(path, headers={"Authorization": f"Bearer {stranger}"})).status_code == 404
    reviewer = await account_token(registry, "reviewer", jurisdiction=inst["code"][5:9])
    assert (await client.get(path, headers={"Authorization": f"Bearer {reviewer}"})).status_code == 403
    assert (await client.get(path)).status_code == 401
