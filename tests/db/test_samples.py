"""The committed sample batches are current and import into the demo data."""

from __future__ import annotations

import asyncpg
import openpyxl

from tests import make_samples
from tests.conftest import TODAY
from tests.workflow import publish_batch
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer
from verify.services import demo
from verify.services.registry import Registry

MB = 1024 * 1024


def test_committed_samples_match_the_generator() -> None:
    assert (make_samples.DOCS / "sample-batch.csv").read_bytes() == make_samples.sample_csv()
    wb = openpyxl.load_workbook(make_samples.DOCS / "sample-batch.xlsx", read_only=True)
    ws = wb.worksheets[0]
    cells = [[("" if v is None else str(v)) for v in row] for row in ws.iter_rows(values_only=True)]
    assert cells == make_samples.sample_xlsx_rows()


async def test_samples_import_into_demo_data(
    registry: Registry, pool: asyncpg.Pool, protector: IdProtector, signer: Signer
) -> None:
    await demo.load(pool, protector, today=TODAY, signer=signer)
    for name in ("sample-batch.csv", "sample-batch.xlsx"):
        data = (make_samples.DOCS / name).read_bytes()
        result = await registry.import_batch(make_samples.INSTITUTION, data, name, actor="t", max_bytes=MB)
        assert result.rows == 5 and result.state in ("submitted", "published")
        await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    answer = await registry.lookup_by_number(f"{make_samples.INSTITUTION}264900001", "李娜")
    assert answer.found
