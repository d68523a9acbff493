"""Certificate events: revocation, supersession and a 复核 reversal (docs/RULES.md rules 35-37).

Nothing is ever deleted: each event is a new record, and the certificate's current status is the
status its latest event leads to.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

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
