"""The load test's traffic mix (loadtests/locustfile.py): it imports, its task weights are the
documented mix, and its classifier counts expected 4xx answers as successes and 5xx as failures.
No server: the classifier and the input helpers are plain functions."""

from __future__ import annotations

import importlib
import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from verify.domain import codes
from verify.domain.throttle import ThrottlePolicy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lf() -> Iterator[ModuleType]:
    # Importing locust monkey-patches the standard library for gevent unless told not to; the rest
    # of the suite (asyncio, PostgreSQL) must not run on a patched socket module.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOCUST_SKIP_MONKEY_PATCH", "1")
        yield importlib.import_module("loadtests.locustfile")


def test_the_locustfile_imports_as_locust_loads_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--list"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "PublicUser" in done.stdout


def test_task_weights_are_the_documented_mix(lf: ModuleType) -> None:
    assert lf.MIX == {
        "qr_scan": 70, "lookup_number": 15, "lookup_id": 5, "institution": 5, "malformed": 1, "batch_verify": 5
    }  # fmt: skip
    # locust expands each @task(weight) into that many entries of the user's task list
    weights = Counter(t.__name__ for t in lf.PublicUser.tasks)
    assert weights == Counter(lf.MIX)
    total = sum(weights.values())
    assert 0.005 <= weights["malformed"] / total <= 0.015  # "a trickle (~1 %)"
    # about a fifth of the number lookups miss: unknown number or wrong name
    misses = lf.UNKNOWN_NUMBER_SHARE + lf.WRONG_NAME_SHARE
    assert 0.15 <= misses <= 0.25


def test_each_simulated_client_stays_inside_the_production_lookup_budget(lf: ModuleType) -> None:
    policy = ThrottlePolicy()  # the production defaults (VERIFY_LOOKUP_PER_MINUTE = 10)
    client_lookups: int = lf.CLIENT_LOOKUPS
    client_window: float = lf.CLIENT_WINDOW
    assert client_lookups < policy.per_address
    assert client_window > policy.window


def test_expected_4xx_answers_are_successes(lf: ModuleType) -> None:
    miss = json.dumps({"found": False, "message": {"zh": "…", "en": "…"}}).encode()
    assert lf.classify(lf.LOOKUP_MISS, 404, miss) is None
    assert lf.classify(lf.BAD_NUMBER, 422, b'{"error": "invalid_code"}') is None
    assert lf.classify(lf.NUL_BYTE, 400, b'{"error": "bad_character"}') is None
    for status in (400, 404, 422):
        assert lf.classify(lf.TAMPERED, status, b"{}") is None
    assert lf.classify(lf.TAMPERED, 200, b'{"outcome": "forged"}') is None


def test_expected_200_answers_are_successes(lf: ModuleType) -> None:
    assert lf.classify(lf.QR_PAGE, 200, b"<!doctype html>") is None
    assert lf.classify(lf.INSTITUTION, 200, b"{}") is None
    for outcome in ("valid", "revoked", "superseded", "issuer_suspended", "issuer_terminated"):
        assert lf.classify(lf.QR_JSON, 200, json.dumps({"outcome": outcome}).encode()) is None
    assert lf.classify(lf.LOOKUP_HIT, 200, b'{"found": true, "certificates": []}') is None


def test_server_errors_and_lost_connections_are_failures(lf: ModuleType) -> None:
    expectations = [lf.QR_PAGE, lf.QR_JSON, lf.LOOKUP_HIT, lf.LOOKUP_MISS, lf.INSTITUTION,
                    lf.TAMPERED, lf.BAD_NUMBER, lf.NUL_BYTE]  # fmt: skip
    for want in expectations:
        for status in (500, 502, 503, 504):
            assert lf.classify(want, status, b"{}") == f"server error {status}"
        assert lf.classify(want, 0, None, ConnectionResetError("reset")) is not None
        assert lf.classify(want, 0, None) is not None


def test_unexpected_statuses_and_answers_are_failures(lf: ModuleType) -> None:
    assert lf.classify(lf.LOOKUP_HIT, 404, b'{"found": false}') == "unexpected status 404"
    assert lf.classify(lf.LOOKUP_MISS, 200, b'{"found": true}') == "unexpected status 200"
    assert lf.classify(lf.LOOKUP_HIT, 429, b"{}") == "unexpected status 429"  # never the generator's doing
    assert lf.classify(lf.BAD_NUMBER, 400, b"{}") == "unexpected status 400"
    assert lf.classify(lf.NUL_BYTE, 404, b"{}") == "unexpected status 404"
    # a genuine payload that verifies as forged, or a stale status view, is a failure under load
    assert lf.classify(lf.QR_JSON, 200, b'{"outcome": "forged"}') is not None
    assert lf.classify(lf.QR_JSON, 200, b'{"outcome": "status_unavailable"}') is not None
    assert lf.classify(lf.TAMPERED, 200, b'{"outcome": "valid"}') is not None
    assert lf.classify(lf.LOOKUP_HIT, 200, b"<html>") == "200 without a JSON body"


def test_the_malformed_inputs_are_malformed_and_the_unknown_numbers_well_formed(lf: ModuleType) -> None:
    rng = random.Random(1)
    today = date(2026, 12, 2)
    number = "S000041010012193000001"
    assert codes.check_certificate_number(number, today=today).valid
    for _ in range(50):
        unknown = lf.unknown_number(number, rng, frozenset({number}))
        assert unknown != number
        assert codes.check_certificate_number(unknown, today=today).valid
        assert not codes.check_certificate_number(lf.bad_number(number, rng), today=today).valid
        qr_path = "/C/" + "A" * 40
        tampered = lf.tampered_path(qr_path, rng)
        assert tampered.startswith("/api/v1/verify/") and tampered.rsplit("/", 1)[1] != "A" * 40
    assert lf.private_address(rng).startswith("10.")


def test_the_sample_is_read_from_seed_sample_lines(lf: ModuleType) -> None:
    line = {"number": "S000041010012193000001", "name": "任丹", "id_type": "resident_id",
            "id_number": "410103200304275917", "qr_path": "/C/ABC", "institution": "S000041010012"}  # fmt: skip
    unsigned = {**line, "number": "S000041010012193000002", "qr_path": None}
    s = lf.parse_sample([json.dumps(line, ensure_ascii=False), "", json.dumps(unsigned, ensure_ascii=False)])
    assert [c.number for c in s.signed] == [line["number"]]
    assert len(s.certificates) == 2 and s.institutions == ["S000041010012"]
    with pytest.raises(ValueError):
        lf.parse_sample([json.dumps(unsigned)])
