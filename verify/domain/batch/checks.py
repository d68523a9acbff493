"""Checking a result batch row by row: raw rows in, ``Certificate``s or row problems out.

Each rule is a small function over one ``Row``, named after what it checks and listed in
``ROW_CHECKS`` with the rule numbers it enforces (docs/RULES.md); ``check_rows`` runs the table
in order, so problems come out in column order. A new column gets its check here, in the table.

Pure domain code: the caller supplies the uploading institution, its filed scopes and the ID
sealer; nothing here touches the database. Every bad row is reported (line, column, value,
reason, zh/en), so an institution fixes a file in one round trip.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from verify.domain import assessment, codes, names, occupations, payload
from verify.domain import qr_budget as budgets
from verify.domain.batch import cells
from verify.domain.batch.checked import CheckedBatch, finish, problem
from verify.domain.batch.columns import COLUMNS_BY_KEY, RawRow
from verify.domain.certificate import PAPER, Certificate, record_of
from verify.domain.errors import InvalidCode, InvalidId, InvalidName, Problem
from verify.domain.holder_ids import IdType, id_tail, id_type_of, validate_id
from verify.domain.institution import ACTIVE, STATUS_LABELS, Institution, ScopeIndex, StatusChange, status_on

SKILL_KINDS = (codes.CodeKind.SKILL_LEVEL, codes.CodeKind.SKILL_LEVEL_HENAN)
# Optional template columns a 专项 certificate keeps as they are (rule 29).
EXTRA_KEYS = ("gender", "education", "score")

# Signed-record field -> batch column, to report a value the QR record cannot carry (rule 30).
_RECORD_FIELD_COLUMNS = {
    "holder_name": "name",
    "occupation_name": "occupation_name",
    "occupation_code": "occupation_code",
    "job": "job",
    "id_tail": "id_number",
    "issue_date": "issue_date",
}


class IdSealer(Protocol):
    """What the row checks need of ``verify.crypto.idprotect.IdProtector``."""

    def blind_index(self, id_type: IdType, canonical: str) -> bytes: ...
    def encrypt(self, id_type: IdType, canonical: str, *, aad: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BatchContext:
    issuer: Institution
    scopes: ScopeIndex
    sealer: IdSealer
    today: date
    # The issuer's status decisions with their effective dates (rule 39); none = never changed.
    history: tuple[StatusChange, ...] = ()
    # Blind indexes of the roster filed in advance (rule 34); None = no roster was filed.
    roster: frozenset[bytes] | None = None


class Row:
    """One row while it is checked: the raw cells, what has been read from them so far, and its
    problems. Later checks look at what earlier ones read (``None`` when a cell could not be read).

    A plain class with class-level defaults rather than a dataclass: a million rows are made per
    import, and setting four attributes instead of twenty saves a few microseconds a row."""

    number: codes.CertificateNumber | None = None
    issue_date: date | None = None
    level: int | None = None
    level_read: bool = True
    holder_name: str = ""
    name_key: str = ""
    id_type: IdType | None = None
    canonical_id: str = ""
    occupation_code: str = ""
    occupation_name: str = ""
    job: str = payload.NO_JOB
    issue_form: str = PAPER
    assessment_method: str | None = None
    is_skill: bool = False  # a 职业技能等级证书 number (set when the number parses)
    certificate: Certificate | None = None

    def __init__(self, line: int, values: Mapping[str, str]) -> None:
        self.line = line
        self.values = values
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def cell(self, key: str) -> str:
        return self.values.get(key, "")

    def bad(self, key: str, value: str | None, code: str, zh: str, en: str, rule: int | None = None) -> None:
        self.problems.append(problem(self.line, key, value, code, zh, en, rule))

    def relocate(self, found: Sequence[Problem], key: str, *, hide_found: bool = False) -> None:
        """A parser's problems, placed on this row and the column they came from."""
        column = COLUMNS_BY_KEY[key].header_zh
        for p in found:
            self.problems.append(
                Problem(
                    code=p.code,
                    message_zh=p.message_zh,
                    message_en=p.message_en,
                    position=p.position,
                    found=None if hide_found else p.found,
                    allowed=p.allowed,
                    line=self.line,
                    column=column,
                    rule=p.rule,
                    severity=p.severity,
                )  # fmt: skip
            )


# ------------------------------------------------------------------------------- the row checks


