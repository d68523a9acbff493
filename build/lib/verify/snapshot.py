"""What the status view holds: plain, immutable data (no I/O), shared by the view and verification."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class KeyRow:
    public_key: bytes
    kid: str
    not_before: datetime
    not_after: datetime | None
    status: str
    status_since: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class CertificateState:
    status: str  # revoked | superseded
    effective: date | None
    reason_category: str | None
    superseded_by: str | None


@dataclass(frozen=True, slots=True)
class InstitutionState:
    code: str
    name: str
    status: str
    since: date


@dataclass(frozen=True, slots=True)
class KeyState:
    public_key: bytes
    kid: str
    status: str  # active | retired | compromised
    status_since: datetime
    not_before: datetime
    not_after: datetime | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    certificates: dict[str, CertificateState]
    institutions: dict[str, InstitutionState]
    keys_by_kid: dict[str, tuple[KeyState, ...]]
    as_of: datetime
    loaded_at: float = field(compare=False)  # time.monotonic() of the load, for freshness checks


def build_snapshot(
    certificates: list[dict[str, Any]],
    institutions: list[dict[str, Any]],
    keys: list[KeyRow],
    as_of: datetime,
) -> Snapshot:
    by_kid: dict[str, list[KeyState]] = {}
    for k in keys:
        by_kid.setdefault(k.kid, []).append(
            KeyState(k.public_key, k.kid, k.status, k.status_since, k.not_before, k.not_after)
        )
    return Snapshot(
        certificates={
            r["number"]: CertificateState(
                r["status"], r["effective"], r["reason_category"], r["superseded_by"]
            )
            for r in certificates
        },
        institutions={
            r["code"]: InstitutionState(r["code"], r["name"], r["status"], r["status_since"])
            for r in institutions
        },
        keys_by_kid={kid: tuple(states) for kid, states in by_kid.items()},
        as_of=as_of,
        loaded_at=time.monotonic(),
    )
