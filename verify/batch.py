"""Checking a result batch row by row: CSV/XLSX rows in, certificate drafts or row problems out.

Pure domain code: the caller supplies the uploading institution, its filed scopes and the ID
protector; nothing here touches the database. Every bad row is reported (line, column, value,
reason, zh/en), so an institution fixes a file in one round trip.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from verify import batchfile, codes, ids, names, payload
from verify.errors import InvalidCode, InvalidId, InvalidName, Problem

HEADER = {c.key: c.header_zh for c in batchfile.COLUMNS}

# Order of the draft tuples produced here; verify.store adds institution_id and batch_id.
DRAFT_FIELDS: tuple[str, ...] = (
    "number",
    "kind",
    "holder_name",
    "name_key",
    "id_type",
    "id_index",
    "id_cipher",
    "id_tail",
    "occupation_code",
    "occupation_name",
    "job",
    "level",
    "issue_date",
    "issue_form",
    "print_serial",
    "assessment_method",
    "photo_ref",
    "extra",
)

SKILL_KINDS = (codes.CodeKind.SKILL_LEVEL, codes.CodeKind.SKILL_LEVEL_HENAN)

# QR record field -> batch column, for reporting a value that cannot be carried in a signed record.
_RECORD_FIELD_COLUMNS = {
    "holder_name": "name",
    "occupation_name": "occupation_name",
    "occupation_code": "occupation_code",
    "job": "job",
    "id_tail": "id_number",
    "issue_date": "issue_date",
}


@dataclass(frozen=True, slots=True)
class Scope:
    occupation_code: str
    occupation_name: str
    job: str
    level: int | None
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True, slots=True)
class Issuer:
    code: str
    kind: str  # employer | social | technical_school | college | appraisal | special_assessor
    name: str


@dataclass(slots=True)
class CheckedBatch:
    """The outcome of checking rows; parts checked separately (in worker processes) merge with extend()."""

    drafts: list[tuple[Any, ...]] = field(default_factory=list)
    # Good rows already encoded for COPY (text format), when checked in a worker process: one
    # bytes object crosses the process boundary instead of a million pickled tuples.
    payload: bytes = b""
    good: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)
    # (canonical number, line) of every row whose number parsed, good row or not: the in-batch
    # duplicate check (rule 13) needs them all.
    numbers: list[tuple[str, int]] = field(default_factory=list)
    # (institution key, year, level, serial, line) of good rows, for the serial-order check (rule 14).
    serials: list[tuple[str, int, int | None, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def extend(self, other: CheckedBatch) -> None:
        self.drafts.extend(other.drafts)
        self.good += other.good
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)
        self.bad_lines |= other.bad_lines
        self.numbers.extend(other.numbers)
        self.serials.extend(other.serials)


class ScopeIndex:
    """Filed scope rows keyed the way a certificate names them: (职业编码, 工种/方向, level).

    For 专项 the key is the project name with an empty occupation code and no level. Each key maps
    to its effective windows, so a scope addition (增量备案) only counts from its own date (rule 42).
    """

    def __init__(self, scopes: Iterable[Scope]) -> None:
        self._windows: dict[tuple[str, str, int | None], list[tuple[date, date | None, str]]] = defaultdict(
            list
        )
        for s in scopes:
            key = (s.occupation_code, s.job, s.level) if s.occupation_code else ("", s.occupation_name, None)
            self._windows[key].append((s.effective_from, s.effective_to, s.occupation_name))

    def filed_name(self, key: tuple[str, str, int | None], on: date) -> str | None:
        """The filed occupation name if the key is in scope on that date, else None."""
        for start, end, name in self._windows.get(key, ()):
            if start <= on and (end is None or on <= end):
                return name
        return None

    def known(self, key: tuple[str, str, int | None]) -> bool:
        return key in self._windows


def _problem(
    line: int | None,
    key: str,
    value: str | None,
    code: str,
    zh: str,
    en: str,
    rule: int | None = None,
    *,
    severity: str = "error",
) -> Problem:
    return Problem(
        code=code,
        message_zh=zh,
        message_en=en,
        line=line,
        column=HEADER.get(key, key),
        found=value,
        rule=rule,
        severity=severity,
    )


def _relocate(p: Problem, line: int, key: str, *, hide_found: bool = False) -> Problem:
    """A parser's problem, placed on the batch row and column it came from."""
    return Problem(
        code=p.code,
        message_zh=p.message_zh,
        message_en=p.message_en,
        position=p.position,
        found=None if hide_found else p.found,
        allowed=p.allowed,
        line=line,
        column=HEADER.get(key, key),
        rule=p.rule,
        severity=p.severity,
    )