def number_format(row: Row, ctx: BatchContext) -> None:
    """The certificate number parses (rules 1-19)."""
    try:
        row.number = codes.parse_certificate_number(row.cell("number"), today=ctx.today)
    except InvalidCode as exc:
        row.relocate(exc.problems, "number")
        return
    row.is_skill = row.number.kind in SKILL_KINDS


def number_owned(row: Row, ctx: BatchContext) -> None:
    """The number's institution part is the uploader's (rule 12)."""
    n = row.number
    if n is not None and n.institution_key != ctx.issuer.code:
        row.bad(
            "number", row.cell("number"), "not_own_institution",
            f"证书编号的机构部分 {n.institution_key} 不属于上传机构 {ctx.issuer.code}",
            f"the institution part {n.institution_key} of the number does not belong to the uploading "
            f"institution {ctx.issuer.code}",
            12,
        )  # fmt: skip


def issue_date(row: Row, ctx: BatchContext) -> None:
    """The issue date reads and is not in the future."""
    raw = row.cell("issue_date")
    try:
        row.issue_date = cells.parse_issue_date(raw)
    except ValueError as exc:
        row.bad("issue_date", raw, "bad_date", *_reason(exc))
        return
    if row.issue_date > ctx.today:
        row.bad("issue_date", raw, "date_in_future", "发证日期晚于今天", "the issue date is after today")


def issuer_open_on_date(row: Row, ctx: BatchContext) -> None:
    """The issuer could issue on the issue date: not inside a suspension, not after a termination
    or merger, by the decisions' effective dates (rule 39)."""
    if row.issue_date is None or not ctx.history:
        return
    status = status_on(ctx.history, row.issue_date)
    if status != ACTIVE:
        zh, en = STATUS_LABELS[status]
        row.bad(
            "issue_date", row.cell("issue_date"), "issuer_not_active_on_date",
            f"发证日期当天机构状态为“{zh}”，不得发证", f"on the issue date the institution was {en}; it could not issue",
            39,
        )  # fmt: skip


def year_matches_date(row: Row, ctx: BatchContext) -> None:
    """The year inside the number is the issue date's year (rule 23)."""
    n, issued = row.number, row.issue_date
    if n is not None and issued is not None and n.year != issued.year:
        row.bad(
            "issue_date", row.cell("issue_date"), "year_mismatch",
            f"证书编号中的年份 {n.year} 与发证日期年份 {issued.year} 不一致",
            f"the year {n.year} inside the number differs from the issue date year {issued.year}",
            23,
        )  # fmt: skip


def level(row: Row, ctx: BatchContext) -> None:
    """The level reads; a skill-level certificate has one, equal to the number's (rules 20, 23); a
    专项 certificate has none (rule 29)."""
    raw = row.cell("level")
    try:
        row.level = cells.parse_level(raw)
    except ValueError as exc:
        row.bad("level", raw, "bad_level", *_reason(exc))
        row.level_read = False
        return
    n = row.number
    if n is None:
        return
    if row.is_skill and row.level is None:
        row.bad("level", raw, "level_missing", "职业技能等级证书必须填写职业技能等级",
                "a skill-level certificate needs a level", 20)  # fmt: skip
    elif row.is_skill and row.level != n.level:
        row.bad(
            "level", raw, "level_mismatch", f"证书编号中的等级代码 {n.level} 与职业技能等级 {row.level} 不一致",
            f"the level code {n.level} inside the number differs from the level column {row.level}", 23,
        )  # fmt: skip
    elif not row.is_skill and row.level is not None:
        row.bad("level", raw, "level_not_allowed", "专项职业能力证书不划分等级，等级应为空",
                "a 专项 certificate has no level; leave the column empty", 29)  # fmt: skip


def holder_name(row: Row, ctx: BatchContext) -> None:
    """The name is present and clean; stored normalised, matched by its key."""
    raw = row.cell("name")
    try:
        row.holder_name = names.normalize_name(raw)
        row.name_key = names.key_of(row.holder_name)
    except InvalidName as exc:
        if exc.problems:
            row.relocate(exc.problems, "name")
        else:
            row.bad("name", raw, exc.reason, exc.message_zh, exc.message_en)


