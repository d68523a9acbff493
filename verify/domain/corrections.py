"""Corrections (数据更正) and re-issues (补发/换发) of a registered certificate (rule 43): what an
institution may ask to change, the request's states, and how a changed certificate is told apart
from its earlier versions.

A correction rewrites printed fields the number does not encode (the holder's name, the
occupation name, the 工种) and becomes a new signed version of the same number; the number's own
parts (level, year, institution) cannot be corrected: that is a new certificate which supersedes
the old one (``verify supersede``). A re-issue changes no printed field: the holder gets a new
paper with a new print serial (印制流水码), and the QR, which does not carry the serial, stays the
same (docs/DECISIONS.md D53).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from verify.domain import names, payload
from verify.domain.batch.cells import normalize_job
from verify.domain.errors import InvalidInput, InvalidName, InvalidTransition

CORRECTION = "correction"
REISSUE = "reissue"
KINDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {CORRECTION: ("数据更正", "data correction"), REISSUE: ("补发/换发", "re-issue")}
)

SUBMITTED, APPROVED, REJECTED, APPLIED = "submitted", "approved", "rejected", "applied"
# state -> the states a decision may move it to
MOVES: Mapping[str, frozenset[str]] = MappingProxyType(
    {SUBMITTED: frozenset({APPROVED, REJECTED}), APPROVED: frozenset({APPLIED})}
)

# Field -> (zh, en): what a correction may change; every other printed field is part of the number
# or of the holder's identity, and changes only by a new certificate.
CORRECTABLE: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "holder_name": ("姓名", "holder name"),
        "occupation_name": ("职业名称", "occupation name"),
        "job": ("工种/职业方向", "job (工种)"),
    }
)
MAX_PRINT_SERIAL = 40


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """What an institution asks for one certificate: a correction's new values, or a re-issue's new
    print serial, and why."""

    number: str
    kind: str
    reason: str
    changes: Mapping[str, str]

    def checked(self, current: Mapping[str, Any]) -> ChangeRequest:
        """This request with its values normalised as import normalises them, checked against the
        certificate's ``current`` record fields (``verify.domain.certificate.RECORD_FIELDS``).
        Raises InvalidInput (unknown kind or field, nothing changed, no reason, a value the signed
        record cannot carry), InvalidName."""
        if self.kind not in KINDS:
            raise InvalidInput(
                f"申请类型必须是 {', '.join(KINDS)} 之一", f"kind must be one of {', '.join(KINDS)}"
            )
        if not self.reason.strip():
            raise InvalidInput("请写明申请理由", "give the reason for the request")
        if self.kind == REISSUE:
            serial = str(self.changes.get("print_serial", "")).strip()
            if not serial or len(serial) > MAX_PRINT_SERIAL or not serial.isprintable():
                raise InvalidInput(
                    f"补发须给出新证书的印制流水码（1–{MAX_PRINT_SERIAL} 个字符）",
                    f"a re-issue needs the new paper's print serial (1-{MAX_PRINT_SERIAL} characters)",
                    details={"field": "print_serial"},
                )
            return ChangeRequest(self.number, self.kind, self.reason.strip(), {"print_serial": serial})
        unknown = sorted(set(self.changes) - set(CORRECTABLE))
        if unknown:
            raise InvalidInput(
                f"只能更正：{'、'.join(zh for zh, _ in CORRECTABLE.values())}；等级、年份、机构等编入证书编号的内容须另发新证书",
                f"only {', '.join(en for _, en in CORRECTABLE.values())} can be corrected; "
                "what the number encodes (level, year, institution) needs a new certificate",
                details={"fields": unknown},
            )
        values: dict[str, str] = {}
        for field, raw in self.changes.items():
            text = str(raw)
            if field == "holder_name":
                try:
                    text = names.normalize_name(text)
                except InvalidName as exc:
                    raise InvalidName(exc.message_zh, exc.message_en, problems=exc.problems,
                                      details={"field": field}) from None  # fmt: skip
            elif field == "job":
                text = normalize_job(text)
            else:
                text = text.strip()
            if text != current[field]:
                values[field] = text
        if not values:
            raise InvalidInput("更正内容与现有证书相同", "the correction changes nothing")
        corrected = {**current, **values}
        try:
            payload.encode_body(
                payload.CertificateRecord(**{k: corrected[k] for k in _RECORD_KEYS}, kid="0000")
            )
        except payload.RecordError as exc:
            raise InvalidInput(
                f"更正后的内容无法写入二维码：{CORRECTABLE.get(exc.field, (exc.field,))[0]}",
                f"the corrected record cannot be signed: {exc}",
                details={"field": exc.field, "why": exc.why},
            ) from None
        return ChangeRequest(self.number, self.kind, self.reason.strip(), values)


_RECORD_KEYS = ("number", "holder_name", "id_tail", "occupation_code", "occupation_name", "job", "issue_date")


def stored_columns(changes: Mapping[str, str]) -> dict[str, str]:
    """The certificate columns a correction writes: its changes and what is derived from them (a
    new name is also a new comparison key, or the lookup by the corrected name would not find it)."""
    out = dict(changes)
    if "holder_name" in changes:
        out["name_key"] = names.name_key(changes["holder_name"])
    return out


def move(state: str, to: str) -> str:
    """``to`` if a request in ``state`` may move there. Raises InvalidTransition."""
    if to not in MOVES.get(state, frozenset()):
        raise InvalidTransition(
            f"申请当前状态为 {state}，不能改为 {to}",
            f"a request in state {state} cannot become {to}",
            details={"state": state, "to": to},
        )
    return to


@dataclass(frozen=True, slots=True)
class CurrentVersion:
    """A corrected certificate's current printed fields and QR path, which the status view holds so
    that a QR of an earlier version answers "superseded" with a link to this one."""

    fields: tuple[str, ...]  # the record's printed fields, in ``printed`` order
    path: str  # the current QR's /c/<payload> path
    since: str  # ISO date of the correction


def printed(record: payload.CertificateRecord) -> tuple[str, ...]:
    """The printed fields a correction may change, as one comparable value."""
    return (record.holder_name, record.occupation_name, record.job)
