"""The process pool for CPU-bound row work: batch-import row checks (``import_worker``) and the
signature checks of batch verification's QR rows (``qr_worker``).

One pool per process, started on first use with "forkserver": the web process may run threads, and
a fork of a threaded process is unsafe. Both users send plain tuples and strings and get compact
answers back, because pickling objects cost more than the work (DECISIONS D10, D62).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys

WORKERS = max(1, os.cpu_count() or 1)

_POOL: concurrent.futures.ProcessPoolExecutor | None = None


def checker_pool() -> concurrent.futures.ProcessPoolExecutor:
    """This process's pool of ``WORKERS`` checker processes, started on first use and again after a
    checker process died (the executor then refuses all work: a pool that stayed broken would fail
    every later batch of the worker). Raises nothing itself; work on a pool whose process dies
    raises BrokenProcessPool."""
    global _POOL
    if _POOL is not None and getattr(_POOL, "_broken", False):
        _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None
    if _POOL is None:
        context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
        _POOL = concurrent.futures.ProcessPoolExecutor(max_workers=WORKERS, mp_context=context)
    return _POOL


def shutdown_checkers(*, wait: bool = True) -> None:
    """Stop the checker processes, if any were started (at app or command exit). ``wait=False``
    (an interrupt) kills checks in progress instead of letting them finish."""
    global _POOL
    if _POOL is not None:
        pool, _POOL = _POOL, None
        if wait:
            pool.shutdown(wait=True, cancel_futures=True)
            return
        # The executor has no public way to stop a running task; its worker processes do. Joining
        # the executor after that can deadlock on some 3.11 releases, so only the processes are joined.
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