def holder_id(row: Row, ctx: BatchContext) -> None:
    """The ID type is known and the ID valid for it. The number is never echoed back: it would end
    up in logs and reports."""
    raw_type = row.cell("id_type").strip()
    row.id_type = id_type_of(raw_type)
    if row.id_type is None:
        row.bad(
            "id_type",
            raw_type,
            "unknown_id_type",
            "证件类型无法识别",
            "unknown ID type; use one of the listed types",
        )
        return
    try:
        row.canonical_id = validate_id(row.cell("id_number"), row.id_type, today=ctx.today)
    except InvalidId as exc:
        if exc.problems:
            row.relocate(exc.problems, "id_number", hide_found=True)
        else:
            row.bad("id_number", None, exc.reason, exc.message_zh, exc.message_en)


def occupation(row: Row, ctx: BatchContext) -> None:
    """The occupation name is present; a skill-level certificate also has its code (rule 20)."""
    row.job = cells.normalize_job(row.cell("job"))
    row.occupation_code = row.cell("occupation_code").strip()
    row.occupation_name = row.cell("occupation_name").strip()
    if not row.occupation_name:
        row.bad("occupation_name", "", "missing", "职业名称不能为空", "occupation name is required")
    if row.is_skill and not row.occupation_code:
        row.bad("occupation_code", "", "missing", "职业技能等级证书必须填写职业编码",
                "a skill-level certificate needs an occupation code", 20)  # fmt: skip


def occupation_allowed(row: Row, ctx: BatchContext) -> None:
    """No 职业技能等级 certificate for a 准入类 occupation (rules 26, 72), a category name or, in
    Henan, a 第二大类 occupation (rule 27); no 专项 project named like an occupation (rule 73)."""
    if row.number is None or not row.occupation_name:
        return
    henan = row.number.kind is codes.CodeKind.SKILL_LEVEL_HENAN
    for p in occupations.occupation_problems(row.occupation_code, row.occupation_name, skill=row.is_skill,
                                             henan=henan):  # fmt: skip
        row.bad(p.field, row.cell(p.field), p.code, p.message_zh, p.message_en, p.rule)


def in_filed_scope(row: Row, ctx: BatchContext) -> None:
    """Occupation, 工种 and level are in the institution's filed scope on the issue date, under the
    filed occupation name (rules 25, 42)."""
    if row.number is None or row.issue_date is None or not row.level_read or not row.occupation_name:
        return
    skill = row.is_skill
    key = (row.occupation_code, row.job, row.level) if skill else ("", row.occupation_name, None)
    filed = ctx.scopes.filed_name(key, row.issue_date)
    if filed is None:
        known = ctx.scopes.known(key)
        why_zh = "在发证日期不在备案有效期内" if known else "不在该机构备案范围内"
        why_en = "was not in force on the issue date" if known else "is not in the institution's filed scope"
        shown_level = row.level if row.level is not None else "-"
        row.bad(
            "occupation_code" if skill else "occupation_name",
            f"{row.occupation_code} {row.occupation_name} / {row.job} / {shown_level}", "out_of_scope",
            f"职业（工种）与等级{why_zh}（超范围）", f"occupation / 工种 / level {why_en} (超范围)", 25,
        )  # fmt: skip
    elif skill and filed != row.occupation_name:
        row.bad("occupation_name", row.occupation_name, "occupation_name_mismatch", f"职业名称应与备案一致：{filed}",
                f"the occupation name must match the filed name: {filed}", 25)  # fmt: skip


def issue_form(row: Row, ctx: BatchContext) -> None:
    """Paper or electronic (rule 28: the same certificate either way)."""
    raw = row.cell("issue_form")
    try:
        row.issue_form = cells.parse_issue_form(raw)
    except ValueError as exc:
        row.bad("issue_form", raw, "bad_issue_form", *_reason(exc))


def assessment_method(row: Row, ctx: BatchContext) -> None:
    """评价方式 is one of the closed list, and a 1+X recognition confers only the levels it may
    (rule 47)."""
    raw = row.cell("assessment_method").strip()
    if not raw:
        return
    method = assessment.method_of(raw)
    if method is None:
        row.bad("assessment_method", raw, "unknown_assessment_method",
                f"评价方式“{raw}”无法识别，应为：{assessment.ALLOWED_TEXT}",
                f"unknown assessment method {raw!r}; use one of: {assessment.ALLOWED_TEXT}", 47)  # fmt: skip
        return
    row.assessment_method = method.name
    if method.levels and row.level is not None and row.level not in method.levels:
        allowed = "、".join(f"{lv} 级" for lv in method.levels)
        row.bad("level", row.cell("level"), "one_plus_x_level",
                f"{method.name}只能认定 {allowed}（1+X 高级、中级证书认定三级/高级工，初级证书认定四级/中级工）",
                f"{method.name_en} confers level {' or '.join(map(str, method.levels))} only (1+X advanced and "
                "intermediate: level 3; elementary: level 4)", 47)  # fmt: skip


