"""Who is calling: bearer tokens for the API, the session cookie (with its CSRF token) for the
console. Credentials are checked against the database on every request (rule 59).

The session cookie is ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` whenever the service is
reached over HTTPS (the request's scheme, or a public URL that is https behind a TLS front). Every
console form carries the session's CSRF token; a POST without the right one is refused before its
view runs, whatever the form does.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from verify.domain import errors
from verify.domain.accounts import Principal
from verify.http.routes import registry

SESSION_COOKIE = "verify_session"
LOGIN_CSRF_COOKIE = "verify_login_csrf"


async def bearer_principal(request: Request) -> Principal:
    """Raises Unauthorized (none or unknown), CredentialsExpired, CredentialsRevoked."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized(
            "需要凭证：Authorization: Bearer <token>", "credentials required: Authorization: Bearer <token>"
        )
    return await registry(request).principal_for_token(token.strip()[:200])


def console_authenticator(max_form_bytes: int) -> Callable[[Request], Awaitable[Principal]]:
    """The console's authenticator: the session cookie, and on a POST the form's CSRF token.
    The form is read here (Starlette keeps it for the view) with the upload limit as part size."""

    async def authenticate(request: Request) -> Principal:
        session = request.cookies.get(SESSION_COOKIE, "")
        if not session:
            raise errors.Unauthorized("请先登录", "please sign in")
        principal, csrf = await registry(request).principal_for_session(session[:100])
        request.state.csrf = csrf
        if request.method == "POST":
            try:
                # Two files at most: a batch and its roster (a browser sends an empty part for
                # a file input left blank).
                form = await request.form(max_files=2, max_fields=50, max_part_size=max_form_bytes)
            except HTTPException as exc:  # a malformed or oversized form, before any view runs
                raise errors.BadFile("表单无法读取", f"the form cannot be read: {exc.detail}") from None
            sent = form.get("csrf")
            if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), csrf.encode()):
                raise errors.CsrfFailed()
        return principal

    return authenticate


def secure_cookies(request: Request, public_url: str) -> bool:
    return request.url.scheme == "https" or public_url.startswith("https://")


def set_session_cookie(response: Response, session: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, session, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
