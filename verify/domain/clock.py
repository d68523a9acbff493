"""The calendar the registry dates things in: China Standard Time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def today_cst() -> date:
    """Certificates are dated in China Standard Time; a UTC date would be wrong for 8 hours a day."""
    return datetime.now(UTC).astimezone(CST).date()
