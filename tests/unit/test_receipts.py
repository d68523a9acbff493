"""verify.crypto.receipts: signed batch-verification receipts (docs/RECEIPT-FORMAT.md).

Signatures are also checked with ``cryptography`` (the service signs and verifies with PyNaCl),
reading nothing but the JWK's ``x`` and the receipt JSON, as an outside verifier would. The test
vector is read from the document itself, so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.crypto import signing
from verify.crypto.receipt_keys import generate_receipt_key, load_receipt_key
from verify.crypto.receipts import (
    FORMAT,
    PURPOSE,
    RECEIPT_DOMAIN,
    ReceiptCheck,
    ReceiptFields,
    ReceiptSigner,
    canonical,
    check_receipt,
    check_row_proof,
    results_root,
    row_leaf,
    row_proof,
)
from verify.domain import merkle, payload
from verify.domain.errors import ConfigError, InvalidInput
from verify.domain.payload import CertificateRecord

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "RECEIPT-FORMAT.md"
REASONS = {
    "malformed",
    "unknown_format",
    "unknown_key",
    "not_a_receipt_key",
    "bad_signature",
    "results_mismatch",
    "rows_mismatch",
}
FIELD_NAMES = [f.name for f in dataclasses.fields(ReceiptFields)]

SIGNER = ReceiptSigner.from_seed(bytes(range(32)))
OTHER = ReceiptSigner.from_seed(bytes(range(100, 132)))
JWKS: dict[str, Any] = {"keys": [SIGNER.jwk()]}
ROWS: list[dict[str, Any]] = [
    {"row": 1, "number": "Y000041010001243000123", "verdict": "valid"},
    {"row": 2, "number": "Y000041010001243000131", "verdict": "revoked"},
    {
        "row": 3,
        "number": "S000041010001243000016",
        "claimed_occupation": "车工",
        "verdict": "not_found_or_mismatch",
    },
]


def fields(**changes: Any) -> ReceiptFields:
    base: dict[str, Any] = {
        "receipt_id": "000102030405060708090a0b0c0d0e0f",
        "issued_at": "2025-06-30T08:00:00Z",
        "account": "hr-acme",
        "service_version": "0.1.0",
        "request_sha256": hashlib.sha256(b"request").hexdigest(),
        "rows": 3,
        "results_root": results_root(ROWS),
        "counts": {"valid": 1, "revoked": 1, "not_found_or_mismatch": 1},
    }
    return ReceiptFields(**(base | changes))


RECEIPT = SIGNER.sign(fields())


def independent_verify(receipt: Mapping[str, Any], jwk: Mapping[str, Any]) -> bool:
    """What a verifier outside the service does, with another Ed25519 implementation."""
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "="))
    signature = base64.urlsafe_b64decode(receipt["signature"] + "==")
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    text = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        key.verify(signature, b"verify.receipt.v1\x00" + text.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


def with_(receipt: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    return dict(receipt) | changes


# -- signing and checking ----------------------------------------------------------------------------


def test_round_trip() -> None:
    assert set(RECEIPT) == {*FIELD_NAMES, "format", "kid", "signature"}
    assert RECEIPT["format"] == FORMAT == "verify-receipt-v1" and RECEIPT["kid"] == SIGNER.kid
    checked = check_receipt(RECEIPT, JWKS, ROWS)
    assert checked == ReceiptCheck(True, None, RECEIPT)
    assert check_receipt(RECEIPT, JWKS).ok
    assert check_receipt(json.dumps(RECEIPT).encode(), JWKS, ROWS).ok
    # Transport form does not matter: pretty-printed, reordered, non-ASCII escaped.
    pretty = json.dumps(dict(reversed(list(RECEIPT.items()))), indent=4, ensure_ascii=True).encode()
    assert check_receipt(pretty, JWKS, ROWS).ok
    assert check_receipt(bytearray(pretty), JWKS).ok  # type: ignore[arg-type]
    assert check_receipt(MappingProxyType(RECEIPT), JWKS).ok


def test_signing_is_deterministic_and_independent_of_counts_order() -> None:
    again = SIGNER.sign(fields(counts={"not_found_or_mismatch": 1, "revoked": 1, "valid": 1}))
    assert again["signature"] == RECEIPT["signature"]


def test_independent_verification_with_cryptography() -> None:
    assert independent_verify(RECEIPT, SIGNER.jwk())
    assert not independent_verify(with_(RECEIPT, account="someone else"), SIGNER.jwk())
    assert not independent_verify(RECEIPT, OTHER.jwk())
    # And the other way round: cryptography's idea of the key is the service's.
    x = base64.urlsafe_b64decode(SIGNER.jwk()["x"] + "=")
    assert x == SIGNER.public_key and signing.kid_of(x) == SIGNER.kid


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"receipt_id": "ffffffffffffffffffffffffffffffff"}, "bad_signature"),
        ({"issued_at": "2025-06-30T08:00:01Z"}, "bad_signature"),
        ({"account": "hr-acme2"}, "bad_signature"),
        ({"service_version": "0.1.1"}, "bad_signature"),
        ({"request_sha256": "00" * 32}, "bad_signature"),
        ({"results_root": "11" * 32}, "bad_signature"),
        ({"rows": 4, "counts": {"valid": 2, "revoked": 1, "not_found_or_mismatch": 1}}, "bad_signature"),
        ({"counts": {"valid": 2, "revoked": 0, "not_found_or_mismatch": 1}}, "bad_signature"),
        ({"counts": {"valid": 1, "revoked": 1, "not_found_or_mismatch": 1, "forged": 0}}, "bad_signature"),
        ({"kid": OTHER.kid}, "bad_signature"),  # the other key is in the key set too
        ({"rows": 4}, "malformed"),  # counts no longer add up: not a receipt the service makes
        ({"format": "verify-receipt-v2"}, "unknown_format"),
        ({"format": 1}, "malformed"),
        ({"extra": "x"}, "malformed"),
        ({"kid": "40E6"}, "malformed"),
        ({"signature": RECEIPT["signature"] + "="}, "malformed"),
        ({"signature": RECEIPT["signature"][:-1]}, "malformed"),
        ({"rows": 3.0}, "malformed"),
        ({"rows": True}, "malformed"),
    ],
)
def test_tampering(change: dict[str, Any], reason: str) -> None:
    both = {"keys": [SIGNER.jwk(), OTHER.jwk()]}
    checked = check_receipt(with_(RECEIPT, **change), both)
    assert checked == ReceiptCheck(False, reason, None)
    if reason == "bad_signature":
        assert not independent_verify(with_(RECEIPT, **change), SIGNER.jwk())


def test_a_missing_member_is_malformed() -> None:
    for name in RECEIPT:
        missing = {k: v for k, v in RECEIPT.items() if k != name}
        assert check_receipt(missing, JWKS) == ReceiptCheck(False, "malformed", None), name


def test_a_flipped_signature_bit_is_a_bad_signature() -> None:
    raw = bytearray(base64.urlsafe_b64decode(RECEIPT["signature"] + "=="))
    for i in (0, 31, 32, 63):
        bad = bytearray(raw)
        bad[i] ^= 1
        text = base64.urlsafe_b64encode(bytes(bad)).rstrip(b"=").decode()
        assert check_receipt(with_(RECEIPT, signature=text), JWKS).reason == "bad_signature"


def test_a_second_spelling_of_the_signature_is_refused() -> None:
    # 64 bytes leave 4 unused bits in the last base64 character; a non-zero one decodes the same.
    last = RECEIPT["signature"][-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    spelled = RECEIPT["signature"][:-1] + twin
    assert base64.urlsafe_b64decode(spelled + "==") == base64.urlsafe_b64decode(RECEIPT["signature"] + "==")
    assert check_receipt(with_(RECEIPT, signature=spelled), JWKS).reason == "malformed"


def test_unknown_key() -> None:
    jwks: Any
    for jwks in (
        {"keys": []},
        {"keys": [OTHER.jwk()]},
        {},
        {"keys": None},
        {"keys": "x"},
        {"keys": [1, None]},
    ):
        assert check_receipt(RECEIPT, jwks) == ReceiptCheck(False, "unknown_key", None)
    assert check_receipt(RECEIPT, None).reason == "unknown_key"  # type: ignore[arg-type]


def test_a_key_of_another_purpose_is_not_a_receipt_key() -> None:
    # The same public key published as a certificate key (no purpose), or with another purpose.
    as_certificate_key = signing.public_jwk(
        SIGNER.public_key, not_before=None, not_after=None, status="active"
    )
    assert "purpose" not in as_certificate_key and as_certificate_key["kid"] == RECEIPT["kid"]
    for jwk in (
        as_certificate_key,
        as_certificate_key | {"purpose": "certificate"},
        SIGNER.jwk() | {"purpose": None},
    ):
        assert check_receipt(RECEIPT, {"keys": [jwk]}) == ReceiptCheck(False, "not_a_receipt_key", None)
    # A receipt key among them is found.
    assert check_receipt(RECEIPT, {"keys": [as_certificate_key, SIGNER.jwk()]}).ok


def test_every_receipt_key_with_the_kid_is_tried() -> None:
    # Kids are 16 bits: a colliding receipt key (here: OTHER's x under SIGNER's kid) comes first.
    colliding = OTHER.jwk() | {"kid": SIGNER.kid}
    assert check_receipt(RECEIPT, {"keys": [colliding, SIGNER.jwk()]}).ok
    assert check_receipt(RECEIPT, {"keys": [colliding]}).reason == "bad_signature"
    # A JWK that says receipt but is no usable Ed25519 key is not a receipt key either.
    x = SIGNER.jwk()["x"]
    for bad in ({"x": x[:-1]}, {"x": x[:-1] + "B"}, {"x": None}, {"crv": "X25519"}, {"kty": "EC"}):
        assert check_receipt(RECEIPT, {"keys": [SIGNER.jwk() | bad]}).reason == "not_a_receipt_key", bad


def test_results() -> None:
    assert check_receipt(RECEIPT, JWKS, ROWS).ok
    assert check_receipt(RECEIPT, JWKS, tuple(ROWS)).ok
    changed = [ROWS[0], ROWS[1] | {"verdict": "valid"}, ROWS[2]]
    for results, reason in [
        (changed, "results_mismatch"),
        ([ROWS[1], ROWS[0], ROWS[2]], "results_mismatch"),
        ([*ROWS[:2], ROWS[2] | {"score": 0.5}], "results_mismatch"),
        ([*ROWS[:2], "not a row"], "results_mismatch"),
        ({"a": 1}, "results_mismatch"),
        ("abc", "results_mismatch"),
        (ROWS[:2], "rows_mismatch"),
        ([*ROWS, ROWS[0]], "rows_mismatch"),
        ([], "rows_mismatch"),
    ]:
        checked = check_receipt(RECEIPT, JWKS, results)  # type: ignore[arg-type]
        # The receipt is genuine, so it is handed back; only the results are not its results.
        assert checked == ReceiptCheck(False, reason, RECEIPT), results
    # The signature is checked first: a forged receipt is forged whatever results come with it.
    assert check_receipt(with_(RECEIPT, account="x"), JWKS, ROWS[:1]).reason == "bad_signature"


def test_an_empty_batch() -> None:
    receipt = SIGNER.sign(fields(rows=0, counts={}, results_root=results_root([])))
    assert receipt["results_root"] == merkle.EMPTY_ROOT.hex()
    assert check_receipt(receipt, JWKS, []).ok
    assert check_receipt(receipt, JWKS, ROWS[:1]).reason == "rows_mismatch"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b"\xff\xfe{}",
        b'{"format": "verify-receipt-v1", "format": "verify-receipt-v1"}',
        json.dumps(RECEIPT).replace('"rows": 3', '"rows": 3.0').encode(),
        json.dumps(RECEIPT).replace('"rows": 3', '"rows": NaN').encode(),
        json.dumps(RECEIPT).replace('"rows": 3', '"rows": 3e0').encode(),
        json.dumps(RECEIPT).replace('"rows": 3', '"rows": ' + "9" * 5000).encode(),
        json.dumps(RECEIPT)[:-1].encode(),
        b"[" * 100_000,
        json.dumps(RECEIPT).encode() + b" " * (64 * 1024),
    ],
    ids=lambda raw: repr(raw[:12]),
)
def test_malformed_bytes(raw: bytes) -> None:
    assert check_receipt(raw, JWKS) == ReceiptCheck(False, "malformed", None)


def test_a_repeated_key_is_refused() -> None:
    text = json.dumps(RECEIPT)
    doubled = text[:-1] + ', "account": "hr-acme"}'
    assert check_receipt(doubled.encode(), JWKS).reason == "malformed"


# -- domain separation from certificate signatures --------------------------------------------------


def test_the_domain_tags_differ() -> None:
    assert RECEIPT_DOMAIN == b"verify.receipt.v1\x00" and payload.DOMAIN_TAG == b"verify.cert.v1\x00"
    assert not RECEIPT_DOMAIN.startswith(payload.DOMAIN_TAG)
    assert not payload.DOMAIN_TAG.startswith(RECEIPT_DOMAIN)


def test_a_receipt_signature_is_not_a_certificate_signature() -> None:
    unsigned = canonical({k: v for k, v in RECEIPT.items() if k != "signature"})
    signature = base64.urlsafe_b64decode(RECEIPT["signature"] + "==")
    assert signing.verify_signature(SIGNER.public_key, RECEIPT_DOMAIN + unsigned, signature)
    # Offered to the certificate path (signature over DOMAIN_TAG + body), the same bytes fail.
    assert not signing.verify_signature(SIGNER.public_key, payload.signed_message(unsigned), signature)


RECORD = CertificateRecord(
    number="Y000041010001243000123",
    holder_name="张三丰",
    id_tail="123X",
    occupation_code="6-18-01-01",
    occupation_name="车工",
    job="普通车床",
    issue_date=date(2024, 6, 30),
    kid="a1b2",
)


def test_a_certificate_signed_with_the_receipt_seed_is_refused_both_ways() -> None:
    body = payload.encode_body(RECORD)
    # Worst case: somebody signs a certificate with the receipt key's seed (the service cannot:
    # ReceiptSigner signs ReceiptFields only).
    misused = signing.Signer(signing.pair_from_seed(bytes(range(32))))
    signature = misused.sign(payload.signed_message(body))
    certificate_key = signing.pair_from_seed(bytes(range(200, 232)))
    assert not signing.verify_signature(certificate_key.public_key, payload.signed_message(body), signature)
    # Nor does a certificate signature of the receipt key pass as a receipt signature.
    forged = with_(RECEIPT, signature=base64.urlsafe_b64encode(signature).rstrip(b"=").decode())
    assert check_receipt(forged, JWKS).reason == "bad_signature"


def test_the_receipt_signer_signs_receipts_only() -> None:
    public = sorted(n for n in dir(SIGNER) if not n.startswith("_"))
    assert public == ["from_seed", "jwk", "kid", "public_key", "sign"]
    with pytest.raises(TypeError):
        SIGNER.sign(payload.signed_message(payload.encode_body(RECORD)))  # type: ignore[arg-type]
    assert repr(SIGNER) == f"ReceiptSigner(kid={SIGNER.kid!r})"
    assert bytes(range(32)).hex() not in repr(SIGNER)


def test_jwk() -> None:
    assert SIGNER.jwk() == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(SIGNER.public_key).rstrip(b"=").decode(),
        "kid": SIGNER.kid,
        "alg": "EdDSA",
        "use": "sig",
        "status": "active",
        "purpose": PURPOSE,
    }
    assert PURPOSE == "receipt"


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "00" * 32, None])
def test_from_seed_refuses_a_wrong_seed(seed: Any) -> None:
    with pytest.raises(ConfigError):
        ReceiptSigner.from_seed(seed)


# -- canonical JSON and the fields -------------------------------------------------------------------


def test_canonical() -> None:
    assert (
        canonical({"b": 1, "a": "车工", "c": [True, None, -5]})
        == '{"a":"车工","b":1,"c":[true,null,-5]}'.encode()
    )
    assert canonical('\x01\x1f\n\t"\\\u2028\x7f') == b'"\\u0001\\u001f\\n\\t\\"\\\\\xe2\x80\xa8\x7f"'
    assert canonical(MappingProxyType({"x": (1, 2)})) == b'{"x":[1,2]}'
    assert canonical(2**53 - 1) == b"9007199254740991" and canonical(-(2**53 - 1)) == b"-9007199254740991"
    assert canonical({"\U0001f600": 1, "\uffff": 2}) == '{"\uffff":2,"\U0001f600":1}'.encode()


def _nest(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        float("nan"),
        {"a": [1, {"b": 0.5}]},
        {1: "a"},
        {None: "a"},
        2**53,
        -(2**53),
        b"bytes",
        {1, 2},
        "lone \ud800 surrogate",
        {"k\udfff": 1},
        _nest(33),
        object(),
    ],
    ids=repr,
)
def test_canonical_refuses(value: Any) -> None:
    with pytest.raises(InvalidInput):
        canonical(value)


def test_canonical_refuses_cycles_and_deep_nesting_without_recursion_errors() -> None:
    assert canonical(_nest(32)) == b"[" * 32 + b"0" + b"]" * 32
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidInput):
        canonical(loop)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_is_the_documented_json(value: Any) -> None:
    out = canonical(value)
    assert out == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert json.loads(out) == value and canonical(json.loads(out)) == out


def test_row_leaf_and_results_root() -> None:
    assert row_leaf(ROWS[0]) == b'{"number":"Y000041010001243000123","row":1,"verdict":"valid"}'
    assert results_root(ROWS) == merkle.root([canonical(r) for r in ROWS]).hex()
    assert results_root([]) == merkle.EMPTY_ROOT.hex()
    for bad in ([1], [["row", 1]], [{"row": 1.5}]):
        with pytest.raises(InvalidInput):
            results_root(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"receipt_id": ""},
        {"receipt_id": "a b"},
        {"receipt_id": "x" * 129},
        {"receipt_id": 7},
        {"issued_at": "2025-06-30 08:00:00Z"},
        {"issued_at": "2025-02-30T08:00:00Z"},
        {"issued_at": "2025-06-30T24:00:00Z"},
        {"issued_at": "2025-06-30T08:00:00+00:00"},
        {"issued_at": "2025-06-30T08:00:00.5Z"},
        {"issued_at": "２０２５-06-30T08:00:00Z"},
        {"issued_at": "2025-6-30T08:00:00Z"},
        {"account": ""},
        {"account": "a" * 257},
        {"account": None},
        {"service_version": 1},
        {"request_sha256": "AB" * 32},
        {"request_sha256": "ab" * 31},
        {"results_root": "g" * 64},
        {"rows": -1, "counts": {"valid": -1}},
        {"rows": True, "counts": {"valid": 1}},
        {"rows": 2**53, "counts": {"valid": 2**53}},
        {"rows": 2},
        {"counts": {"valid": 3.0}},
        {"counts": {"valid": True, "revoked": 2}},
        {"counts": {1: 3}},
        {"counts": {"": 3}},
        {"counts": [("valid", 3)]},
        {"rows": 65, "counts": {f"v{i}": 1 for i in range(65)}},
    ],
    ids=repr,
)
def test_fields_are_checked(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as caught:
        fields(**change)
    assert re.search(r"[\u4e00-\u9fff]", caught.value.message_zh) or "receipt_id" in caught.value.message_zh


def test_fields_keep_a_private_copy_of_counts() -> None:
    counts = {"valid": 3}
    f = fields(counts=counts)
    counts["valid"] = 4
    assert f.counts == {"valid": 3}
    assert fields(rows=64, counts={f"v{i}": 1 for i in range(64)}).rows == 64
    with pytest.raises(TypeError):
        SIGNER.sign(dataclasses.asdict(fields()))  # type: ignore[arg-type]


# -- single-row proofs -------------------------------------------------------------------------------


SEVEN: list[dict[str, Any]] = [
    {"row": i, "number": f"Y00004101000124300{i:04d}", "verdict": "valid"} for i in range(1, 8)
]
SEVEN_RECEIPT = SIGNER.sign(fields(rows=7, counts={"valid": 7}, results_root=results_root(SEVEN)))


def test_every_row_proves() -> None:
    for i, row in enumerate(SEVEN):
        proof = row_proof(SEVEN, i)
        assert proof["leaf"] == canonical(row).decode() and proof["size"] == 7 and proof["index"] == i
        assert proof["root"] == SEVEN_RECEIPT["results_root"]
        assert check_row_proof(proof, SEVEN_RECEIPT)
        assert check_row_proof(json.loads(json.dumps(proof)), SEVEN_RECEIPT)
        # Only sibling hashes: no other row's content is in the proof.
        text = json.dumps(proof, ensure_ascii=False)
        assert all(other["number"] not in text for other in SEVEN if other is not row)
        assert len(proof["proof"]) <= 3


def test_a_changed_row_proof_fails() -> None:
    proof = row_proof(SEVEN, 4)
    flipped = proof["proof"][0][:-1] + ("0" if proof["proof"][0][-1] != "0" else "1")
    for bad in [
        proof | {"leaf": proof["leaf"].replace("valid", "revoked")},
        proof | {"leaf": canonical(SEVEN[3]).decode()},
        proof | {"index": 3},
        proof | {"index": True},
        proof | {"size": 8},
        proof | {"root": "00" * 32},
        proof | {"proof": [flipped, *proof["proof"][1:]]},
        proof | {"proof": proof["proof"][:-1]},
        proof | {"proof": [*proof["proof"], proof["root"]]},
        proof | {"proof": [p.upper() for p in proof["proof"]]},
        proof | {"proof": tuple(proof["proof"])},
        proof | {"leaf": "\ud800"},
        {k: v for k, v in proof.items() if k != "leaf"},
    ]:
        assert not check_row_proof(bad, SEVEN_RECEIPT), bad
    # The proof of one batch does not prove a row of another.
    assert not check_row_proof(proof, RECEIPT)
    # Index 0 has the same path in trees of 3 and 4, so the path alone would accept size 4; the signed
    # row count refuses it, and a receipt changed to say 4 rows is no longer genuine.
    three = row_proof(ROWS, 0)
    assert check_row_proof(three, RECEIPT)
    assert not check_row_proof(three | {"size": 4}, RECEIPT)
    lying = RECEIPT | {"rows": 4, "counts": {"valid": 2, "revoked": 1, "not_found_or_mismatch": 1}}
    assert check_row_proof(three | {"size": 4}, lying)
    assert check_receipt(lying, JWKS).reason == "bad_signature"


def test_row_proof_refuses_an_index_outside_the_rows() -> None:
    for index in (-1, 7, 100):
        with pytest.raises(InvalidInput):
            row_proof(SEVEN, index)


# -- never raises ------------------------------------------------------------------------------------

garbage_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
receipt_like = st.fixed_dictionaries(
    {k: st.one_of(st.just(v), garbage_values) for k, v in RECEIPT.items()},
    optional={"extra": garbage_values},
)
jwks_like = st.one_of(
    garbage_values,
    st.builds(
        lambda keys: {"keys": keys}, st.lists(st.one_of(garbage_values, st.just(SIGNER.jwk())), max_size=3)
    ),
    st.builds(
        lambda purpose, x, kty: {"keys": [SIGNER.jwk() | {"purpose": purpose, "x": x, "kty": kty}]},
        garbage_values | st.just("receipt"),
        garbage_values | st.just(SIGNER.jwk()["x"]),
        garbage_values | st.just("OKP"),
    ),
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(garbage_values, st.binary(max_size=64), receipt_like),
    jwks_like,
    st.one_of(st.none(), garbage_values, st.lists(garbage_values, max_size=4), st.just(ROWS)),
)
def test_check_receipt_never_raises(receipt: Any, jwks: Any, results: Any) -> None:
    checked = check_receipt(receipt, jwks, results)
    assert isinstance(checked, ReceiptCheck)
    assert checked.ok == (checked.reason is None)
    assert checked.reason is None or checked.reason in REASONS
    if checked.ok:
        # Only the genuine receipt verifies, and only against the genuine key.
        assert checked.receipt == RECEIPT


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(json.dumps(RECEIPT)) - 1), st.integers(1, 255))
def test_check_receipt_on_changed_bytes_never_raises(at: int, xor: int) -> None:
    raw = bytearray(json.dumps(RECEIPT).encode())
    raw[at] ^= xor
    checked = check_receipt(bytes(raw), JWKS, ROWS)
    assert checked.reason is None or checked.reason in REASONS
    if checked.ok:  # e.g. a space changed into another kind of whitespace
        assert checked.receipt == RECEIPT


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        garbage_values,
        st.fixed_dictionaries(
            {k: st.one_of(st.just(v), garbage_values) for k, v in row_proof(ROWS, 1).items()}
        ),
    ),
    st.one_of(garbage_values, st.just(RECEIPT)),
)
def test_check_row_proof_never_raises(proof: Any, receipt: Any) -> None:
    assert check_row_proof(proof, receipt) in (True, False)


# -- the key file ------------------------------------------------------------------------------------


def test_key_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "receipt.key.pem"
    made = generate_receipt_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert os.listdir(tmp_path) == ["receipt.key.pem"]  # no temporary file left behind
    loaded = load_receipt_key(path)
    assert (loaded.kid, loaded.public_key) == (made.kid, made.public_key)
    assert loaded.sign(fields()) == made.sign(fields())
    # cryptography reads the same key from the file.
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert (
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        == made.public_key
    )
    assert independent_verify(loaded.sign(fields()), made.jwk())


def test_two_generated_keys_differ(tmp_path: Path) -> None:
    assert generate_receipt_key(tmp_path / "a").public_key != generate_receipt_key(tmp_path / "b").public_key


def _config_error(call: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        call()
    error = caught.value
    assert re.search(r"[\u4e00-\u9fff]", error.message_zh) and error.message_en.isascii()
    assert error.message_zh != error.message_en
    return error


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "receipt.key.pem"
    generate_receipt_key(path)
    before = path.read_bytes()
    error = _config_error(lambda: generate_receipt_key(path))
    assert (
        "覆盖" in error.message_zh and "overwrite" in error.message_en and error.details["path"] == str(path)
    )
    assert path.read_bytes() == before
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    _config_error(lambda: generate_receipt_key(other))
    assert other.read_text() == "keep me"
    _config_error(lambda: generate_receipt_key(tmp_path / "missing" / "receipt.key.pem"))
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "receipt.key.pem"]


def test_load_refuses_wrong_files(tmp_path: Path) -> None:
    _config_error(lambda: load_receipt_key(tmp_path / "missing.pem"))
    _config_error(lambda: load_receipt_key(tmp_path))  # a directory
    text = tmp_path / "text.pem"
    text.write_text("not a key\n")
    _config_error(lambda: load_receipt_key(text))
    big = tmp_path / "big.pem"
    big.write_bytes(b"A" * (64 * 1024 + 1))
    assert "too large" in _config_error(lambda: load_receipt_key(big)).message_en
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert "Ed25519" in _config_error(lambda: load_receipt_key(ec_key)).message_en
    good = tmp_path / "good.pem"
    generate_receipt_key(good)
    truncated = tmp_path / "truncated.pem"
    truncated.write_bytes(good.read_bytes()[:60])
    _config_error(lambda: load_receipt_key(truncated))


def test_certificate_and_receipt_key_files_cannot_be_swapped(tmp_path: Path) -> None:
    passphrase = b"correct horse battery staple"
    certificate_file = signing.save_private(signing.generate(), tmp_path / "keys", passphrase)
    error = _config_error(lambda: load_receipt_key(certificate_file))
    assert "encrypted" in error.message_en
    receipt_file = tmp_path / "receipt.key.pem"
    generate_receipt_key(receipt_file)
    with pytest.raises(ConfigError):
        signing.load_private(receipt_file, passphrase)


# -- the test vector of docs/RECEIPT-FORMAT.md -------------------------------------------------------


def _doc_vector() -> dict[str, Any]:
    doc = DOC.read_text(encoding="utf-8")
    section = re.search(r"^## \d+\. Test vector\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
    assert section, "docs/RECEIPT-FORMAT.md has no section 'Test vector'"
    block = re.search(r"^```json\n(.*?)^```$", section.group(1), re.M | re.S)
    assert block, "the section 'Test vector' has no JSON block"
    vector: dict[str, Any] = json.loads(block.group(1))
    return vector


def test_the_test_vector_in_the_doc() -> None:
    v = _doc_vector()
    signer = ReceiptSigner.from_seed(bytes.fromhex(v["seed"]))
    assert bytes.fromhex(v["seed"]) == bytes(range(32))
    assert signer.public_key.hex() == v["public_key"] and signer.jwk() == v["jwk"]
    rows, receipt = v["rows"], v["receipt"]
    assert hashlib.sha256(v["request"].encode("utf-8")).hexdigest() == receipt["request_sha256"]
    assert [row_leaf(r).decode("utf-8") for r in rows] == v["leaves"]
    assert [merkle.leaf_hash(row_leaf(r)).hex() for r in rows] == v["leaf_hashes"]
    assert results_root(rows) == v["results_root"] == receipt["results_root"]
    signed = signer.sign(ReceiptFields(**{name: receipt[name] for name in FIELD_NAMES}))
    assert signed == receipt  # every member, the signature included (Ed25519 is deterministic)
    assert (
        canonical({k: x for k, x in signed.items() if k != "signature"}).decode("utf-8") == v["signed_json"]
    )
    assert row_proof(rows, 2) == v["row_proof"]
    assert independent_verify(receipt, v["jwk"])
    assert check_receipt(receipt, {"keys": [v["jwk"]]}, rows).ok
    assert check_receipt(
        json.dumps(v["receipt"], indent=2, ensure_ascii=False).encode(), {"keys": [v["jwk"]]}
    ).ok
    assert check_row_proof(v["row_proof"], receipt)


def test_the_doc_states_the_constants() -> None:
    doc = DOC.read_text(encoding="utf-8")
    spelled = re.search(r"RECEIPT_DOMAIN = .*?\(18 bytes: ([0-9a-f ]+)\)", doc)
    assert spelled and bytes.fromhex(spelled.group(1)) == RECEIPT_DOMAIN and len(RECEIPT_DOMAIN) == 18
    assert merkle.EMPTY_ROOT.hex() in doc
    assert "://" not in doc  # nothing outside the repository is linked
