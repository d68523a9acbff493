"""Turning registered certificates into signed QR payloads (run only where the signing key is)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from verify.domain import payload
from verify.domain.certificate import Certificate, record_of


class SignerLike(Protocol):
    @property
    def kid(self) -> str: ...
    def sign(self, message: bytes) -> bytes: ...


def sign_certificates(
    items: Iterable[Certificate | Mapping[str, Any]], signer: SignerLike
) -> list[tuple[str, str, bytes]]:
    """(number, kid, payload) for each certificate (or row with its ``RECORD_FIELDS``).

    Raises payload.RecordError (a ValueError) for a record the format cannot carry; the same field
    rules run at import (rule 30), so it is not expected here."""
    out = []
    kid = signer.kid
    for c in items:
        record = record_of(c, kid)
        body = payload.encode_body(record)
        out.append((record.number, kid, payload.assemble(body, signer.sign(payload.signed_message(body)))))
    return out
