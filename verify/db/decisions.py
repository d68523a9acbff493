"""SQL of decisions over many certificates (rule 35): which certificates a scope covers, and the
decision recorded with one event per certificate, in one statement.

A revocation of 100,000 certificates is one INSERT of the decision, one INSERT ... SELECT of the
events and one UPDATE of the statuses, chained in a single statement so it is one round trip and
one transaction (docs/BENCHMARKS.md, "Revocation at scale")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verify.db.pool import Conn, Executor
from verify.domain.events import (
    SCOPE_BATCH,
    SCOPE_CERTIFICATES,
    SCOPE_DECISION,
    SCOPE_ISSUED_BETWEEN,
    Decision,
    Scope,
)

_FROM = (
    " FROM certificates c JOIN batches b ON b.id = c.batch_id JOIN institutions i ON i.id = c.institution_id"
)
# The latest event of ``c`` names the decision ``$1``: what a reversal undoes (a certificate revoked
# again since, by another decision, is that one's to reverse).
_LATEST_BY = "(SELECT e.decision_id FROM certificate_events e WHERE e.number = c.number ORDER BY e.id DESC LIMIT 1) = $1"


@dataclass(frozen=True, slots=True)
class Target:
    """The SQL condition selecting a scope's certificates (on ``c``, ``b``, ``i``) and its parameters."""

    where: str
    args: tuple[Any, ...]


def target_of(scope: Scope, decision_id: int | None = None) -> Target:
    """The certificates ``scope`` covers, whatever their status (the caller adds the status it acts
    on). A reversal's scope needs the reversed decision's id."""
    if scope.kind == SCOPE_CERTIFICATES:
        if scope.batch:
            return Target(
                "c.number = ANY($1::text[]) AND b.public_id = $2", (list(scope.numbers), scope.batch)
            )
        return Target("c.number = ANY($1::text[])", (list(scope.numbers),))
    if scope.kind == SCOPE_BATCH:
        return Target("b.public_id = $1", (scope.batch,))
    if scope.kind == SCOPE_ISSUED_BETWEEN:
        return Target(
            "i.code = $1 AND c.issue_date BETWEEN $2 AND $3",
            (scope.institution, scope.issued_from, scope.issued_to),
        )
    assert scope.kind == SCOPE_DECISION and decision_id is not None
    return Target(
        f"c.number IN (SELECT number FROM certificate_events WHERE decision_id = $1) AND {_LATEST_BY}",
        (decision_id,),
    )


async def scope_summary(conn: Executor, target: Target) -> dict[str, Any]:
    """How many certificates the target covers, by status and by batch state, and the institution
    codes they belong to (for the jurisdiction check)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS total,"
        " count(*) FILTER (WHERE c.status = 'active' AND b.state = 'published') AS active,"
        " count(*) FILTER (WHERE b.state <> 'published') AS unpublished,"
        " coalesce(array_agg(DISTINCT i.code), '{}') AS institutions" + _FROM + f" WHERE {target.where}",
        *target.args,
    )
    assert row is not None
    return dict(row)


async def listed_problems(conn: Executor, numbers: list[str]) -> tuple[list[str], dict[str, str]]:
    """Of the listed numbers: those not in the registry, and those not active (number -> status)."""
    rows = await conn.fetch(
        "SELECT n AS number, c.status FROM unnest($1::text[]) n LEFT JOIN certificates c ON c.number = n",
        numbers,
    )
    missing = [r["number"] for r in rows if r["status"] is None]
    inactive = {r["number"]: r["status"] for r in rows if r["status"] not in (None, "active")}
    return missing, inactive


async def decision_by_public_id(conn: Executor, public_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT id, public_id, event, scope, effective, reason_category, decided_by, document_ref, served,"
        " reverses, certificates, recorded_by, recorded_at FROM certificate_decisions WHERE public_id = $1",
        public_id,
    )
    return None if row is None else dict(row)


async def record_decision(
    conn: Conn,
    public_id: str,
    decision: Decision,
    target: Target,
    *,
    from_status: str,
    recorded_by: str,
    reverses: int | None = None,
) -> int:
    """Record ``decision`` and apply it to every certificate of ``target`` in ``from_status`` whose
    batch is published: the decision row, one event per certificate and the new statuses, in one
    statement. The certificates are locked first, so a concurrent decision waits rather than
    interleaves. Returns how many certificates changed."""
    n = len(target.args)
    to_status = "active" if decision.event == "reinstated" else decision.event
    p = {name: f"${n + i}" for i, name in enumerate(
        ("public_id", "event", "scope", "effective", "category", "reason", "decided_by", "document_ref",
         "served", "reverses", "recorded_by", "from_status", "to_status"), start=1)}  # fmt: skip
    sql = f"""
WITH target AS (
    SELECT c.number{_FROM}
     WHERE {target.where} AND c.status = {p["from_status"]} AND b.state = 'published'
     ORDER BY c.number
     FOR UPDATE OF c
), decision AS (
    INSERT INTO certificate_decisions (public_id, event, scope, effective, reason_category, reason, decided_by,
                                       document_ref, served, reverses, certificates, recorded_by)
    SELECT {p["public_id"]}, {p["event"]}, {p["scope"]}::jsonb, {p["effective"]}, {p["category"]}, {p["reason"]},
           {p["decided_by"]}, {p["document_ref"]}, {p["served"]}, {p["reverses"]}::bigint,
           (SELECT count(*) FROM target), {p["recorded_by"]}
    RETURNING id
), events AS (
    INSERT INTO certificate_events (number, event, effective, reason_category, reason, decided_by, document_ref,
                                    served, recorded_by, decision_id)
    SELECT t.number, {p["event"]}, {p["effective"]}, {p["category"]}, {p["reason"]}, {p["decided_by"]},
           {p["document_ref"]}, {p["served"]}, {p["recorded_by"]}, d.id
      FROM target t CROSS JOIN decision d
    RETURNING number
)
UPDATE certificates c SET status = {p["to_status"]} FROM events e WHERE c.number = e.number
"""
    status = await conn.execute(
        sql,
        *target.args,
        public_id,
        decision.event,
        decision.scope.to_json(),
        decision.effective,
        decision.reason_category,
        decision.reason,
        decision.decided_by,
        decision.document_ref,
        decision.served,
        reverses,
        recorded_by,
        from_status,
        to_status,
    )
    return int(status.split()[-1])
