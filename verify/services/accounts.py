"""Accounts, API tokens and console sign-ins (rules 58, 59, 64). A mixin of
``verify.services.registry.Registry``.

``by`` is the principal asking (None = the operator on the command line, who may do everything);
every change is audited with who asked. Tokens and session ids are 256-bit random values of which
only the SHA-256 is stored; passwords are Argon2id hashes, never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from verify.crypto.passwords import hash_password, password_ok
from verify.db import accounts, audit, institutions
from verify.db.pool import Pool, transaction
from verify.domain import errors
from verify.domain.accounts import (
    PROVINCE,
    Action,
    Principal,
    Role,
    audit_role,
    authorize,
    check_jurisdiction,
    check_login,
    check_password,
)
from verify.services.throttle import Throttle

TOKEN_PREFIX = "vt_"  # noqa: S105 - a marker, not a secret
TOUCH_SECONDS = 60  # a session's last_seen is written at most this often


def _sha(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "replace")).digest()


def _now() -> datetime:
    return datetime.now(UTC)


class Accounts:
    pool: Pool
    login_throttle: Throttle
    session_lifetime: timedelta
    session_idle: timedelta
    token_lifetime: timedelta

    # ------------------------------------------------------------------ administration

    async def add_account(
        self,
        login: str,
        role: str,
        *,
        display_name: str,
        institution_code: str | None = None,
        jurisdiction: str | None = None,
        manager: bool = False,
        password: str | None = None,
        by: Principal | None,
        actor: str,
    ) -> dict[str, Any]:
        """Create an account. An institution's manager creates only staff sub-accounts of its own
        institution (rule 64); an admin or the operator creates any. Raises InvalidInput,
        RoleNotAllowed, NotFound (no such institution), Conflict (login taken)."""
        login = check_login(login)
        try:
            kind = Role(role)
        except ValueError:
            raise errors.InvalidInput(
                f"角色必须是 {', '.join(r.value for r in Role)} 之一",
                f"the role must be one of {', '.join(r.value for r in Role)}",
                details={"field": "role"},
            ) from None
        parent_id = None
        if by is not None:
            authorize(by, Action.ACCOUNT_MANAGE)
            if by.role is Role.INSTITUTION:
                if (
                    kind is not Role.INSTITUTION
                    or manager
                    or institution_code not in (None, by.institution_code)
                ):
                    raise errors.RoleNotAllowed(
                        "机构管理员只能为本机构创建工作人员子账号",
                        "an institution's manager creates only staff sub-accounts of its own institution",
                    )
                institution_code, parent_id = by.institution_code, by.account_id
        institution_id = None
        if kind is Role.INSTITUTION:
            if not institution_code:
                raise errors.InvalidInput(
                    "评价机构账号须指明机构代码", "an institution account needs --institution"
                )
            institution_id = (
                await institutions.get_institution(self.pool, institution_code.strip().upper())
            ).id
        elif institution_code or manager:
            raise errors.InvalidInput(
                "只有评价机构账号属于机构", "only institution accounts belong to an institution"
            )
        if kind in (Role.REVIEWER, Role.REGULATOR):
            jurisdiction = check_jurisdiction(jurisdiction or PROVINCE)
        elif jurisdiction:
            raise errors.InvalidInput(
                "只有鉴定中心和监管账号有管辖范围", "only reviewer and regulator accounts have a jurisdiction"
            )
        if not display_name.strip() or len(display_name) > 100:
            raise errors.InvalidInput("请填写 1-100 个字符的名称", "give a display name of 1-100 characters")
        hashed = await asyncio.to_thread(hash_password, check_password(password)) if password else None
        async with transaction(self.pool) as conn:
            await accounts.insert_account(
                conn, login=login, role=kind.value, display_name=display_name.strip(), institution_id=institution_id,
                jurisdiction=jurisdiction, manager=manager, parent_id=parent_id, password_hash=hashed,
                created_by=actor,
            )  # fmt: skip
            await audit.audit(conn, actor, "account.add", login,
                              {"role": kind.value, "institution": institution_code, "jurisdiction": jurisdiction,
                               "manager": manager}, role=audit_role(by))  # fmt: skip
            row = await accounts.get_account(conn, login)
        return row.to_json()

    async def account_list(self, *, by: Principal | None, actor: str) -> list[dict[str, Any]]:
        """Every account (admin, operator) or the manager's institution's. Raises RoleNotAllowed."""
        code = None
        if by is not None:
            authorize(by, Action.ACCOUNT_READ)
            code = by.institution_code if by.role is Role.INSTITUTION else None
        rows = await accounts.list_accounts(self.pool, code)
        await audit.audit(self.pool, actor, "account.list", code, None, role=audit_role(by))
        return [r.to_json() for r in rows]

    async def _managed(self, login: str, by: Principal | None) -> accounts.AccountRow:
        """The account ``by`` may manage. Raises NotFound (also for another institution's),
        RoleNotAllowed."""
        row = await accounts.get_account(self.pool, check_login(login))
        if by is not None:
            authorize(by, Action.ACCOUNT_MANAGE)
            if by.role is Role.INSTITUTION and (
                row.institution_code != by.institution_code or row.manager and row.id != by.account_id
            ):
                raise errors.NotFound(f"未找到账号 {login}", f"no account {login}", details={"login": login})
        return row

    async def disable_account(
        self, login: str, *, reason: str, by: Principal | None, actor: str
    ) -> dict[str, Any]:
        """Disable an account: its tokens and sessions are refused from its very next request, in
        every worker (rule 59). Raises NotFound, RoleNotAllowed, InvalidInput."""
        if not reason.strip():
            raise errors.InvalidInput("请写明停用理由", "give the reason for disabling")
        row = await self._managed(login, by)
        async with transaction(self.pool) as conn:
            changed = await accounts.disable_account(conn, row.id, reason.strip()[:500])
            await audit.audit(conn, actor, "account.disable", row.login, {"changed": changed},
                              role=audit_role(by), reason=reason.strip()[:500])  # fmt: skip
            after = await accounts.get_account(conn, row.login)
        return after.to_json()

    async def issue_account_token(
        self, login: str, *, label: str, days: int | None = None, by: Principal | None, actor: str
    ) -> dict[str, Any]:
        """A new API token for the account, shown once; only its hash is kept. Raises NotFound,
        RoleNotAllowed, Conflict (disabled account), InvalidInput."""
        row = await self._managed(login, by)
        if row.disabled_at is not None:
            raise errors.Conflict(
                "账号已停用，不能签发令牌", "the account is disabled; no token can be issued"
            )
        lifetime = timedelta(days=days) if days else self.token_lifetime
        if not timedelta(hours=1) <= lifetime <= timedelta(days=366):
            raise errors.InvalidInput(
                "令牌有效期须在 1 小时到 366 天之间", "a token lives from 1 hour to 366 days"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = _now() + lifetime
        async with transaction(self.pool) as conn:
            await accounts.add_token(conn, _sha(token), row.id, label[:100] or "api", expires)
            await audit.audit(conn, actor, "account.token_issue", row.login, {"label": label[:100],
                              "expires_at": expires.isoformat()}, role=audit_role(by))  # fmt: skip
        return {
            "login": row.login,
            "token": token,
            "label": label[:100] or "api",
            "expires_at": expires.isoformat(),
        }

    async def revoke_account_tokens(
        self, login: str, *, label: str | None = None, by: Principal | None, actor: str
    ) -> int:
        """Revoke the account's tokens (those with ``label``): refused from the next request on
        (rule 59). Returns how many. Raises NotFound, RoleNotAllowed."""
        row = await self._managed(login, by)
        async with transaction(self.pool) as conn:
            count = await accounts.revoke_tokens(conn, row.id, label)
            await audit.audit(conn, actor, "account.token_revoke", row.login, {"label": label, "count": count},
                              role=audit_role(by))  # fmt: skip
        return count

    async def set_account_password(
        self, login: str, password: str, *, by: Principal | None, actor: str
    ) -> None:
        """Set a password (Argon2id); every open session of the account ends. Raises NotFound,
        RoleNotAllowed, InvalidInput."""
        row = await self._managed(login, by)
        hashed = await asyncio.to_thread(hash_password, check_password(password))
        async with transaction(self.pool) as conn:
            await accounts.set_password(conn, row.id, hashed)
            await audit.audit(conn, actor, "account.password", row.login, None,
                              role=audit_role(by))  # fmt: skip

    # ------------------------------------------------------------------ credentials

    async def principal_for_token(self, token: str) -> Principal:
        """The principal of a bearer token. Raises Unauthorized (unknown), CredentialsExpired,
        CredentialsRevoked (revoked token or disabled account)."""
        found = (
            await accounts.token_credential(self.pool, _sha(token))
            if token.startswith(TOKEN_PREFIX)
            else None
        )
        if found is None:
            raise errors.Unauthorized("令牌无效", "the token is not valid")
        if found.ended_at is not None or found.account.disabled_at is not None:
            raise errors.CredentialsRevoked()
        if found.expires_at <= _now():
            raise errors.CredentialsExpired()
        return found.account.principal("token")

    async def sign_in(self, login: str, password: str, *, client: str) -> tuple[str, str, Principal]:
        """Check a console sign-in and open a session; returns (session id for the cookie, CSRF
        token, principal). Throttled per address and per account. Raises RateLimited,
        LoginFailed, CredentialsRevoked (disabled account, right password)."""
        key = login.strip().lower()[:64]
        ticket = await self.login_throttle.admit(client, self.login_throttle.account_target(key))
        found = await accounts.password_of(self.pool, key) if key else None
        stored = found[1] if found else None
        ok = await asyncio.to_thread(password_ok, stored, password[:256])
        await self.login_throttle.settle(ticket, ok)
        if not ok or found is None:
            await audit.audit(
                self.pool, f"anonymous:{client}", "session.failed", key or None, None, role="anonymous"
            )
            raise errors.LoginFailed()
        row = found[0]
        if row.disabled_at is not None:
            raise errors.CredentialsRevoked()
        session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with transaction(self.pool) as conn:
            await accounts.add_session(conn, _sha(session), row.id, csrf, _now() + self.session_lifetime)
            await audit.audit(
                conn, f"{row.role}:{row.login}", "session.start", row.login, None, role=row.role
            )
        return session, csrf, row.principal("session")

    async def principal_for_session(self, session: str) -> tuple[Principal, str]:
        """The principal of a console session and its CSRF token. Raises Unauthorized (unknown),
        CredentialsExpired (past its lifetime or idle too long), CredentialsRevoked."""
        digest = _sha(session)
        found = await accounts.session_credential(self.pool, digest)
        if found is None:
            raise errors.Unauthorized("请先登录", "please sign in")
        if found.ended_at is not None or found.account.disabled_at is not None:
            raise errors.CredentialsRevoked(
                "登录已结束或账户已停用，请重新登录", "the sign-in ended or the account is disabled"
            )
        now = _now()
        assert found.last_seen is not None and found.csrf is not None
        if found.expires_at <= now or found.last_seen + self.session_idle <= now:
            raise errors.CredentialsExpired(
                "登录已过期，请重新登录", "the sign-in has expired; please sign in again"
            )
        if (now - found.last_seen).total_seconds() > TOUCH_SECONDS:
            await accounts.touch_session(self.pool, digest)
        return found.account.principal("session"), found.csrf

    async def sign_out(self, session: str, principal: Principal) -> None:
        async with transaction(self.pool) as conn:
            await accounts.end_session(conn, _sha(session))
            await audit.audit(
                conn, principal.actor, "session.end", principal.login, None, role=principal.role.value
            )

    async def account_of(self, principal: Principal) -> dict[str, Any]:
        """The principal's own account record (``/api/v1/me``). Raises NotFound."""
        return (await accounts.get_account(self.pool, principal.login)).to_json()
