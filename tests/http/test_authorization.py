"""The authorisation matrix (rules 58, 59, 64), generated from the app's route table.

Every route must be an ``EndpointRoute`` that declares who may call it; every non-public route
is called by every kind of caller (anonymous, expired, revoked, each role, an institution's
manager) on its own institution's or jurisdiction's thing and on another's, through the API
with a bearer token or through the console with a session cookie and its CSRF token. The expected
answer follows from ``GRANTS`` and the scope rules of verify.domain.accounts; afterwards nothing
of the other institution has changed (0 cross-institution writes) and no list showed another
institution's batch (0 cross-institution reads).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify.config import Settings
from verify.crypto.signing import Signer
from verify.domain.accounts import AUDITED_READS, GRANTS, MANAGER_ONLY, Action, Principal, Role
from verify.http.app import create_app
from verify.http.routes import Endpoint, EndpointRoute
from verify.services.registry import Registry

MB = 1 << 20
PASSWORD = "matrix password, long enough"
# Example bodies of the writing routes, valid enough to reach the scope check. A new writing route
# without one fails the matrix (add it here).
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/batches/{batch_id}/withdraw": {"reason": "matrix"},
    "POST /api/v1/batches/{batch_id}/approve": {"note": "matrix"},
    "POST /api/v1/batches/{batch_id}/reject": {"reason": "matrix"},
    "POST /api/v1/certificates/{number}/events": {"reason_category": "data_error", "reason": "matrix"},
    "POST /api/v1/institutions/{code}/status": {"status": "active", "reason": "matrix"},
    "POST /api/v1/certificates/{number}/requests": {
        "kind": "reissue",
        "print_serial": "M0001",
        "reason": "matrix",
    },
    "POST /api/v1/certificates/{number}/requests/decision": {"approve": True, "note": "matrix"},
    "POST /api/v1/batches/{batch_id}/revocation": {"reason_category": "data_error", "reason": "matrix"},
    "POST /api/v1/institutions/{code}/revocation": {
        "reason_category": "data_error",
        "reason": "matrix",
        "issued_from": "2025-01-01",
        "issued_to": "2025-12-31",
    },
    # The institution lifecycle: each reaches its use case and changes nothing another route needs
    # (a termination dated far ahead, a merger refused for naming no one, a grade of a non-鉴定机构).
    "POST /api/v1/institutions/{code}/records": {
        "kind": "warning",
        "article": "matrix",
        "summary": "matrix",
        "decided_by": "matrix",
    },
    "POST /api/v1/institutions/{code}/grades": {
        "year": 2025,
        "grade": "good",
        "document_ref": "matrix",
        "decided_by": "matrix",
    },
    "POST /api/v1/institutions/{code}/termination": {"reason": "matrix", "effective": "2099-01-01"},
    "POST /api/v1/institutions/{code}/merger": {"institutions": [], "reason": "matrix"},
    "POST /api/v1/institutions/{code}/aliases": {"alias": "MX-MATRIX", "note": "matrix"},
    "POST /api/v1/institutions/{code}/aliases/withdraw": {"alias": "MX-MATRIX", "reason": "matrix"},
    "POST /api/v1/accounts": {"login": "matrix-new", "role": "institution", "display_name": "matrix"},
    "POST /api/v1/accounts/{login}/disable": {"reason": "matrix"},
}
DENIALS = {
    "unauthorized",
    "credentials_expired",
    "credentials_revoked",
    "role_not_allowed",
    "outside_jurisdiction",
}


@dataclass(frozen=True)
class Caller:
    name: str
    token: str | None
    session: tuple[str, str] | None  # (cookie, csrf)
    principal: Principal | None
    expect_401: str | None = None  # the reason slug when the credentials themselves are refused


@dataclass(frozen=True)
class Things:
    institution: str
    batch: str
    certificate: str
    account: str


@pytest.fixture
def app_routes(settings: Settings, registry: Registry) -> list[object]:
    async def factory() -> Registry:  # pragma: no cover - not started here
        return registry

    return list(create_app(settings, registry_factory=factory).routes)


def test_every_route_declares_who_may_call_it(app_routes: list[object]) -> None:
    for route in app_routes:
        if isinstance(route, Mount) and route.path == "/static":
            continue
        assert isinstance(route, EndpointRoute), f"{route!r} is not an Endpoint: say who may call it"
        for spec in route.specs:
            if spec.access is not None:
                assert spec.access in GRANTS
                if spec.method == "POST" and not spec.console and not _takes_file(spec):
                    assert spec.name in BODIES, f"{spec.name}: add an example body to BODIES"


def _fill(path: str, things: Things) -> str:
    values = {"batch_id": things.batch, "code": things.institution, "number": things.certificate,
              "login": things.account}  # fmt: skip
    return re.sub(r"{([a-z_]+)(:[a-z]+)?}", lambda m: values[m.group(1)], path)


def _allowed(caller: Caller, spec: Endpoint, own: bool) -> str | None:
    """None when the call must get past authorisation, else the refusal's reason slug."""
    if caller.principal is None:
        return caller.expect_401 or "unauthorized"
    p = caller.principal
    assert spec.access is not None
    if p.role not in GRANTS[spec.access] or (
        spec.access in MANAGER_ONLY and p.role is Role.INSTITUTION and not p.manager
    ):
        return "role_not_allowed"
    if spec.target is None or own:
        return None
    if p.role is Role.INSTITUTION:
        return "not_found"
    if p.role is Role.REVIEWER:
        return "outside_jurisdiction"
    return None  # regulator (province) and admin reach the other institution too


