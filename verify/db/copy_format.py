"""COPY text format for certificate rows: pure encoding, no driver, so the worker processes that
check large batches can encode their part without importing asyncpg (DECISIONS D10)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from verify.domain.certificate import FIELDS, Certificate, values_of

# Columns written by an import, in COPY order: the model's fields, then the two parents.
COPY_COLUMNS: tuple[str, ...] = (*FIELDS, "institution_id", "batch_id")

_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(certificates: Sequence[Certificate], institution_id: int, batch_id: int) -> bytes:
    """Certificates as PostgreSQL COPY text format, in ``COPY_COLUMNS`` order. Raises nothing."""
    lines = []
    parents = (str(institution_id), str(batch_id))
    for c in certificates:
        cells = []
        for value in values_of(c):
            if value is None:
                cells.append("\\N")
            elif isinstance(value, bytes):
                cells.append("\\\\x" + value.hex())
            elif isinstance(value, str):
                cells.append(value.translate(_ESCAPE))
            elif isinstance(value, dict):
                cells.append(json.dumps(value, ensure_ascii=False).translate(_ESCAPE))
            else:  # int level, date issue_date
                cells.append(str(value))
        lines.append("\t".join((*cells, *parents)))
    return ("\n".join(lines) + "\n").encode() if lines else b""
