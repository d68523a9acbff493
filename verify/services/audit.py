"""The audit log's use cases (rule 60): check the hash chain, list one target's entries.

Plain functions over a pool, used by ``verify audit`` (docs/SECURITY.md §7.1).
"""

from __future__ import annotations

from verify.db import audit as audit_rows
from verify.db.pool import Executor
from verify.domain import codes
from verify.domain.audit import AuditEntry, ChainReport, ChainWalk
from verify.domain.errors import InvalidInput

# Entries per page of the walk: memory stays flat however long the log.
CHUNK = 2000
# Below every id the sequence can hand out, so the first page starts at the very first entry.
_BEFORE_FIRST = -(2**63)
SHOW_LIMIT = 10_000


async def check_chain(pool: Executor, *, expect_head: bytes | None = None, chunk: int = CHUNK) -> ChainReport:
    """Walk the whole chain in id order, recomputing every hash in Python; the count and head.

    Entries commit in chain order (the trigger's lock), so each page sees a prefix of the chain and
    entries appended during the walk are simply checked too. Reading reveals no entry, so it is not
    itself audited. Raises AuditChainBroken naming the first entry that is wrong, or when
    ``expect_head`` is no longer in the chain."""
    walk = ChainWalk(expect_head)
    after = _BEFORE_FIRST
    while True:
        page = await audit_rows.entries_after(pool, after, chunk)
        walk.feed_all(page)
        if len(page) < chunk:
            return walk.finish()
        after = page[-1].id


async def entries_for_target(
    pool: Executor, target: str, *, actor: str, role: str | None = None, reason: str | None = None
) -> list[AuditEntry]:
    """The entries about one target, oldest first (at most SHOW_LIMIT). Reading the log is a
    non-public read, so it is audited in turn (after the read, as ``audit.show``). Raises InvalidInput
    for an empty target."""
    wanted = target.strip()
    if not wanted:
        raise InvalidInput("请给出 --target", "give --target")
    # As typed (a login, a batch id) and in the canonical form of a number or code, as stored.
    spellings = sorted({wanted, codes.normalize(wanted)})
    entries = await audit_rows.entries_for_targets(pool, spellings, SHOW_LIMIT)
    await audit_rows.audit(
        pool, actor, "audit.show", None, {"target": wanted, "entries": len(entries)}, role=role, reason=reason
    )
    return entries
