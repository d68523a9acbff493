"""Who may do what: roles, the signed-in principal, and the one authorisation table (rules 58, 59, 64).

Every non-public route names one ``Action``; ``authorize`` decides it from the principal's role and
scope and the owner of what is touched. Nothing else decides access, so the authorisation matrix
test (tests/http/test_authorization.py) can walk every route against this table.

Scope rules (rule 58):

- an **institution** account sees and changes only its own institution and the 站点 filed under it
  (``parent_code``); another institution's things answer as if they did not exist (404), so
  accounts cannot probe which batches or institutions exist;
- a **reviewer** (a 鉴定中心) acts on institutions of its jurisdiction: the province (``41``) or one
  Henan city (``41`` + the city code, e.g. ``4101`` 郑州市); outside it the answer is 403;
- a **regulator** reads across the province and may suspend or resume an institution;
- reviewers and regulators also record an institution's warnings, credit records and quality
  grades (in their jurisdiction); terminations, mergers and aliases are an **admin**'s (or the
  operator's, on the command line);
- an **admin** manages accounts (and, on the command line, keys); an institution's **manager**
  account manages that institution's staff sub-accounts (rule 64);
- a **verifier** (an employer or agency) may batch-verify certificates, and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from verify.domain import errors
from verify.domain.reference import HENAN_CITIES

PROVINCE = "41"  # the service's province (Henan); jurisdictions are it or one of its cities
LOGIN_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
PASSWORD_MIN = 12


class Role(StrEnum):
    INSTITUTION = "institution"
    REVIEWER = "reviewer"
    REGULATOR = "regulator"
    ADMIN = "admin"
    VERIFIER = "verifier"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.INSTITUTION: ("评价机构", "assessment institution"),
    Role.REVIEWER: ("鉴定中心（审核）", "reviewing centre"),
    Role.REGULATOR: ("人社部门（监管）", "regulator"),
    Role.ADMIN: ("系统管理员", "administrator"),
    Role.VERIFIER: ("查验单位", "verifier"),
}


class Action(StrEnum):
    SELF_READ = "self.read"
    BATCH_UPLOAD = "batch.upload"
    BATCH_LIST = "batch.list"
    BATCH_READ = "batch.read"
    BATCH_WITHDRAW = "batch.withdraw"
    BATCH_REVIEW = "batch.review"  # approve or reject
    CERTIFICATE_REVOKE = "certificate.revoke"
    CERTIFICATE_REQUEST = "certificate.request"  # ask for a correction or re-issue (rule 43)
    CERTIFICATE_REQUEST_REVIEW = "certificate.request_review"  # decide one
    INSTITUTION_STATUS = "institution.status"  # suspend / resume
    INSTITUTION_RECORD = "institution.record"  # warnings, credit records, quality grades (rules 51, 53)
    INSTITUTION_REGISTRY = "institution.registry"  # terminations, mergers, aliases (rules 40, 41, 52)
    ACCOUNT_READ = "account.read"
    ACCOUNT_MANAGE = "account.manage"
    BATCH_VERIFY = "verification.batch"  # verify a file of certificates, recheck a receipt
    BATCH_PRINT = "batch.print"  # the print run of a published batch: PDFs with the ID in full


# The one authorisation table: which roles may attempt each action (scope is checked after).
GRANTS: dict[Action, frozenset[Role]] = {
    Action.SELF_READ: frozenset(Role),
    Action.BATCH_UPLOAD: frozenset({Role.INSTITUTION}),
    Action.BATCH_LIST: frozenset({Role.INSTITUTION, Role.REVIEWER, Role.REGULATOR}),
    Action.BATCH_READ: frozenset({Role.INSTITUTION, Role.REVIEWER, Role.REGULATOR}),
    Action.BATCH_WITHDRAW: frozenset({Role.INSTITUTION}),
    Action.BATCH_REVIEW: frozenset({Role.REVIEWER}),
    Action.CERTIFICATE_REVOKE: frozenset({Role.REVIEWER}),
    Action.CERTIFICATE_REQUEST: frozenset({Role.INSTITUTION}),
    Action.CERTIFICATE_REQUEST_REVIEW: frozenset({Role.REVIEWER}),
    Action.INSTITUTION_STATUS: frozenset({Role.REVIEWER, Role.REGULATOR}),
    Action.INSTITUTION_RECORD: frozenset({Role.REVIEWER, Role.REGULATOR}),
    # What ends or renames a filing is the registry operator's: on the command line, or an admin.
    Action.INSTITUTION_REGISTRY: frozenset({Role.ADMIN}),
    Action.ACCOUNT_READ: frozenset({Role.ADMIN, Role.INSTITUTION}),
    Action.ACCOUNT_MANAGE: frozenset({Role.ADMIN, Role.INSTITUTION}),
    # Employers and agencies, and the regulator spot-checking what an institution issued.
    Action.BATCH_VERIFY: frozenset({Role.VERIFIER, Role.REGULATOR}),
    # The institution prints its own certificates (人社鉴发〔2021〕1号: 证书由评价机构独立印制).
    Action.BATCH_PRINT: frozenset({Role.INSTITUTION}),
}
# Actions an institution account may take only as its institution's manager (rule 64).
MANAGER_ONLY = frozenset({Action.ACCOUNT_READ, Action.ACCOUNT_MANAGE})
# The actions that read data the public cannot see; every call of one is audited (rule 60). Other
# GET routes show a form for a write, or public data (institutions, rule 50).
AUDITED_READS = frozenset({Action.BATCH_LIST, Action.BATCH_READ, Action.ACCOUNT_READ})


@dataclass(frozen=True, slots=True)
class Principal:
    """The account a request acts as, with its scope. ``via``: "token", "session" or "cli"."""

    account_id: int
    login: str
    role: Role
    institution_code: str | None = None
    jurisdiction: str | None = None
    manager: bool = False
    via: str = "token"

    @property
    def actor(self) -> str:
        """How the audit log and the batch records name this principal."""
        return f"{self.role.value}:{self.login}"


@dataclass(frozen=True, slots=True)
class Owner:
    """Where a thing belongs, for the scope check: its institution and that institution's place."""

    institution_code: str
    parent_code: str | None
    province_code: str | None
    city_code: str | None


