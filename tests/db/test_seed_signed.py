"""`verify seed` signs what it publishes: every seeded certificate has its QR payload, verifies as
valid (domain and API), and the sample lines it writes for load generators are real data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, PASSPHRASE, TODAY
from verify import cli
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer, verify_signature
from verify.db import signatures
from verify.domain import payload
from verify.domain.verification import verify_path
from verify.services import seed
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.status_view import StatusView

SAMPLE_KEYS = {"number", "name", "id_type", "id_number", "qr_path", "institution"}


async def _unsigned_published(pool: asyncpg.Pool, tag: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM certificates c JOIN batches b ON b.id = c.batch_id"
        " LEFT JOIN certificate_signatures s ON s.number = c.number"
        " WHERE b.submitted_by = $1 AND b.state = 'published' AND s.number IS NULL",
        tag,
    )
    return count


def _segment(qr_path: str) -> str:
    prefix, _, text = qr_path.rpartition("/")
    assert prefix.lower() == "/c"
    return text


@pytest.mark.parametrize("workers", [None, 0])
async def test_seed_signs_every_certificate_and_they_verify(
    pool: asyncpg.Pool,
    protector: IdProtector,
    signer: Signer,
    status_view: StatusView,
    workers: int | None,
) -> None:
    tag = f"seedtest{workers}"
    report = await seed.seed(
        pool, protector, institutions=4, certificates=300, today=TODAY, rng_seed=3, tag=tag,
        chunk=70, signer=signer, sign_workers=workers, sample=25, public_url="https://verify.example.cn",
    )  # fmt: skip
    assert report.certificates == report.signed == 300 and report.kid == signer.kid
    assert await _unsigned_published(pool, tag) == 0
    assert len(report.sample) == 25 and len({s["number"] for s in report.sample}) == 25
    await status_view.refresh()
    for line in report.sample:
        assert set(line) == SAMPLE_KEYS
        assert line["qr_path"].startswith("/C/")
        stored = await signatures.qr_payload(pool, line["number"])
        assert stored is not None and payload.to_text(stored) == _segment(line["qr_path"])
        result = verify_path(
            _segment(line["qr_path"]), status_view.snapshot, fresh=status_view.fresh(),
            check_signature=verify_signature,
        )  # fmt: skip
        assert result.outcome == "valid", result.to_json()
        record, _, _ = payload.decode(stored)
        assert record.number == line["number"] and record.holder_name == line["name"]
        assert record.id_tail == line["id_number"][-4:] and record.kid == signer.kid


async def test_seed_without_signer_cannot_sample(pool: asyncpg.Pool, protector: IdProtector) -> None:
    with pytest.raises(ValueError):
        await seed.seed(pool, protector, institutions=1, certificates=5, today=TODAY, sample=1)


async def test_sample_lines_verify_and_look_up_over_http(
    pool: asyncpg.Pool,
    protector: IdProtector,
    signer: Signer,
    status_view: StatusView,
    client: httpx.AsyncClient,
) -> None:
    report = await seed.seed(
        pool, protector, institutions=3, certificates=120, today=TODAY, rng_seed=5, tag="seedhttp",
        signer=signer, sample=3,
    )  # fmt: skip
    await status_view.refresh()
    for line in report.sample:
        segment = _segment(line["qr_path"])
        r = await client.get(f"/api/v1/verify/{segment}")
        assert r.status_code == 200 and r.json()["outcome"] == "valid"
        r = await client.get(line["qr_path"], headers={"accept": "application/json"})
        assert r.json()["outcome"] == "valid"
        r = await client.post("/api/v1/lookup", json={"number": line["number"], "name": line["name"]})
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["found"] and found["certificates"][0]["number"] == line["number"]
        r = await client.post(
            "/api/v1/lookup",
            json={"id_number": line["id_number"], "id_type": line["id_type"], "name": line["name"]},
        )
        assert r.status_code == 200, r.text
        assert line["number"] in {c["number"] for c in r.json()["certificates"]}


async def test_cli_seed_writes_a_sample_file(
    monkeypatch: pytest.MonkeyPatch,
    test_dsn: str,
    tmp_path: Path,
    keyring: Keyring,
    signer: Signer,
    registry: Registry,
    status_view: StatusView,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VERIFY_DATABASE_URL", test_dsn)
    monkeypatch.setenv("VERIFY_SIGNING_KEYS_DIR", str(keyring.private_dir))
    monkeypatch.setenv("VERIFY_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("VERIFY_PUBLIC_KEYS_DIR", str(tmp_path / "public-keys"))
    monkeypatch.setenv("VERIFY_HOME", str(tmp_path))
    monkeypatch.setenv("VERIFY_ID_INDEX_KEY", INDEX_KEY.hex())
    monkeypatch.setenv("VERIFY_ID_ENC_KEY", ENC_KEY.hex())
    out = tmp_path / "sample.jsonl"
    args = ["seed", "--institutions", "2", "--certificates", "50", "--sample-out", str(out), "--sample", "4"]
    assert await asyncio.to_thread(cli.main, args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["certificates"] == summary["signed"] == 50 and summary["sample"] == 4
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 and all(set(x) == SAMPLE_KEYS for x in lines)
    await status_view.refresh()
    for line in lines:
        answer = await registry.lookup_by_number(line["number"], line["name"])
        assert answer.found
        result = verify_path(
            _segment(line["qr_path"]), status_view.snapshot, fresh=True, check_signature=verify_signature
        )
        assert result.outcome == "valid"
    # a sample needs signed certificates: --unpublished with --sample-out is a usage error
    with pytest.raises(SystemExit) as exc:
        cli.main(["seed", "--unpublished", "--sample-out", str(out)])
    assert exc.value.code == 2
