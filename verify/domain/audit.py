"""The audit log's hash chain (rule 60): an entry's canonical encoding, its SHA-256, and the walk
that checks a chain entry by entry.

The database computes the same hash in a trigger (``verify/db/migrations/005_audit_chain.sql``), so
every writer is chained whatever it does. This module recomputes it from the stored fields, so a
check never relies on the database's function (docs/DECISIONS.md D35, docs/SECURITY.md §7).

Canonical encoding, version 1: the concatenation of eleven fields, each its length as 4 bytes
big-endian followed by its bytes, or ``ff ff ff ff`` and no bytes for NULL:

    "verify.audit.v1", id (decimal ASCII), at (microseconds since 1970-01-01T00:00:00Z, decimal
    ASCII, may be negative), actor, role, action, target, detail, request_id, reason, prev_sha256

Text fields are UTF-8; ``detail`` is the jsonb value's canonical text as PostgreSQL prints it
(``detail::text``: keys ordered, ``", "`` and ``": "`` separators); ``prev_sha256`` is the previous
entry's 32 raw bytes, NULL for the first entry. ``sha256 = SHA-256(encoding)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from verify.domain.errors import AuditChainBroken, InvalidInput, Problem

CHAIN_VERSION = b"verify.audit.v1"
_NULL = b"\xff\xff\xff\xff"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored entry, fields as the table holds them (``detail_text`` is ``detail::text``)."""

    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    detail_text: str | None
    request_id: str | None
    reason: str | None
    prev_sha256: bytes | None
    sha256: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "detail": json.loads(self.detail_text) if self.detail_text is not None else None,
            "request_id": self.request_id,
            "reason": self.reason,
            "prev_sha256": self.prev_sha256.hex() if self.prev_sha256 is not None else None,
            "sha256": self.sha256.hex() if self.sha256 is not None else None,
        }


def _field(value: bytes | None) -> bytes:
    return _NULL if value is None else len(value).to_bytes(4, "big") + value


def _text(value: str | None) -> bytes | None:
    return None if value is None else value.encode("utf-8")


def epoch_microseconds(at: datetime) -> int:
    """Whole microseconds since the Unix epoch, exactly (no float on the way)."""
    return (at - _EPOCH) // _MICROSECOND


def canonical_encoding(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers (its stored fields, its stored link included)."""
    return b"".join(
        _field(part)
        for part in (
            CHAIN_VERSION,
            str(entry.id).encode("ascii"),
            str(epoch_microseconds(entry.at)).encode("ascii"),
            _text(entry.actor),
            _text(entry.role),
            _text(entry.action),
            _text(entry.target),
            _text(entry.detail_text),
            _text(entry.request_id),
            _text(entry.reason),
            entry.prev_sha256,
        )
    )


def entry_sha256(entry: AuditEntry) -> bytes:
    """The hash the entry must carry: SHA-256 of its canonical encoding."""
    return hashlib.sha256(canonical_encoding(entry)).digest()


def parse_head(text: str) -> bytes:
    """A head hash as printed by ``verify audit check`` (64 hex digits). Raises InvalidInput."""
    value = text.strip().lower()
    if not _HEX_HASH.fullmatch(value):
        raise InvalidInput(
            "--expect-head 须为 64 位十六进制（verify audit check 打印的 head）",
            "--expect-head takes 64 hex digits (the head that verify audit check prints)",
        )
    return bytes.fromhex(value)


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head_id: int | None
    head: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "head_id": self.head_id,
            "head": self.head.hex() if self.head else None,
        }


def _broken(problem: str, entry_id: int | None, zh: str, en: str, **details: Any) -> AuditChainBroken:
    return AuditChainBroken(
        f"审计日志哈希链断裂：{zh}",
        f"the audit log's hash chain is broken: {en}",
        problems=[Problem(problem, zh, en)],
        details={"problem": problem, "id": entry_id, **details},
    )


class ChainWalk:
    """Feed entries in id order; the first one that does not belong raises AuditChainBroken.

    ``expect_head``: a head an operator kept from an earlier check. The chain must still contain an
    entry with that hash (later entries may follow): if not, the tail was removed, or an entry at or
    before it was changed and the chain recomputed after it.
    """

    def __init__(self, expect_head: bytes | None = None) -> None:
        self.expect_head = expect_head
        self.entries = 0
        self.last: AuditEntry | None = None
        self.head_seen = expect_head is None

    def feed(self, entry: AuditEntry) -> None:
        """Raises AuditChainBroken (``modified`` or ``broken_link``) naming the entry."""
        prev = self.last
        if prev is None and entry.prev_sha256 is not None:
            raise _broken(
                "broken_link", entry.id,
                f"第一条记录 {entry.id} 指向一条不存在的前序记录（前面的记录被删除）",
                f"the first entry, {entry.id}, links to an entry that is not there (entries before it were removed)",
                previous_id=None,
            )  # fmt: skip
        if prev is not None and entry.prev_sha256 != prev.sha256:
            raise _broken(
                "broken_link", entry.id,
                f"记录 {entry.id} 不接续记录 {prev.id}：两者之间有记录被删除或插入",
                f"entry {entry.id} does not follow entry {prev.id}: an entry was removed or inserted between them",
                previous_id=prev.id,
            )  # fmt: skip
        if entry.sha256 != entry_sha256(entry):
            raise _broken(
                "modified", entry.id,
                f"记录 {entry.id} 的内容与其哈希不符（记录被修改）",
                f"entry {entry.id} does not match its hash (the entry was modified)",
            )  # fmt: skip
        self.entries += 1
        self.last = entry
        if not self.head_seen and entry.sha256 == self.expect_head:
            self.head_seen = True

    def feed_all(self, entries: Iterable[AuditEntry]) -> None:
        for entry in entries:
            self.feed(entry)

    def finish(self) -> ChainReport:
        """The count and head of a chain that checked out. Raises AuditChainBroken (``head_missing``)
        when the expected head was never met."""
        last = self.last
        if not self.head_seen:
            where = f"链止于记录 {last.id}" if last else "日志为空"
            where_en = f"the chain ends at entry {last.id}" if last else "the log is empty"
            raise _broken(
                "head_missing", last.id if last else None,
                f"预期的链头不在链中（{where}）：其后的记录被删除，或它之前的记录被改写后重算了链",
                f"the expected head is not in the chain ({where_en}): entries after it were removed, or an "
                "entry at or before it was changed and the chain recomputed",
                expected_head=self.expect_head.hex() if self.expect_head else None, entries=self.entries,
            )  # fmt: skip
        return ChainReport(self.entries, last.id if last else None, last.sha256 if last else None)
