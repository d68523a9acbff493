"""Cleanup for tests that start PostgreSQL clusters of their own: a failed test must not leave
servers behind."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from verify.db.cluster import EmbeddedCluster

HAS_PROC = Path("/proc/self/fd").is_dir()


def pids_in(data_dir: Path) -> list[int]:
    """Every live process whose cwd is the data directory: the postmaster and all its children."""
    if not HAS_PROC:
        return []
    target = data_dir.resolve()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if Path(os.readlink(entry / "cwd")) == target:
                    pids.append(int(entry.name))
    return pids


def force_stop(cluster: EmbeddedCluster) -> None:
    """Stop the cluster (best effort), then SIGKILL whatever of it is left."""
    with contextlib.suppress(Exception):
        cluster.stop("fast", timeout=20)
    for pid in pids_in(cluster.data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
