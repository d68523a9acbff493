"""Candidate bans (rule 46): recording the decisions, and the warning a later batch gets for a holder
who was barred on its assessment date. A mixin of ``verify.services.registry.Registry``.

人社职司便函〔2021〕57号 附件2 bars a candidate who cheated for the rest of that year (第六条), 2 years
(第七条, 情节轻微) or 5 years (第七条, 情节严重). Decisions are written, served and kept (第十七、二十条);
a 复核 that lifts one (第十九条) is a new record. The service records them and warns the reviewer;
it refuses nothing, because the decision and its dates belong to the deciding body and a reviewer
may know of a later 复核 not yet recorded (rule 46 is a SHOULD). The person is named only by the
blind index of the ID; every read is audited (rule 60).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from verify.crypto.idprotect import IdProtector
from verify.db import audit, bans
from verify.db.pool import Executor, Pool, UniqueViolation, transaction
from verify.domain.accounts import OPERATOR_ROLE
from verify.domain.batch.checked import problem
from verify.domain.errors import Conflict, InvalidInput, NotFound, Problem
from verify.domain.holder_ids import IdType, id_type_of, validate_id
from verify.domain.text import check_text

RULE = 46
SOURCE = "人社职司便函〔2021〕57号 附件2"
MAX_TEXT = 500
# A start date outside these bounds is a typo (the year), not a decision.
EARLIEST_START = date(1990, 1, 1)

# term -> (article applied by default, zh, en). The stored values never change.
TERMS: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "rest_of_year": (f"{SOURCE} 第六条", "当年不得参加评价", "barred for the rest of that year"),
        "two_years": (f"{SOURCE} 第七条（情节轻微）", "2 年内不得参加评价", "barred for 2 years"),
        "five_years": (f"{SOURCE} 第七条（情节严重）", "5 年内不得参加评价", "barred for 5 years"),
    }
)
_YEARS = {"two_years": 2, "five_years": 5}


def ban_ends(term: str, starts_on: date) -> date:
    """The last day of a ban (inclusive): 31 December of the start's year for "当年", else the day
    before the same date 2 or 5 years on (a 29 February start ends on 28 February). Raises
    InvalidInput for an unknown term."""
    if term == "rest_of_year":
        return date(starts_on.year, 12, 31)
    if term not in _YEARS:
        raise InvalidInput(
            f"禁考期限须为 {', '.join(TERMS)} 之一", f"the term must be one of {', '.join(TERMS)}",
            details={"field": "term"},
        )  # fmt: skip
    year = starts_on.year + _YEARS[term]
    try:
        anniversary = starts_on.replace(year=year)
    except ValueError:  # 29 February into a common year
        anniversary = date(year, 3, 1)
    return anniversary - timedelta(days=1)


def ban_warnings(
    matches: Sequence[bans.BanMatch], lines: Mapping[str, int], *, assessed: bool
) -> list[Problem]:
    """One ``candidate_banned`` warning per certificate and ban that meet (rule 46), on the row of
    the certificate's number; the ID is never quoted, the ban is named by its record number."""
    basis_zh, basis_en = ("考核日期", "assessment date") if assessed else ("发证日期", "issue date")
    out = []
    for m in matches:
        b = m.ban
        assert b.term is not None
        _, term_zh, term_en = TERMS[b.term]
        ref = f"，{b.document_ref}" if b.document_ref else ""
        ref_en = f", {b.document_ref}" if b.document_ref else ""
        out.append(
            problem(
                lines.get(m.number),
                "id_number",
                None,
                "candidate_banned",
                f"持证人在{basis_zh} {m.checked_on} 处于禁考期（{term_zh}，{b.starts_on} 至 {b.ends_on}，"
                f"依据 {b.article}，{b.decided_by}{ref}；禁考记录 #{b.id}）",
                f"the holder was barred from assessments on the {basis_en} {m.checked_on} ({term_en}, "
                f"{b.starts_on} to {b.ends_on}, under {b.article}, decided by {b.decided_by}{ref_en}; ban record "
                f"#{b.id})",
                RULE,
                severity="warning",
            )  # fmt: skip
        )
    return out


async def batch_ban_warnings(
    conn: Executor, batch_id: int, numbers: Sequence[tuple[str, int]], assessed_on: date | None
) -> list[Problem]:
    """The rule 46 warnings of a batch being imported: its certificates (already written in the
    open transaction ``conn``) against the recorded bans, in one statement. ``numbers`` are the
    (number, line) pairs of the batch, ``assessed_on`` its assessment date if the plan gives one
    (else each certificate's issue date counts)."""
    matches = await bans.batch_matches(conn, batch_id, assessed_on)
    if not matches:
        return []
    return ban_warnings(matches, dict(numbers), assessed=assessed_on is not None)


