"""Holder photos and the signed electronic certificate, through the CLI the signer runs and the
QR path the web serves: photos all or none, the PAdES signature valid against the published root
and broken by a one-byte change, the photo's hash inside what is signed."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import asyncpg
import httpx
import pypdf
import pytest
from PIL import Image

from tests.cli.test_cli import cli_env  # noqa: F401 - the fixture
from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, jpeg, number_of, zip_of
from tests.workflow import approve, publish_batch
from verify import cli
from verify.config import Settings
from verify.crypto.signing import Signer
from verify.domain import payload
from verify.services import electronic
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20


async def test_photos_and_the_signed_electronic_certificate(
    cli_env: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    registry: Registry,
    make_institution: InstitutionFactory,
    signer: Signer,
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    status_view: StatusView,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    keyring: Keyring,
) -> None:
    # The signer's machine holds both keys; a copy of the suite's keys keeps the document key out of
    # the directory other tests share.
    shutil.copytree(keyring.private_dir, tmp_path / "document-keys")
    monkeypatch.setenv("VERIFY_SIGNING_KEYS_DIR", str(tmp_path / "document-keys"))
    inst = await make_institution()
    ids = [holder_id(), holder_id()]
    rows = [Row(inst["code"], serial=i, name="吴𠮷", id_number=ids[i - 1]) for i in (1, 2)]
    done = await registry.import_batch(inst["code"], csv_bytes(rows), "e.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, done.batch_id, signer=signer)
    first, second = number_of(rows[0]), number_of(rows[1])

    # A bad archive stores nothing: one photo is a GIF named .jpg, one names no certificate.
    gif = io.BytesIO()
    Image.new("RGB", (300, 420)).save(gif, format="GIF")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(
        zip_of(
            {
                f"{first}.jpg": jpeg((200, 10, 10)),
                f"{second}.jpg": gif.getvalue(),
                "nobody.png": jpeg((0, 0, 0)),
            }
        )
    )
    assert await asyncio.to_thread(cli.main, ["photos", "add", done.batch_id, str(bad)]) != 0
    answer = json.loads(capsys.readouterr().err)
    assert answer["error"] == "invalid_photo"
    assert {p["code"] for p in answer["problems"]} == {"photo_not_jpeg_or_png", "photo_no_certificate"}
    assert (
        await pool.fetchval("SELECT count(*) FROM certificate_photos WHERE number = ANY($1)", [first, second])
        == 0
    )

    # A good one: one photo named by certificate number, one by ID number.
    good = tmp_path / "photos.zip"
    good.write_bytes(
        zip_of({f"photos/{first}.jpg": jpeg((200, 10, 10)), f"{ids[1]}.PNG": jpeg((10, 10, 200))})
    )
    assert await asyncio.to_thread(cli.main, ["photos", "add", done.batch_id, str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == {"photos": 2}
    stored = await pool.fetchval("SELECT jpeg FROM certificate_photos WHERE number = $1", first)
    photo_sha = hashlib.sha256(stored).hexdigest()

    # The signer's chain, then the electronic certificate, stored for the web.
    assert (
        await asyncio.to_thread(
            cli.main, ["keys", "document", "--organisation", "河南省职业技能鉴定指导中心"]
        )
        == 0
    )
    capsys.readouterr()
    out = tmp_path / "e.pdf"
    argv = ["render", first, "--electronic", "--store", "--out", str(out)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    signed = out.read_bytes()
    settings = Settings.from_env(os.environ)
    check = await asyncio.to_thread(electronic.check, signed, settings)
    assert check.ok and check.intact and check.trusted and check.whole_file, check
    info = pypdf.PdfReader(io.BytesIO(signed)).metadata
    assert info is not None and info.subject == f"{first}; photo sha256 {photo_sha}"  # signed with it
    text = "".join(pypdf.PdfReader(io.BytesIO(signed)).pages[0].extract_text().split())
    assert ids[0] not in text and ids[0][-4:] in text  # the electronic copy masks the ID
    tampered = bytearray(signed)
    at = signed.index(b"/Subject")
    tampered[at + 12] ^= 1
    assert not (await asyncio.to_thread(electronic.check, bytes(tampered), settings)).ok

    # The QR's path serves exactly the signed bytes; the web workers never sign.
    await status_view.refresh()
    path = payload.to_text(await registry.qr_payload(first))
    r = await client.get(f"/c/{path}/certificate.pdf")
    assert r.status_code == 200 and r.content == signed
    # A second chain is refused, not overwritten.
    assert await asyncio.to_thread(cli.main, ["keys", "document"]) != 0

    # With the document key on its machine, `verify signer run --once` publishes and makes the
    # signed copies of what it published, served on each QR's path.
    third = Row(inst["code"], serial=3, name="郑喆", id_number=holder_id())
    later = await registry.import_batch(inst["code"], csv_bytes([third]), "f.csv", actor="t", max_bytes=MB)
    await approve(registry, later.batch_id)
    assert await asyncio.to_thread(cli.main, ["signer", "run", "--once"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert later.batch_id in {d.get("batch_id") for d in done}
    assert any(d.get("electronic_certificates", 0) >= 1 for d in done)
    await status_view.refresh()
    r = await client.get(f"/c/{payload.to_text(await registry.qr_payload(number_of(third)))}/certificate.pdf")
    check = await asyncio.to_thread(electronic.check, r.content, settings)
    assert r.status_code == 200 and check.ok and check.trusted, check
