"""The fuzz harness in ``make test`` (tests/fuzz/): every committed corpus input raises nothing but its
parser's declared errors, each target gets a small hypothesis slice, and the runner's classification
is checked to report what it must (an undeclared exception, a broken invariant) as a crash.

Long coverage-guided runs are ``make fuzz`` (atheris), not part of this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import run, targets
from tests.fuzz.run import CORPUS, CORPUS_CAP, KNOWN_CRASH_PREFIX, corpus_files, describe, run_input
from tests.fuzz.strategies import fuzz_inputs
from tests.fuzz.targets import TARGETS, InvariantViolation, text_of
from verify.domain import codes, holder_ids, names, payload, text
from verify.domain.errors import InvalidInput, InvalidPayload

# Crashing inputs committed before their bug is fixed, with the bug. ``strict``: once the product
# code is fixed the test XPASSes, which fails; then delete the entry and rename the file from
# ``known-crash-…`` to ``seed-…``, so it stays as a regression seed the fuzzers also start from.
# (Fixed so far, now seeds: seed-zip-version-24.4, seed-halfwidth-sound-mark, seed-lzma-bad-properties.)
KNOWN_CRASHES: dict[str, str] = {}


def _corpus_cases() -> list[object]:
    cases: list[object] = []
    for target in sorted(TARGETS):
        for path in corpus_files(target):
            key = f"{target}/{path.name}"
            marks = []
            if key in KNOWN_CRASHES:
                marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=KNOWN_CRASHES[key]))
            cases.append(pytest.param(target, path, id=key, marks=marks))
    return cases


@pytest.mark.parametrize(("target", "path"), _corpus_cases())
def test_corpus_input_raises_only_declared_errors(target: str, path: Path) -> None:
    crash = run_input(target, path.read_bytes())
    assert crash is None, describe(crash, limit=600)


def test_corpus_layout() -> None:
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders == set(TARGETS), "one corpus folder per target"
    files = [p for t in TARGETS for p in corpus_files(t)]
    for target in TARGETS:
        assert corpus_files(target, known_crashes=False), f"{target} has no seed"
        assert len(corpus_files(target)) <= CORPUS_CAP
    assert len(files) < 300
    assert sum(p.stat().st_size for p in files) < 2 * 1024 * 1024
    for key in KNOWN_CRASHES:
        assert (CORPUS / key).is_file() and Path(key).name.startswith(KNOWN_CRASH_PREFIX), key
    for p in files:
        if p.name.startswith(KNOWN_CRASH_PREFIX):
            assert f"{p.parent.name}/{p.name}" in KNOWN_CRASHES, f"{p} is not listed in KNOWN_CRASHES"


# A small fuzz slice per target: 200 inputs from tests/fuzz/strategies.py (random, text, mutated corpus).
@pytest.mark.parametrize("target", sorted(TARGETS))
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_fuzz_slice(target: str, data: st.DataObject) -> None:
    crash = run_input(target, data.draw(fuzz_inputs(target), label="input"))
    assert crash is None, describe(crash, limit=600)


# ---------------------------------------------------------------------------------------------------
# The classification must be able to fail: what a target does not declare is a crash.

# For each target, the parser call it makes first (patched to raise).
_ENTRY = {
    "payload": (payload, "decode"),
    "payload_text": (payload, "from_text"),
    "codes": (codes, "normalize"),
    "holder_ids": (holder_ids, "validate_id"),
    "names": (names, "normalize_name"),
    "text": (text, "check_text"),
    "batch_csv": (targets, "read_batch_file"),
    "batch_xlsx": (targets, "read_batch_file"),
}
_SAMPLE = {
    "payload": bytes.fromhex("10"),
    "payload_text": b"CBAOMAAA",
    "codes": b"Y000041010012224000007",
    "holder_ids": b"\x0011010519491231002X",
    "names": "张三".encode(),
    "text": b"plain",
    "batch_csv": b"a,b\n",
    "batch_xlsx": b"PK\x03\x04",
}


class _Undeclared(Exception):
    """No parser declares this."""


def test_batch_codes_come_from_the_docstring() -> None:
    # The batch target accepts only the problem codes read_batch_file documents; read from its docstring.
    assert {"file_too_large", "xlsx_expands_too_large"} <= targets._TOO_LARGE_CODES
    assert {"empty_file", "bad_xlsx", "bad_csv", "no_data_rows"} <= targets._BAD_FILE_CODES
    assert not targets._TOO_LARGE_CODES & targets._BAD_FILE_CODES


def test_every_target_is_covered_here() -> None:
    assert set(_ENTRY) == set(_SAMPLE) == set(TARGETS)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_undeclared_exception_is_a_crash(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, name = _ENTRY[target]

    def boom(*args: object, **kwargs: object) -> None:
        raise _Undeclared("raised inside the parser")

    monkeypatch.setattr(module, name, boom)
    crash = run_input(target, _SAMPLE[target])
    assert crash is not None
    assert crash.error == "_Undeclared: raised inside the parser"
    assert crash.target == target and crash.data == _SAMPLE[target]
    assert "boom" in crash.traceback


def test_declared_error_is_not_a_crash_but_its_parent_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def declared(data: object) -> None:
        raise InvalidPayload(details={"why": "truncated"})

    monkeypatch.setattr(payload, "decode", declared)
    assert run_input("payload", b"\x10") is None

    def parent(data: object) -> None:
        raise InvalidInput()  # the parent of InvalidPayload: decode does not declare it

    monkeypatch.setattr(payload, "decode", parent)
    crash = run_input("payload", b"\x10")
    assert crash is not None and crash.error.startswith("InvalidInput")


def test_broken_invariant_is_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codes, "normalize", lambda raw: raw + "-")  # not idempotent
    crash = run_input("codes", b"Y1")
    assert crash is not None and crash.error == "InvariantViolation: normalize is not idempotent"
    assert issubclass(InvariantViolation, AssertionError)


def test_a_crash_is_saved_with_repro(tmp_path: Path) -> None:
    def target(data: bytes) -> None:
        raise KeyError(data)

    crash = run_input("payload", b"\x00\xff", target)
    assert crash is not None
    saved = run.save_crash(crash, tmp_path)
    assert saved.read_bytes() == b"\x00\xff"
    report = saved.with_name(saved.name + ".txt").read_text(encoding="utf-8")
    assert "input: b'\\x00\\xff'" in report and "KeyError" in report
    assert run.signature(crash).startswith("KeyError at test_fuzz_corpus.py:")


def test_hypothesis_runner_finds_and_saves_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def decode(data: bytes) -> None:
        if len(data) >= 3:
            raise _Undeclared("three bytes")
        raise InvalidPayload(details={"why": "truncated"})

    monkeypatch.setattr(payload, "decode", decode)
    result = run.run_hypothesis("payload", 20, tmp_path)
    assert result.crashes == 1 and result.executions >= 1
    assert result.seconds < 20  # stopped at the crash
    (saved,) = [p for p in tmp_path.iterdir() if p.suffix != ".txt"]
    assert len(saved.read_bytes()) == 3  # shrunk to the smallest failing input


def test_text_of_maps_every_byte_string() -> None:
    assert text_of(b"\xed\xa0\x80") == "\ud800"  # an encoded surrogate becomes that surrogate
    assert text_of(b"\xff\x00") == "\udcff\x00"  # any other bad byte: surrogateescape
    assert text_of("张".encode()) == "张"


def test_run_table() -> None:
    out = run.table([run.Result("codes", "atheris", 1234, 60.4, 0, 3)])
    assert out.splitlines()[0].split() == [
        "target",
        "runner",
        "executions",
        "seconds",
        "crashes",
        "new",
        "corpus",
    ]
    assert out.splitlines()[2].split() == ["codes", "atheris", "1,234", "60", "0", "3"]


@pytest.mark.slow
@pytest.mark.skipif(not run.atheris_available(), reason="atheris not installed (pip install -e '.[fuzz]')")
def test_atheris_runner_smoke() -> None:
    result = run.run_atheris("codes", 2, keep=False)
    assert result.crashes == 0, result.notes
    assert result.executions > 0
