"""The API description (``GET /api/v1/openapi.json``) against the route table, and the live app
against the description.

The document is built from the route table (``verify.http.openapi``): these tests hold it to the
table (every API endpoint with every method, no page or console route), to OpenAPI 3.1 and to
JSON Schema 2020-12. Then schemathesis calls every operation of the in-process app, over the test
database seeded with a published batch, batches awaiting review, and tokens of every role, with
generated valid and invalid input (its examples, coverage and fuzzing phases, positive and negative
modes), and holds every answer to the description: never a server error, a documented status and
content type, a body matching its schema.

The app runs its own lifespan inside schemathesis' event-loop thread (a pool of its own over the
session's database): asyncpg connections belong to the loop that opened them, so the session's
registry fixture cannot serve requests made from that thread.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import jsonschema_rs
import pytest
import schemathesis
from schemathesis.python import asgi as schemathesis_asgi
from starlette.applications import Starlette

from tests.conftest import ENC_KEY, INDEX_KEY, TODAY, default_scopes, unique_henan_code
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import account_token, institution_token, publish_batch
from verify.config import Settings
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer
from verify.db import institutions
from verify.db import pool as db_pool
from verify.domain import payload
from verify.domain.accounts import GRANTS, Role
from verify.http import openapi
from verify.http.app import create_app
from verify.http.routes import Endpoint, EndpointRoute
from verify.services.registry import Registry

MB = 1024 * 1024
# Examples per operation in the fuzzing phase; the examples and coverage phases add their own
# (deterministic) cases. Under a minute for the whole file on two cores. A fixed seed keeps CI
# reproducible; VERIFY_SCHEMATHESIS_SEED and VERIFY_SCHEMATHESIS_EXAMPLES explore further.
MAX_EXAMPLES = int(os.environ.get("VERIFY_SCHEMATHESIS_EXAMPLES", "30"))
SEED = int(os.environ.get("VERIFY_SCHEMATHESIS_SEED", "57"))
# schemathesis' own list of the statuses that reject invalid input (its default).
NEGATIVE_REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
# schemathesis' generic classes, with its own types left open.
Case = schemathesis.Case[Any]
Operation = schemathesis.APIOperation[Any, Any, Any, Any]
ROLES = (Role.INSTITUTION, Role.REVIEWER, Role.REGULATOR, Role.ADMIN)


# ------------------------------------------------------------------ the document and the route table


def _endpoints(app: Starlette) -> list[Endpoint]:
    return [s for r in app.routes if isinstance(r, EndpointRoute) for s in r.specs]


def _bare_app(settings: Settings) -> Starlette:
    async def factory() -> Registry:  # pragma: no cover - these tests never start the lifespan
        raise AssertionError("not started")

    return create_app(settings, registry_factory=factory)


@pytest.fixture(scope="module")
def app_document(settings: Settings) -> tuple[list[Endpoint], dict[str, Any]]:
    app = _bare_app(settings)
    return _endpoints(app), json.loads(app.state.openapi)


def test_every_api_route_is_described_with_every_method(
    app_document: tuple[list[Endpoint], dict[str, Any]],
) -> None:
    endpoints, doc = app_document
    api = {
        (openapi.openapi_path(e.path), e.method.lower())
        for e in endpoints
        if openapi.is_api(e.path) and not e.console
    }
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert api, "no API endpoint in the route table"
    assert described == api
    for e in endpoints:
        if not openapi.is_api(e.path) or e.console:
            assert openapi.openapi_path(e.path) not in doc["paths"], f"{e.name} is a page, not the API"


def test_every_answer_has_a_real_schema(app_document: tuple[list[Endpoint], dict[str, Any]]) -> None:
    endpoints, doc = app_document
    by_operation = {(openapi.openapi_path(e.path), e.method.lower()): e for e in endpoints}
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            e = by_operation[(path, method)]
            assert op["responses"], f"{method} {path} documents no answer"
            assert any(s.startswith("2") for s in op["responses"]), f"{method} {path}: no success"
            for status, answer in op["responses"].items():
                if status == "304":
                    assert "content" not in answer
                    continue
                for media, content in answer["content"].items():
                    schema = content["schema"]
                    where = f"{method.upper()} {path} {status} {media}"
                    if status.startswith("2"):
                        assert media in openapi.media_types(e), where
                        # A component, or a schema that says what the answer holds: no placeholder.
                        assert _describes(schema), where
                    else:
                        assert media == "application/json", where
                        assert "$ref" in schema or "anyOf" in schema, where
                    if status.startswith("4") and schema != error_ref:
                        assert e.responses.get(int(status)) is not None, where
            if e.access is not None:
                assert op["security"] == [{"token": []}]
                assert {"401", "403"} <= set(op["responses"])
    lookup = doc["paths"]["/api/v1/lookup"]["post"]["responses"]
    assert lookup["429"]["content"]["application/json"]["schema"] == error_ref  # rule 57, documented
    assert "Retry-After" in lookup["429"]["headers"]


def _describes(schema: dict[str, Any]) -> bool:
    if "$ref" in schema or "anyOf" in schema or schema.get("format") == "binary":
        return True
    if "properties" in schema:
        return bool(schema.get("required"))
    return "items" in schema and _describes(schema["items"])


def _schemas(node: Any) -> Iterator[Any]:
    """Every JSON Schema of an OpenAPI document: components and each ``schema`` of a parameter
    or a media type."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema":
                yield value
            else:
                yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)