def _text(value: str | None, field: str) -> str | None:
    """An optional free-text field, trimmed (None when blank). Raises InvalidInput, BadCharacter."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            f"{field} 不能超过 {MAX_TEXT} 个字符",
            f"{field}: at most {MAX_TEXT} characters",
            details={"field": field},
        )
    return check_text(text, field)


def _required(value: str | None, field: str) -> str:
    """A required free-text field. Raises InvalidInput (blank, too long), BadCharacter."""
    text = _text(value, field)
    if text is None:
        raise InvalidInput(f"{field} 不能为空", f"{field} is required", details={"field": field})
    return text


def _decision_date(decided_on: date | None, today: date) -> date:
    """The decision date, today by default. Raises InvalidInput for a date after today."""
    decided = decided_on or today
    if decided > today:
        raise InvalidInput("决定日期不能晚于今天", "the decision date cannot be after today",
                           details={"field": "decided_on"})  # fmt: skip
    return decided


def _record_json(record: bans.BanRecord, today: date) -> dict[str, Any]:
    out = asdict(record)
    for key in ("starts_on", "ends_on", "decided_on", "recorded_at"):
        out[key] = out[key].isoformat() if out[key] is not None else None
    if record.term is not None:
        _, zh, en = TERMS[record.term]
        out["term_label"] = {"zh": zh, "en": en}
    out["in_force_today"] = (
        record.action == bans.BAN
        and record.reversed_by is None
        and record.starts_on is not None
        and record.ends_on is not None
        and record.starts_on <= today <= record.ends_on
    )
    return out


class CandidateBans:
    pool: Pool
    protector: IdProtector
    today: Callable[[], date]

    def _person(self, id_type: str, id_number: str) -> tuple[IdType, bytes]:
        """The ID type and the blind index of a person. Raises InvalidInput (unknown type), InvalidId."""
        kind = id_type_of(id_type)
        if kind is None:
            raise InvalidInput("证件类型无效", "unknown ID type", details={"field": "id_type"})
        canonical = validate_id(id_number, kind, today=self.today())
        return kind, self.protector.blind_index(kind, canonical)

    async def add_ban(
        self,
        id_type: str,
        id_number: str,
        *,
        term: str,
        decided_by: str,
        decided_on: date | None = None,
        starts_on: date | None = None,
        article: str | None = None,
        reason: str | None = None,
        document_ref: str | None = None,
        actor: str,
        role: str = OPERATOR_ROLE,
    ) -> dict[str, Any]:
        """Record a ban of the person with this ID (rule 46). It starts on ``starts_on`` (default the
        decision date, default today) and ends as ``ban_ends`` says; ``article`` defaults to the
        term's article. Raises InvalidInput (unknown term or ID type, missing deciding body, a
        decision dated after today), InvalidId."""
        kind, index = self._person(id_type, id_number)
        today = self.today()
        decided = _decision_date(decided_on, today)
        start = starts_on or decided
        if not EARLIEST_START <= start <= today + timedelta(days=366):
            raise InvalidInput(
                f"禁考起始日期须在 {EARLIEST_START} 与明年今日之间", f"the ban must start between {EARLIEST_START} and a year from today",
                details={"field": "starts_on"},
            )  # fmt: skip
        end = ban_ends(term, start)
        by = _required(decided_by, "decided_by")
        async with transaction(self.pool) as conn:
            ban_id = await bans.insert_ban(
                conn, id_index=index, term=term, starts_on=start, ends_on=end,
                article=_text(article, "article") or TERMS[term][0], reason=_text(reason, "reason"),
                document_ref=_text(document_ref, "document_ref"), decided_by=by, decided_on=decided,
                recorded_by=actor,
            )  # fmt: skip
            await audit.audit(conn, actor, "ban.add", f"ban:{ban_id}",
                              {"id_type": kind.value, "term": term, "starts_on": start.isoformat(),
                               "ends_on": end.isoformat(), "decided_by": by}, role=role)  # fmt: skip
            record = await bans.get_ban(conn, ban_id)
        assert record is not None
        return _record_json(record, today)

    async def reverse_ban(
        self,
        ban_id: int,
        *,
        decided_by: str,
        decided_on: date | None = None,
        article: str | None = None,
        reason: str | None = None,
        document_ref: str | None = None,
        actor: str,
        role: str = OPERATOR_ROLE,
    ) -> dict[str, Any]:
        """Record that a 复核 lifted ban ``ban_id`` (a new record; the ban stays, 第二十条). Raises
        NotFound (no such ban), Conflict (already lifted), InvalidInput."""
        today = self.today()
        decided = _decision_date(decided_on, today)
        by = _required(decided_by, "decided_by")
        try:
            async with transaction(self.pool) as conn:
                reversal = await bans.insert_reversal(
                    conn, ban_id, article=_text(article, "article") or f"{SOURCE} 第十九条（复核）",
                    reason=_text(reason, "reason"), document_ref=_text(document_ref, "document_ref"),
                    decided_by=by, decided_on=decided, recorded_by=actor,
                )  # fmt: skip
                if reversal is None:
                    raise NotFound(
                        f"未找到禁考记录 #{ban_id}", f"no ban record #{ban_id}", details={"ban": ban_id}
                    )
                await audit.audit(conn, actor, "ban.reverse", f"ban:{ban_id}",
                                  {"reversal": reversal, "decided_by": by}, role=role)  # fmt: skip
                record = await bans.get_ban(conn, reversal)
        except UniqueViolation:
            raise Conflict(f"禁考记录 #{ban_id} 已被复核撤销", f"ban record #{ban_id} was already lifted",
                           details={"ban": ban_id}) from None  # fmt: skip
        assert record is not None
        return _record_json(record, today)

    async def bans_of(
        self,
        id_type: str,
        id_number: str,
        *,
        actor: str,
        role: str = OPERATOR_ROLE,
        reason: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every record kept for the person with this ID, oldest first, each saying whether it is in
        force today. A non-public read: audited, naming the person by a prefix of the blind index
        only. Raises InvalidInput, InvalidId."""
        kind, index = self._person(id_type, id_number)
        records = await bans.records_of(self.pool, index)
        await audit.audit(self.pool, actor, "ban.read", f"idx:{index[:8].hex()}",
                          {"id_type": kind.value, "records": len(records)}, role=role, reason=reason)  # fmt: skip
        today = self.today()
        return [_record_json(r, today) for r in records]
