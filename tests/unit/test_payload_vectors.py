"""Golden vectors of the QR payload format (tests/assets/payload_vectors.json, docs/QR-FORMAT.md §9).

The committed file must be exactly what the generator produces, every valid vector must decode to its
record and verify under two independent Ed25519 implementations, and every invalid one must be refused
with its slug. Another implementation of the format (a JavaScript verifier, say) can run the same file.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.assets import make_payload_vectors as generator
from verify.crypto.signing import kid_of
from verify.domain.errors import InvalidPayload
from verify.domain.payload import (
    DOMAIN_TAG,
    CertificateRecord,
    decode,
    from_text,
    payload_from_path,
    qr_url,
    signed_message,
    to_text,
)

VECTORS: dict[str, Any] = json.loads(generator.VECTORS_PATH.read_text(encoding="utf-8"))


def test_committed_file_is_what_the_generator_makes() -> None:
    expected = generator.render(generator.build_vectors())
    assert generator.VECTORS_PATH.read_text(encoding="utf-8") == expected, (
        "payload_vectors.json is stale: run .venv/bin/python tests/assets/make_payload_vectors.py"
    )


def test_header_fields() -> None:
    assert bytes.fromhex(VECTORS["domain_tag_hex"]) == DOMAIN_TAG
    assert VECTORS["test_seed_hex"] == bytes(range(32)).hex()
    public_key = bytes.fromhex(VECTORS["public_key_hex"])
    assert bytes(nacl.signing.SigningKey(bytes(range(32))).verify_key) == public_key
    # The vectors spell out verify.crypto.signing.kid_of; the two must agree.
    assert VECTORS["kid"] == kid_of(public_key)
    assert "TEST ONLY" in VECTORS["comment"]


def test_there_are_enough_vectors() -> None:
    names = {v["name"] for v in VECTORS["valid"]}
    assert {"henan-zhang-sanfeng", "special-ability", "middle-dot-name", "supplementary-plane-name"} <= names
    slugs = {v["why"] for v in VECTORS["invalid"]}
    assert {
        "truncated",
        "unknown_version",
        "trailing_bytes",
        "non_canonical",
        "non_canonical_base32",
    } <= slugs


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: str(v["name"]))
def test_valid_vector(vector: dict[str, Any]) -> None:
    fields = dict(vector["record"])
    fields["issue_date"] = date.fromisoformat(fields["issue_date"])
    record = CertificateRecord(**fields)
    body = bytes.fromhex(vector["body_hex"])
    signature = bytes.fromhex(vector["signature_hex"])
    payload = body + signature

    assert from_text(vector["payload_base32"]) == payload
    assert to_text(payload) == vector["payload_base32"]
    assert vector["url"] == "HTTPS://VERIFY.EXAMPLE.CN/C/" + vector["payload_base32"]
    assert qr_url(VECTORS["base_url"], payload) == vector["url"]
    assert payload_from_path(vector["url"].rsplit("/", 1)[1].lower()) == payload

    assert decode(payload) == (record, body, signature)
    assert record.level == vector["derived"]["level"]
    assert record.institution_key == vector["derived"]["institution_key"]
    assert vector["sizes"] == {"body": len(body), "payload": len(payload), "url_chars": len(vector["url"])}

    message = signed_message(body)
    public_key = bytes.fromhex(VECTORS["public_key_hex"])
    nacl.signing.VerifyKey(public_key).verify(message, signature)
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)  # raises if invalid
    # The tag is part of what is signed: the bare body does not verify.
    with pytest.raises(Exception, match="(?i)signature"):
        nacl.signing.VerifyKey(public_key).verify(body, signature)


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: str(v["name"]))
def test_invalid_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload) as info:
        if vector["input"] == "text":
            decode(payload_from_path(vector["text"]))
        else:
            decode(bytes.fromhex(vector["hex"]))
    assert info.value.details["why"] == vector["why"]
