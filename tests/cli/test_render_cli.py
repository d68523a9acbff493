"""``verify render``: one certificate to a file, a published batch to a directory on every core, a
certificate that cannot be rendered reported at the end without stopping the others."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import asyncpg
import pypdf
import pytest
import zxingcpp
from PIL import Image

from tests.cli.test_cli import cli_env  # noqa: F401 - the fixture
from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import publish_batch
from verify import cli
from verify.crypto.signing import Signer
from verify.services.registry import Registry

MB = 1 << 20


async def test_render_one_and_a_batch(
    cli_env: None,  # noqa: F811
    registry: Registry,
    make_institution: InstitutionFactory,
    signer: Signer,
    pool: asyncpg.Pool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inst = await make_institution()
    ids = [holder_id() for _ in range(4)]
    rows = [Row(inst["code"], serial=i, name="周𠮷", id_number=ids[i - 1]) for i in range(1, 5)]
    done = await registry.import_batch(inst["code"], csv_bytes(rows), "r.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, done.batch_id, signer=signer)
    first = number_of(rows[0])

    pdf = tmp_path / "one.pdf"
    argv = ["render", first, "--format", "pdf", "--out", str(pdf), "--reason", "print run"]
    assert await asyncio.to_thread(cli.main, argv) == 0
    text = "".join(pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text().split())
    assert first in text and ids[0] in text and "周𠮷" in text  # the print run: the ID in full
    png = tmp_path / "one.png"
    argv = ["render", first, "--format", "png", "--out", str(png), "--masked"]
    assert await asyncio.to_thread(cli.main, argv) == 0
    found = zxingcpp.read_barcodes(Image.open(png))
    assert len(found) == 1 and "/C/" in found[0].text

    # One certificate no font can print: the others are rendered and it is named at the end.
    await pool.execute(
        "UPDATE certificates SET holder_name = '周\U0010fffd' WHERE number = $1", number_of(rows[1])
    )
    out = tmp_path / "batch"
    argv = ["render", "--batch", done.batch_id, "--format", "both", "--out", str(out), "--workers", "2"]
    assert await asyncio.to_thread(cli.main, argv) == 1
    err = capsys.readouterr().err
    assert number_of(rows[1]) in err and "no font has" in err
    made = sorted(p.name for p in out.iterdir())
    expected = sorted(f"{number_of(r)}.{fmt}" for r in rows if r is not rows[1] for fmt in ("pdf", "png"))
    assert made == expected
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'certificates.print'") >= 2

    assert await asyncio.to_thread(cli.main, ["render", "--batch", "BNOSUCHBATCH", "--out", str(out)]) != 0
    assert await asyncio.to_thread(cli.main, ["render", first, "--format", "docx", "--out", str(pdf)]) != 0
