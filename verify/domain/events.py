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
from verify.domain.errors import InvalidInput

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