def test_document_is_valid_openapi_3_1(app_document: tuple[list[Endpoint], dict[str, Any]]) -> None:
    _, doc = app_document
    # The OpenAPI 3.1 meta-schema (schemathesis' copy of the OAI's), then every schema in it
    # against JSON Schema 2020-12, which the OAS 3.1 meta-schema leaves unchecked.
    schemathesis.openapi.from_dict(doc).validate()
    schemas = [*doc["components"]["schemas"].values(), *_schemas(doc["paths"])]
    assert len(schemas) > 40
    for schema in schemas:
        jsonschema_rs.meta.validate(schema)
    # Every reference resolves.
    refs = set(itertools.chain.from_iterable(_refs(s) for s in schemas))
    assert refs <= {f"#/components/schemas/{name}" for name in doc["components"]["schemas"]}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


# ------------------------------------------------------------------ the live app against the document


@dataclass(frozen=True)
class Seed:
    """What the database holds before schemathesis starts: real things for its inputs to name."""

    fuzz_institution: str  # its code, numbers, batches and a spare login feed the generators
    numbers: tuple[str, ...]
    segments: tuple[str, ...]  # the /c/ payload texts of those certificates
    pending: tuple[str, ...]  # batch ids awaiting review
    qr_expires: int  # a QR link expiry, and the link token of each number for it
    qr_tokens: tuple[str, ...]
    spare_login: str  # an account no token belongs to, for POST /api/v1/accounts/{login}/disable
    tokens: dict[Role, str]
    # For the hand-written cases only, which expect them untouched by the generated ones.
    own_institution: str
    own_rows: tuple[Row, ...]
    own_segment: str  # the /c/ payload text of own_rows[0]
    own_token: str  # of a manager account of own_institution


async def _institution(pool: asyncpg.Pool) -> str:
    taken = await institutions.all_institution_codes(pool)
    code = next(c for c in (unique_henan_code() for _ in range(100)) if c not in taken)
    record = {
        "code": code, "kind": "social", "name": f"接口测试评价机构 {code}", "filing_authority": "city",
        "province_code": "41", "city_code": code[7:9], "status": "active", "status_since": TODAY.replace(year=2020),
        "filing_date": TODAY.replace(year=2020),
    }  # fmt: skip
    iid = await institutions.insert_institution(pool, record)
    await institutions.add_scopes(pool, iid, default_scopes())
    return code


