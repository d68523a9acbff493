"""Rules 54 and 55 over the app's real route table: verification is free and anonymous, and no
public route offers bulk access to certificate data.

Every public route (``Endpoint.access is None``) needs a recipe in ``PUBLIC_CALLS`` below, so a new
public route fails these tests until someone has said how an anonymous caller reaches it and what
certificate data it can return.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import publish_batch
from verify.config import Settings
from verify.crypto.signing import Signer
from verify.db import accounts, certificates, signatures
from verify.domain import payload, reference
from verify.domain.accounts import OPERATOR_ROLE
from verify.http import openapi
from verify.http.app import create_app
from verify.http.routes import Endpoint, EndpointRoute
from verify.services.registry import Registry

MB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]
# What a free public route may answer an anonymous caller: found, not found, or bad input; never
# 401, 402 or 403 (an account, a payment, a permission).
FREE_ANSWERS = {200, 404, 422}


@dataclass(frozen=True)
class Things:
    """One published certificate and its issuer, as an anonymous caller knows them."""

    number: str
    name: str
    id_number: str
    path: str  # the QR payload's Base32 text
    institution: str
    receipt: str  # the id of a verifier's receipt for that certificate (docs/RECEIPT-FORMAT.md)


# The route (``Endpoint.name``) -> (method, path, keyword arguments of httpx) for a successful
# anonymous call. A QR image is reached through the link a free lookup answer carries (its ``t``
# token is a capability the lookup hands out, not an account).
Call = tuple[str, str, dict[str, Any]]
PUBLIC_CALLS: dict[str, Callable[[Things], Call]] = {
    "GET /C/{payload}": lambda t: ("GET", f"/C/{t.path}", {}),
    "GET /c/{payload}": lambda t: ("GET", f"/c/{t.path.lower()}", {}),
    "GET /": lambda t: ("GET", "/", {}),
    "GET /index.json": lambda t: ("GET", "/index.json", {}),
    "POST /lookup": lambda t: ("POST", "/lookup", {"data": {"number": t.number, "name": t.name}}),
    "GET /institutions/{code}": lambda t: ("GET", f"/institutions/{t.institution}", {}),
    "GET /scan": lambda t: ("GET", "/scan", {}),
    "GET /scan.json": lambda t: ("GET", "/scan.json", {}),
    "GET /api/v1/verify/{payload}": lambda t: ("GET", f"/api/v1/verify/{t.path}", {}),
    "POST /api/v1/lookup": lambda t: ("POST", "/api/v1/lookup", {"json": {"number": t.number, "name": t.name}}),
    "GET /api/v1": lambda t: ("GET", "/api/v1", {}),
    "GET /healthz": lambda t: ("GET", "/healthz", {}),
    "GET /api/v1/openapi.json": lambda t: ("GET", "/api/v1/openapi.json", {}),
    "GET /api/v1/codes/{number:path}": lambda t: ("GET", f"/api/v1/codes/{t.number}", {}),
    "GET /api/v1/institutions": lambda t: ("GET", "/api/v1/institutions", {}),
    "GET /api/v1/institutions/{code}": lambda t: ("GET", f"/api/v1/institutions/{t.institution}", {}),
    "GET /api/v1/reference": lambda t: ("GET", "/api/v1/reference", {}),
    "GET /api/v1/reference/{name}": lambda t: ("GET", f"/api/v1/reference/{reference.PUBLISHED_TABLES[0]}", {}),
    "GET /.well-known/verify-keys.json": lambda t: ("GET", "/.well-known/verify-keys.json", {}),
    "GET /api/v1/certificates/{number}/qr.{fmt:str}": lambda t: ("QR-LINK", "png", {}),
    "GET /api/v1/certificates/{number}/certificate.{fmt:str}": lambda t: ("FILE-LINK", "png", {}),
    "GET /c/{payload}/certificate.{fmt:str}": lambda t: ("GET", f"/c/{t.path.lower()}/certificate.png", {}),
    "GET /receipts/{receipt_id}": lambda t: ("GET", f"/receipts/{t.receipt}", {}),
    "GET /receipts/{receipt_id}.json": lambda t: ("GET", f"/receipts/{t.receipt}.json", {}),
}  # fmt: skip
# The same routes asked about what is not there or is malformed: still free, still anonymous.
MISSES: list[Callable[[Things], Call]] = [
    lambda t: ("POST", "/api/v1/lookup", {"json": {"number": t.number, "name": "不是本人"}}),
    lambda t: ("POST", "/api/v1/lookup", {"json": {"id_number": t.id_number, "name": "不是本人"}}),
    lambda t: ("POST", "/api/v1/lookup", {"json": {"number": "Y0000410100", "name": t.name}}),
    lambda t: ("POST", "/lookup", {"data": {"number": t.number, "name": "不是本人"}}),
    lambda t: ("GET", "/api/v1/verify/NOTAPAYLOAD", {}),
    lambda t: ("GET", "/C/NOTAPAYLOAD", {}),
    lambda t: ("GET", "/api/v1/codes/Y0000410100", {}),
    lambda t: ("GET", "/api/v1/institutions/S00004101999", {}),
    lambda t: ("GET", "/institutions/S00004101999", {}),
]
# The verification and lookup routes the rule is about: they must stay public.
FREE_ROUTES = {
    "GET /C/{payload}", "GET /c/{payload}", "GET /", "GET /index.json", "POST /lookup", "GET /scan",
    "GET /scan.json", "GET /api/v1/verify/{payload}", "POST /api/v1/lookup", "GET /api/v1/codes/{number:path}",
    "GET /institutions/{code}", "GET /api/v1/institutions/{code}", "GET /api/v1/institutions",
    "GET /.well-known/verify-keys.json",
}  # fmt: skip

# Rule 55: the path parameters that name one certificate (or its QR) or one institution, and the
# public paths without one, each holding no certificate data.
ONE_THING = {"payload", "number", "code"}
NO_CERTIFICATE_DATA = {
    "/": "the lookup form",
    "/index.json": "the lookup form's JSON twin",
    "/scan": "the scanner page",
    "/scan.json": "the scanner page's JSON twin",
    "/api/v1": "the API index",
    "/healthz": "health",
    "/api/v1/openapi.json": "the API description",
    "/api/v1/institutions": "institutions' codes, names and states (public record, §5.2), no certificate",
    "/api/v1/reference": "the reference tables' index",
    "/api/v1/reference/{name}": "a versioned code table",
    "/.well-known/verify-keys.json": "the public signing keys",
    "/console/login": "the staff sign-in form",
    "/receipts/{receipt_id}": "a batch verification's receipt: counts and digests, no row's content",
    "/receipts/{receipt_id}.json": "the receipt itself (docs/RECEIPT-FORMAT.md), as its page",
}
# Path parameters that are capabilities rather than names: a receipt's id is 128 random bits, known
# only to the verifier it was given to and whoever they show it, and the receipt holds no certificate.
CAPABILITIES = {"receipt_id"}
# Query parameters a public route may take: the QR image link's expiry and token. Anything like a
# page size, an offset, a prefix or a search term would be a way to walk the registry.
PUBLIC_QUERY = {"e", "t"}
_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")


@pytest.fixture
def endpoints(settings: Settings, registry: Registry) -> list[Endpoint]:
    async def factory() -> Registry:  # pragma: no cover - not started here
        return registry

    app = create_app(settings, registry_factory=factory)
    return [s for r in app.routes if isinstance(r, EndpointRoute) for s in r.specs]


def _public(endpoints: list[Endpoint]) -> list[Endpoint]:
    return [e for e in endpoints if e.access is None and not e.console and e.tag != "console"]


async def _published(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> Things:
    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="王五")
    result = await registry.import_batch(inst["code"], csv_bytes([row]), "free.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer)
    data = await signatures.qr_payload(pool, number_of(row))
    assert data is not None
    login = f"t-free-{inst['code'].lower()}"
    await registry.add_account(login, "verifier", display_name=login, by=None, actor="test")
    verifier = (await accounts.get_account(pool, login)).principal("token")
    answer = await registry.verify_file(
        f"证书编号,姓名\n{number_of(row)},{row.name}\n".encode(),
        "free.csv",
        max_bytes=MB,
        max_rows=10,
        by=verifier,
    )
    return Things(
        number_of(row),
        row.name,
        row.id_number,
        payload.to_text(data),
        inst["code"],
        answer.receipt["receipt_id"],
    )


async def _send(client: httpx.AsyncClient, call: Call, things: Things) -> httpx.Response:
    method, path, kwargs = call
    if method == "QR-LINK":  # follow the link of a free lookup answer, still without an account
        found = await client.post("/api/v1/lookup", json={"number": things.number, "name": things.name})
        assert found.status_code == 200, found.text
        return await client.get(found.json()["certificates"][0]["qr"][path])
    if method == "FILE-LINK":  # the printable certificate's link in the same answer
        found = await client.post("/api/v1/lookup", json={"number": things.number, "name": things.name})
        return await client.get(found.json()["certificates"][0]["certificate_files"][path])
    return await client.request(method, path, **kwargs)


async def test_rule_54_every_public_verify_and_lookup_route_is_free_and_anonymous(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer, endpoints: list[Endpoint],
) -> None:  # fmt: skip
    by_name = {e.name: e for e in endpoints}
    for name in sorted(FREE_ROUTES):
        assert name in by_name, f"{name} is gone from the route table"
        assert by_name[name].access is None, f"{name} asks for an account or token: verification is free"
    public = _public(endpoints)
    unknown = sorted({e.name for e in public} - PUBLIC_CALLS.keys())
    assert not unknown, f"new public routes: add how an anonymous caller reaches them: {unknown}"
    things = await _published(registry, pool, make_institution, signer)
    # No cookie, no Authorization header, no payment: what any member of the public sends.
    assert not client.cookies and "authorization" not in client.headers
    for e in public:
        r = await _send(client, PUBLIC_CALLS[e.name](things), things)
        assert r.status_code == 200, (e.name, r.status_code, r.text[:300])
        assert "www-authenticate" not in r.headers, e.name
    for miss in MISSES:
        r = await _send(client, miss(things), things)
        assert r.status_code in FREE_ANSWERS, (miss(things), r.status_code)  # never 401, 402 or 403
    # The API description says the same: no public operation carries a security requirement.
    doc = (await client.get("/api/v1/openapi.json")).json()
    for e in public:
        if openapi.is_api(e.path):
            op = doc["paths"][openapi.openapi_path(e.path)][e.method.lower()]
            assert "security" not in op and "402" not in op["responses"], e.name


def test_rule_55_every_public_path_is_keyed_by_one_certificate_or_institution(
    endpoints: list[Endpoint],
) -> None:
    anonymous = [e for e in endpoints if e.access is None]
    for e in anonymous:
        named = set(_PARAM.findall(e.path))
        assert e.method == "POST" or named & ONE_THING or e.path in NO_CERTIFICATE_DATA, (
            f"{e.name}: a public route must name one certificate or institution, or hold no certificate data"
        )
        assert named <= ONE_THING | {"fmt", "name"} | CAPABILITIES, e.name
        assert set(e.query) <= PUBLIC_QUERY | named, (e.name, e.query)
        words = re.split(r"[^a-z]+", e.path.lower())
        for word in ("export", "search", "list", "bulk", "all", "dump", "download", "prefix"):
            assert word not in words, e.name
    # The public POST routes: the lookups, which take one certificate number or one holder's ID,
    # always with the name (rule 56), and the staff sign-in.
    assert {e.name for e in anonymous if e.method == "POST"} == {
        "POST /lookup",
        "POST /api/v1/lookup",
        "POST /console/login",
    }
    [api_lookup] = [e for e in anonymous if e.name == "POST /api/v1/lookup"]
    assert api_lookup.body is not None and api_lookup.body["required"] == ["name"]
    assert set(api_lookup.body["properties"]) == {"number", "id_number", "id_type", "name"}


async def test_rule_55_the_api_description_offers_no_list_or_prefix_search(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/api/v1/openapi.json")).json()
    public_gets = [
        (path, op) for path, ops in doc["paths"].items() for method, op in ops.items()
        if method == "get" and "security" not in op
    ]  # fmt: skip
    assert public_gets
    for path, op in public_gets:
        named = set(_PARAM.findall(path))
        assert named & ONE_THING or path in NO_CERTIFICATE_DATA, path
        query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert query <= PUBLIC_QUERY, (path, query)


async def test_rule_55_a_lookup_answers_one_holder_and_is_capped(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    match = re.search(r"\bLIMIT (\d+)\b", certificates.BY_ID_INDEX.tail)
    assert match, "the ID + name lookup must be capped (LIMIT in certificates.BY_ID_INDEX)"
    cap = int(match.group(1))
    inst = await make_institution()
    holder, namesake = holder_id(), holder_id()
    # One holder with more certificates than the cap, and another holder of the same name.
    rows = [Row(inst["code"], serial=i, name="赵六", id_number=holder) for i in range(1, cap + 2)]
    rows.append(Row(inst["code"], serial=cap + 2, name="赵六", id_number=namesake))
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "cap.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer)
    found = await client.post("/api/v1/lookup", json={"id_number": holder, "name": "赵六"})
    assert found.status_code == 200
    listed = found.json()["certificates"]
    assert len(listed) == cap
    assert {c["id_masked"] for c in listed} == {listed[0]["id_masked"]}
    assert number_of(rows[-1]) not in {c["number"] for c in listed}  # the namesake is not shown
    one = await client.post("/api/v1/lookup", json={"number": number_of(rows[-1]), "name": "赵六"})
    assert [c["number"] for c in one.json()["certificates"]] == [number_of(rows[-1])]


async def test_rule_55_the_bulk_payload_export_is_operator_only_and_audited(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    # No web route reaches the bulk read: it is called only by `verify qr --all` (verify/cli).
    callers = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "verify").rglob("*.py"))
        if "published_payloads(" in p.read_text(encoding="utf-8")
    ]
    assert callers == ["verify/cli/certificates.py", "verify/db/signatures.py", "verify/services/lookup.py"]
    assert "OPERATOR_ROLE" in (ROOT / "verify/cli/certificates.py").read_text(encoding="utf-8")
    inst = await make_institution()
    await publish_batch(
        registry,
        (await registry.import_batch(inst["code"], csv_bytes([Row(inst["code"], serial=1)]), "qr.csv",
                                     actor="t", max_bytes=MB)).batch_id,
        signer=signer,
    )  # fmt: skip
    before = await pool.fetchval("SELECT max(id) FROM audit_log")
    stream = registry.published_payloads(actor="cli:t-rule55", role=OPERATOR_ROLE, reason="print run")
    assert isinstance(stream, AsyncGenerator)
    first = await anext(stream)  # audited before the first row, even when the reader stops here
    await stream.aclose()
    assert first[0]
    entry = await pool.fetchrow(
        "SELECT actor, action, role, reason FROM audit_log WHERE id > $1 AND action = 'certificates.qr_all'",
        before,
    )
    assert entry is not None and dict(entry) == {
        "actor": "cli:t-rule55", "action": "certificates.qr_all", "role": OPERATOR_ROLE, "reason": "print run",
    }  # fmt: skip
