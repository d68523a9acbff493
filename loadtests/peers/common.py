"""What the peers share: the one primary-key query, its JSON, and where the database is.

Only the standard library here, so every peer pays for its own framework and driver alone."""

from __future__ import annotations

import os
from datetime import date
from typing import Any

# The published certificate by number, as verify.db.certificates.published_certificate reads it
# (the columns a public answer shows, its issuer, published batches only).
QUERY = (
    "SELECT c.number, c.holder_name, c.id_type, c.id_tail, c.occupation_code, c.occupation_name,"
    " c.job, c.level, c.issue_date, c.status, i.code AS issuer_code, i.name AS issuer_name"
    " FROM certificates c JOIN institutions i ON i.id = c.institution_id"
    " JOIN batches b ON b.id = c.batch_id WHERE c.number = $1 AND b.state = 'published'"
)
NOT_FOUND = {"found": False}


def dsn() -> str:
    """The database of the benchmark (``bench_http`` sets PEER_DSN)."""
    return os.environ["PEER_DSN"]


def answer(row: Any) -> dict[str, Any]:
    """The JSON of one certificate: printed fields, ID masked to its last 4, status, issuer."""
    issued: date = row["issue_date"]
    return {
        "found": True,
        "certificate": {
            "number": row["number"],
            "holder_name": row["holder_name"],
            "id_masked": "*" * 14 + row["id_tail"],
            "occupation": {"code": row["occupation_code"] or None, "name": row["occupation_name"]},
            "job": row["job"],
            "level": row["level"],
            "issue_date": issued.isoformat(),
            "status": row["status"],
            "issuer": {"code": row["issuer_code"], "name": row["issuer_name"]},
        },
    }
