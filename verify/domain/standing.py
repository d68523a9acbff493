"""A certificate's standing after it was signed: its own status (revoked, superseded) with the
public facts of that decision, and its issuer's status.

Every public answer about a certificate (the QR landing, the number + name and ID + name
lookups) takes its outcome from ``outcome_of`` and its facts from ``standing_facts``, so the
paths cannot tell a revoked or merged certificate's story differently (rule 61). The facts are
the public ones only: the date, the public reason category and the successor; the article and
the facts of a decision stay internal (rule 36).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from verify.domain.events import REASON_CATEGORIES, REVOKED, SUPERSEDED
from verify.domain.institution import ACTIVE, MERGED, SUSPENDED, TERMINATED, IssuerState


@dataclass(frozen=True, slots=True)
class CertificateState:
    """The latest decision about a certificate that is no longer active."""

    status: str  # revoked | superseded
    effective: date | None
    reason_category: str | None
    superseded_by: str | None


# The issuer's status -> the outcome of a certificate that is itself active (rule 38: it stays valid).
_ISSUER_OUTCOMES = {SUSPENDED: "issuer_suspended", TERMINATED: "issuer_terminated", MERGED: "issuer_merged"}


def outcome_of(status: str, issuer: IssuerState | None) -> str:
    """The outcome (``verify.domain.verdicts.OUTCOMES``) of a genuine certificate in ``status``
    (active | revoked | superseded) whose issuer is ``issuer`` (None: not in the registry)."""
    if status == REVOKED:
        return "revoked"
    if status == SUPERSEDED:
        return "superseded"
    if issuer is not None:
        return _ISSUER_OUTCOMES.get(issuer.status, "valid")
    return "valid"


def standing_facts(status: str, state: CertificateState | None, issuer: IssuerState | None) -> dict[str, Any]:
    """The public facts behind ``outcome_of``: for a revocation its date and public category, for a
    supersession its successor and date, and for an issuer that is no longer active the date of
    its status and, after a merger, the institution it merged into. Raises nothing."""
    facts: dict[str, Any] = {}
    if status == REVOKED:
        category = state.reason_category if state is not None else None
        label = REASON_CATEGORIES.get(category or "")
        facts["revocation"] = {
            "effective": _iso(state.effective if state is not None else None),
            "category": category,
            "category_label": {"zh": label[0], "en": label[1]} if label else None,
        }
    elif status == SUPERSEDED:
        facts["superseded_by"] = state.superseded_by if state is not None else None
        facts["effective"] = _iso(state.effective if state is not None else None)
    if issuer is not None and issuer.status != ACTIVE:
        facts["issuer_since"] = issuer.since.isoformat()
        if issuer.status == MERGED and issuer.merged_into:
            facts["merged_into"] = {"code": issuer.merged_into, "name": issuer.merged_into_name}
    return facts


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