async def _call(
    client: httpx.AsyncClient, caller: Caller, spec: Endpoint, things: Things, upload: bytes
) -> httpx.Response:
    path = _fill(spec.path, things)
    headers: dict[str, str] = {}
    if spec.console:
        if caller.session is not None:
            headers["cookie"] = f"verify_session={caller.session[0]}"
        if spec.method == "GET":
            return await client.get(path, headers=headers)
        form = {
            "csrf": caller.session[1] if caller.session else "",
            **{k: str(v) for k, v in _console_body(spec).items()},
        }
        files = {"file": ("m.csv", upload, "text/csv")} if spec.path.endswith("/upload") else None
        return await client.post(path, data=form, files=files, headers=headers)
    if caller.token is not None:
        headers["authorization"] = f"Bearer {caller.token}"
    if spec.method == "GET":
        return await client.get(path, headers=headers)
    if _takes_file(spec):
        # A receipt that is not one: the recheck answers receipt_invalid, after authorisation.
        fields = {"receipt": "{}"} if "receipt" in (spec.form or {}).get("properties", {}) else None
        return await client.post(
            path, files={"file": ("m.csv", upload, "text/csv")}, data=fields, headers=headers
        )
    return await client.post(path, json=BODIES[spec.name], headers=headers)


def _takes_file(spec: Endpoint) -> bool:
    """An upload route (a multipart ``file``): it is called with the matrix's batch file."""
    return "file" in (spec.form or {}).get("properties", {})


def _console_body(spec: Endpoint) -> dict[str, Any]:
    api = spec.name.replace("/console/", "/api/v1/")
    for name, body in BODIES.items():
        if name.split("/")[-1] == api.split("/")[-1]:
            return {**body, "number": "", "event": "revoked"}
    return {"reason": "matrix", "note": "matrix", "status": "active", "reason_category": "data_error"}


def _refusal(spec: Endpoint, response: httpx.Response) -> str | None:
    """The reason slug of a refusal, or None when authorisation let the call through."""
    if spec.console:
        location = response.headers.get("location", "")
        if response.status_code == 303 and "/console/login" in location and "why=signed_out" not in location:
            return "unauthorized"
        return {403: "forbidden", 404: "not_found"}.get(response.status_code)
    if (
        response.headers.get("content-type", "").startswith("application/json")
        and response.status_code >= 400
    ):
        reason = response.json().get("error")
        return reason if reason in DENIALS | {"not_found"} else None
    return None


