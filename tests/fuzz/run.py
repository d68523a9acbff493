"""Run the fuzz targets for a bounded time: ``python -m tests.fuzz.run <target|all> --seconds N``.

Each target runs in its own subprocess (``atheris.Fuzz`` never returns): under atheris (libFuzzer,
coverage-guided) when it is importable, otherwise under hypothesis for the same wall time. The
atheris run starts from ``tests/fuzz/corpus/<target>/`` and, unless it stopped at a crash, merges
what it found back into that folder (``-merge=1``: only inputs that add coverage, smallest first,
at most ``CORPUS_CAP`` files per target). A crashing input is saved as
``tests/fuzz/crashes/<target>-…`` (with a ``.txt`` holding the input as a bytes literal and the
traceback), one report per distinct bug is printed, and the command exits 1.

    python -m tests.fuzz.run all --seconds 60            # every target, one after the other
    python -m tests.fuzz.run all --seconds 600 --jobs 2 --keep-going   # 2 at a time, past crashes
    python -m tests.fuzz.run codes --seconds 600 --runner hypothesis
    python -m tests.fuzz.run payload --replay tests/fuzz/crashes/payload-crash-<sha1>
    python -m tests.fuzz.run all --replay-corpus         # what tests/unit/test_fuzz_corpus.py does

Declared errors are caught inside the targets (tests/fuzz/targets.py); ``run_input`` therefore
classifies every exception that reaches it, including ``InvariantViolation``, as a crash.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"

# Files per target in the committed corpus (seeds included): 8 targets stay under 300 files.
CORPUS_CAP = 36
# libFuzzer flags: an input slower than this is a crash ("timeout-…"), as is a process over the RSS limit.
PER_INPUT_TIMEOUT = 10
RSS_LIMIT_MB = 2048
# Modules atheris instruments for coverage (the stdlib parsers the targets lean on included).
INSTRUMENT = ("verify",)
INSTRUMENT_XLSX = ("verify", "openpyxl", "et_xmlfile", "zipfile")


@dataclass(frozen=True)
class Crash:
    """An input that made a target raise something it does not declare (or break an invariant)."""

    target: str
    data: bytes
    error: str  # "KeyError: 'boom'"
    traceback: str

    @property
    def name(self) -> str:
        return f"{self.target}-crash-{hashlib.sha1(self.data).hexdigest()}"  # noqa: S324 -- a file name


@dataclass
class Result:
    target: str
    runner: str
    executions: int = 0
    seconds: float = 0.0
    crashes: int = 0
    new_corpus: int = 0
    saved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _targets() -> dict[str, Callable[[bytes], None]]:
    # Imported on demand: the atheris child must import the verify modules under instrumentation.
    from tests.fuzz.targets import TARGETS

    return dict(TARGETS)


def run_input(target: str, data: bytes, fn: Callable[[bytes], None] | None = None) -> Crash | None:
    """Run one input; ``None`` if the target returned, else the ``Crash``.

    The targets catch their parsers' declared errors themselves, so whatever escapes is a crash:
    an undeclared exception type, an ``InvariantViolation``, a ``RecursionError``.
    """
    target_fn = fn if fn is not None else _targets()[target]
    try:
        target_fn(data)
    except Exception as exc:
        return Crash(target, bytes(data), f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return None


def save_crash(crash: Crash, folder: Path = CRASHES) -> Path:
    """Write the input (and a ``.txt`` with repr and traceback); returns the input's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / crash.name
    path.write_bytes(crash.data)
    path.with_name(path.name + ".txt").write_text(describe(crash), encoding="utf-8")
    return path


def describe(crash: Crash, limit: int = 4000) -> str:
    """Target, error, the input as a bytes literal (cut at ``limit`` bytes) and the traceback."""
    shown = repr(crash.data[:limit]) + (f" … ({len(crash.data)} bytes)" if len(crash.data) > limit else "")
    return f"target: {crash.target}\nerror: {crash.error}\ninput: {shown}\n\n{crash.traceback}"


