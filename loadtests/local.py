"""What the benchmarks, drills and tests share about the local machine and the docs they write:
a free loopback port, stopping a server they started, and the marked section of a document that a
run rewrites."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """Stop a server started for a run: SIGTERM (a graceful shutdown), then SIGKILL after
    ``timeout`` seconds; returns once it has exited."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def update_marked_section(path: Path, start: str, end: str, title: str, body: str) -> None:
    """Replace the text between the ``start`` and ``end`` markers of ``path`` with ``body``; when the
    markers are absent, add ``title`` and the marked body at the end of the file."""
    text = path.read_text(encoding="utf-8")
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text and text.index(start) < text.index(end):
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{title}\n\n{block}\n"
    path.write_text(text, encoding="utf-8")
