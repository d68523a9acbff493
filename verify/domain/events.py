"""Certificate events: revocation, supersession and a 复核 reversal (docs/RULES.md rules 35-37).

Nothing is ever deleted: each event is a new record, and the certificate's current status is the
status its latest event leads to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from verify.domain.codes import normalize
from verify.domain.errors import InvalidInput, SuccessorNotAllowed

# Stored statuses of a certificate.
ACTIVE = "active"
REVOKED = "revoked"
SUPERSEDED = "superseded"

# event -> the status it leads to.
EVENT_STATUS: Mapping[str, str] = MappingProxyType(
    {"revoked": REVOKED, "superseded": SUPERSEDED, "reinstated": ACTIVE}
)

# The status a public answer names (the stored "active" reads "valid").
PUBLIC_STATUS: Mapping[str, str] = MappingProxyType(
    {ACTIVE: "valid", REVOKED: REVOKED, SUPERSEDED: SUPERSEDED}
)

# Public reason categories of a revocation, (zh, en); the detailed reason and facts stay internal.
REASON_CATEGORIES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "fraud": ("弄虚作假、冒名顶替等违规取得", "obtained by fraud or impersonation"),
        "invalid_result": ("评价成绩被宣布无效", "assessment result declared invalid"),
        "data_error": ("证书数据错误", "certificate data error"),
        "out_of_scope": ("超出备案范围", "outside the institution's filed scope"),
        "institution_violation": (
            "发证机构违规，相关证书被撤销",
            "revoked with the issuing institution's violations",
        ),
        "other": ("其他原因", "other reasons"),
    }
)


@dataclass(frozen=True, slots=True)
class CertificateEvent:
    """One decision about one certificate, as recorded (rule 36): what, from when, why (the public
    category, and the article and facts, which stay internal), who decided, under which document,
    how it was served, and for a supersession the certificate that replaces it."""

    number: str
    event: str  # revoked | superseded | reinstated
    effective: date
    reason_category: str
    reason: str
    decided_by: str
    document_ref: str | None = None
    served: str | None = None
    superseded_by: str | None = None

    @property
    def status(self) -> str:
        """The status the certificate has after this event."""
        return EVENT_STATUS[self.event]

    def checked(self) -> CertificateEvent:
        """This event with its numbers in canonical form. Raises InvalidInput for an unknown event or
        category, a missing reason or deciding body, or a supersession that names no successor."""
        if self.event not in EVENT_STATUS:
            raise InvalidInput(
                "事件必须是 revoked、superseded 或 reinstated",
                "event must be revoked, superseded or reinstated",
            )
        if self.reason_category not in REASON_CATEGORIES:
            raise InvalidInput(
                f"原因类别必须是 {', '.join(REASON_CATEGORIES)} 之一",
                f"reason category must be one of {', '.join(REASON_CATEGORIES)}",
            )
        if not self.reason.strip() or not self.decided_by.strip():
            raise InvalidInput(
                "必须写明理由（条款与事实）和作出决定的机关",
                "the reason (article, facts) and the deciding body are required",
            )
        successor = normalize(self.superseded_by or "") or None
        if self.event == SUPERSEDED and successor is None:
            raise InvalidInput(
                "取代它的新证书必须已在登记库中", "the superseding certificate must exist in the registry"
            )
        return CertificateEvent(
            normalize(self.number), self.event, self.effective, self.reason_category, self.reason, self.decided_by,
            self.document_ref, self.served, successor if self.event == SUPERSEDED else None,
        )  # fmt: skip


# ---------------------------------------------------------------- decisions over many certificates (rule 35)

# What a decision covers (rule 35): listed certificates (one, or part of a batch when ``batch`` is
# given), a whole batch, every certificate an institution issued in a date range (after a
# termination), or the certificates an earlier decision revoked (its 复核 reversal, rule 36).
SCOPE_CERTIFICATES = "certificates"
SCOPE_BATCH = "batch"
SCOPE_ISSUED_BETWEEN = "issued_between"
SCOPE_DECISION = "decision"
SCOPES = (SCOPE_CERTIFICATES, SCOPE_BATCH, SCOPE_ISSUED_BETWEEN, SCOPE_DECISION)
MAX_LISTED = 10_000  # numbers one listed decision may name; larger sets are a batch or a date range


@dataclass(frozen=True, slots=True)
class Scope:
    """The certificates a decision covers. ``kind`` is one of SCOPES; the fields it needs:
    certificates -> ``numbers`` (and ``batch`` for part of a batch); batch -> ``batch``;
    issued_between -> ``institution``, ``issued_from``, ``issued_to``; decision -> ``decision``."""

    kind: str
    numbers: tuple[str, ...] = ()
    batch: str | None = None
    institution: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    decision: str | None = None

    def checked(self) -> Scope:
        """This scope with its numbers canonical and de-duplicated. Raises InvalidInput for an
        unknown kind or a missing or contradictory field."""
        if self.kind not in SCOPES:
            raise InvalidInput(
                f"范围必须是 {', '.join(SCOPES)} 之一", f"scope must be one of {', '.join(SCOPES)}"
            )
        numbers = tuple(dict.fromkeys(n for n in (normalize(x) for x in self.numbers) if n))
        if self.kind == SCOPE_CERTIFICATES and not numbers:
            raise InvalidInput("请列出证书编号", "list the certificate numbers")
        if len(numbers) > MAX_LISTED:
            raise InvalidInput(
                f"一次最多列出 {MAX_LISTED} 个证书编号；更多请按批次或发证日期范围",
                f"at most {MAX_LISTED} numbers; for more, give a batch or an issue-date range",
            )
        if self.kind == SCOPE_BATCH and not self.batch:
            raise InvalidInput("请给出批次号", "give the batch id")
        if self.kind == SCOPE_ISSUED_BETWEEN:
            if not self.institution or self.issued_from is None or self.issued_to is None:
                raise InvalidInput(
                    "请给出机构代码和发证日期范围（起止）",
                    "give the institution code and the issue-date range",
                )
            if self.issued_to < self.issued_from:
                raise InvalidInput("发证日期范围的止日早于起日", "the issue-date range ends before it starts")
        if self.kind == SCOPE_DECISION and not self.decision:
            raise InvalidInput("请给出被复核的决定编号", "give the id of the decision under review")
        institution = normalize(self.institution) if self.institution else None
        return Scope(
            self.kind, numbers, self.batch, institution, self.issued_from, self.issued_to, self.decision
        )

    def to_json(self) -> dict[str, object]:
        """The scope as recorded with the decision (numbers listed up to 100, then counted)."""
        body: dict[str, object] = {"kind": self.kind}
        if self.numbers:
            body["numbers"] = list(self.numbers[:100])
            body["listed"] = len(self.numbers)
        for key in ("batch", "institution", "decision"):
            if getattr(self, key):
                body[key] = getattr(self, key)
        if self.issued_from is not None and self.issued_to is not None:
            body["issued_from"], body["issued_to"] = self.issued_from.isoformat(), self.issued_to.isoformat()
        return body


@dataclass(frozen=True, slots=True)
class Decision:
    """A revocation over a scope, or the 复核 reversal of one (scope ``decision``), with what rule 36
    asks to record once for all the certificates it covers."""

    scope: Scope
    effective: date
    reason_category: str
    reason: str
    decided_by: str
    document_ref: str | None = None
    served: str | None = None

    @property
    def event(self) -> str:
        return "reinstated" if self.scope.kind == SCOPE_DECISION else "revoked"

    def checked(self) -> Decision:
        """Raises InvalidInput as ``Scope.checked`` and ``CertificateEvent.checked`` do."""
        CertificateEvent(
            "-", self.event, self.effective, self.reason_category, self.reason, self.decided_by
        ).checked()
        return Decision(
            self.scope.checked(), self.effective, self.reason_category, self.reason.strip(),
            self.decided_by.strip(), self.document_ref, self.served,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Holding:
    """What the supersession rule compares of a certificate: whose it is and who issued it."""

    number: str
    status: str
    id_index: bytes
    issuer: str
    issuer_parent: str | None
    issuer_merged_into: str | None


def check_successor(original: Holding, successor: Holding) -> None:
    """A corrected or re-issued certificate replaces one of the same holder, issued by the same
    institution, by its parent or one of its 站点, or by the institution it merged into (rule 43).
    Raises InvalidInput (slug ``successor_not_allowed``) naming what differs."""
    problems = []
    if successor.number == original.number:
        problems.append(("证书不能取代自身", "a certificate cannot supersede itself"))
    if successor.status != ACTIVE:
        problems.append(
            ("取代它的新证书本身已不是有效状态", "the superseding certificate is not itself active")
        )
    if successor.id_index != original.id_index:
        problems.append(
            ("新证书的持证人（证件号码）与原证书不同", "the new certificate belongs to another holder")
        )
    family = {original.issuer, original.issuer_parent, original.issuer_merged_into} - {None}
    if successor.issuer not in family and successor.issuer_parent not in family:
        problems.append(
            (
                f"新证书的发证机构 {successor.issuer} 与原证书的发证机构 {original.issuer} 无关",
                f"the new certificate's issuer {successor.issuer} is unrelated to {original.issuer}",
            )
        )
    if problems:
        raise SuccessorNotAllowed(
            "；".join(zh for zh, _ in problems),
            "; ".join(en for _, en in problems),
            details={"number": original.number, "superseded_by": successor.number, "rule": 43},
        )
