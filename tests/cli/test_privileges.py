"""``verify serve`` started as root serves as ``verify-web``, which cannot read the signing keys
(issue: the web process can read the signing key). Runs the real server; root only."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.drills import children
from loadtests.local import free_port
from tests.conftest import ENC_KEY, INDEX_KEY, RECEIPT_SEED
from verify.db.cluster import SERVER_USER, ensure_system_user
from verify.services.privileges import WEB_USER, runs_as

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop happens only when started as root"),
]


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])  # effective
    raise AssertionError(f"no Uid line for {pid}")


@pytest.fixture
def home() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="verify-priv-", dir="/tmp"))
    os.chmod(base, 0o755)  # noqa: S103 - as a deployment's VERIFY_HOME: traversable, its secrets are not
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=False)


def test_serve_as_root_drops_to_the_web_user_who_cannot_read_signing_keys(home: Path, test_dsn: str) -> None:
    web_user = ensure_system_user(WEB_USER, "verify web workers", ("", ""))
    import grp

    if not runs_as(web_user, [grp.getgrnam(SERVER_USER).gr_gid]):
        pytest.skip(
            f"{WEB_USER} cannot run {sys.executable} here (an interpreter under /root): serve warns and stays root"
        )
    # What `make run` leaves behind as root: an encrypted signing key (0600 in a 0700 directory),
    # the development passphrase (0600) and the ID keys file, all root's.
    keys_dir = home / "signing-keys"
    keys_dir.mkdir(mode=0o700)
    signing_key = keys_dir / "ed25519-test.json"
    signing_key.write_text("{}")
    os.chmod(signing_key, 0o600)
    secrets = home / "secrets"
    secrets.mkdir(mode=0o700)
    passphrase = secrets / "dev-signing-passphrase"
    passphrase.write_text("not for the web")
    os.chmod(passphrase, 0o600)
    port = free_port()
    env = {
        **os.environ,
        "VERIFY_DATABASE_URL": test_dsn,
        "VERIFY_HOME": str(home),
        "VERIFY_ID_INDEX_KEY": INDEX_KEY.hex(),
        "VERIFY_RECEIPT_KEY": RECEIPT_SEED.hex(),
        "VERIFY_ID_ENC_KEY": ENC_KEY.hex(),
        "VERIFY_SIGNING_KEYS_DIR": str(keys_dir),
        "VERIFY_LOG_LEVEL": "warning",
    }
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "verify", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (home / "server.log").read_text()
            assert time.monotonic() < deadline, (home / "server.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        web = pwd.getpwnam(WEB_USER)
        serving = [proc.pid, *children(proc.pid)]
        assert len(serving) >= 3  # the supervisor and two workers
        assert {_uid(pid) for pid in serving} == {web.pw_uid}
        # As that user: the signing key and the passphrase cannot be opened.
        probe = "import sys\ntry:\n open(sys.argv[1]).read()\nexcept PermissionError:\n sys.exit(13)\n"
        for secret in (signing_key, passphrase):
            r = subprocess.run(
                [sys.executable, "-c", probe, str(secret)], user=web.pw_uid, group=web.pw_gid,
                extra_groups=[], check=False,
            )  # fmt: skip
            assert r.returncode == 13, secret
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