async def _published(registry: Registry, signer: Signer, code: str, serials: range) -> list[Row]:
    rows = [Row(code, serial=i) for i in serials]
    result = await registry.import_batch(code, csv_bytes(rows), "openapi.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return rows


@pytest.fixture(scope="module")
async def seed(registry: Registry, signer: Signer, pool: asyncpg.Pool) -> Seed:
    await pool.execute("DELETE FROM lookup_throttle")
    fuzzed = await _institution(pool)
    rows = await _published(registry, signer, fuzzed, range(1, 4))
    pending = []
    for serial in (10, 20, 30):
        batch = [Row(fuzzed, serial=serial)]
        result = await registry.import_batch(
            fuzzed, csv_bytes(batch), f"p{serial}.csv", actor="t", max_bytes=MB
        )
        pending.append(result.batch_id)
    spare = f"t-spare-{secrets.token_hex(4)}"
    await registry.add_account(spare, "verifier", display_name=spare, by=None, actor="test")
    tokens = {
        Role.INSTITUTION: await institution_token(registry, fuzzed, manager=True),
        Role.REVIEWER: await account_token(registry, "reviewer", jurisdiction="41"),
        Role.REGULATOR: await account_token(registry, "regulator", jurisdiction="41"),
        Role.ADMIN: await account_token(registry, "admin"),
    }
    own = await _institution(pool)
    own_rows = await _published(registry, signer, own, range(1, 3))
    numbers = tuple(number_of(r) for r in rows)
    segments = tuple([payload.to_text(await registry.qr_payload(n)) for n in numbers])
    expires = int(time.time()) + 86400
    return Seed(
        fuzzed, numbers, segments, tuple(pending), expires, tuple(registry.qr_link_token(n, expires) for n in numbers),
        spare, tokens, own, tuple(own_rows), payload.to_text(await registry.qr_payload(number_of(own_rows[0]))),
        await institution_token(registry, own, manager=True),
    )  # fmt: skip


def _config(seed: Seed) -> schemathesis.Config:
    """Every phase but the stateful one, valid and invalid input, and the seeded values drawn for
    about half of the parameters that name a thing (positive cases keep only the ones that fit)."""
    dictionaries = {
        "payloads": [*seed.segments, *(s.lower() for s in seed.segments), f"{seed.segments[0]}.json"],
        "numbers": list(seed.numbers),
        "codes": [seed.fuzz_institution],
        "batches": list(seed.pending),
        "logins": [seed.spare_login],
        "names": ["张三"],  # every seeded row's holder
        "formats": ["png", "svg"],
        "expiries": [seed.qr_expires],
        "link_tokens": list(seed.qr_tokens),
    }
    bindings = {
        "path.payload": "payloads", "path.number": "numbers", "path.code": "codes", "path.batch_id": "batches",
        "path.login": "logins", "path.fmt": "formats", "body.number": "numbers", "body.name": "names",
        "body.institution": "codes", "body.superseded_by": "numbers", "query.e": "expiries", "query.t": "link_tokens",
    }  # fmt: skip
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                "with-security-parameters": False,  # the test sends the tokens (see _auth)
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {
                # A schema-valid request may still name nothing real or fail a rule JSON Schema
                # cannot state (a check digit, a known code, a character no text may hold): the
                # documented 400 and 422 answers are the service's, not a failure.
                "positive_data_acceptance": {"enabled": False},
                # One route per path (verify.http.routes.endpoint_routes): a 405 names every method.
                "allow_header_conformance": {"enabled": True},
                # The guard refuses a body over its limit before reading it: a rejection too.
                "negative_data_rejection": {"expected-statuses": [*NEGATIVE_REJECTIONS, "413"]},
            },
            "dictionaries": {name: {"values": values} for name, values in dictionaries.items()},
            "parameters": {
                key: {"dictionary": d, "probability": 0.8 if key.startswith("query.") else 0.5}
                for key, d in bindings.items()
            },
        }
    )


def _live_app(settings: Settings, test_dsn: str) -> Starlette:
    async def factory() -> Registry:
        pool = await db_pool.create_pool(test_dsn, max_size=4)
        return Registry(
            pool, IdProtector(INDEX_KEY, ENC_KEY), id_keys=IdKeys(INDEX_KEY, ENC_KEY), today=lambda: TODAY,
            dsn=test_dsn, throttle=settings.throttle,
        )  # fmt: skip

    return create_app(settings, registry_factory=factory)


