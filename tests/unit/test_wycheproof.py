"""Wycheproof Ed25519 vectors (docs/SECURITY.md §5 S2) through the service's own signature check.

Each vector is its own test case, named by tcId, so a failure names the vector and its flags. The
same vectors also run through ``cryptography``: if the two implementations ever disagree, this
file shows which one is wrong.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verify.crypto.signing import verify_signature

VECTORS = Path(__file__).resolve().parents[1] / "assets" / "wycheproof" / "ed25519_test.json"
# Upstream git blob of testvectors_v1/ed25519_test.json (tests/assets/wycheproof/README.md).
UPSTREAM_BLOB = "42d44cd7eca6003c7de611b6487c9cc57a124b38"
EXPECTED_TESTS = 151


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_bytes())
    return data


class Case(NamedTuple):
    tc_id: int
    public_key: bytes
    message: bytes
    signature: bytes
    expected: bool
    flags: list[str]


def _cases() -> list[Case]:
    cases = []
    for group in _load()["testGroups"]:
        public_key = bytes.fromhex(group["publicKey"]["pk"])
        for t in group["tests"]:
            assert t["result"] in {"valid", "invalid"}, t["tcId"]
            message, signature = bytes.fromhex(t["msg"]), bytes.fromhex(t["sig"])
            cases.append(Case(t["tcId"], public_key, message, signature, t["result"] == "valid", t["flags"]))
    return cases


CASES = _cases()


def test_the_file_is_the_upstream_blob() -> None:
    data = VECTORS.read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest() == UPSTREAM_BLOB


def test_counts() -> None:
    data = _load()
    assert data["algorithm"] == "EDDSA"
    assert data["schema"] == "eddsa_verify_schema_v1.json"
    assert data["numberOfTests"] == EXPECTED_TESTS
    assert sum(len(g["tests"]) for g in data["testGroups"]) == EXPECTED_TESTS
    assert len(CASES) == EXPECTED_TESTS
    assert len({c.tc_id for c in CASES}) == EXPECTED_TESTS  # tcIds are unique
    assert sum(c.expected for c in CASES) == 88
    # S2 names the malleability cases explicitly: make sure they are here and all "invalid".
    malleability = [c for c in CASES if "SignatureMalleability" in c.flags]
    assert len(malleability) == 8
    assert not any(c.expected for c in malleability)


@pytest.mark.parametrize("case", CASES, ids=[f"tc{c.tc_id}" for c in CASES])
def test_vector(case: Case) -> None:
    got = verify_signature(case.public_key, case.message, case.signature)
    assert got is case.expected, f"tcId {case.tc_id} flags {case.flags}: verify_signature gave {got}"


def _cryptography_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def test_the_independent_implementation_agrees_on_every_vector() -> None:
    wrong = [
        (c.tc_id, c.flags)
        for c in CASES
        if _cryptography_accepts(c.public_key, c.message, c.signature) is not c.expected
    ]
    assert wrong == [], f"cryptography disagrees with Wycheproof on (tcId, flags): {wrong}"
