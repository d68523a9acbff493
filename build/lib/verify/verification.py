"""Verifying a scanned QR payload: authenticity from the signature, status from the status view.

The two answers are kept apart and both are reported (``checks``), with ``status_as_of``: a good
signature never becomes "valid" without a status source (then the outcome is status_unavailable).
Pure: the caller passes the payload, a status snapshot and the signature-check function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verify import codes, payload
from verify.errors import InvalidPayload
from verify.snapshot import Snapshot

OUTCOMES = (
    "valid",
    "revoked",
    "superseded",
    "issuer_suspended",
    "issuer_terminated",
    "forged",
    "status_unavailable",
)

MESSAGES: dict[str, tuple[str, str]] = {
    "valid": ("证书真实有效", "Genuine and valid"),
    "revoked": ("证书已被撤销", "This certificate has been revoked"),
    "superseded": ("证书已被更正或补发的新证书取代", "Superseded by a corrected or re-issued certificate"),
    "issuer_suspended": (
        "证书真实有效；发证机构目前暂停评价活动",
        "Genuine and valid; the issuer is currently suspended",
    ),
    "issuer_terminated": (
        "证书真实有效；发证机构已终止备案",
        "Genuine and valid; the issuer's filing has been terminated",
    ),
    "forged": (
        "无法确认为本系统签发的证书：可能是伪造或被篡改",
        "Not a certificate signed by this service: forged or altered",
    ),
    "status_unavailable": (
        "签名真实，但当前无法查询证书状态，请稍后再试",
        "The signature is genuine, but the current status cannot be checked right now",
    ),
}

FORGED_REASONS: dict[str, tuple[str, str]] = {
    "malformed": ("二维码内容格式不正确", "the QR content is malformed"),
    "unknown_key": ("签名密钥未知", "signed with an unknown key"),
    "bad_signature": ("签名不匹配：内容被改动或伪造", "the signature does not match: altered or forged"),
    "key_compromised": ("签名密钥已泄露作废（key compromised）", "key compromised"),
}


@dataclass(frozen=True, slots=True)
class Verification:
    outcome: str
    checks: dict[str, str]
    status_as_of: str | None
    reason: str | None = None
    certificate: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        zh, en = MESSAGES[self.outcome]
        body: dict[str, Any] = {
            "outcome": self.outcome,
            "message": {"zh": zh, "en": en},
            "checks": self.checks,
            "status_as_of": self.status_as_of,
        }
        if self.reason:
            rzh, ren = FORGED_REASONS.get(self.reason, (self.reason, self.reason))
            body["reason"] = {"code": self.reason, "zh": rzh, "en": ren}
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
    try:
        data = payload.payload_from_path(segment)
    except InvalidPayload as exc:
        return _malformed(exc, snapshot)
    return verify_payload(data, snapshot, fresh=fresh, check_signature=check_signature)


def _malformed(exc: InvalidPayload, snapshot: Snapshot | None) -> Verification:
    return Verification(
        "forged", {"format": "failed", "signature": "not_checked", "status": "not_checked"},
        snapshot.as_of.isoformat() if snapshot is not None else None,
        reason="malformed", details={"format_error": exc.details.get("why")},
    )  # fmt: skip


def verify_payload(
    data: bytes,
    snapshot: Snapshot | None,
    *,
    fresh: bool,
    check_signature: Callable[[bytes, bytes, bytes], bool],
) -> Verification:
    """Decode, check the signature against every key with the kid, then read the status. Never raises."""
    as_of = snapshot.as_of.isoformat() if snapshot is not None else None
    try:
        record, body, signature = payload.decode(data)
    except InvalidPayload as exc:
        return _malformed(exc, snapshot)
    if snapshot is None:
        return Verification("status_unavailable", {"format": "ok", "signature": "not_checked", "status": "unavailable"},
                            None)  # fmt: skip
    candidates = snapshot.keys_by_kid.get(record.kid, ())
    if not candidates:
        return Verification("forged", {"format": "ok", "signature": "unknown_key", "status": "not_checked"}, as_of,
                            reason="unknown_key")  # fmt: skip
    message = payload.signed_message(body)
    key = next((k for k in candidates if check_signature(k.public_key, message, signature)), None)
    if key is None:
        return Verification("forged", {"format": "ok", "signature": "failed", "status": "not_checked"}, as_of,
                            reason="bad_signature")  # fmt: skip
    if key.status == "compromised":
        return Verification(
            "forged", {"format": "ok", "signature": "key_compromised", "status": "not_checked"}, as_of,
            reason="key_compromised", details={"key": {"kid": key.kid, "compromised_since": key.status_since.isoformat()}},
        )  # fmt: skip
    printed = _printed_fields(record, snapshot)
    if not fresh:
        return Verification("status_unavailable", {"format": "ok", "signature": "ok", "status": "unavailable"}, as_of,
                            certificate=printed)  # fmt: skip
    checks = {"format": "ok", "signature": "ok", "status": "ok"}
    state = snapshot.certificates.get(record.number)
    if state is not None and state.status == "revoked":
        return Verification(
            "revoked", checks, as_of, certificate=printed,
            details={"revocation": {"effective": _iso(state.effective), "category": state.reason_category}},
        )  # fmt: skip
    if state is not None and state.status == "superseded":
        return Verification(
            "superseded", checks, as_of, certificate=printed,
            details={"superseded_by": state.superseded_by, "effective": _iso(state.effective)},
        )  # fmt: skip
    issuer = snapshot.institutions.get(record.institution_key)
    if issuer is not None and issuer.status == "suspended":
        return Verification("issuer_suspended", checks, as_of, certificate=printed,
                            details={"issuer_since": issuer.since.isoformat()})  # fmt: skip
    if issuer is not None and issuer.status == "terminated":
        return Verification("issuer_terminated", checks, as_of, certificate=printed,
                            details={"issuer_since": issuer.since.isoformat()})  # fmt: skip
    return Verification("valid", checks, as_of, certificate=printed)


def _printed_fields(record: payload.CertificateRecord, snapshot: Snapshot) -> dict[str, Any]:
    """What is printed on the paper: the scanner holds it, so the QR path may show it (never the full ID)."""
    issuer = snapshot.institutions.get(record.institution_key)
    level = record.level
    return {
        "number": record.number,
        "holder_name": record.holder_name,
        "id_tail": record.id_tail,
        "occupation": {"code": record.occupation_code or None, "name": record.occupation_name},
        "job": record.job,
        "level": None if level is None else {"code": level, "name": codes.LEVEL_NAMES[level]},
        "issue_date": record.issue_date.isoformat(),
        "institution": {
            "code": record.institution_key,
            "name": issuer.name if issuer else None,
            "status": issuer.status if issuer else None,
        },
        "kid": record.kid,
    }


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())