def printed_institution_name(row: Row, ctx: BatchContext) -> None:
    """The institution name printed on the certificate, when the file gives it, is the issuer's
    filed name: a 站点 prints its own filed name (rule 24)."""
    raw = row.cell("institution_name")
    if raw.strip() and _folded(raw) != _folded(ctx.issuer.name):
        row.bad("institution_name", raw, "institution_name_mismatch",
                f"评价机构名称与备案名称“{ctx.issuer.name}”不一致",
                f"the institution name differs from the filed name {ctx.issuer.name!r}", 24)  # fmt: skip


def signable(row: Row, ctx: BatchContext) -> None:
    """Every stored certificate can be signed: the QR record's field rules (lengths in bytes, NFC,
    no control characters) apply at import, not as a surprise at publication (rule 30)."""
    assert row.certificate is not None
    try:
        payload.encode_body(record_of(row.certificate, "0000"))
    except payload.RecordError as exc:
        column = _RECORD_FIELD_COLUMNS.get(exc.field, "number")
        row.bad(column, row.cell(column), f"not_encodable_{exc.why}", f"该字段无法写入证书二维码：{exc}",
                f"this field cannot be carried in the certificate QR: {exc}", 30)  # fmt: skip


def qr_budget(row: Row, ctx: BatchContext) -> None:
    """The certificate's QR fits version 10 at level M, so it prints at 0.5 mm a module or more in
    its 30 mm box (rule 65): name, occupation name and 工种 together have a byte budget."""
    c = row.certificate
    assert c is not None
    if row.problems:  # a record that cannot be signed at all has nothing to measure
        return
    fit = budgets.budget(c.number, c.holder_name, c.occupation_name, c.job)
    if fit.over:
        job_bytes = 0 if c.job == payload.NO_JOB else len(c.job.encode())
        zh_parts = f"姓名 {len(c.holder_name.encode())}、职业名称 {len(c.occupation_name.encode())}、工种 {job_bytes}"
        row.bad("name", row.cell("name"), "qr_too_large",
                f"姓名、职业名称与工种合计 {fit.text_bytes} 字节（{zh_parts}），超过二维码容量上限 {fit.limit} 字节"
                f"（二维码须不超过 {budgets.MAX_VERSION}-M 版本，30 毫米内每模块不小于 0.5 毫米）；请缩短工种或职业名称的写法",
                f"name, occupation name and job take {fit.text_bytes} UTF-8 bytes together, over the QR budget of "
                f"{fit.limit} (the QR must stay within version {budgets.MAX_VERSION}-M so that it prints at 0.5 mm a "
                "module or more in 30 mm); shorten the job or occupation name", 65)  # fmt: skip


def henan_position10(row: Row, ctx: BatchContext) -> None:
    """Warning: position 10 = 9 marks a 技工院校 centre in Henan (rule 11)."""
    n = row.number
    assert n is not None
    if (
        n.kind is codes.CodeKind.SKILL_LEVEL_HENAN
        and n.canonical[9] == "9"
        and ctx.issuer.kind != "technical_school"
    ):
        row.warnings.append(
            problem(
                row.line,
                "number",
                n.canonical,
                "position10_school",
                "河南用人单位编码第 10 位为 9 表示技工院校认定中心，但上传机构不是技工院校",
                "position 10 = 9 marks a 技工院校 centre in Henan, but the uploader is not one",
                11,
                severity="warning",
            )  # fmt: skip
        )


def on_roster(row: Row, ctx: BatchContext) -> None:
    """Warning: the holder is not on the roster the institution filed before the assessment (rule 34)."""
    assert row.certificate is not None
    if ctx.roster is not None and row.certificate.id_index not in ctx.roster:
        row.warnings.append(
            problem(
                row.line,
                "id_number",
                None,
                "not_on_roster",
                "持证人不在考前报备的考生名册中",
                "the holder is not on the candidate roster filed before the assessment",
                34,
                severity="warning",
            )  # fmt: skip
        )