def signature(crash: Crash) -> str:
    """Error type and innermost frame: crashes with one signature are (almost always) one bug."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', crash.traceback)
    where = f"{Path(frames[-1][0]).name}:{frames[-1][1]}" if frames else "?"
    return f"{crash.error.split(':')[0]} at {where}"


# A crashing input committed to the corpus before its bug is fixed (tests/unit/test_fuzz_corpus.py
# expects it to crash until then). The fuzzers do not start from it, or every run would stop there.
KNOWN_CRASH_PREFIX = "known-crash-"


def corpus_files(target: str, *, known_crashes: bool = True) -> list[Path]:
    """The committed corpus of ``target``, sorted; hidden files (.gitignore) are not inputs."""
    folder = CORPUS / target
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and (known_crashes or not p.name.startswith(KNOWN_CRASH_PREFIX))
    )


def replay(target: str, paths: Sequence[Path] | None = None) -> list[Crash]:
    fn = _targets()[target]
    crashes = []
    for path in paths if paths is not None else corpus_files(target):
        crash = run_input(target, path.read_bytes(), fn)
        if crash is not None:
            crashes.append(crash)
    return crashes


def atheris_available() -> bool:
    return importlib.util.find_spec("atheris") is not None


# ---------------------------------------------------------------------------------------------------
# atheris (libFuzzer) runner


def _atheris_child(target: str, libfuzzer_args: list[str]) -> None:
    """In the subprocess: instrument the parsers, then hand over to libFuzzer (never returns)."""
    atheris: Any = importlib.import_module("atheris")
    atheris.enabled_hooks.add("RegEx")  # libFuzzer learns the strings regexes and str methods compare with
    atheris.enabled_hooks.add("str")
    wanted = INSTRUMENT_XLSX if target == "batch_xlsx" else INSTRUMENT
    include = [m for m in wanted if m == "verify" or m not in sys.modules]  # zipfile may be loaded already
    with atheris.instrument_imports(include=include):
        targets = importlib.import_module("tests.fuzz.targets")
        if target == "batch_xlsx":
            importlib.import_module("openpyxl")  # batchfile imports it lazily, outside this block otherwise
    # libFuzzer re-runs argv[0] through the shell for -merge=1 (and -fork), so argv[0] is this command.
    argv0 = shlex.join(_child_cmd("_atheris", target, []))
    atheris.Setup([argv0, *libfuzzer_args], targets.TARGETS[target])
    atheris.Fuzz()


def _child_cmd(mode: str, target: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "tests.fuzz.run", mode, target, *args]


def _libfuzzer_flags(target: str) -> list[str]:
    from tests.fuzz.targets import MAX_LEN

    return [f"-max_len={MAX_LEN[target]}", f"-timeout={PER_INPUT_TIMEOUT}", f"-rss_limit_mb={RSS_LIMIT_MB}"]


def _run_logged(cmd: list[str], log: Path, timeout: float) -> int:
    with log.open("wb") as out:
        try:
            return subprocess.run(
                cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            return -1


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 -- libFuzzer's own file naming


# What the runner names the inputs it keeps (libFuzzer's SHA-1 names); ``seed-*`` files are never touched.
_FOUND = re.compile(r"[0-9a-f]{40}")


def _merge_into_corpus(target: str, work: Path, scratch: Path, result: Result) -> None:
    """Refresh the found inputs of the committed corpus with ``-merge=1``.

    The seeds go first and count as covered; from the previously kept inputs and this run's finds,
    libFuzzer keeps (smallest first) only those that add coverage beyond them. At most
    ``CORPUS_CAP`` files stay per target; kept inputs that no longer add anything are dropped.
    """
    corpus = CORPUS / target
    found = [p for p in corpus_files(target) if _FOUND.fullmatch(p.name)]
    room = CORPUS_CAP - (len(corpus_files(target)) - len(found))
    seeds = [p for p in corpus_files(target, known_crashes=False) if not _FOUND.fullmatch(p.name)]
    if room <= 0 or not any(work.iterdir()):
        return
    merged, previous = scratch / "merged", scratch / "previous"
    merged.mkdir()
    previous.mkdir()
    for p in seeds:
        shutil.copyfile(p, merged / p.name)
    for p in found:
        shutil.copyfile(p, previous / p.name)
    args = ["-merge=1", str(merged), str(previous), str(work), *_libfuzzer_flags(target)]
    if _run_logged(_child_cmd("_atheris", target, args), scratch / "merge.log", timeout=900) != 0:
        result.notes.append("merge failed; corpus unchanged")
        return
    seed_names = {p.name for p in seeds}
    chosen = sorted(
        (p for p in merged.iterdir() if p.is_file() and p.name not in seed_names),
        key=lambda p: (p.stat().st_size, p.name),
    )[:room]
    keep = {_sha1(p.read_bytes()): p for p in chosen}
    dropped = [p for p in found if p.name not in keep]
    for p in dropped:
        p.unlink()  # only SHA-1-named files this runner wrote, never a seed
    if dropped:
        result.notes.append(f"{len(dropped)} kept inputs dropped: no longer add coverage (or over the cap)")
    for name, p in keep.items():
        if not (corpus / name).exists():
            shutil.copyfile(p, corpus / name)
            result.new_corpus += 1


def _replay_fresh(target: str, path: Path) -> Crash:
    data = path.read_bytes()
    kind = path.name[len(target) + 1 :].split("-")[0]  # crash, timeout, oom, leak
    cmd = [sys.executable, "-m", "tests.fuzz.run", target, "--replay", str(path)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    error = re.search(r"^error: (.*)$", done.stderr, flags=re.MULTILINE)
    if done.returncode == 0 or error is None:
        return Crash(target, data, f"{kind} (does not reproduce on replay)", "")
    return Crash(target, data, error.group(1), done.stderr.split("\n\n", 1)[-1].strip() + "\n")


def _executions(log: str) -> int:
    stat = re.search(r"stat::number_of_executed_units:\s*(\d+)", log) or re.search(r"Done (\d+) runs", log)
    if stat:
        return int(stat.group(1))
    forked = re.findall(r"^#(\d+): cov:", log, flags=re.MULTILINE)  # -fork=1 progress lines
    return int(forked[-1]) if forked else 0


def run_atheris(target: str, seconds: int, *, keep: bool = True, keep_going: bool = False) -> Result:
    """Fuzz ``target`` for ``seconds`` in a subprocess. ``keep_going`` runs libFuzzer with
    ``-fork=1 -ignore_crashes=1`` so that one crash does not end the run (each is still saved)."""
    result = Result(target, "atheris")
    CRASHES.mkdir(parents=True, exist_ok=True)
    prefix = CRASHES / f"{target}-"
    before = set(CRASHES.glob(f"{target}-*"))
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
        scratch = Path(tmp)
        work, seeds = scratch / "work", scratch / "seeds"
        work.mkdir()
        seeds.mkdir()
        for p in corpus_files(target, known_crashes=False):
            shutil.copyfile(p, seeds / p.name)
        log = scratch / "fuzz.log"
        args = [str(work), str(seeds), f"-max_total_time={seconds}", f"-artifact_prefix={prefix}"]
        args += [*_libfuzzer_flags(target), "-print_final_stats=1"]
        if keep_going:
            args += ["-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1"]
        started = time.monotonic()
        rc = _run_logged(_child_cmd("_atheris", target, args), log, timeout=seconds + 300)
        result.seconds = time.monotonic() - started
        text = log.read_text(encoding="utf-8", errors="replace")
        result.executions = _executions(text)
        artifacts = sorted(p for p in set(CRASHES.glob(f"{target}-*")) - before if p.suffix != ".txt")
        seen: set[str] = set()
        tail = "\n".join(
            line for line in text.splitlines()[-80:] if not line.startswith("INFO: Instrumenting")
        )
        for path in sorted(artifacts, key=lambda p: p.stat().st_size):
            if path.name.startswith(f"{target}-slow-unit-"):
                result.notes.append(f"slow input (not a crash): {path.name}")
                continue
            result.crashes += 1
            result.saved.append(str(path.relative_to(REPO)))
            data = path.read_bytes()
            # Re-run uninstrumented for a clean traceback, in a fresh process: this one imported the
            # code when it started, and the tree may have changed since. A timeout or OOM may not
            # reproduce at all.
            crash = _replay_fresh(target, path)
            path.with_name(path.name + ".txt").write_text(
                describe(crash, limit=len(data)) + f"\n--- libFuzzer output (last lines) ---\n{tail}\n",
                encoding="utf-8",
            )
            if signature(crash) not in seen:  # one report per distinct bug; every input is saved
                seen.add(signature(crash))
                print(describe(crash, limit=400), file=sys.stderr)
        if len(artifacts) > len(seen):
            result.notes.append(f"{len(artifacts)} crashing inputs, {len(seen)} distinct: {sorted(seen)}")
        if rc != 0 and result.crashes == 0:
            result.crashes = 1
            tail = "\n".join(text.splitlines()[-40:])
            result.notes.append(f"runner exited {rc} without an artifact")
            print(f"[{target}] atheris exited {rc}:\n{tail}", file=sys.stderr)
        if keep and (rc == 0 or keep_going):
            _merge_into_corpus(target, work, scratch, result)
    return result


# ---------------------------------------------------------------------------------------------------
# hypothesis runner (no atheris)


def run_hypothesis(target: str, seconds: float, crashes: Path = CRASHES) -> Result:
    """Generate inputs with tests/fuzz/strategies.py until ``seconds`` have passed or one crashes."""
    from hypothesis import HealthCheck, Phase, given, settings

    from tests.fuzz.strategies import fuzz_inputs

    fn = _targets()[target]
    result = Result(target, "hypothesis")
    failing: list[bytes] = []

    def body(data: bytes) -> None:
        result.executions += 1
        try:
            fn(data)
        except Exception:
            failing[:] = [data]  # the last failing input is the shrunk one hypothesis re-raises with
            raise

    strategy = fuzz_inputs(target)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        batch = settings(
            max_examples=500,
            deadline=None,
            database=None,
            phases=(Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
        )(given(strategy)(body))
        try:
            batch()
        except Exception:
            data = failing[0] if failing else b""
            crash = run_input(target, data, fn) or Crash(target, data, "flaky", traceback.format_exc())
            path = save_crash(crash, crashes)
            result.crashes = 1
            result.saved.append(str(path))
            print(describe(crash), file=sys.stderr)
            break
    result.seconds = time.monotonic() - started
    return result


def _hypothesis_child(target: str, seconds: float, out: Path) -> None:
    out.write_text(json.dumps(asdict(run_hypothesis(target, seconds))), encoding="utf-8")


def run_hypothesis_subprocess(target: str, seconds: int) -> Result:
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = _child_cmd("_hypothesis", target, [str(seconds), str(out)])
        rc = subprocess.run(cmd, cwd=REPO, timeout=seconds + 600, check=False).returncode
        if not out.exists():
            return Result(target, "hypothesis", crashes=1, notes=[f"runner exited {rc} without a result"])
        return Result(**json.loads(out.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------------------------------
# Command line


def table(results: Sequence[Result]) -> str:
    rows = [("target", "runner", "executions", "seconds", "crashes", "new corpus")]
    rows += [
        (r.target, r.runner, f"{r.executions:,}", f"{r.seconds:.0f}", str(r.crashes), str(r.new_corpus))
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["_atheris"]:
        _atheris_child(args[1], args[2:])
        return 0
    if args[:1] == ["_hypothesis"]:
        _hypothesis_child(args[1], float(args[2]), Path(args[3]))
        return 0

    names = list(_targets())
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=[*names, "all"])
    parser.add_argument("--seconds", type=int, default=60, help="wall time per target (default 60)")
    parser.add_argument("--runner", choices=("auto", "atheris", "hypothesis"), default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at the same time (default 1)")
    parser.add_argument("--no-keep", action="store_true", help="do not merge found inputs into the corpus")
    parser.add_argument("--keep-going", action="store_true", help="atheris: go on after a crash (-fork=1)")
    parser.add_argument("--replay", nargs="+", type=Path, metavar="FILE", help="run these inputs once")
    parser.add_argument("--replay-corpus", action="store_true", help="run every corpus file once")
    opts = parser.parse_args(args)
    chosen = names if opts.target == "all" else [opts.target]

    if opts.replay or opts.replay_corpus:
        if opts.replay and opts.target == "all":
            parser.error("--replay needs one target")
        crashes = [c for t in chosen for c in replay(t, opts.replay)]
        for crash in crashes:
            print(describe(crash), file=sys.stderr)
        count = len(opts.replay) if opts.replay else sum(len(corpus_files(t)) for t in chosen)
        print(f"replayed {count} inputs: {len(crashes)} crashes")
        return 1 if crashes else 0

    runner = opts.runner
    if runner == "auto":
        runner = "atheris" if atheris_available() else "hypothesis"
    elif runner == "atheris" and not atheris_available():
        parser.error("atheris is not installed (pip install -e '.[fuzz]')")

    def one(target: str) -> Result:
        if runner == "atheris":
            return run_atheris(target, opts.seconds, keep=not opts.no_keep, keep_going=opts.keep_going)
        return run_hypothesis_subprocess(target, opts.seconds)

    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        results = list(pool.map(one, chosen))
    print(table(results))
    for r in results:
        for note in r.notes:
            print(f"{r.target}: {note}")
        for path in r.saved:
            print(
                f"{r.target}: crashing input saved to {path} (repro: python -m tests.fuzz.run {r.target} --replay {path})"
            )
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
