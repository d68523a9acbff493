"""Checking the rows of a legacy 职业资格证书 import (rule 44): raw rows in, ``Certificate``s or row
problems out, like ``verify.domain.batch.checks`` does for result batches.

A legacy file lists certificates a 鉴定机构 (鉴定所/站) issued before the 2019–2020 reform. It uses the
batch template's columns (``verify.domain.batch.columns``; 职业资格等级 is one of the level
headers). What differs from a result batch, and why:

- the number is a legacy digit string (``codes.check_qualification_number``, docs/DECISIONS.md D49),
  carrying no institution part to compare with the issuer;
- no scope check: the occupation may have left the catalogue since (人社厅发〔2020〕80号 四), which is
  exactly the case rule 44 protects; the occupation code is optional;
- the level is read on the old 五级 scale as well (初级/中级/高级 = 五/四/三级, 豫人社规〔2020〕1号 第三条);
- a first-generation 15-digit 居民身份证 is upgraded to its 18-digit form, which is what the holder
  types today and what the ID + name lookup indexes (GB 11643-1999).

Each check is a small function over one ``LegacyRow``, listed in ``LEGACY_CHECKS`` with its rules.
Pure domain code: the caller supplies the issuer, its status history and the ID sealer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from verify.domain import codes, names
from verify.domain.batch import cells
from verify.domain.batch.checked import CheckedBatch, finish, problem
from verify.domain.batch.checks import IdSealer
from verify.domain.batch.columns import COLUMNS_BY_KEY, RawRow
from verify.domain.certificate import PAPER, Certificate
from verify.domain.errors import BadCharacter, InvalidId, InvalidName, Problem
from verify.domain.holder_ids import (
    IdType,
    gb11643_check_char,
    id_tail,
    id_type_of,
    normalize_id,
    validate_id,
)
from verify.domain.institution import ACTIVE, STATUS_LABELS, Institution, StatusChange, status_on
from verify.domain.reference import CERTIFICATE_KINDS
from verify.domain.text import check_text

RULE = 44
# The issuing body of a legacy certificate is a 职业技能考核鉴定机构 (鉴定所/站).
ISSUER_KIND = "appraisal"
# 人社厅发〔2020〕80号 二 asks for the 水平评价类 exit to be completed by the end of 2020; a certificate
# issued later may still be right (三: exams already held are certified), so it is flagged, not refused.
CATALOGUE_EXIT = date(2020, 12, 31)
MAX_TEXT = 100  # characters of an occupation name or 工种: far above any real one, and bounded

_OCCUPATION_CODE = re.compile(r"[0-9]-[0-9]{2}-[0-9]{2}-[0-9]{2}")
# The old scale's words (国家职业资格五、四、三级 = 初、中、高级, 豫人社规〔2020〕1号 第三条); on the new scale
# these bare words are ambiguous (1+X), so ``cells.parse_level`` refuses them alone.
_OLD_SCALE: dict[str, int] = {"初级": 5, "中级": 4, "高级": 3, "初级技能": 5, "中级技能": 4, "高级技能": 3}
_PREFIXES = ("国家职业资格", "职业资格")


@dataclass(frozen=True, slots=True)
class LegacyContext:
    issuer: Institution
    sealer: IdSealer
    today: date
    # The issuer's status decisions with their effective dates (rule 39); none = never changed.
    history: tuple[StatusChange, ...] = ()


def parse_legacy_level(text: str) -> int | None:
    """Parse a 职业资格等级 cell to 1..5: the old scale's 初级/中级/高级 (5/4/3), 技师 (2), 高级技师 (1),
    optionally prefixed 国家职业资格 or suffixed 证书, and everything ``cells.parse_level`` reads.
    Returns None for an empty cell or a none-mark.

    Raises:
        ValueError: args ``(reason_zh, reason_en)`` for anything else.
    """
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    for prefix in _PREFIXES:
        s = s.removeprefix(prefix)
    s = s.removesuffix("证书")
    if s in _OLD_SCALE:
        return _OLD_SCALE[s]
    try:
        return cells.parse_level(s)
    except ValueError:
        raise ValueError(
            f"无法识别的职业资格等级：{text.strip()}（应为 初级、中级、高级、技师、高级技师，五级…一级，或 5–1）",
            f"unrecognised qualification level: {text.strip()} (expected 初级, 中级, 高级, 技师, 高级技师, "
            "五级…一级, or 5-1)",
        ) from None


def upgraded_resident_id(raw: str) -> str | None:
    """The 18-digit form of a first-generation 15-digit 居民身份证 number (region, 19 + YYMMDD,
    sequence, then the GB 11643 check character), or None when ``raw`` is not 15 digits."""
    s = normalize_id(raw)
    if len(s) != 15 or not (s.isascii() and s.isdigit()):
        return None
    first17 = s[:6] + "19" + s[6:]
    return first17 + gb11643_check_char(first17)


class LegacyRow:
    """One row while it is checked: the raw cells, what has been read from them so far, and its
    problems (later checks look at what earlier ones read; ``None`` when a cell could not be read)."""

    number: str | None = None
    issue_date: date | None = None
    level: int | None = None
    holder_name: str = ""
    name_key: str = ""
    id_type: IdType | None = None
    canonical_id: str = ""
    occupation_code: str = ""
    occupation_name: str = ""
    job: str = "--"
    issue_form: str = PAPER

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


def number(row: LegacyRow, ctx: LegacyContext) -> None:
    """A legacy number (rule 44, D49); a current 22/15-character number belongs in a result batch."""
    raw = row.cell("number")
    check = codes.check_qualification_number(raw)
    if check.valid:
        row.number = check.canonical
        return
    current = codes.check_certificate_number(raw, today=ctx.today)
    if current.valid and current.kind is not None:
        kind = CERTIFICATE_KINDS[current.kind]
        row.bad(
            "number", raw, "not_qualification_number",
            f"这是{kind.name_zh}编号，不是改革前的职业资格证书；请作为成绩批次导入（verify import）",
            f"this is a {kind.name_en} number, not a pre-reform qualification certificate; import it as a "
            "result batch (verify import)",
            RULE,
        )  # fmt: skip
        return
    row.relocate(check.problems, "number")


def issue_date(row: LegacyRow, ctx: LegacyContext) -> None:
    """The issue date reads and is not in the future."""
    raw = row.cell("issue_date")
    try:
        row.issue_date = cells.parse_issue_date(raw)
    except ValueError as exc:
        row.bad("issue_date", raw, "bad_date", *_reason(exc))
        return
    if row.issue_date > ctx.today:
        row.bad("issue_date", raw, "date_in_future", "发证日期晚于今天", "the issue date is after today")


def issuer_open_on_date(row: LegacyRow, ctx: LegacyContext) -> None:
    """The issuer could issue on the issue date, by its recorded status decisions (rule 39): a
    鉴定所 closed in 2021 still issued in 2015, but not in 2022."""
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


def level(row: LegacyRow, ctx: LegacyContext) -> None:
    """Every 职业资格证书 has a level, on the old scale or the new (rule 44)."""
    raw = row.cell("level")
    try:
        row.level = parse_legacy_level(raw)
    except ValueError as exc:
        row.bad("level", raw, "bad_level", *_reason(exc))
        return
    if row.level is None:
        row.bad("level", raw, "level_missing", "职业资格证书必须填写等级（初级/中级/高级/技师/高级技师）",
                "a qualification certificate needs a level (初级/中级/高级/技师/高级技师)", RULE)  # fmt: skip


def holder_name(row: LegacyRow, ctx: LegacyContext) -> None:
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


def holder_id(row: LegacyRow, ctx: LegacyContext) -> None:
    """The ID type is known and the ID valid for it; an old 15-digit 居民身份证 is stored as its
    18-digit form. The number is never echoed back."""
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
    raw = row.cell("id_number")
    upgraded = upgraded_resident_id(raw) if row.id_type is IdType.RESIDENT else None
    try:
        row.canonical_id = validate_id(upgraded or raw, row.id_type, today=ctx.today)
    except InvalidId as exc:
        if exc.problems:
            row.relocate(exc.problems, "id_number", hide_found=True)
        else:
            row.bad("id_number", None, exc.reason, exc.message_zh, exc.message_en)


def occupation(row: LegacyRow, ctx: LegacyContext) -> None:
    """The occupation name is present; its code is optional (the 1999 or 2015 大典's D-DD-DD-DD) and is
    never looked up in today's catalogue or the issuer's scope (rule 44)."""
    row.job = cells.normalize_job(row.cell("job"))
    row.occupation_code = row.cell("occupation_code").strip()
    row.occupation_name = row.cell("occupation_name").strip()
    if not row.occupation_name:
        row.bad("occupation_name", "", "missing", "职业名称不能为空", "occupation name is required")
    if row.occupation_code and not _OCCUPATION_CODE.fullmatch(row.occupation_code):
        row.bad("occupation_code", row.occupation_code[:40], "bad_occupation_code",
                "职业编码格式应为 D-DD-DD-DD（如 6-18-01-01），不知道时留空",
                "an occupation code is D-DD-DD-DD (e.g. 6-18-01-01); leave it empty when unknown", RULE)  # fmt: skip
    for key, value in (("occupation_name", row.occupation_name), ("job", row.job)):
        try:
            check_text(value, COLUMNS_BY_KEY[key].header_zh)
        except BadCharacter as exc:
            row.relocate(exc.problems, key)
            continue
        if len(value) > MAX_TEXT:
            row.bad(key, value[:40] + "…", "too_long", f"不能超过 {MAX_TEXT} 个字符",
                    f"at most {MAX_TEXT} characters")  # fmt: skip


def issue_form(row: LegacyRow, ctx: LegacyContext) -> None:
    """Paper or electronic (rule 28); empty means paper, as almost every legacy certificate is."""
    raw = row.cell("issue_form")
    try:
        row.issue_form = cells.parse_issue_form(raw)
    except ValueError as exc:
        row.bad("issue_form", raw, "bad_issue_form", *_reason(exc))


def after_catalogue_exit(row: LegacyRow, ctx: LegacyContext) -> None:
    """Warning: issued after the 2020 catalogue exit; the reviewer checks it certifies an assessment
    held before it (人社厅发〔2020〕80号 三) and is no 突击 issue (人社职司便函〔2020〕44号 五)."""
    if row.issue_date is not None and row.issue_date > CATALOGUE_EXIT:
        row.warnings.append(
            problem(
                row.line,
                "issue_date",
                row.issue_date.isoformat(),
                "qualification_after_exit",
                f"发证日期晚于水平评价类职业资格退出目录的期限（{CATALOGUE_EXIT}），请核实为退出前已完成鉴定考试的证书",
                f"issued after the catalogue exit deadline ({CATALOGUE_EXIT}); check that it certifies an "
                "assessment completed before the exit",
                RULE,
                severity="warning",
            )  # fmt: skip
        )


@dataclass(frozen=True, slots=True)
class LegacyCheck:
    check: Callable[[LegacyRow, LegacyContext], None]
    rules: tuple[int, ...]
    warning: bool = False  # runs on good rows only and never adds a problem


# The composition: order here is the order of a row's problems (the columns, left to right).
LEGACY_CHECKS: tuple[LegacyCheck, ...] = (
    LegacyCheck(number, (1, 44)),
    LegacyCheck(holder_name, ()),
    LegacyCheck(holder_id, ()),
    LegacyCheck(occupation, (44,)),
    LegacyCheck(level, (44,)),
    LegacyCheck(issue_date, ()),
    LegacyCheck(issuer_open_on_date, (39,)),
    LegacyCheck(issue_form, (28,)),
    LegacyCheck(after_catalogue_exit, (44,), warning=True),
)
_FIELD_CHECKS = tuple(c.check for c in LEGACY_CHECKS if not c.warning)
_WARNING_CHECKS = tuple(c.check for c in LEGACY_CHECKS if c.warning)


def certificate_of(row: LegacyRow, ctx: LegacyContext) -> Certificate:
    """The certificate a row with no problems describes (the ID sealed by ``ctx.sealer``)."""
    n, id_type = row.number, row.id_type
    assert n is not None and row.issue_date is not None and id_type is not None
    return Certificate(
        number=n,
        kind=codes.CodeKind.QUALIFICATION,
        holder_name=row.holder_name,
        name_key=row.name_key,
        id_type=id_type,
        id_index=ctx.sealer.blind_index(id_type, row.canonical_id),
        id_cipher=ctx.sealer.encrypt(id_type, row.canonical_id, aad=n.encode()),
        id_tail=id_tail(row.canonical_id),
        occupation_code=row.occupation_code,
        occupation_name=row.occupation_name,
        job=row.job,
        level=row.level,
        issue_date=row.issue_date,
        issue_form=row.issue_form,
        print_serial=row.values.get("print_serial") or None,
        photo_ref=row.values.get("photo_ref") or None,
    )


def check_legacy_rows(rows: Sequence[RawRow], ctx: LegacyContext) -> CheckedBatch:
    """Check every row; returns the certificates of good rows and every problem of every bad row,
    duplicates inside the file included (rule 13). Never raises."""
    out = CheckedBatch()
    for raw in rows:
        row = LegacyRow(raw.line, raw.values)
        for check in _FIELD_CHECKS:
            check(row, ctx)
        if row.number is not None:
            out.numbers.append((row.number, row.line))
        if row.problems:
            out.problems.extend(row.problems)
            out.bad_lines.add(row.line)
            continue
        for check in _WARNING_CHECKS:
            check(row, ctx)
        out.warnings.extend(row.warnings)
        out.good += 1
        out.certificates.append(certificate_of(row, ctx))
    finish(out)
    return out


def legacy_batch_notice(issuer: Institution, alias: str | None) -> Problem:
    """The first thing a reviewer reads about a legacy batch: what it is, who issued it, and that no
    scope was checked, so the archive is what the rows are compared with (rule 44)."""
    via = f"（按原代码 {alias} 导入）" if alias else ""
    via_en = f" (imported under the former code {alias})" if alias else ""
    return Problem(
        code="legacy_batch",
        message_zh=f"本批为改革前颁发的职业资格证书（历史数据），发证机构 {issuer.name}（{issuer.code}）{via}；"
        "未做备案范围检查，请与鉴定档案核对后再审核通过",
        message_en=f"pre-reform vocational qualification certificates (historical data) issued by {issuer.name} "
        f"({issuer.code}){via_en}; no filed-scope check was made, so compare the rows with the appraisal "
        "archive before approving",
        rule=RULE,
        severity="warning",
    )


def _reason(exc: ValueError) -> tuple[str, str]:
    args = [str(a) for a in exc.args]
    if len(args) >= 2:
        return args[0], args[1]
    text = args[0] if args else "invalid value"
    return text, text
