"""A certificate's status at a past moment, from its recorded events (rules 36, 37: nothing is
deleted, so the history answers "what did the service say at time t").

A receipt (docs/RECEIPT-FORMAT.md) records when a batch was verified; a recheck asks what has
changed since. The status at ``t`` is the one the latest event recorded by then leads to: an
event counts from the moment it was recorded (that is when an answer could first show it), and
its ``effective`` date is reported beside it (a revocation may be recorded after the date it
takes effect from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from verify.domain.events import ACTIVE, EVENT_STATUS, PUBLIC_STATUS, REASON_CATEGORIES


@dataclass(frozen=True, slots=True)
class PastEvent:
    """One recorded decision about a certificate, as the public may know it: what, from when, the
    public category, the successor, and when the service recorded it."""

    number: str
    event: str  # revoked | superseded | reinstated
    effective: date
    reason_category: str
    superseded_by: str | None
    recorded_at: datetime


def status_at(events: Sequence[PastEvent], moment: datetime) -> str:
    """The stored status (active | revoked | superseded) the events recorded by ``moment`` lead to;
    ``events`` oldest first. Raises nothing."""
    status = ACTIVE
    for e in events:
        if e.recorded_at > moment:
            break
        status = EVENT_STATUS[e.event]
    return status


def event_json(e: PastEvent) -> dict[str, Any]:
    """An event as a recheck reports it: the public facts only (never the article or the facts of
    the decision, rule 36)."""
    label = REASON_CATEGORIES.get(e.reason_category)
    return {
        "event": e.event,
        "status": PUBLIC_STATUS[EVENT_STATUS[e.event]],
        "effective": e.effective.isoformat(),
        "category": e.reason_category if e.event == "revoked" else None,
        "category_label": {"zh": label[0], "en": label[1]} if label and e.event == "revoked" else None,
        "superseded_by": e.superseded_by,
        "recorded_at": e.recorded_at.isoformat(),
    }


def events_since(events: Sequence[PastEvent], moment: datetime) -> list[PastEvent]:
    """The events recorded after ``moment``, oldest first."""
    return [e for e in events if e.recorded_at > moment]
