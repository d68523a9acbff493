"""The certificate: one typed definition from batch row to QR.

``Certificate`` is what a checked batch row becomes, what COPY writes (``verify.db.certificates``
derives its column list from ``FIELDS``), what the seed generator makes, what the signed QR record
is built from (``record_of``), and what public answers show (``public_fields``). Adding an optional
field means: a field here (with a default), a migration adding the column, the row check that fills
it (``verify.domain.batch.checks``), and the template that shows it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from verify.domain import payload
from verify.domain.codes import QUALIFICATION_NAME_EN, QUALIFICATION_NAME_ZH, CodeKind
from verify.domain.events import PUBLIC_STATUS
from verify.domain.holder_ids import IdType, mask_id
from verify.domain.institution import ACTIVE, STATUS_LABELS, IssuerState
from verify.domain.reference import LEVEL_NAMES
from verify.domain.standing import CertificateState, outcome_of, standing_facts

PAPER = "paper"
ELECTRONIC = "electronic"
ISSUE_FORMS = (PAPER, ELECTRONIC)


# Not frozen: a frozen dataclass's __init__ costs about 6x a plain one (5.3 against 0.8 µs here),
# and imports and the seeder build a million of these; treat instances as read-only all the same.
@dataclass(slots=True)
class Certificate:
    """One certificate as registered (docs/RULES.md rules 20, 29).

    The holder's ID appears only as its keyed blind index, its AEAD ciphertext and its last four
    characters (``id_tail``); the name twice, as shown (``holder_name``) and as compared
    (``name_key``, ``verify.domain.names.name_key``).
    """

    number: str
    kind: CodeKind
    holder_name: str
    name_key: str
    id_type: IdType
    id_index: bytes
    id_cipher: bytes
    id_tail: str
    occupation_code: str  # "" for 专项 certificates without one
    occupation_name: str  # or the 专项 project name
    job: str  # 工种/职业方向; "--" when there is none (rule 21)
    level: int | None  # 1..5; None for 专项 (rule 29)
    issue_date: date
    issue_form: str = PAPER
    print_serial: str | None = None
    assessment_method: str | None = None
    photo_ref: str | None = None
    extra: dict[str, str] | None = None  # 专项 fields: gender, education, score


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Certificate))
values_of = operator.attrgetter(*FIELDS)  # the field values in FIELDS order, as one tuple

# The fields the signed QR record carries, by name; ``record_of`` fails loudly if they drift apart.
RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(payload.CertificateRecord) if f.name != "kid")


_record_values = operator.attrgetter(*RECORD_FIELDS)
_record_items = operator.itemgetter(*RECORD_FIELDS)
# Called with the getters' tuple, in field order, then the kid (the record's last field).
_new_record: Callable[..., payload.CertificateRecord] = payload.CertificateRecord
assert fields(payload.CertificateRecord)[-1].name == "kid"


def record_of(c: Certificate | Mapping[str, Any], kid: str) -> payload.CertificateRecord:
    """The signed QR record of a certificate, or of a database row holding its ``RECORD_FIELDS``.
    Raises KeyError for a row without them (``encode_body`` then checks the values)."""
    # The getters return the values in the record's own field order (RECORD_FIELDS follows it).
    values = _record_values(c) if isinstance(c, Certificate) else _record_items(c)
    return _new_record(*values, kid)


@dataclass(frozen=True, slots=True)
class Published:
    """A published certificate with what a public answer adds: its status and its issuer's."""

    certificate: Certificate
    status: str  # active | revoked | superseded (verify.domain.events)
    issuer: IssuerState
    state: CertificateState | None = None  # the latest decision, when not active


def level_json(level: int | None) -> dict[str, Any] | None:
    """The level as every answer shows it: code and "中文数字+级/等级名称" (rule 22)."""
    return None if level is None else {"code": level, "name": LEVEL_NAMES[level]}


def issuer_json(issuer: IssuerState | None, code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": issuer.name if issuer else None,
        "status": issuer.status if issuer else None,
    }


