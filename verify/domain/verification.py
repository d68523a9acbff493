"""Verifying a scanned QR payload: authenticity from the signature, status from the status view.

The two answers are kept apart and both are reported (``checks``), with ``status_as_of``: a good
signature never becomes "valid" without a status source (then the outcome is status_unavailable).
Pure: the caller passes the payload, a status snapshot and the signature-check function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verify.domain import corrections, payload
from verify.domain.certificate import record_fields
from verify.domain.errors import InvalidPayload
from verify.domain.events import ACTIVE
from verify.domain.snapshot import KeyRecord, Snapshot
from verify.domain.standing import outcome_of, standing_facts
from verify.domain.verdicts import FORGED_REASONS, OUTCOMES


@dataclass(frozen=True, slots=True)
class Verification:
    outcome: str
    checks: dict[str, str]
    status_as_of: str | None
    reason: str | None = None
    certificate: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "outcome": self.outcome,
            "message": OUTCOMES[self.outcome].message.to_json(),
            "checks": self.checks,
            "status_as_of": self.status_as_of,
        }
        if self.reason:
            body["reason"] = {"code": self.reason, **FORGED_REASONS[self.reason].to_json()}
        if self.certificate is not None:
            body["certificate"] = self.certificate
        body.update(self.details)
        return body


def verify_path(
    segment: str,
    snapshot: Snapshot | None,
    *,
    fresh: bool,
    check_signature: Callable[[bytes, bytes, bytes], bool],
) -> Verification:
    """``verify_payload`` for the Base32 text of a /c/<payload> URL. Never raises."""
    return _verified(decode_segment(segment), snapshot, fresh, check_signature)


def decoded_segment(segment: str) -> tuple[payload.CertificateRecord, bytes, bytes] | InvalidPayload:
    """The decoded payload of a URL segment, or the InvalidPayload it raises (returned, not raised,
    so that a cache can hold refusals too)."""
    try:
        return payload.decode(payload.payload_from_path(segment))
    except InvalidPayload as exc:
        return exc


# The same QR is scanned again and again (a hiring drive, a posted photo); decoding is a pure
# function of the text and costs more than the rest of a verification, so recent results are
# kept. Bounded: ~2 KB an entry. Status is never cached: it is read from the snapshot every time.
DECODE_CACHE_SIZE = 8192


# ``decoded_segment``, with the recent scans' answers kept.
decode_segment = functools.lru_cache(maxsize=DECODE_CACHE_SIZE)(decoded_segment)


def verify_payload(
    data: bytes,
    snapshot: Snapshot | None,
    *,
    fresh: bool,
    check_signature: Callable[[bytes, bytes, bytes], bool],
) -> Verification:
    """Decode, check the signature against every key with the kid, then read the status. Never raises."""
    try:
        decoded: tuple[payload.CertificateRecord, bytes, bytes] | InvalidPayload = payload.decode(data)
    except InvalidPayload as exc:
        decoded = exc
    return _verified(decoded, snapshot, fresh, check_signature)


def _verified(
    decoded: tuple[payload.CertificateRecord, bytes, bytes] | InvalidPayload,
    snapshot: Snapshot | None,
    fresh: bool,
    check_signature: Callable[[bytes, bytes, bytes], bool],
) -> Verification:
    keys = snapshot.keys_by_kid if snapshot is not None else None
    return judge(authentic(decoded, keys, check_signature), snapshot, fresh=fresh)


@dataclass(frozen=True, slots=True)
class Authenticity:
    """What a payload's bytes and signature say before any status is read: the half of a
    verification that needs only the public keys, so that a batch can run it in worker processes
    (``verify.services.qr_worker``) and judge the status in its own.

    ``check`` is "ok" (``key`` verified the signature), "not_checked" (no keys were given), or a
    ``FORGED_REASONS`` code: malformed (``format_error`` says why), unknown_key, bad_signature,
    key_compromised (``key`` is the compromised key)."""

    check: str
    record: payload.CertificateRecord | None = None
    format_error: str | None = None
    key: KeyRecord | None = None


def authentic(
    decoded: tuple[payload.CertificateRecord, bytes, bytes] | InvalidPayload,
    keys_by_kid: Mapping[str, Sequence[KeyRecord]] | None,
    check_signature: Callable[[bytes, bytes, bytes], bool],
) -> Authenticity:
    """The signature check of a decoded payload (``payload.decode``'s result or its error) against
    every key with the record's kid; ``keys_by_kid`` None checks nothing. Never raises."""
    if isinstance(decoded, InvalidPayload):
        return Authenticity("malformed", format_error=decoded.details.get("why"))
    record, body, signature = decoded
    if keys_by_kid is None:
        return Authenticity("not_checked", record)
    candidates = keys_by_kid.get(record.kid, ())
    if not candidates:
        return Authenticity("unknown_key", record)
    message = payload.signed_message(body)
    key = next((k for k in candidates if check_signature(k.public_key, message, signature)), None)
    if key is None:
        return Authenticity("bad_signature", record)
    return Authenticity("key_compromised" if key.status == "compromised" else "ok", record, key=key)


def judge(a: Authenticity, snapshot: Snapshot | None, *, fresh: bool) -> Verification:
    """The verification of an authenticity check: forged answers as they are, a genuine record's
    outcome from the status snapshot (``fresh`` False: status_unavailable). Never raises."""
    as_of = snapshot.as_of_text if snapshot is not None else None
    if a.check == "malformed":
        return Verification(
            "forged", {"format": "failed", "signature": "not_checked", "status": "not_checked"}, as_of,
            reason="malformed", details={"format_error": a.format_error},
        )  # fmt: skip
    record = a.record
    assert record is not None
    if snapshot is None or a.check == "not_checked":
        return Verification("status_unavailable", {"format": "ok", "signature": "not_checked", "status": "unavailable"},
                            as_of)  # fmt: skip
    if a.check in ("unknown_key", "bad_signature"):
        signature = "failed" if a.check == "bad_signature" else a.check
        return Verification("forged", {"format": "ok", "signature": signature, "status": "not_checked"}, as_of,
                            reason=a.check)  # fmt: skip
    key = a.key
    assert key is not None
    if a.check == "key_compromised":
        return Verification(
            "forged", {"format": "ok", "signature": "key_compromised", "status": "not_checked"}, as_of,
            reason="key_compromised", details={"key": {"kid": key.kid, "compromised_since": key.status_since.isoformat()}},
        )  # fmt: skip
    printed = _printed_fields(record, snapshot)
    if not fresh:
        return Verification("status_unavailable", {"format": "ok", "signature": "ok", "status": "unavailable"}, as_of,
                            certificate=printed)  # fmt: skip
    checks = {"format": "ok", "signature": "ok", "status": "ok"}
    current = snapshot.current.get(record.number)
    if current is not None and current.fields != corrections.printed(record):
        # An earlier version of a corrected certificate (rule 43): the current one is linked.
        return Verification(
            "superseded", checks, as_of, certificate=printed,
            details={"superseded_by": record.number, "effective": current.since or None, "current": current.path},
        )  # fmt: skip
    state = snapshot.certificates.get(record.number)
    status = state.status if state is not None else ACTIVE
    issuer = snapshot.institutions.get(record.institution_key)
    return Verification(
        outcome_of(status, issuer), checks, as_of, certificate=printed,
        details=standing_facts(status, state, issuer),
    )  # fmt: skip


def _printed_fields(record: payload.CertificateRecord, snapshot: Snapshot) -> dict[str, Any]:
    """What is printed on the paper: the scanner holds it, so the QR path may show it (never the full ID)."""
    return {
        **record_fields(record, snapshot.institutions.get(record.institution_key)),
        "id_tail": record.id_tail,
        "kid": record.kid,
    }
