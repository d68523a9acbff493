"""The outcome of checking a batch, and the checks that need the whole batch at once.

Parts of one batch may be checked separately (in worker processes) and merged with ``extend``;
``finish`` then runs the cross-row checks: duplicates inside the batch (rule 13) and serial order
(rule 14).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from verify.domain.batch.columns import COLUMNS_BY_KEY
from verify.domain.certificate import Certificate
from verify.domain.errors import Problem

# (institution key, year, level, serial, line) of a good row, for the serial-order check.
Serial = tuple[str, int, int | None, int, int]


@dataclass(slots=True)
class CheckedBatch:
    certificates: list[Certificate] = field(default_factory=list)
    # The good rows already encoded for storage, when a worker process checked them: one bytes
    # object crosses the process boundary instead of a million pickled certificates (DECISIONS D10).
    encoded: bytes = b""
    good: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)
    # (canonical number, line) of every row whose number parsed, good row or not: the in-batch
    # duplicate check needs them all.
    numbers: list[tuple[str, int]] = field(default_factory=list)
    serials: list[Serial] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def extend(self, other: CheckedBatch) -> None:
        self.certificates.extend(other.certificates)
        self.good += other.good
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)
        self.bad_lines |= other.bad_lines
        self.numbers.extend(other.numbers)
        self.serials.extend(other.serials)


def problem(
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
    """A problem on one row and column of the batch (the column named by its template header)."""
    column = COLUMNS_BY_KEY[key].header_zh if key in COLUMNS_BY_KEY else key
    return Problem(
        code=code, message_zh=zh, message_en=en, line=line, column=column, found=value, rule=rule,
        severity=severity,
    )  # fmt: skip


def finish(checked: CheckedBatch) -> None:
    """The checks that need the whole batch: duplicates inside it (rule 13) and serial order (rule 14)."""
    first_line: dict[str, int] = {}
    duplicates: list[Problem] = []
    for number, line in checked.numbers:
        first = first_line.setdefault(number, line)
        if first != line:
            duplicates.append(
                problem(
                    line,
                    "number",
                    number,
                    "duplicate_in_batch",
                    f"证书编号与第 {first} 行重复",
                    f"certificate number repeats line {first}",
                    13,
                )  # fmt: skip
            )
            checked.bad_lines.add(line)
    if duplicates:
        checked.problems.extend(duplicates)
        checked.problems.sort(key=lambda p: p.line or 0)
    checked.warnings.extend(serial_warnings(checked.serials))


def duplicate_existing(checked: CheckedBatch, taken: set[str]) -> list[Problem]:
    """Rule 13 against the registry: the rows whose number is already registered."""
    return [
        problem(
            line,
            "number",
            number,
            "duplicate_existing",
            "证书编号已存在于登记库中",
            "the certificate number already exists in the registry",
            13,
        )  # fmt: skip
        for number, line in checked.numbers
        if number in taken
    ]


@dataclass(frozen=True, slots=True)
class Repeat:
    """A certificate of the batch being imported whose holder already has one for the same
    occupation and level (rule 48): ``other`` in the same batch, or published and valid."""

    number: str
    other: str
    same_batch: bool
    same_institution: bool


def repeat_warnings(repeats: Sequence[Repeat], lines: Mapping[str, int]) -> list[Problem]:
    """Rule 48 (subsidy dedup: 同一人员同一职业同一等级): warn on a row whose holder has another
    certificate for the same occupation and level; ``lines`` is the batch's line per number. Inside
    the batch the later row names the earlier line; a certificate of another institution is not
    named (an institution reads only its own data, rule 58). One warning per row."""
    found: dict[int, Problem] = {}
    for r in repeats:
        number, other, same_institution = r.number, r.other, r.same_institution
        if r.same_batch:
            line, first = max(lines[number], lines[other]), min(lines[number], lines[other])
            zh, en = (
                f"持证人与第 {first} 行为同一人员同一职业同一等级",
                f"same holder, occupation and level as line {first}",
            )
        else:
            line = lines[number]
            where_zh, where_en = (
                (f"证书 {other}", f"certificate {other}")
                if same_institution
                else ("其他机构颁发的证书", "a certificate of another institution")
            )
            zh = f"持证人已持有同一职业同一等级的{where_zh}（补贴不得重复申领）"
            en = f"the holder already has {where_en} for the same occupation and level (no second subsidy)"
        if line not in found:
            found[line] = problem(
                line, "id_number", None, "repeat_certificate", zh, en, 48, severity="warning"
            )
    return [found[line] for line in sorted(found)]


def serial_warnings(serials: list[Serial], limit: int = 100) -> list[Problem]:
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


def _warning(line: int | None, code: str, zh: str, en: str) -> Problem:
    return problem(line, "number", None, code, zh, en, 14, severity="warning")


WARNINGS_PER_CODE = 1000


def capped(warnings: list[Problem], per_code: int = WARNINGS_PER_CODE) -> list[Problem]:
    """The warnings a reviewer is shown: at most ``per_code`` of each kind, in file order, and for a
    kind with more, one line saying how many more there are (a batch where nobody is on the roster
    would otherwise store a warning per row)."""
    seen: dict[str, int] = defaultdict(int)
    out: list[Problem] = []
    for w in warnings:
        seen[w.code] += 1
        if seen[w.code] <= per_code:
            out.append(w)
    for code, count in seen.items():
        if count > per_code:
            first = next(w for w in out if w.code == code)
            out.append(
                Problem(
                    code=f"{code}_more",
                    message_zh=f"另有 {count - per_code} 条同类提示未列出",
                    message_en=f"{count - per_code} more warnings of this kind are not listed",
                    rule=first.rule,
                    severity="warning",
                )  # fmt: skip
            )
    return out