async def test_rule_58_authorization_matrix(
    client: httpx.AsyncClient,
    registry: Registry,
    make_institution: InstitutionFactory,
    signer: Signer,
    app_routes: list[object],
) -> None:
    a = await make_institution()  # Henan city 01
    b = await make_institution(code=None, city_code="02")
    b_code = b["code"]
    await registry.pool.execute("UPDATE institutions SET city_code = '02' WHERE code = $1", b_code)

    async def things(code: str, tag: str) -> Things:
        rows = [Row(code, serial=i) for i in (1, 2)]
        done = await registry.import_batch(code, csv_bytes(rows[:1]), f"{tag}-p.csv", actor="t", max_bytes=MB)
        await publish_batch(registry, done.batch_id, signer=signer)
        pending = await registry.import_batch(
            code, csv_bytes(rows[1:]), f"{tag}-s.csv", actor="t", max_bytes=MB
        )
        staff = f"mx-staff-{tag}-{code.lower()}"
        await registry.add_account(
            staff, "institution", display_name="staff", institution_code=code, by=None, actor="t"
        )
        return Things(code, pending.batch_id, number_of(rows[0]), staff)

    own, other = await things(a["code"], "a"), await things(b_code, "b")

    async def caller(
        name: str, role: str, *, expire: bool = False, revoke: bool = False, **kw: Any
    ) -> Caller:
        login = f"mx-{name}-{a['code'].lower()}"
        await registry.add_account(
            login, role, display_name=name, password=PASSWORD, by=None, actor="t", **kw
        )
        token = (await registry.issue_account_token(login, label="mx", by=None, actor="t"))["token"]
        session, csrf, principal = await registry.sign_in(login, PASSWORD, client=f"192.0.2.{len(name)}")
        if expire:
            await registry.pool.execute(
                "UPDATE account_tokens SET expires_at = now() - interval '1 s' WHERE token_sha256 = $1",
                hashlib.sha256(token.encode()).digest(),
            )
            await registry.pool.execute("UPDATE account_sessions SET expires_at = now() - interval '1 s'"
                                        " WHERE id_sha256 = $1", hashlib.sha256(session.encode()).digest())  # fmt: skip
            return Caller(name, token, (session, csrf), None, "credentials_expired")
        if revoke:
            await registry.disable_account(login, reason="matrix", by=None, actor="t")
            return Caller(name, token, (session, csrf), None, "credentials_revoked")
        return Caller(name, token, (session, csrf), principal)

    callers = [
        Caller("anonymous", None, None, None),
        await caller("expired", "institution", expire=True, institution_code=a["code"]),
        await caller("revoked", "institution", revoke=True, institution_code=a["code"]),
        await caller("inst", "institution", institution_code=a["code"]),
        await caller("manager", "institution", institution_code=a["code"], manager=True),
        await caller("reviewer", "reviewer", jurisdiction="4101"),
        await caller("regulator", "regulator", jurisdiction="41"),
        await caller("admin", "admin"),
        await caller("verifier", "verifier"),
    ]
    upload = csv_bytes([Row(a["code"], serial=50)])
    specs = [s for r in app_routes if isinstance(r, EndpointRoute) for s in r.specs if s.access is not None]
    specs.sort(key=lambda e: e.path.endswith("/logout"))  # signing out last: it ends the session
    mismatches: list[str] = []
    cells = 0
    for spec in specs:
        for c in callers:
            for is_own in (True, False) if spec.target else (True,):
                expected = _allowed(c, spec, is_own)
                response = await _call(client, c, spec, own if is_own else other, upload)
                got = _refusal(spec, response)
                cells += 1
                if spec.console and expected is not None:
                    expected = {"role_not_allowed": "forbidden", "outside_jurisdiction": "forbidden"}.get(
                        expected,
                        "unauthorized" if expected.startswith(("unauth", "credentials")) else expected,
                    )
                if (got is None) != (expected is None) or (expected is not None and got != expected):
                    mismatches.append(f"{spec.name} as {c.name} on {'own' if is_own else 'other'}: "
                                      f"expected {expected}, got {got} ({response.status_code})")  # fmt: skip
                if response.status_code >= 500:
                    mismatches.append(f"{spec.name} as {c.name}: {response.status_code}")
    assert not mismatches, "\n".join(mismatches)
    assert cells >= len(specs) * len(callers)

    # 0 cross-institution reads or writes: the other institution's things were never touched by
    # the callers scoped to institution A or to city 4101 (a refusal comes before any audited act)
    scoped = [
        c.principal.actor
        for c in callers
        if c.principal and c.principal.role in (Role.INSTITUTION, Role.REVIEWER)
    ]
    touched = await registry.pool.fetch(
        "SELECT actor, action, target FROM audit_log WHERE actor = ANY($1) AND target = ANY($2)",
        scoped, [other.batch, other.certificate, other.institution, other.account],
    )  # fmt: skip
    assert [dict(r) for r in touched] == []
    assert (
        await registry.pool.fetchval("SELECT state FROM batches WHERE public_id = $1", other.batch)
        == "submitted"
    )
    assert (
        await registry.pool.fetchval("SELECT status FROM certificates WHERE number = $1", other.certificate)
        == "active"
    )

    # 0 cross-institution reads: lists hold only what the caller may see
    for c in callers:
        if c.principal is None or c.principal.role not in GRANTS[Action.BATCH_LIST]:
            continue
        listed = (await client.get("/api/v1/batches", headers={"authorization": f"Bearer {c.token}"})).json()
        codes = {x["institution"] for x in listed["batches"]}
        if c.principal.role is Role.INSTITUTION:
            assert codes == {a["code"]}, c.name
        elif c.principal.jurisdiction == "4101":
            assert b_code not in codes, c.name
    print(f"authorisation matrix: {len(specs)} routes x {len(callers)} callers = {cells} calls")