@dataclass(frozen=True, slots=True)
class RowCheck:
    check: Callable[[Row, BatchContext], None]
    rules: tuple[int, ...]
    # "fields": every row; "certificate": rows with no problem so far, after the certificate is
    # built; "warning": good rows only, never a problem.
    stage: str = "fields"


# The composition: order here is the order of a row's problems (the columns, left to right).
ROW_CHECKS: tuple[RowCheck, ...] = (
    RowCheck(number_format, tuple(range(1, 20))),
    RowCheck(number_owned, (12,)),
    RowCheck(issue_date, ()),
    RowCheck(issuer_open_on_date, (39,)),
    RowCheck(year_matches_date, (23,)),
    RowCheck(level, (20, 23, 29)),
    RowCheck(holder_name, ()),
    RowCheck(holder_id, ()),
    RowCheck(occupation, (20,)),
    RowCheck(occupation_allowed, (26, 27, 72, 73)),
    RowCheck(in_filed_scope, (25, 42)),
    RowCheck(issue_form, (28,)),
    RowCheck(assessment_method, (47,)),
    RowCheck(printed_institution_name, (24,)),
    RowCheck(signable, (30,), "certificate"),
    RowCheck(qr_budget, (65,), "certificate"),
    RowCheck(henan_position10, (11,), "warning"),
    RowCheck(on_roster, (34,), "warning"),
)
_FIELD_CHECKS = tuple(c.check for c in ROW_CHECKS if c.stage == "fields")
_CERTIFICATE_CHECKS = tuple(c.check for c in ROW_CHECKS if c.stage == "certificate")
_WARNING_CHECKS = tuple(c.check for c in ROW_CHECKS if c.stage == "warning")


def certificate_of(row: Row, ctx: BatchContext) -> Certificate:
    """The certificate a row with no problems describes (the ID sealed by ``ctx.sealer``)."""
    n, id_type = row.number, row.id_type
    assert n is not None and row.issue_date is not None and id_type is not None
    extra = {k: row.values[k] for k in EXTRA_KEYS if row.values.get(k)}
    return Certificate(
        number=n.canonical,
        kind=n.kind,
        holder_name=row.holder_name,
        name_key=row.name_key,
        id_type=id_type,
        id_index=ctx.sealer.blind_index(id_type, row.canonical_id),
        id_cipher=ctx.sealer.encrypt(id_type, row.canonical_id, aad=n.canonical.encode()),
        id_tail=id_tail(row.canonical_id),
        occupation_code=row.occupation_code,
        occupation_name=row.occupation_name,
        job=row.job,
        level=row.level,
        issue_date=row.issue_date,
        issue_form=row.issue_form,
        print_serial=row.values.get("print_serial") or None,
        assessment_method=row.assessment_method,
        photo_ref=row.values.get("photo_ref") or None,
        extra=extra or None,
    )


def check_rows(rows: Sequence[RawRow], ctx: BatchContext, *, cross_row: bool = True) -> CheckedBatch:
    """Check every row; returns the certificates of good rows and every problem of every bad row.
    Never raises.

    With ``cross_row=False`` the checks that need the whole batch (duplicates inside it, serial
    order) are left for ``finish``, so parts checked separately can be merged first.
    """
    out = CheckedBatch()
    for raw in rows:
        row = Row(raw.line, raw.values)
        for check in _FIELD_CHECKS:
            check(row, ctx)
        if row.number is not None:
            out.numbers.append((row.number.canonical, row.line))
        if not row.problems:
            row.certificate = certificate_of(row, ctx)
            for check in _CERTIFICATE_CHECKS:
                check(row, ctx)
        if row.problems:
            out.problems.extend(row.problems)
            out.bad_lines.add(row.line)
            continue
        for check in _WARNING_CHECKS:
            check(row, ctx)
        out.warnings.extend(row.warnings)
        n = row.number
        assert n is not None and row.certificate is not None
        out.serials.append((n.institution_key, n.year, n.level, n.serial, row.line))
        out.good += 1
        out.certificates.append(row.certificate)
    if cross_row:
        finish(out)
    return out


def _folded(text: str) -> str:
    """A name as compared: NFKC (full-width brackets are the same brackets), no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _reason(exc: ValueError) -> tuple[str, str]:
    args = [str(a) for a in exc.args]
    if len(args) >= 2:
        return args[0], args[1]
    text = args[0] if args else "invalid value"
    return text, text
