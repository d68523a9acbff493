"""SQL of the lookup throttle (``verify.domain.throttle``): one upsert per lookup, O(1) per check."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import asyncpg

from verify.db.certificates import PublishedRead, published_of
from verify.db.pool import Executor
from verify.domain.certificate import Published

# One lookup counted against its address's window, and the target's state read, as the CTE
# ``admission``. A row of ``lookup_throttle`` holds either an address's window or a target's
# wrong-name record; keys are HMACs of different inputs, so the two never share a row.
_ADMISSION = """
WITH address AS (
    INSERT INTO lookup_throttle AS t (key, window_no, hits)
    VALUES ($1, floor(extract(epoch FROM now()) / $2)::bigint, 1)
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN t.window_no = EXCLUDED.window_no THEN t.hits + 1 ELSE 1 END,
        window_no = EXCLUDED.window_no,
        touched_at = now()
    RETURNING hits, (window_no + 1) * $2 - extract(epoch FROM now()) AS window_left
), admission AS (
    SELECT a.hits, a.window_left::float8 AS window_left,
           g.key IS NOT NULL AS known,
           coalesce(extract(epoch FROM g.closed_until - now()), 0)::float8 AS closed_for
    FROM address a LEFT JOIN lookup_throttle g ON g.key = $3
)
"""
_ADMIT = _ADMISSION + "SELECT * FROM admission"

# The failure count after this one: back to 1 after a quiet spell ($3 seconds without a wrong name).
_NEXT = "CASE WHEN t.last_failure < now() - make_interval(secs => $3) THEN 1 ELSE t.failures + 1 END"


# The closed time after n wrong names: 0 below $4 (the free failures), else element n - $4 + 1 of
# $2 (the policy's back-off steps, the last repeating), so the formula lives once, in the domain.
def _closed(n: str) -> str:
    return (
        f"CASE WHEN {n} < $4 THEN interval '0' "
        f"ELSE make_interval(secs => ($2::int[])[least({n} - $4, $5) + 1]) END"
    )


_FAIL = f"""
INSERT INTO lookup_throttle AS t (key, failures, last_failure, closed_until)
VALUES ($1, 1, now(), now() + {_closed("1")})
ON CONFLICT (key) DO UPDATE SET
    failures = {_NEXT},
    last_failure = now(),
    closed_until = now() + {_closed(_NEXT)},
    touched_at = now()
"""


@dataclass(frozen=True, slots=True)
class Admission:
    hits: int  # lookups from this address in the current window, this one included
    window_left: float  # seconds until the address's window starts again
    target_known: bool  # the target has a row (wrong names on record)
    closed_for: float  # seconds the target stays closed (<= 0: open)


def _admission(row: asyncpg.Record) -> Admission:
    return Admission(row["hits"], row["window_left"], row["known"], row["closed_for"])


async def admit(conn: Executor, address_key: bytes, window: int, target_key: bytes) -> Admission:
    """Count one lookup from the address and read the target's state, in one round trip."""
    row = await conn.fetchrow(_ADMIT, address_key, window, target_key)
    assert row is not None
    return _admission(row)


@cache
def _admitting(read: PublishedRead) -> str:
    # The read joins the admission's one row; a read that finds nothing still returns that row.
    return f"{_ADMISSION}SELECT * FROM admission LEFT JOIN ({read.sql(4)}) r ON true{read.outer_order}"


async def admit_and_read(
    conn: Executor, address_key: bytes, window: int, target_key: bytes, read: PublishedRead, value: object
) -> tuple[Admission, list[Published]]:
    """``admit`` and the certificate ``read`` of ``value`` in one statement, so one round trip. The
    read is done whatever the admission says: the caller must not answer from it when the lookup
    is refused."""
    rows = await conn.fetch(_admitting(read), address_key, window, target_key, value)
    return _admission(rows[0]), published_of(rows)


async def record_failure(
    conn: Executor, target_key: bytes, free_failures: int, steps: list[int], quiet_seconds: int
) -> None:
    """One more wrong name for the target: closed for ``steps[k]`` seconds after ``free_failures + k``
    wrong names in a row (the last step repeating)."""
    await conn.execute(_FAIL, target_key, steps, float(quiet_seconds), free_failures, len(steps) - 1)


async def clear(conn: Executor, target_key: bytes) -> None:
    await conn.execute("DELETE FROM lookup_throttle WHERE key = $1", target_key)


async def sweep(conn: Executor, window: int, quiet_seconds: int) -> int:
    """Drop address rows of past windows and target rows quiet for a day; returns rows dropped."""
    status = await conn.execute(
        "DELETE FROM lookup_throttle WHERE"
        " (failures = 0 AND touched_at < now() - make_interval(secs => $1))"
        " OR (touched_at < now() - make_interval(secs => $2)"
        "     AND (closed_until IS NULL OR closed_until < now()))",
        float(2 * window),
        float(quiet_seconds),
    )
    return int(status.split()[-1])