# The role the audit log names for the operator on the command line (no account: ``by=None``).
OPERATOR_ROLE = "operator"


def audit_role(by: Principal | None) -> str:
    """The role an audit entry names: the principal's, or the command-line operator's."""
    return by.role.value if by is not None else OPERATOR_ROLE


def in_jurisdiction(jurisdiction: str, owner: Owner) -> bool:
    if owner.province_code != jurisdiction[:2]:
        return False
    return len(jurisdiction) == 2 or owner.city_code == jurisdiction[2:]


def authorize(principal: Principal, action: Action, owner: Owner | None = None) -> None:
    """Allow ``action`` on what ``owner`` owns, or raise: RoleNotAllowed (the role may never do
    it), NotFound (another institution's thing, told apart from nothing), OutsideJurisdiction."""
    if principal.role not in GRANTS[action] or (
        action in MANAGER_ONLY and principal.role is Role.INSTITUTION and not principal.manager
    ):
        raise errors.RoleNotAllowed(details={"action": action.value, "role": principal.role.value})
    if owner is None:
        return
    if principal.role is Role.INSTITUTION:
        own = principal.institution_code
        if own not in (owner.institution_code, owner.parent_code):
            raise errors.NotFound("未找到", "not found")
    elif principal.role in (Role.REVIEWER, Role.REGULATOR):
        assert principal.jurisdiction is not None
        if not in_jurisdiction(principal.jurisdiction, owner):
            raise errors.OutsideJurisdiction(details={"jurisdiction": principal.jurisdiction})


def check_login(login: str) -> str:
    """The login as stored (lower case). Raises InvalidInput."""
    value = login.strip().lower()
    if not LOGIN_PATTERN.fullmatch(value):
        raise errors.InvalidInput(
            "账号须为 3-64 个小写字母、数字或 . _ -，以字母或数字开头",
            "a login is 3-64 lower-case letters, digits or . _ -, starting with a letter or digit",
            details={"field": "login"},
        )
    return value


def check_jurisdiction(value: str) -> str:
    """``41`` or ``41`` + a Henan city code. Raises InvalidInput."""
    value = value.strip()
    if value == PROVINCE or (len(value) == 4 and value[:2] == PROVINCE and value[2:] in HENAN_CITIES):
        return value
    raise errors.InvalidInput(
        f"管辖范围须为 {PROVINCE}（全省）或 {PROVINCE} 加河南省地市代码（如 4101 郑州市）",
        f"a jurisdiction is {PROVINCE} (the province) or {PROVINCE} + a Henan city code (e.g. 4101)",
        details={"field": "jurisdiction"},
    )


def check_password(password: str) -> str:
    """A new password: at least PASSWORD_MIN characters, not all one kind. Raises InvalidInput."""
    if len(password) < PASSWORD_MIN or len(password) > 256 or len(set(password)) < 4:
        raise errors.InvalidInput(
            f"密码至少 {PASSWORD_MIN} 个字符，且不能过于简单",
            f"a password has at least {PASSWORD_MIN} characters and may not be trivial",
            details={"field": "password"},
        )
    return password


def jurisdiction_label(value: str | None) -> str:
    if not value:
        return ""
    if value == PROVINCE:
        return "河南省"
    return HENAN_CITIES.get(value[2:], value)