async def test_rule_60_every_non_public_read_is_audited(
    client: httpx.AsyncClient,
    registry: Registry,
    make_institution: InstitutionFactory,
    signer: Signer,
    app_routes: list[object],
) -> None:
    """Every GET route that reads non-public data (API and console), called by a caller it lets
    through, leaves an audit entry under that caller's name: who read what, when (rule 60)."""
    inst = await make_institution()
    code = inst["code"]
    rows = [Row(code, serial=i) for i in (1, 2)]
    done = await registry.import_batch(code, csv_bytes(rows[:1]), "r60-p.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, done.batch_id, signer=signer)
    pending = await registry.import_batch(code, csv_bytes(rows[1:]), "r60-s.csv", actor="t", max_bytes=MB)
    staff = f"r60-staff-{code.lower()}"
    await registry.add_account(
        staff, "institution", display_name="staff", institution_code=code, by=None, actor="t"
    )
    things = Things(code, pending.batch_id, number_of(rows[0]), staff)
    callers = []
    for name, role, kw in (
        ("manager", "institution", {"institution_code": code, "manager": True}),
        ("reviewer", "reviewer", {"jurisdiction": "4101"}),
        ("admin", "admin", {}),
    ):
        login = f"r60-{name}-{code.lower()}"
        await registry.add_account(
            login, role, display_name=name, password=PASSWORD, by=None, actor="t", **kw
        )
        token = (await registry.issue_account_token(login, label="r60", by=None, actor="t"))["token"]
        session, csrf, principal = await registry.sign_in(login, PASSWORD, client="192.0.2.60")
        callers.append(Caller(name, token, (session, csrf), principal))
    reads = [
        s
        for r in app_routes
        if isinstance(r, EndpointRoute)
        for s in r.specs
        if s.access in AUDITED_READS and s.method == "GET"
    ]
    assert reads, "no account-only reads found"
    unaudited: list[str] = []
    checked = 0
    for spec in reads:
        for c in callers:
            if _allowed(c, spec, True) is not None:
                continue
            assert c.principal is not None
            count = "SELECT count(*) FROM audit_log WHERE actor = $1"
            before = await registry.pool.fetchval(count, c.principal.actor)
            response = await _call(client, c, spec, things, b"")
            assert response.status_code == 200, f"{spec.name} as {c.name}: {response.status_code}"
            checked += 1
            if await registry.pool.fetchval(count, c.principal.actor) == before:
                unaudited.append(f"{spec.name} as {c.name}")
    assert not unaudited, "reads without an audit entry:\n" + "\n".join(unaudited)
    print(f"rule 60: {checked} audited reads over {len(reads)} routes")