def check_rows(
    rows: Sequence[batchfile.RawRow],
    *,
    issuer: Issuer,
    scopes: ScopeIndex,
    protector: ids.IdProtector,
    today: date,
    cross_row: bool = True,
) -> CheckedBatch:
    """Check every row; returns drafts for good rows and every problem of every bad row. Never raises.

    With ``cross_row=False`` the checks that need the whole batch (duplicates inside it, serial
    order) are left for ``finish``, so parts checked separately can be merged first.
    """
    out = CheckedBatch()
    id_types = ids.ID_TYPE_LABELS_ZH
    for row in rows:
        line, v = row.line, row.values
        bad: list[Problem] = []

        # --- certificate number (rules 1-19), ownership (rule 12) and duplicates inside the file (rule 13)
        number: codes.CertificateNumber | None = None
        raw_number = v.get("number", "")
        try:
            number = codes.parse_certificate_number(raw_number, today=today)
        except InvalidCode as exc:
            bad.extend(_relocate(p, line, "number") for p in exc.problems)
        if number is not None:
            if number.institution_key != issuer.code:
                bad.append(
                    _problem(
                        line,
                        "number",
                        raw_number,
                        "not_own_institution",
                        f"证书编号的机构部分 {number.institution_key} 不属于上传机构 {issuer.code}",
                        f"the institution part {number.institution_key} of the number does not belong to the "
                        f"uploading institution {issuer.code}",
                        12,
                    )
                )
            out.numbers.append((number.canonical, line))

        # --- issue date; year inside the number must agree (rule 23)
        issue: date | None = None
        raw_date = v.get("issue_date", "")
        try:
            issue = batchfile.parse_issue_date(raw_date)
        except ValueError as exc:
            bad.append(_problem(line, "issue_date", raw_date, "bad_date", *_reason(exc)))
        if issue is not None:
            if issue > today:
                bad.append(
                    _problem(
                        line,
                        "issue_date",
                        raw_date,
                        "date_in_future",
                        "发证日期晚于今天",
                        "the issue date is after today",
                    )
                )
            if number is not None and number.year != issue.year:
                bad.append(
                    _problem(
                        line,
                        "issue_date",
                        raw_date,
                        "year_mismatch",
                        f"证书编号中的年份 {number.year} 与发证日期年份 {issue.year} 不一致",
                        f"the year {number.year} inside the number differs from the issue date year {issue.year}",
                        23,
                    )
                )

        # --- level; the level inside the number must agree (rule 23)
        level: int | None = None
        raw_level = v.get("level", "")
        is_skill = number is not None and number.kind in SKILL_KINDS
        try:
            level = batchfile.parse_level(raw_level)
        except ValueError as exc:
            bad.append(_problem(line, "level", raw_level, "bad_level", *_reason(exc)))
            level = -1
        if number is not None and level != -1:
            if is_skill and level is None:
                bad.append(
                    _problem(
                        line,
                        "level",
                        raw_level,
                        "level_missing",
                        "职业技能等级证书必须填写职业技能等级",
                        "a skill-level certificate needs a level",
                        20,
                    )
                )
            elif is_skill and level != number.level:
                bad.append(
                    _problem(
                        line,
                        "level",
                        raw_level,
                        "level_mismatch",
                        f"证书编号中的等级代码 {number.level} 与职业技能等级 {level} 不一致",
                        f"the level code {number.level} inside the number differs from the level column {level}",
                        23,
                    )
                )
            elif not is_skill and level is not None:
                bad.append(
                    _problem(
                        line,
                        "level",
                        raw_level,
                        "level_not_allowed",
                        "专项职业能力证书不划分等级，等级应为空",
                        "a 专项 certificate has no level; leave the column empty",
                        29,
                    )
                )

        # --- holder name
        holder_name = name_key = ""
        raw_name = v.get("name", "")
        try:
            holder_name = names.normalize_name(raw_name)
            name_key = names.key_of(holder_name)
        except InvalidName as exc:
            if exc.problems:
                bad.extend(_relocate(p, line, "name") for p in exc.problems)
            else:
                bad.append(_problem(line, "name", raw_name, exc.reason, exc.message_zh, exc.message_en))

        # --- holder ID: never echo the number back (it would end up in logs and reports)
        id_type: ids.IdType | None = None
        canonical_id = ""
        raw_type = v.get("id_type", "")
        id_type = id_types.get(raw_type.strip()) or _id_type_by_value(raw_type)
        if id_type is None:
            bad.append(
                _problem(
                    line,
                    "id_type",
                    raw_type,
                    "unknown_id_type",
                    "证件类型无法识别",
                    "unknown ID type; use one of the listed types",
                )
            )
        else:
            try:
                canonical_id = ids.validate_id(v.get("id_number", ""), id_type, today=today)
            except InvalidId as exc:
                if exc.problems:
                    bad.extend(_relocate(p, line, "id_number", hide_found=True) for p in exc.problems)
                else:
                    bad.append(_problem(line, "id_number", None, exc.reason, exc.message_zh, exc.message_en))

        # --- occupation, 工种 and filed scope on the issue date (rules 21, 25, 42)
        job = batchfile.normalize_job(v.get("job", ""))
        occupation_code = v.get("occupation_code", "").strip()
        occupation_name = v.get("occupation_name", "").strip()
        if not occupation_name:
            bad.append(
                _problem(
                    line, "occupation_name", "", "missing", "职业名称不能为空", "occupation name is required"
                )
            )
        if is_skill and not occupation_code:
            bad.append(
                _problem(
                    line,
                    "occupation_code",
                    "",
                    "missing",
                    "职业技能等级证书必须填写职业编码",
                    "a skill-level certificate needs an occupation code",
                    20,
                )
            )
        if number is not None and issue is not None and level != -1 and occupation_name:
            key = (occupation_code, job, level) if is_skill else ("", occupation_name, None)
            filed = scopes.filed_name(key, issue)
            if filed is None:
                why_zh = "不在该机构备案范围内" if not scopes.known(key) else "在发证日期不在备案有效期内"
                why_en = (
                    "is not in the institution's filed scope"
                    if not scopes.known(key)
                    else ("was not in force on the issue date")
                )
                bad.append(
                    _problem(
                        line,
                        "occupation_code" if is_skill else "occupation_name",
                        f"{occupation_code} {occupation_name} / {job} / {level if level is not None else '-'}",
                        "out_of_scope",
                        f"职业（工种）与等级{why_zh}（超范围）",
                        f"occupation / 工种 / level {why_en} (超范围)",
                        25,
                    )
                )
            elif is_skill and filed != occupation_name:
                bad.append(
                    _problem(
                        line,
                        "occupation_name",
                        occupation_name,
                        "occupation_name_mismatch",
                        f"职业名称应与备案一致：{filed}",
                        f"the occupation name must match the filed name: {filed}",
                        25,
                    )
                )

        # --- form of issue
        issue_form = "paper"
        raw_form = v.get("issue_form", "")
        try:
            issue_form = batchfile.parse_issue_form(raw_form)
        except ValueError as exc:
            bad.append(_problem(line, "issue_form", raw_form, "bad_issue_form", *_reason(exc)))

        if not bad:
            assert number is not None and issue is not None
            # Every stored certificate must be signable: the QR record's field rules (lengths in bytes,
            # NFC, no control characters) apply at import, not as a surprise at publication (rule 30).
            try:
                payload.encode_body(
                    payload.CertificateRecord(
                        number.canonical,
                        holder_name,
                        canonical_id[-4:],
                        occupation_code,
                        occupation_name,
                        job,
                        issue,
                        "0000",
                    )  # fmt: skip
                )
            except payload.RecordError as exc:
                column = _RECORD_FIELD_COLUMNS.get(exc.field, "number")
                bad.append(
                    _problem(
                        line, column, v.get(column, ""), f"not_encodable_{exc.why}",
                        f"该字段无法写入证书二维码：{exc}", f"this field cannot be carried in the certificate QR: {exc}", 30,
                    )
                )  # fmt: skip
        if bad:
            out.problems.extend(bad)
            out.bad_lines.add(line)
            continue
        assert number is not None and issue is not None and id_type is not None
        if (
            number.kind is codes.CodeKind.SKILL_LEVEL_HENAN
            and number.canonical[9] == "9"
            and issuer.kind != "technical_school"
        ):
            out.warnings.append(
                _problem(
                    line,
                    "number",
                    number.canonical,
                    "position10_school",
                    "河南用人单位编码第 10 位为 9 表示技工院校认定中心，但上传机构不是技工院校",
                    "position 10 = 9 marks a 技工院校 centre in Henan, but the uploader is not one",
                    11,
                    severity="warning",
                )
            )
        out.serials.append((number.institution_key, number.year, number.level, number.serial, line))
        extra = {k: v[k] for k in ("gender", "education", "score") if v.get(k)}
        out.good += 1
        out.drafts.append(
            (
                number.canonical,
                number.kind.value,
                holder_name,
                name_key,
                id_type.value,
                protector.blind_index(id_type, canonical_id),
                protector.encrypt(id_type, canonical_id, aad=number.canonical.encode()),
                ids.id_tail(canonical_id),
                occupation_code,
                occupation_name,
                job,
                level,
                issue,
                issue_form,
                v.get("print_serial") or None,
                v.get("assessment_method") or None,
                v.get("photo_ref") or None,
                extra or None,
            )
        )
    if cross_row:
        finish(out)
    return out


