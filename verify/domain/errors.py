"""One error tree for the whole service.

Every error carries a stable ``reason`` slug (API clients and tests match on it), a Chinese and an
English message, and optional structured ``problems``. The mapping to HTTP status codes lives in
``verify.app`` and the mapping to CLI exit codes in ``verify.cli``; nothing here knows about either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one input: where, what was found, what is allowed, why (zh first, en too).

    ``position`` is 1-based (character position inside a code, or ``None``); ``line`` and ``column``
    are used for batch rows (line 1 is the header row of the file). ``rule`` names the docs/RULES.md
    requirement number when one applies.
    """

    code: str
    message_zh: str
    message_en: str
    position: int | None = None
    found: str | None = None
    allowed: str | None = None
    line: int | None = None
    column: str | None = None
    rule: int | None = None
    severity: str = "error"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class VerifyError(Exception):
    """Base of every error the service raises on purpose."""

    reason: str = "error"
    default_zh: str = "请求无法处理"
    default_en: str = "The request could not be processed"
    # Seconds after which trying again may succeed (HTTP Retry-After); None = retrying will not help.
    retry_after: int | None = None

    def __init__(
        self,
        message_zh: str | None = None,
        message_en: str | None = None,
        *,
        problems: list[Problem] | tuple[Problem, ...] = (),
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message_zh = message_zh or self.default_zh
        self.message_en = message_en or self.default_en
        if retry_after is not None:
            self.retry_after = max(1, retry_after)
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(f"{self.reason}: {self.message_en}")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": self.reason,
            "message": {"zh": self.message_zh, "en": self.message_en},
        }
        if self.problems:
            body["problems"] = [p.to_json() for p in self.problems]
        if self.details:
            body["details"] = self.details
        return body


class ConfigError(VerifyError):
    reason = "config_error"
    default_zh = "配置错误"
    default_en = "Configuration error"


class InvalidInput(VerifyError):
    reason = "invalid_input"
    default_zh = "输入无效"
    default_en = "Invalid input"


class BadCharacter(InvalidInput):
    """Input holding a character no text of the service may hold: NUL and other control
    characters, a lone UTF-16 surrogate, a Unicode noncharacter (``verify.domain.text``)."""

    reason = "bad_character"
    default_zh = "输入含有不允许的字符（控制字符、孤立代理项或非字符）"
    default_en = "The input holds a character that is not allowed (control, lone surrogate or noncharacter)"


class BodyTooLarge(InvalidInput):
    """A request body over the limit of its route."""

    reason = "body_too_large"
    default_zh = "请求体超过上限"
    default_en = "The request body is larger than the limit"


class InvalidCode(InvalidInput):
    reason = "invalid_code"
    default_zh = "证书编号或机构代码格式无效"
    default_en = "The certificate number or institution code is not valid"


class InvalidId(InvalidInput):
    reason = "invalid_id"
    default_zh = "证件号码无效"
    default_en = "The ID number is not valid"


class InvalidName(InvalidInput):
    reason = "invalid_name"
    default_zh = "姓名无效"
    default_en = "The name is not valid"


class InvalidPayload(InvalidInput):
    """A QR payload that cannot be decoded: wrong prefix, bad Base32, truncated or trailing bytes,
    unknown version, non-canonical encoding. ``details["why"]`` names which."""

    reason = "invalid_payload"
    default_zh = "二维码内容无法识别"
    default_en = "The QR payload cannot be decoded"


class SuccessorNotAllowed(InvalidInput):
    """A supersession naming a successor that is not the same holder's, or not from the same
    institution, its parent, its 站点 or the institution it merged into (rule 43)."""

    reason = "successor_not_allowed"
    default_zh = "取代它的新证书必须属于同一持证人，并由同一机构（或其分支、并入机构）颁发"
    default_en = "The superseding certificate must be the same holder's, from the same institution (or its branch or successor)"


class BatchRejected(InvalidInput):
    """A batch had at least one bad row; ``problems`` lists every bad row. Nothing was written."""

    reason = "batch_rejected"
    default_zh = "批次被拒绝：存在不合格的行，未写入任何数据"
    default_en = "Batch rejected: some rows are invalid; nothing was written"


class BadFile(InvalidInput):
    """The uploaded file itself cannot be read (type, encoding, empty, missing columns)."""

    reason = "bad_file"
    default_zh = "文件无法读取"
    default_en = "The file cannot be read"


class FileTooLarge(BadFile):
    reason = "file_too_large"
    default_zh = "文件超过大小限制"
    default_en = "The file is larger than the size limit"


