"""The part of a batch import that runs in worker processes: check rows, encode the good ones.

Kept apart from ``verify.services.imports`` so that a worker imports only the domain checks, the
ID sealer and the COPY encoder (no driver, no web framework): rows travel in as plain tuples and
come back as COPY text (DECISIONS D10).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from verify.crypto.idprotect import IdProtector
from verify.db.copy_format import copy_text
from verify.domain.batch.checked import CheckedBatch
from verify.domain.batch.checks import BatchContext, check_rows
from verify.domain.batch.columns import RawRow
from verify.domain.institution import Institution, ScopeIndex, StatusChange

Compact = tuple[tuple[str, ...], list[tuple[int, tuple[str, ...]]]]
Unsealed = tuple[Institution, ScopeIndex, date, tuple[StatusChange, ...], frozenset[bytes] | None]


def compact(rows: Sequence[RawRow]) -> Compact:
    """Rows as (keys, [(line, values)]): plain tuples pickle several times faster than RawRow dicts."""
    keys = tuple(rows[0].values) if rows else ()
    return keys, [(r.line, tuple(r.values[k] for k in keys)) for r in rows]


def check_part(part: Compact, ctx: Unsealed, index_key: bytes, enc_key: bytes, batch_id: int) -> CheckedBatch:
    """``check_rows`` for one part of a batch, in a worker process: the context arrives without
    its sealer, which is rebuilt here from the keys, and good rows come back encoded for COPY (in
    ``encoded``), not as objects."""
    keys, rows = part
    raw = [RawRow(line, dict(zip(keys, values, strict=True))) for line, values in rows]
    issuer, scopes, today, history, roster = ctx
    full = BatchContext(issuer, scopes, IdProtector(index_key, enc_key), today, history, roster)
    return encoded(check_rows(raw, full, cross_row=False), issuer.id, batch_id)


def unsealed(ctx: BatchContext) -> Unsealed:
    """The context without its sealer, to send to a worker process."""
    return ctx.issuer, ctx.scopes, ctx.today, ctx.history, ctx.roster


def encoded(part: CheckedBatch, institution_id: int, batch_id: int) -> CheckedBatch:
    """The part with its good rows as COPY text instead of objects (when the part has no problem)."""
    if part.ok:
        part.encoded = copy_text(part.certificates, institution_id, batch_id)
    part.certificates = []
    return part
