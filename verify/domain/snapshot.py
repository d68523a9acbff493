"""What the status view holds: plain, immutable data (no I/O), shared by the view and verification.

Only what can change after a certificate is signed: certificates that are no longer active, the
issuers' names and states, and the signing keys with their states.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from verify.domain.certificate import Published
from verify.domain.corrections import CurrentVersion
from verify.domain.institution import ACTIVE, IssuerState
from verify.domain.standing import CertificateState


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A signing key as the registry knows it: the public half, its window and its state.

    ``not_before``/``not_after`` bound when the key may *sign*; its signatures keep verifying after
    the window ends unless the key is ``compromised`` (docs/QR-FORMAT.md §11).
    """

    public_key: bytes
    kid: str
    not_before: datetime
    not_after: datetime | None
    status: str  # active | retired | compromised
    status_since: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    certificates: dict[str, CertificateState]
    institutions: dict[str, IssuerState]
    keys_by_kid: dict[str, tuple[KeyRecord, ...]]
    as_of: datetime
    loaded_at: float = field(compare=False)  # time.monotonic() of the load, for freshness checks
    # Corrected certificates' current versions (rule 43): a QR of an earlier version is superseded.
    current: dict[str, CurrentVersion] = field(default_factory=dict)
    # ``as_of.isoformat()``, which every answer carries: formatted once, not once a row.
    as_of_text: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of_text", self.as_of.isoformat())


def build_snapshot(
    certificates: dict[str, CertificateState],
    institutions: Iterable[IssuerState],
    keys: Iterable[KeyRecord],
    as_of: datetime,
    current: dict[str, CurrentVersion] | None = None,
) -> Snapshot:
    by_kid: dict[str, list[KeyRecord]] = {}
    for k in keys:
        by_kid.setdefault(k.kid, []).append(k)
    return Snapshot(
        certificates=certificates,
        institutions={i.code: i for i in institutions},
        keys_by_kid={kid: tuple(states) for kid, states in by_kid.items()},
        as_of=as_of,
        loaded_at=time.monotonic(),
        current=current or {},
    )


def overlay(published: Published, snapshot: Snapshot) -> Published:
    """A published certificate read from a replica (which may lag), with the status view's exceptions
    laid over it: a certificate the view holds as revoked or superseded shows the view's state, an
    issuer the view holds as not active shows the view's state. An exception the row itself carries
    stands (the view may be the older of the two), so neither source can make the other's exception
    look active: the answer is never more favourable than the primary as the view last saw it."""
    state = snapshot.certificates.get(published.certificate.number)
    if state is None:
        status, state = published.status, published.state
    else:
        status = state.status
    issuer = snapshot.institutions.get(published.issuer.code)
    if issuer is None or issuer.status == ACTIVE:
        issuer = published.issuer
    if status == published.status and issuer == published.issuer and state == published.state:
        return published
    return Published(published.certificate, status, issuer, state)