def public_fields(
    *,
    number: str,
    holder_name: str,
    id_type: IdType | str | None,
    id_tail: str,
    occupation_code: str,
    occupation_name: str,
    job: str,
    level: int | None,
    issue_date: date,
    issuer: Mapping[str, Any],
) -> dict[str, Any]:
    """What any public answer (lookup or QR) shows of a certificate: the printed fields, with the
    ID masked by the one masking rule. Raises nothing."""
    return {
        "number": number,
        "holder_name": holder_name,
        "id_masked": mask_id(id_type, id_tail),
        "occupation": {"code": occupation_code or None, "name": occupation_name},
        "job": job,
        "level": level_json(level),
        "issue_date": issue_date.isoformat(),
        "institution": dict(issuer),
    }


def certificate_fields(c: Certificate, issuer: IssuerState | None, issuer_code: str) -> dict[str, Any]:
    """``public_fields`` of a registered certificate."""
    return public_fields(
        number=c.number, holder_name=c.holder_name, id_type=c.id_type, id_tail=c.id_tail,
        occupation_code=c.occupation_code, occupation_name=c.occupation_name, job=c.job, level=c.level,
        issue_date=c.issue_date, issuer=issuer_json(issuer, issuer_code),
    )  # fmt: skip


def record_fields(record: payload.CertificateRecord, issuer: IssuerState | None) -> dict[str, Any]:
    """``public_fields`` of a scanned QR record (its ID type is not in the record)."""
    return public_fields(
        number=record.number, holder_name=record.holder_name, id_type=None, id_tail=record.id_tail,
        occupation_code=record.occupation_code, occupation_name=record.occupation_name, job=record.job,
        level=record.level, issue_date=record.issue_date, issuer=issuer_json(issuer, record.institution_key),
    )  # fmt: skip


def published_json(p: Published) -> dict[str, Any]:
    """A public lookup's answer for one certificate: the printed fields, its status, the outcome and
    public facts every path gives (``verify.domain.standing``, rule 61), and a notice when the issuer
    is no longer active (rule 38: the certificate itself stays valid)."""
    c, issuer = p.certificate, p.issuer
    return {
        **certificate_fields(c, issuer, issuer.code),
        "kind": c.kind.value,
        "id_type": c.id_type.value,
        "issue_form": c.issue_form,
        "status": PUBLIC_STATUS[p.status],
        "outcome": outcome_of(p.status, issuer),
        **standing_facts(p.status, p.state, issuer),
        "issuer_notice": issuer_notice(issuer),
        "legacy_notice": dict(LEGACY_NOTICE) if c.kind is CodeKind.QUALIFICATION else None,
    }


# What a legacy 职业资格证书's answer says it is, and why it still counts (rule 44).
LEGACY_NOTICE: Mapping[str, str] = {
    "kind_zh": QUALIFICATION_NAME_ZH,
    "kind_en": QUALIFICATION_NAME_EN,
    "zh": "改革前颁发的职业资格证书，继续有效（人社厅发〔2020〕80号）",
    "en": "A vocational qualification certificate issued before the 2019–2020 reform; it remains valid "
    "(人社厅发〔2020〕80号)",
}


def issuer_notice(issuer: IssuerState | None) -> dict[str, str] | None:
    """The sentence an answer shows when the issuer is no longer active; after a merger it names the
    institution the issuer merged into (rule 41)."""
    if issuer is None or issuer.status == ACTIVE:
        return None
    zh, en = STATUS_LABELS[issuer.status]
    if issuer.merged_into:
        into = (
            f"{issuer.merged_into_name or ''}（{issuer.merged_into}）"
            if issuer.merged_into_name
            else issuer.merged_into
        )
        into_en = (
            f"{issuer.merged_into_name} ({issuer.merged_into})"
            if issuer.merged_into_name
            else issuer.merged_into
        )
        return {
            "zh": f"发证机构已于 {issuer.since} 并入 {into}。证书本身仍然有效。",
            "en": f"The issuing institution merged into {into_en} on {issuer.since}. The certificate itself stays valid.",
        }
    return {
        "zh": f"发证机构当前状态：{zh}（自 {issuer.since}）。证书本身仍然有效。",
        "en": f"The issuing institution is {en} since {issuer.since}. The certificate itself stays valid.",
    }
