"""The part of a batch's QR rows that runs in worker processes: decode each payload and check its
signature (``verification.authentic``), which needs only the public keys; the parent judges each
row against its status view. An Ed25519 check (~60 µs) and the decode (~30 µs) are most of a QR
row's cost, so spreading them over every core is what makes a large batch fast (DECISIONS D62).

Kept apart from ``verify.services.batch_verification`` so that a worker imports only the payload
decoder and libsodium. Rows travel as strings and come back as plain tuples (``Shipped``), which
pickle ten times faster than the dataclasses they stand for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from verify.crypto.signing import verify_signature
from verify.domain import payload
from verify.domain.snapshot import KeyRecord
from verify.domain.verification import Authenticity, authentic, decoded_segment

Keys = Mapping[str, Sequence[KeyRecord]]
# (check, record fields or None, format error, index of the verifying key among its kid's keys)
Record = tuple[str, str, str, str, str, str, int, str]
Shipped = tuple[str, Record | None, str | None, int | None]


def authenticate(segment: str, keys: Keys | None) -> Authenticity:
    """``verification.authentic`` of one QR text (already upper case), decoded without the scans'
    cache (a batch's rows are rarely scanned again and would push the scans' entries out). Never
    raises."""
    return authentic(decoded_segment(segment), keys, verify_signature)


def authenticate_part(segments: Sequence[str], keys: Keys) -> list[Shipped]:
    """``authenticate`` for each segment, in a worker process, as ``Shipped`` tuples."""
    return [ship(authenticate(s, keys), keys) for s in segments]


def ship(a: Authenticity, keys: Keys) -> Shipped:
    r, key = a.record, a.key
    record: Record | None = None
    if r is not None:
        record = (r.number, r.holder_name, r.id_tail, r.occupation_code, r.occupation_name, r.job,
                  r.issue_date.toordinal(), r.kid)  # fmt: skip
    index = None if key is None or r is None else list(keys[r.kid]).index(key)
    return a.check, record, a.format_error, index


def unship(shipped: Shipped, keys: Keys) -> Authenticity:
    """The Authenticity a worker shipped, with its key taken from the same ``keys``."""
    check, record, format_error, index = shipped
    if record is None:
        return Authenticity(check, format_error=format_error)
    number, holder, tail, code, occupation, job, issued, kid = record
    r = payload.CertificateRecord(
        number=number, holder_name=holder, id_tail=tail, occupation_code=code, occupation_name=occupation,
        job=job, issue_date=date.fromordinal(issued), kid=kid,
    )  # fmt: skip
    return Authenticity(check, r, format_error, None if index is None else keys[kid][index])
