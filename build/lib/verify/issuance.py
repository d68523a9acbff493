"""Turning stored certificates into signed QR payloads (run only where the signing key is)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from verify import payload


class CertificateFields(Protocol):
    @property
    def number(self) -> str: ...
    @property
    def holder_name(self) -> str: ...
    @property
    def id_tail(self) -> str: ...
    @property
    def occupation_code(self) -> str: ...
    @property
    def occupation_name(self) -> str: ...
    @property
    def job(self) -> str: ...
    @property
    def issue_date(self) -> date: ...


class SignerLike(Protocol):
    @property
    def kid(self) -> str: ...
    def sign(self, message: bytes) -> bytes: ...


def record_of(c: CertificateFields, kid: str) -> payload.CertificateRecord:
    return payload.CertificateRecord(
        number=c.number,
        holder_name=c.holder_name,
        id_tail=c.id_tail,
        occupation_code=c.occupation_code,
        occupation_name=c.occupation_name,
        job=c.job,
        issue_date=c.issue_date,
        kid=kid,
    )


def sign_certificates(items: Sequence[CertificateFields], signer: SignerLike) -> list[tuple[str, str, bytes]]:
    """(number, kid, payload) for each certificate. Raises ValueError for a record the format
    cannot carry (caught at import time by the same field rules, so not expected here)."""
    out = []
    kid = signer.kid
    for c in items:
        body = payload.encode_body(record_of(c, kid))
        out.append((c.number, kid, payload.assemble(body, signer.sign(payload.signed_message(body)))))
    return out
