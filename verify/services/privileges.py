"""``verify serve`` started as root gives up root before any request is served (docs/SECURITY.md §1.7).

The web workers face the internet, so they run as the system user ``verify-web``, which can read
what serving needs (the code, web/, public keys, the ID keys and receipt key files through its group) and nothing
that signs: the signing-key directory and the development passphrase stay root-only (0700/0600).
Like the embedded PostgreSQL's ``verify-pg``, the user is created on first use.
"""

from __future__ import annotations

import grp
import os
import subprocess
import sys
from pathlib import Path

from verify.config import Settings
from verify.db.cluster import SERVER_USER, SystemUser, ensure_system_user

WEB_USER = "verify-web"


def drop_to_web_user(settings: Settings) -> SystemUser | None:
    """When running as root, switch this process (and the workers it will start) to ``verify-web``;
    returns that user, or None when not root. Raises ConfigError when the user cannot be created."""
    if os.geteuid() != 0:
        return None
    user = ensure_system_user(
        WEB_USER, "verify web workers", ("网页进程不应以 root 运行", "web workers must not run as root")
    )
    if settings.id_index_key is None or settings.id_enc_key is None:
        _share_with_group(settings.id_keys_file, user.gid)
    # The receipt key signs nothing but receipts, so the web workers may read it (D59).
    if settings.receipt_key is None:
        _share_with_group(settings.receipt_key_file, user.gid)
    # The embedded PostgreSQL's group lets the workers reach its socket (verify.db.cluster).
    try:
        groups = [grp.getgrnam(SERVER_USER).gr_gid]
    except KeyError:
        groups = []
    if not runs_as(user, groups):
        print(
            f"警告：{WEB_USER} 无法运行 {sys.executable}（解释器或代码在其不可读的目录中，如 /root），"
            f"网页进程仍以 root 运行；请使用系统 Python 或以普通用户运行\n"
            f"warning: {WEB_USER} cannot run {sys.executable} (the interpreter or the code lives where it "
            "cannot read, such as /root), so the web workers stay root; use a system-wide Python or run "
            "as a normal user",
            file=sys.stderr,
        )
        return None
    os.setgroups(groups)
    os.setgid(user.gid)
    os.setuid(user.uid)  # last: after it nothing can be taken back
    return user


def runs_as(user: SystemUser, groups: list[int]) -> bool:
    """Whether ``user`` can start this interpreter and import the web app (workers are spawned
    afresh, so they need the interpreter, the standard library and the code to be readable)."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import multiprocessing.popen_spawn_posix, verify.http.asgi"],
            user=user.uid, group=user.gid, extra_groups=groups, cwd="/", capture_output=True, check=False,
        )  # fmt: skip
    except OSError:  # the interpreter itself cannot be executed by the user
        return False
    return probe.returncode == 0


def _share_with_group(path: Path, gid: int) -> None:
    # Group read on the file and group traverse on its directory: the directory's other files
    # (the development signing passphrase, 0600) stay unreadable to the group.
    if path.exists():
        os.chown(path, 0, gid)
        os.chmod(path, 0o640)
        os.chown(path.parent, 0, gid)
        os.chmod(path.parent, 0o710)  # noqa: S103 - group traverse only, no read