def finish(checked: CheckedBatch) -> None:
    """The checks that need the whole batch: duplicates inside it (rule 13) and serial order (rule 14)."""
    first_line: dict[str, int] = {}
    duplicates: list[Problem] = []
    for number, line in checked.numbers:
        first = first_line.setdefault(number, line)
        if first != line:
            duplicates.append(
                _problem(
                    line,
                    "number",
                    number,
                    "duplicate_in_batch",
                    f"证书编号与第 {first} 行重复",
                    f"certificate number repeats line {first}",
                    13,
                )
            )
            checked.bad_lines.add(line)
    if duplicates:
        checked.problems.extend(duplicates)
        checked.problems.sort(key=lambda p: p.line or 0)
    checked.warnings.extend(serial_warnings(checked.serials))


def serial_warnings(serials: list[tuple[str, int, int | None, int, int]], limit: int = 100) -> list[Problem]:
    """Rule 14: serials are assigned in order ("依次顺序取值"); report gaps and out-of-order rows as warnings."""
    groups: dict[tuple[str, int, int | None], list[tuple[int, int]]] = defaultdict(list)
    for key, year, level, serial, line in serials:
        groups[(key, year, level)].append((serial, line))
    found: list[Problem] = []
    for (key, year, level), items in groups.items():
        previous: int | None = None
        for serial, line in items:
            if previous is not None and serial < previous:
                found.append(
                    _warning(
                        line,
                        "serial_out_of_order",
                        f"流水号 {serial:06d} 排在 {previous:06d} 之后",
                        f"serial {serial:06d} comes after {previous:06d}",
                    )
                )
            previous = serial if previous is None else max(previous, serial)
        ordered = sorted(s for s, _ in items)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b - a > 1:
                found.append(
                    _warning(
                        None,
                        "serial_gap",
                        f"{key} {year} 年 {level or '-'} 级流水号 {a + 1:06d}–{b - 1:06d} 缺号",
                        f"{key} {year} level {level or '-'}: serials {a + 1:06d}-{b - 1:06d} are missing",
                    )
                )
        if len(found) >= limit:
            break
    return found[:limit]


