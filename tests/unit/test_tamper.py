"""Tampering with a signed payload in any way is never accepted (docs/SECURITY.md §5 S1): every field
changed one at a time, every bit of the signature and of the whole payload flipped, the record
re-signed with an unknown key, truncated, extended. Checked through the verification function the
service uses, against an in-memory status snapshot holding the one genuine key."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from verify.crypto import signing
from verify.domain import payload
from verify.domain.institution import IssuerState
from verify.domain.snapshot import KeyRecord, Snapshot, build_snapshot
from verify.domain.verification import verify_payload

SEED = bytes(range(32))  # test-only key
PAIR = signing.pair_from_seed(SEED)
SIGNER = signing.Signer(PAIR)
RECORD = payload.CertificateRecord(
    number="S000041010012254000001", holder_name="张三丰", id_tail="123X", occupation_code="6-18-01-01",
    occupation_name="车工", job="普通车床", issue_date=date(2025, 6, 18), kid=PAIR.kid,
)  # fmt: skip
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _snapshot(status: str = "active") -> Snapshot:
    key = KeyRecord(PAIR.public_key, PAIR.kid, NOW, None, status, NOW, None)
    institutions = [IssuerState("S000041010012", "测试机构", "active", date(2020, 1, 1))]
    return build_snapshot({}, institutions, [key], NOW)


def _sign(record: payload.CertificateRecord, signer: signing.Signer = SIGNER) -> bytes:
    body = payload.encode_body(record)
    return payload.assemble(body, signer.sign(payload.signed_message(body)))


def _outcome(data: bytes, snapshot: Snapshot | None = None) -> str:
    result = verify_payload(
        data, snapshot or _snapshot(), fresh=True, check_signature=signing.verify_signature
    )
    return result.outcome


GENUINE = _sign(RECORD)


def test_the_genuine_payload_is_valid() -> None:
    assert _outcome(GENUINE) == "valid"


@pytest.mark.parametrize(
    "change",
    [
        {"number": "S000041010012254000002"},
        {"number": "Y000041010012254000001"},
        {"holder_name": "张三"},
        {"holder_name": "张三峰"},
        {"id_tail": "1234"},
        {"occupation_code": "6-20-01-01"},
        {"occupation_code": ""},
        {"occupation_name": "钳工"},
        {"job": "数控车床"},
        {"job": "--"},
        {"issue_date": date(2025, 6, 19)},
        {"kid": f"{(int(PAIR.kid, 16) + 1) % 65536:04x}"},
    ],
)
def test_every_field_changed_is_forged(change: dict[str, object]) -> None:
    body = payload.encode_body(dataclasses.replace(RECORD, **change))  # type: ignore[arg-type]
    signature = payload.decode(GENUINE)[2]
    assert _outcome(payload.assemble(body, signature)) == "forged"


def test_every_signature_bit_flipped_is_forged() -> None:
    accepted = 0
    for bit in range(64 * 8):
        data = bytearray(GENUINE)
        data[len(data) - 64 + bit // 8] ^= 1 << (bit % 8)
        accepted += _outcome(bytes(data)) != "forged"
    assert accepted == 0


def test_every_payload_bit_flipped_is_never_accepted() -> None:
    accepted = []
    for bit in range(len(GENUINE) * 8):
        data = bytearray(GENUINE)
        data[bit // 8] ^= 1 << (bit % 8)
        if _outcome(bytes(data)) != "forged":
            accepted.append(bit)
    assert accepted == []


def test_resigned_with_an_unknown_key_is_forged() -> None:
    stranger = signing.Signer(signing.pair_from_seed(bytes(range(1, 33))))
    # same kid in the record, signed by a key the service never published
    assert _outcome(_sign(RECORD, stranger)) == "forged"
    assert _outcome(_sign(dataclasses.replace(RECORD, kid=stranger.kid), stranger)) == "forged"


@pytest.mark.parametrize("cut", [1, 2, 32, 63, 64, 65, 100])
def test_truncated_is_forged(cut: int) -> None:
    assert _outcome(GENUINE[:-cut]) == "forged"


@pytest.mark.parametrize("extra", [b"\x00", b"\xff" * 7, GENUINE[-64:]])
def test_extended_is_forged(extra: bytes) -> None:
    assert _outcome(GENUINE + extra) == "forged"


def test_compromised_key_is_forged_with_its_reason() -> None:
    result = verify_payload(
        GENUINE, _snapshot("compromised"), fresh=True, check_signature=signing.verify_signature
    )
    assert result.outcome == "forged" and result.reason == "key_compromised"
    assert result.to_json()["reason"]["en"] == "key compromised"


def test_retired_key_still_verifies() -> None:
    assert _outcome(GENUINE, _snapshot("retired")) == "valid"


def test_never_valid_without_a_status_source() -> None:
    stale = verify_payload(GENUINE, _snapshot(), fresh=False, check_signature=signing.verify_signature)
    assert stale.outcome == "status_unavailable" and stale.checks["signature"] == "ok"
    none = verify_payload(GENUINE, None, fresh=True, check_signature=signing.verify_signature)
    assert none.outcome == "status_unavailable"
