"""Holder photos over the API: POST /api/v1/batches/{id}/photos by the institution for its own
published batch, a ZIP as the raw body or the multipart field ``file``; files named by number or
by a photo list; all or none; another institution's batch is not found, a reviewer may not."""

from __future__ import annotations

import io
import os

import asyncpg
import httpx
from PIL import Image

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, jpeg, number_of, zip_of
from tests.workflow import account_token, institution_token, publish_batch
from verify.crypto.signing import Signer
from verify.services.registry import Registry

MB = 1 << 20


def _noise_jpeg() -> bytes:
    """Incompressible: an archive far over the 4 KB limit of ordinary request bodies."""
    out = io.BytesIO()
    Image.frombytes("RGB", (700, 980), os.urandom(700 * 980 * 3)).save(out, format="JPEG", quality=95)
    return out.getvalue()


async def test_an_institution_uploads_the_photos_of_its_published_batch(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    inst, other = await make_institution(), await make_institution()
    ids = [holder_id(), holder_id()]
    rows = [Row(inst["code"], serial=i, id_number=ids[i - 1]) for i in (1, 2)]
    # The result batch with a 照片文件 column: the batch reader ignores it, the photo upload reads it.
    lines = csv_bytes(rows).decode().splitlines()
    batch_file = "\n".join(
        [f"{lines[0]},照片文件", f"{lines[1]},IMG_0001.JPG", f"{lines[2]},IMG_0002.JPG", ""]
    ).encode()
    done = await registry.import_batch(inst["code"], batch_file, "p.csv", actor="t", max_bytes=MB)
    first, second = number_of(rows[0]), number_of(rows[1])
    own = {"authorization": f"Bearer {await institution_token(registry, inst['code'])}"}
    url = f"/api/v1/batches/{done.batch_id}/photos"
    photo = zip_of({f"{first}.jpg": jpeg()})

    early = await client.post(url, content=photo, headers=own)
    assert early.status_code == 409 and early.json()["error"] == "invalid_transition"  # not published yet
    await publish_batch(registry, done.batch_id, signer=signer)

    # Not for another institution (as if there were no such batch) nor for a reviewer.
    theirs = {"authorization": f"Bearer {await institution_token(registry, other['code'])}"}
    assert (await client.post(url, content=photo, headers=theirs)).status_code == 404
    reviewer = {"authorization": f"Bearer {await account_token(registry, 'reviewer', jurisdiction='41')}"}
    assert (await client.post(url, content=photo, headers=reviewer)).status_code == 403
    assert (await client.post(url, content=photo)).status_code == 401

    # All or none: one good photo, one listed file missing, nothing kept.
    listing = f"证件号码,照片文件\n{ids[1]},IMG_0002.JPG\n{ids[0]},IMG_0009.JPG\n".encode()
    bad = await client.post(url, content=zip_of({"list.csv": listing, "img_0002.jpg": jpeg()}), headers=own)
    assert bad.status_code == 400, bad.text
    assert {p["code"] for p in bad.json()["problems"]} == {"photo_list_missing_file"}
    assert (
        await pool.fetchval("SELECT count(*) FROM certificate_photos WHERE number = ANY($1)", [first, second])
        == 0
    )

    # A multipart upload larger than an ordinary body, the batch file itself as the photo list.
    archive = zip_of({"img_0001.jpg": _noise_jpeg(), "批次.csv": batch_file,
                    "img_0002.jpg": jpeg()})  # fmt: skip
    assert len(archive) > 64 * 1024
    ok = await client.post(url, files={"file": ("photos.zip", archive, "application/zip")}, headers=own)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"photos": 2}
    kept = await pool.fetch("SELECT number FROM certificate_photos WHERE number = ANY($1)", [first, second])
    assert {r["number"] for r in kept} == {first, second}
    queued = await pool.fetchval(
        "SELECT count(*) FROM electronic_queue WHERE number = ANY($1) AND taken_at IS NULL", [first, second]
    )
    assert queued == 2  # the signer remakes their electronic certificates with the photos