class InvalidPhoto(InvalidInput):
    """A holder's photo that is refused (``verify.render.photo``): not a JPEG or PNG by its content,
    over the byte or pixel limits, too small, a possible decompression bomb, damaged or truncated.
    ``problems[0].code`` names which (``photo_*``)."""

    reason = "invalid_photo"
    default_zh = "照片无效"
    default_en = "The photo is not valid"


class NotFound(VerifyError):
    reason = "not_found"
    default_zh = "未找到"
    default_en = "Not found"


class Conflict(VerifyError):
    reason = "conflict"
    default_zh = "与现有数据冲突"
    default_en = "Conflicts with existing data"


class Unauthorized(VerifyError):
    reason = "unauthorized"
    default_zh = "需要有效的凭证"
    default_en = "Valid credentials are required"


class Forbidden(VerifyError):
    reason = "forbidden"
    default_zh = "无权执行此操作"
    default_en = "Not allowed"


class RateLimited(VerifyError):
    reason = "rate_limited"
    default_zh = "请求过于频繁，请稍后再试"
    default_en = "Too many requests; please try again later"
    retry_after = 60


class Unavailable(VerifyError):
    reason = "unavailable"
    default_zh = "服务暂时不可用，请稍后再试"
    default_en = "The service is temporarily unavailable; please try again later"
    retry_after = 5


# ---------------------------------------------------------------- accounts and the review workflow


class CredentialsExpired(Unauthorized):
    """An API token past its expiry, or a console session past its lifetime."""

    reason = "credentials_expired"
    default_zh = "凭证已过期，请重新登录或申请新令牌"
    default_en = "The credentials have expired; sign in again or ask for a new token"


class CredentialsRevoked(Unauthorized):
    """A revoked token, an ended session, or any credential of a disabled account (rule 59)."""

    reason = "credentials_revoked"
    default_zh = "凭证已被吊销或账户已停用"
    default_en = "The credentials were revoked or the account is disabled"


class LoginFailed(Unauthorized):
    """Wrong login or password; the two are never told apart."""

    reason = "login_failed"
    default_zh = "账号或密码错误"
    default_en = "Wrong login or password"


class RoleNotAllowed(Forbidden):
    reason = "role_not_allowed"
    default_zh = "当前账户的角色无权执行此操作"
    default_en = "The account's role does not allow this"


class OutsideJurisdiction(Forbidden):
    """A reviewer acting on an institution outside the 鉴定中心's area (rule 58)."""

    reason = "outside_jurisdiction"
    default_zh = "该机构不在本鉴定中心的管辖范围内"
    default_en = "The institution is outside this reviewing centre's jurisdiction"


class OwnUpload(Forbidden):
    """Nobody reviews a batch they uploaded themselves."""

    reason = "own_upload"
    default_zh = "不能审核自己上传的批次"
    default_en = "A batch cannot be reviewed by the account that uploaded it"


class CsrfFailed(Forbidden):
    reason = "csrf_failed"
    default_zh = "表单已失效（CSRF 校验失败），请刷新页面后重试"
    default_en = "The form has expired (CSRF check failed); reload the page and try again"


class InvalidTransition(Conflict):
    """A batch asked to move where its state does not lead: publishing an unapproved batch,
    deciding twice, withdrawing a decided batch. ``details`` names the state and the action."""

    reason = "invalid_transition"
    default_zh = "批次当前状态不允许此操作"
    default_en = "The batch's state does not allow this"


class InstitutionRetired(Conflict):
    """A decision about an institution whose filing was terminated or merged: its code is retired
    for good (rule 40), so nothing re-activates it; a returning institution files again under a
    new code. ``details`` names the code, the final status and its date."""

    reason = "institution_retired"
    default_zh = "机构已终止备案或已合并，其代码已列入废置库"
    default_en = "The institution's filing was terminated or merged; its code is retired"


def mapped(exc: VerifyError, table: dict[type[VerifyError], int], default: int) -> int:
    """The value of the most specific class of ``exc`` in ``table`` (HTTP status, exit code)."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default


# ---------------------------------------------------------------- the audit log (rule 60)


class AuditChainBroken(Conflict):
    """The audit log's hash chain does not verify (``verify audit check``): ``details["problem"]`` is
    ``modified`` (an entry does not match its hash), ``broken_link`` (an entry does not follow the one
    before it: one was removed or inserted) or ``head_missing`` (the expected head is gone), and
    ``details["id"]`` names the entry. A Conflict for HTTP; its own CLI exit code (8)."""

    reason = "audit_chain_broken"
    default_zh = "审计日志哈希链校验失败"
    default_en = "The audit log's hash chain does not verify"