def compact(rows: Sequence[batchfile.RawRow]) -> tuple[tuple[str, ...], list[tuple[int, tuple[str, ...]]]]:
    """Rows as (keys, [(line, values)]): plain tuples pickle several times faster than RawRow dicts."""
    keys = tuple(rows[0].values) if rows else ()
    return keys, [(r.line, tuple(r.values[k] for k in keys)) for r in rows]


def check_part(
    keys: tuple[str, ...],
    rows: list[tuple[int, tuple[str, ...]]],
    issuer: Issuer,
    scopes: ScopeIndex,
    index_key: bytes,
    enc_key: bytes,
    today: date,
    institution_id: int,
    batch_id: int,
) -> CheckedBatch:
    """``check_rows`` for one part of a batch, in a worker process: the protector is rebuilt here and
    good rows come back encoded for COPY (``copy_text``)."""
    raw = [batchfile.RawRow(line, dict(zip(keys, values, strict=True))) for line, values in rows]
    out = check_rows(
        raw, issuer=issuer, scopes=scopes, protector=ids.IdProtector(index_key, enc_key), today=today,
        cross_row=False,
    )  # fmt: skip
    if out.ok:
        out.payload = copy_text(out.drafts, institution_id, batch_id)
    out.drafts = []
    return out


_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(drafts: Sequence[tuple[Any, ...]], institution_id: int, batch_id: int) -> bytes:
    """Drafts as PostgreSQL COPY text format, columns as in verify.store.CERTIFICATE_COLUMNS."""
    lines = []
    inst, bid = str(institution_id), str(batch_id)
    for d in drafts:
        fields = [d[0], d[1], inst, bid]
        for value in d[2:]:
            if value is None:
                fields.append("\\N")
            elif isinstance(value, bytes):
                fields.append("\\\\x" + value.hex())
            elif isinstance(value, str):
                fields.append(value.translate(_ESCAPE))
            elif isinstance(value, dict):
                fields.append(json.dumps(value, ensure_ascii=False).translate(_ESCAPE))
            else:  # int level, date issue_date
                fields.append(str(value))
        lines.append("\t".join(fields))
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _warning(line: int | None, code: str, zh: str, en: str) -> Problem:
    return _problem(line, "number", None, code, zh, en, 14, severity="warning")


def _reason(exc: ValueError) -> tuple[str, str]:
    args = [str(a) for a in exc.args]
    if len(args) >= 2:
        return args[0], args[1]
    text = args[0] if args else "invalid value"
    return text, text


def _id_type_by_value(raw: str) -> ids.IdType | None:
    try:
        return ids.IdType(raw.strip())
    except ValueError:
        return None