@dataclass
class Tally:
    cases: Counter[str]
    statuses: Counter[tuple[str, int]]
    started: float


TALLY = Tally(Counter(), Counter(), 0.0)


@pytest.fixture(scope="module")
def live_schema(settings: Settings, test_dsn: str, seed: Seed) -> Iterator[schemathesis.BaseSchema]:
    app = _live_app(settings, test_dsn)
    # The document the app serves, loaded as a dict: loaded by its URL, schemathesis would leave
    # the operation serving it (GET /api/v1/openapi.json) untested.
    schema = schemathesis.openapi.from_dict(json.loads(app.state.openapi), config=_config(seed))
    schema.app = app
    yield schema
    schemathesis_asgi.shutdown_lifespans()  # the app's status view and pool, in their own loop
    if TALLY.cases:  # the figures docs/SECURITY.md quotes, shown with -s
        elapsed = time.monotonic() - TALLY.started
        print(
            f"\nschemathesis: {len(TALLY.cases)} operations, {sum(TALLY.cases.values())} cases in {elapsed:.0f}s"
        )
        for label, n in TALLY.cases.items():
            statuses = {s: k for (op, s), k in sorted(TALLY.statuses.items()) if op == label}
            print(f"  {label}: {n} cases, statuses {statuses}")


@pytest.fixture
def api_schema(
    request: pytest.FixtureRequest, live_schema: schemathesis.BaseSchema
) -> schemathesis.BaseSchema:
    # schemathesis 4.32's lazy loader reads and renames the test's ``_nodeid``, which pytest 9.2
    # no longer has (it keeps ``_id``); the loader reads it only after resolving this fixture.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    return live_schema


Operations = dict[tuple[str, str], Endpoint]


@pytest.fixture(scope="module")
def operations(app_document: tuple[list[Endpoint], dict[str, Any]]) -> Operations:
    """The route table's row of each operation of the document, by (path, METHOD)."""
    return {(openapi.openapi_path(e.path), e.method.upper()): e for e in app_document[0]}


_turns: dict[str, Iterator[int]] = {}


