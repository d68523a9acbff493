"""``verify verify-batch`` against the test database, split into parts, and ``verify receipt check``
of the receipts it wrote, offline with the JWKS alone (rules 54, 60)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openpyxl
import pytest

from tests.cli.test_cli import cli_env  # noqa: F401 - the fixture
from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import account_token, publish_batch
from verify import cli
from verify.crypto.signing import Signer
from verify.services.registry import Registry

MB = 1 << 20


async def test_verify_batch_in_parts_and_check_each_receipt_offline(
    cli_env: None,  # noqa: F811
    registry: Registry,
    make_institution: InstitutionFactory,
    signer: Signer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=i, name="赵六") for i in range(1, 6)]
    done = await registry.import_batch(inst["code"], csv_bytes(rows), "c.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, done.batch_id, signer=signer)
    token = await account_token(registry, "verifier")
    source = tmp_path / "hires.csv"
    lines = ["证书编号,姓名,工号"] + [f"{number_of(r)},{r.name},E{i}" for i, r in enumerate(rows)]
    source.write_text("\n".join([*lines, f"{number_of(rows[0])},钱七,E9"]) + "\n", encoding="utf-8")
    out = tmp_path / "verdicts.xlsx"
    argv = ["verify-batch", str(source), "--out", str(out), "--token", token, "--part-rows", "4"]
    assert await asyncio.to_thread(cli.main, argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["parts"] == 2 and summary["counts"]["valid"] == 5
    assert summary["counts"]["not_found_or_mismatch"] == 1
    sheet = openpyxl.load_workbook(out).worksheets[0]
    verdicts = [row[2].value for row in sheet.iter_rows(min_row=2)]
    assert verdicts == ["valid"] * 5 + ["not_found_or_mismatch"]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(await registry.receipt_jwks()), encoding="utf-8")
    parts = [json.loads(line) for line in Path(summary["receipts"]).read_text(encoding="utf-8").splitlines()]  # noqa: ASYNC240
    for part in parts:
        receipt = tmp_path / "receipt.json"
        receipt.write_text(json.dumps(part["receipt"]), encoding="utf-8")
        assert cli.main(["receipt", "check", str(receipt), "--jwks", str(jwks)]) == 0
        assert json.loads(capsys.readouterr().out)["ok"] is True
    forged = {**parts[0]["receipt"], "account": "someone-else"}
    receipt.write_text(json.dumps(forged), encoding="utf-8")
    assert cli.main(["receipt", "check", str(receipt), "--jwks", str(jwks)]) == 1
    assert json.loads(capsys.readouterr().out)["reason"] == "bad_signature"
