"""Accounts, tokens, sessions and sign-in throttling against the real database (rules 58, 59, 64)."""

from __future__ import annotations

import hashlib
import logging
import secrets

import asyncpg
import pytest

from tests.conftest import InstitutionFactory
from tests.windows import in_a_fresh_window
from verify.db import accounts
from verify.domain import errors
from verify.domain.accounts import Role
from verify.services.registry import Registry

PASSWORD = "correct horse battery staple"


def _login(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def test_tokens_are_shown_once_and_stored_as_hashes(registry: Registry, pool: asyncpg.Pool) -> None:
    login = _login("t-adm")
    await registry.add_account(login, "admin", display_name="管理员", by=None, actor="t")
    issued = await registry.issue_account_token(login, label="ci", by=None, actor="t")
    token = issued["token"]
    assert token.startswith("vt_") and len(token) > 40
    stored = await pool.fetch("SELECT token_sha256 FROM account_tokens t JOIN accounts a ON a.id = t.account_id"
                              " WHERE a.login = $1", login)  # fmt: skip
    assert [r["token_sha256"] for r in stored] == [hashlib.sha256(token.encode()).digest()]
    dump = str(await pool.fetch("SELECT * FROM account_tokens")) + str(
        await pool.fetch("SELECT * FROM audit_log")
    )
    assert token not in dump and token[3:] not in dump
    principal = await registry.principal_for_token(token)
    assert principal.login == login and principal.role is Role.ADMIN


async def test_rule_59_a_revoked_token_or_disabled_account_is_refused_on_the_next_request(
    registry: Registry, make_institution: InstitutionFactory, pool: asyncpg.Pool
) -> None:
    inst = await make_institution()
    login = _login("t-inst")
    await registry.add_account(login, "institution", display_name="机构", institution_code=inst["code"], by=None,
                               actor="t")  # fmt: skip
    a = (await registry.issue_account_token(login, label="a", by=None, actor="t"))["token"]
    b = (await registry.issue_account_token(login, label="b", by=None, actor="t"))["token"]
    assert (await registry.principal_for_token(a)).institution_code == inst["code"]
    assert await registry.revoke_account_tokens(login, label="a", by=None, actor="t") == 1
    with pytest.raises(errors.CredentialsRevoked):
        await registry.principal_for_token(a)
    await registry.principal_for_token(b)
    await registry.disable_account(login, reason="离职", by=None, actor="t")
    with pytest.raises(errors.CredentialsRevoked):
        await registry.principal_for_token(b)
    with pytest.raises(errors.Conflict):
        await registry.issue_account_token(login, label="c", by=None, actor="t")
    with pytest.raises(errors.Unauthorized):
        await registry.principal_for_token("vt_" + secrets.token_urlsafe(32))


async def test_an_expired_token_is_refused(registry: Registry, pool: asyncpg.Pool) -> None:
    login = _login("t-ver")
    await registry.add_account(login, "verifier", display_name="查验单位", by=None, actor="t")
    token = (await registry.issue_account_token(login, label="x", by=None, actor="t"))["token"]
    await pool.execute("UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE token_sha256 = $1",
                       hashlib.sha256(token.encode()).digest())  # fmt: skip
    with pytest.raises(errors.CredentialsExpired):
        await registry.principal_for_token(token)


async def test_passwords_are_argon2id_and_never_logged(
    registry: Registry, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    login = _login("t-rev")
    await registry.add_account(login, "reviewer", display_name="审核", jurisdiction="4101", password=PASSWORD,
                               by=None, actor="t")  # fmt: skip
    stored = await pool.fetchval("SELECT password_hash FROM accounts WHERE login = $1", login)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    session, csrf, principal = await registry.sign_in(login, PASSWORD, client="192.0.2.1")
    assert principal.jurisdiction == "4101" and len(csrf) > 30
    again, csrf_again = await registry.principal_for_session(session)
    assert again.login == login and csrf_again == csrf
    with pytest.raises(errors.LoginFailed):
        await registry.sign_in(login, "wrong password, long enough", client="192.0.2.1")
    with pytest.raises(errors.LoginFailed):  # an unknown login answers the same
        await registry.sign_in(_login("nobody"), PASSWORD, client="192.0.2.1")
    with pytest.raises(errors.InvalidInput):
        await registry.set_account_password(login, "short", by=None, actor="t")
    audit = str(await pool.fetch("SELECT * FROM audit_log WHERE target = $1", login))
    assert PASSWORD not in caplog.text and PASSWORD not in audit


async def test_sessions_end_on_sign_out_idle_and_password_change(
    registry: Registry, pool: asyncpg.Pool
) -> None:
    login = _login("t-reg")
    await registry.add_account(login, "regulator", display_name="监管", password=PASSWORD, by=None, actor="t")
    s1, _, p1 = await registry.sign_in(login, PASSWORD, client="192.0.2.2")
    await registry.sign_out(s1, p1)
    with pytest.raises(errors.CredentialsRevoked):
        await registry.principal_for_session(s1)
    s2, _, _ = await registry.sign_in(login, PASSWORD, client="192.0.2.2")
    await pool.execute("UPDATE account_sessions SET last_seen = now() - interval '31 minutes'"
                       " WHERE id_sha256 = $1", hashlib.sha256(s2.encode()).digest())  # fmt: skip
    with pytest.raises(errors.CredentialsExpired):
        await registry.principal_for_session(s2)
    s3, _, _ = await registry.sign_in(login, PASSWORD, client="192.0.2.2")
    await registry.set_account_password(login, PASSWORD + " v2", by=None, actor="t")
    with pytest.raises(errors.CredentialsRevoked):
        await registry.principal_for_session(s3)


async def test_sign_in_is_throttled_per_account_even_with_the_right_password(registry: Registry) -> None:
    login = _login("t-thr")
    await registry.add_account(login, "admin", display_name="管理员", password=PASSWORD, by=None, actor="t")
    for i in range(registry.login_throttle.policy.free_failures):
        with pytest.raises(errors.LoginFailed):
            await registry.sign_in(login, f"wrong password number {i}", client=f"198.51.100.{i}")
    with pytest.raises(errors.RateLimited) as closed:
        await registry.sign_in(login, PASSWORD, client="198.51.100.200")
    assert closed.value.retry_after and closed.value.retry_after >= 1


async def test_sign_in_is_throttled_per_address(registry: Registry) -> None:
    client = f"203.0.113.{secrets.randbelow(250)}"
    budget = registry.login_throttle.policy.per_address
    await in_a_fresh_window(registry.login_throttle.policy)
    for i in range(budget):
        with pytest.raises(errors.LoginFailed):
            await registry.sign_in(_login(f"nobody{i}"), "whatever password", client=client)
    with pytest.raises(errors.RateLimited):
        await registry.sign_in(_login("nobody"), "whatever password", client=client)


async def test_rule_64_an_institution_manager_manages_only_its_own_staff(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    ours, theirs = await make_institution(), await make_institution()
    boss, other_boss = _login("t-mgr"), _login("t-mgr")
    await registry.add_account(boss, "institution", display_name="机构管理员", institution_code=ours["code"],
                               manager=True, by=None, actor="t")  # fmt: skip
    await registry.add_account(other_boss, "institution", display_name="他机构", institution_code=theirs["code"],
                               manager=True, by=None, actor="t")  # fmt: skip
    me = (await accounts.get_account(registry.pool, boss)).principal("token")
    staff = _login("t-staff")
    row = await registry.add_account(staff, "institution", display_name="工作人员", by=me, actor=me.actor)
    assert row["institution"] == ours["code"] and row["parent"] == boss and not row["manager"]
    with pytest.raises(errors.RoleNotAllowed):
        await registry.add_account(_login("t-x"), "reviewer", display_name="x", by=me, actor=me.actor)
    with pytest.raises(errors.RoleNotAllowed):
        await registry.add_account(_login("t-x"), "institution", display_name="x", institution_code=theirs["code"],
                                   by=me, actor=me.actor)  # fmt: skip
    with pytest.raises(errors.NotFound):
        await registry.disable_account(other_boss, reason="x", by=me, actor=me.actor)
    listed = {a["login"] for a in await registry.account_list(by=me, actor=me.actor)}
    assert listed == {boss, staff}
    worker = (await accounts.get_account(registry.pool, staff)).principal("token")
    with pytest.raises(errors.RoleNotAllowed):  # staff are not managers
        await registry.add_account(
            _login("t-y"), "institution", display_name="y", by=worker, actor=worker.actor
        )
    await registry.disable_account(staff, reason="离职", by=me, actor=me.actor)


async def test_account_fields_are_checked(registry: Registry, make_institution: InstitutionFactory) -> None:
    inst = await make_institution()
    bad = [
        dict(login="A", role="admin"),
        dict(login=_login("t"), role="root"),
        dict(login=_login("t"), role="institution"),
        dict(login=_login("t"), role="reviewer", jurisdiction="4199"),
        dict(login=_login("t"), role="admin", institution_code=inst["code"]),
        dict(login=_login("t"), role="verifier", jurisdiction="41"),
    ]
    for fields in bad:
        with pytest.raises(errors.InvalidInput):
            await registry.add_account(display_name="x", by=None, actor="t", **fields)
    login = _login("t-dup")
    await registry.add_account(login, "admin", display_name="x", by=None, actor="t")
    with pytest.raises(errors.Conflict):
        await registry.add_account(login, "admin", display_name="x", by=None, actor="t")