def _auth(case: Case, seed: Seed, operations: Operations) -> dict[str, str]:
    """The Authorization header of a case: for an operation behind a token, mostly a role it
    grants (so the use case runs), in turn each role it does not (403), and now and then none (401)."""
    e = operations[(case.operation.path, case.operation.method.upper())]
    if e.access is None:
        return {}
    granted = [r for r in ROLES if r in GRANTS[e.access]]
    others = [r for r in ROLES if r not in GRANTS[e.access]]
    turns = [*granted * 4, *others, None]
    role = turns[next(_turns.setdefault(case.operation.label, itertools.count())) % len(turns)]
    return {} if role is None else {"Authorization": f"Bearer {seed.tokens[role]}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
def test_the_app_answers_as_described(case: Case, seed: Seed, operations: Operations) -> None:
    if not TALLY.cases:
        TALLY.started = time.monotonic()
    response = case.call_and_validate(headers=_auth(case, seed, operations))
    TALLY.cases[case.operation.label] += 1
    TALLY.statuses[(case.operation.label, response.status_code)] += 1


def _checked(case: Case, token: str | None = None, **kwargs: Any) -> schemathesis.Response:
    """``case`` sent as is, its answer held to the description (every check of the generated cases)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    response = case.call(headers=headers, **kwargs)
    case.validate_response(response, headers=headers)
    return response


@pytest.mark.slow
def test_real_answers_match_the_description(live_schema: schemathesis.BaseSchema, seed: Seed) -> None:
    """The answers generated input rarely reaches, each from real data and held to the document:
    a genuine scan and a revoked one, a lookup and its QR images, an upload, a review, a 304."""
    api = live_schema
    row = seed.own_rows[0]
    number = number_of(row)
    segment = seed.own_segment
    verify = api["/api/v1/verify/{payload}"]["GET"]
    scan = _checked(verify.Case(path_parameters={"payload": segment})).json()
    assert scan["outcome"] == "valid" and scan["certificate"]["number"] == number
    assert _checked(verify.Case(path_parameters={"payload": segment + ".json"})).json()["outcome"] == "valid"
    tampered = segment[:-3] + ("A" if segment[-3] != "A" else "B") + segment[-2:]
    assert _checked(verify.Case(path_parameters={"payload": tampered})).json()["outcome"] == "forged"

    lookup = api["/api/v1/lookup"]["POST"]
    found = _checked(lookup.Case(body={"number": number, "name": row.name}, media_type="application/json"))
    assert found.status_code == 200
    by_id = lookup.Case(body={"id_number": row.id_number, "name": row.name}, media_type="application/json")
    assert _checked(by_id).status_code == 200
    wrong = _checked(lookup.Case(body={"number": number, "name": "李四"}, media_type="application/json"))
    assert wrong.status_code == 404 and wrong.json()["found"] is False
    qr = api["/api/v1/certificates/{number}/qr.{fmt}"]["GET"]
    # schemathesis checks an image's status and media type; what it holds is checked here.
    for fmt, media, magic in (("png", "image/png", b"\x89PNG"), ("svg", "image/svg+xml", b"<svg")):
        link = httpx.URL(found.json()["certificates"][0]["qr"][fmt])
        image = _checked(
            qr.Case(path_parameters={"number": number, "fmt": fmt}, query=dict(link.params.multi_items()))
        )
        assert image.status_code == 200 and image.headers["content-type"][0].startswith(media)
        assert magic in image.content[:200]

    institution = api["/api/v1/institutions/{code}"]["GET"]
    assert _checked(institution.Case(path_parameters={"code": seed.own_institution})).status_code == 200
    table = api["/api/v1/reference/{name}"]["GET"]
    first = _checked(table.Case(path_parameters={"name": "codes-v2.json"}))
    etag = first.headers["etag"][0]
    again = _checked(table.Case(path_parameters={"name": "codes-v2.json"}, headers={"If-None-Match": etag}))
    assert again.status_code == 304
    assert _checked(api["/healthz"]["GET"].Case()).json()["ok"] is True

    # An upload, its duplicate, its review; a revocation and the scan that then says so.
    upload = api["/api/v1/batches"]["POST"]
    data = csv_bytes([Row(seed.own_institution, serial=s) for s in (50, 51)])
    sent = {"files": {"file": ("openapi.csv", data, "text/csv")}}
    created = _checked(upload.Case(media_type="multipart/form-data"), seed.own_token, **sent)
    assert created.status_code == 201, created.text
    assert _checked(upload.Case(media_type="multipart/form-data"), seed.own_token, **sent).json()[
        "duplicate_upload"
    ]
    batch_id = created.json()["batch_id"]
    reviewer = seed.tokens[Role.REVIEWER]
    read = api["/api/v1/batches/{batch_id}"]["GET"]
    assert _checked(read.Case(path_parameters={"batch_id": batch_id}), reviewer).status_code == 200
    approve = api["/api/v1/batches/{batch_id}/approve"]["POST"]
    approved = _checked(
        approve.Case(
            path_parameters={"batch_id": batch_id}, body={"note": "ok"}, media_type="application/json"
        ),
        reviewer,
    )
    assert approved.json()["state"] == "approved"
    events = api["/api/v1/certificates/{number}/events"]["POST"]
    body: dict[str, Any] = {"reason_category": "data_error", "reason": "数据错误"}
    revoked = _checked(
        events.Case(path_parameters={"number": number}, body=body, media_type="application/json"), reviewer
    )
    assert revoked.status_code == 200, revoked.text
    assert _poll_outcome(verify, segment) == "revoked"


def _poll_outcome(verify: Operation, segment: str) -> str:
    """The scan's outcome once the app's status view has the change (it listens; a second at most)."""
    deadline = time.monotonic() + 5
    while True:
        outcome = str(_checked(verify.Case(path_parameters={"payload": segment})).json()["outcome"])
        if outcome != "valid" or time.monotonic() > deadline:
            return outcome
        time.sleep(0.05)
