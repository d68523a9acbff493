"""Bad input and odd requests never give a 500 (issue: hardened against bad input and faults).

Every response carries the security headers and the service's error shape; NUL bytes, lone
surrogates and noncharacters are refused before any view or SQL; body limits answer 413 in the
error shape; a hypothesis search throws arbitrary Unicode at every route.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify.config import Settings
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.domain.errors import InvalidPayload
from verify.http.app import create_app
from verify.http.guard import SECURITY_HEADERS
from verify.services.registry import Registry
from verify.services.status_view import StatusView


def _assert_headers(r: httpx.Response) -> None:
    for header, _ in SECURITY_HEADERS:
        assert header.decode() in r.headers, (r.request.url, r.status_code, header)


def _assert_error_shape(r: httpx.Response, reason: str | None = None) -> None:
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    assert body["message"]["zh"] and body["message"]["en"]
    if reason is not None:
        assert body["error"] == reason, body


@pytest.mark.parametrize(
    "path", ["/api/v1/institutions/%00", "/api/v1/batches/%00", "/api/v1/codes/%00", "/api/v1/verify/A%00B"]
)
async def test_nul_in_a_path_is_refused_before_any_sql(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 400
    _assert_error_shape(r, "bad_character")
    _assert_headers(r)


async def test_nul_in_a_page_path_gets_an_error_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/institutions/a%00b", headers={"accept": "text/html"})
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    _assert_headers(r)


@pytest.mark.parametrize(
    "body",
    [
        b'{"number":"\\ud800","name":"x"}',
        b'{"number":"Y000041010012224000007","name":"\\udfff"}',
        b'{"id_number":"410105199003140215","id_type":"\\ud800","name":"x"}',
        b'{"id_number":"410105199003140215","name":"\\u0000"}',
        b'{"number":"Y000041010012224000007","name":"\\ufffe"}',
        b'{"\\ud800":"x","name":"y"}',
    ],
)
async def test_bad_characters_in_json_are_refused(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post("/api/v1/lookup", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    _assert_error_shape(r, "bad_character")


async def test_bad_characters_in_the_lookup_form_are_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/lookup",
        content=b"number=%00&name=%ED%A0%80",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code in (400, 422) and r.status_code < 500


async def test_oversize_bodies_get_413_in_the_error_shape(client: httpx.AsyncClient) -> None:
    declared = await client.post(
        "/api/v1/lookup",
        content=b"{}",
        headers={"content-length": "10000000", "content-type": "application/json"},
    )
    assert declared.status_code == 413
    _assert_error_shape(declared, "body_too_large")
    _assert_headers(declared)

    async def chunks() -> Any:
        for _ in range(64):
            yield b" " * 1024

    streamed = await client.post(
        "/api/v1/lookup", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    _assert_error_shape(streamed, "body_too_large")


async def test_every_error_status_has_the_headers_and_the_shape(
    settings: Settings, registry: Registry, status_view: StatusView
) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    async def factory() -> Registry:  # pragma: no cover - the lifespan is not run under ASGITransport
        return registry

    app = create_app(settings, registry_factory=factory)
    app.router.routes += [Route("/api/v1/boom", boom), Route("/boom", boom)]
    app.state.registry, app.state.status_view = registry, status_view
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        cases = {
            404: await c.get("/api/v1/nothing-here"),
            405: await c.delete("/api/v1/lookup"),
            500: await c.get("/api/v1/boom"),
            413: await c.post("/api/v1/lookup", content=b"x" * 5000),
        }
        page = await c.get("/boom", headers={"accept": "text/html"})
    for status, r in cases.items():
        assert r.status_code == status
        _assert_headers(r)
        _assert_error_shape(r)
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    _assert_headers(page)


async def test_form_lookup_429_says_when_to_retry(client: httpx.AsyncClient) -> None:
    statuses = []
    for i in range(7):
        r = await client.post(
            "/lookup",
            data={"number": "Y000041010012224999996", "name": f"孙{i}"},
            headers={"accept": "text/html"},
        )
        statuses.append(r.status_code)
    assert statuses[-1] == 429 and int(r.headers["retry-after"]) > 0
    _assert_headers(r)


# ---------------------------------------------------------------- arbitrary Unicode at every route

_NASTY = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\ufffe", "\uffff", "\U0010ffff", "\x1b[31m", "../", "%", "\u202e"]
)
_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(categories=["Cs", "Cc", "Cn", "Co", "Zl", "Zp"]), max_size=10),
    st.lists(_NASTY, min_size=1, max_size=4).map("".join),
)


def _cases(n: int) -> list[tuple[str, str, str]]:
    """n (path text, query text, body text) triples from hypothesis, arbitrary Unicode included."""
    drawn: list[tuple[str, str, str]] = []

    @hsettings(max_examples=n, database=None, deadline=None)
    @given(_TEXT, _TEXT, _TEXT)
    def collect(a: str, b: str, c: str) -> None:
        drawn.append((a, b, c))

    collect()
    return drawn


def _quoted(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


async def test_arbitrary_unicode_at_every_route_never_gives_a_5xx(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert len(routes) > 15
    failures = []
    for segment, query, text in _cases(60):
        body = json.dumps({"number": text, "name": text, "id_number": text, "id_type": text, text: text})
        for route in routes:
            path = re.sub(r"\{[^}]+\}", _quoted(segment) or "x", route.path)
            url = f"{path}?q={_quoted(query)}&{_quoted(query)}=1"
            for method in sorted(route.methods or {"GET"}):
                if method == "HEAD":
                    continue
                kwargs: dict[str, Any] = {}
                if method == "POST":
                    kwargs = {"content": body.encode(), "headers": {"content-type": "application/json"}}
                r = await client.request(method, url, **kwargs)
                if r.status_code >= 500:
                    failures.append((method, url, r.status_code, r.text[:120]))
                elif method == "POST" and route.path == "/lookup":
                    form = {"number": text, "name": text, "id_type": text}
                    f = await client.post(url, content="&".join(f"{k}={_quoted(v)}" for k, v in form.items()),
                                          headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
                    if f.status_code >= 500:
                        failures.append(("POST form", url, f.status_code, f.text[:120]))
    assert not failures, failures[:5]


# ---------------------------------------------------------------- the access log holds no personal data


async def test_qr_paths_never_reach_the_access_log(
    client: httpx.AsyncClient,
    registry: Registry,
    make_institution: InstitutionFactory,
    caplog: pytest.LogCaptureFixture,
    signer: Signer,
    pool: Any,
) -> None:
    import logging

    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="欧阳·娜娜")
    result = await registry.import_batch(
        inst["code"], csv_bytes([row]), "l.csv", actor="t", max_bytes=1 << 20
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    data = await signatures.qr_payload(pool, number_of(row))
    assert data is not None
    text = payload.to_text(data)
    caplog.set_level(logging.DEBUG)
    for path in (f"/c/{text}", f"/api/v1/verify/{text}", f"/c/{text}.json", f"/api/v1/verify/{text[:-3]}"):
        await client.get(path)
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "verify.access"]
    assert len(logged) == 4
    # Decode every path-like token of every line: none may be a payload (it holds name, ID tail, number).
    for line in logged:
        assert text[:40] not in line and number_of(row) not in line and row.name not in line
        for token in re.findall(r"[A-Za-z0-9/._{}-]{20,}", line):
            for piece in token.split("/"):
                with pytest.raises(InvalidPayload):
                    payload.decode(payload.payload_from_path(piece.removesuffix(".json")))
    assert any("/c/{payload}" in line for line in logged)


async def test_deeply_nested_json_is_a_400_not_a_500(client: httpx.AsyncClient) -> None:
    # Found by the fuzzer: json.loads raises RecursionError about 1,000 levels down (2 KB of body).
    r = await client.post(
        "/api/v1/lookup", content=b"[" * 1500 + b"]" * 1500, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    _assert_error_shape(r, "invalid_input")
