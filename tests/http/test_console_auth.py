"""Console sign-in over HTTP: the session cookie's flags, CSRF on the sign-in form and on every
signed-in form, expiry and sign-out, throttling (rules 58, 59)."""

from __future__ import annotations

import re
import secrets

import httpx

from verify.services.registry import Registry

PASSWORD = "console password, long enough"


async def _account(registry: Registry) -> str:
    login = f"t-con-{secrets.token_hex(4)}"
    await registry.add_account(login, "admin", display_name="管理员", password=PASSWORD, by=None, actor="t")
    return login


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


async def _sign_in(client: httpx.AsyncClient, login: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/console/login")
    csrf = _field(page.text, "csrf")
    cookie = page.cookies["verify_login_csrf"]
    return await client.post(
        "/console/login", data={"login": login, "password": password, "csrf": csrf},
        headers={"cookie": f"verify_login_csrf={cookie}"},
    )  # fmt: skip


async def test_sign_in_sets_a_strict_httponly_session_cookie(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    login = await _account(registry)
    done = await _sign_in(client, login)
    assert done.status_code == 303 and done.headers["location"] == "/console"
    cookie = next(
        v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("verify_session=")
    )
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=strict" in flags and "secure" not in flags  # plain http here
    session = cookie.split(";")[0].split("=", 1)[1]
    home = await client.get("/console", headers={"cookie": f"verify_session={session}"})
    assert home.status_code == 200 and login in home.text
    assert home.headers["cache-control"] == "no-store"
    assert session not in home.text


async def test_secure_cookie_over_https(client: httpx.AsyncClient, registry: Registry) -> None:
    login = await _account(registry)
    page = await client.get("https://testserver/console/login")
    csrf, token = _field(page.text, "csrf"), page.cookies["verify_login_csrf"]
    done = await client.post("https://testserver/console/login", data={"login": login, "password": PASSWORD, "csrf": csrf},
                             headers={"cookie": f"verify_login_csrf={token}"})  # fmt: skip
    cookie = next(
        v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("verify_session=")
    )
    assert "secure" in cookie.lower()


async def test_sign_in_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    login = await _account(registry)
    forged = await client.post("/console/login", data={"login": login, "password": PASSWORD, "csrf": "x"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert "verify_session" not in forged.headers.get("set-cookie", "")


async def test_a_signed_in_form_needs_the_sessions_csrf_token(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    login = await _account(registry)
    session = (await _sign_in(client, login)).cookies["verify_session"]
    jar = {"cookie": f"verify_session={session}"}
    refused = await client.post("/console/logout", data={"csrf": "not the token"}, headers=jar)
    assert refused.status_code == 403
    assert (await client.get("/console", headers=jar)).status_code == 200  # still signed in
    csrf = _field((await client.get("/console", headers=jar)).text, "csrf")
    out = await client.post("/console/logout", data={"csrf": csrf}, headers=jar)
    assert out.status_code == 303 and "why=signed_out" in out.headers["location"]
    after = await client.get("/console", headers=jar)
    assert after.status_code == 303 and "why=credentials_revoked" in after.headers["location"]


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    r = await client.get("/console")
    assert r.status_code == 303 and r.headers["location"].startswith(
        "/console/login?why=unauthorized&next=/console"
    )
    bogus = await client.get("/console", headers={"cookie": "verify_session=" + "x" * 43})
    assert bogus.status_code == 303


async def test_wrong_passwords_answer_alike_then_the_account_locks(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    login = await _account(registry)
    wrong = await _sign_in(client, login, "not the password at all")
    unknown = await _sign_in(client, f"t-nobody-{secrets.token_hex(4)}", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "账号或密码错误" in wrong.text and "账号或密码错误" in unknown.text
    for _ in range(registry.login_throttle.policy.free_failures):
        await _sign_in(client, login, "still not the password")
    locked = await _sign_in(client, login)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1


async def test_after_sign_in_only_a_console_path_is_followed(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    login = await _account(registry)
    for target, expected in (("/console/batches", "/console/batches"), ("//evil.example/console", "/console"),
                             ("https://evil.example/", "/console"), ("/console\\@evil", "/console")):  # fmt: skip
        page = await client.get("/console/login")
        done = await client.post(
            "/console/login",
            data={"login": login, "password": PASSWORD, "csrf": _field(page.text, "csrf"), "next": target},
            headers={"cookie": f"verify_login_csrf={page.cookies['verify_login_csrf']}"},
        )
        assert done.status_code == 303 and done.headers["location"] == expected, target
