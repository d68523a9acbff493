"""Browser fixtures: one real server (``python -m verify serve``) against the session test database
with the demo data loaded and signed, and Playwright driving Debian's chromium (never a downloaded
browser) in a 360x740 phone viewport.

Every page a test opens through ``new_page`` (and the ``page`` fixture) is guarded: a console
error, an uncaught page error or a request to any other origin fails the test.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Route,
    async_playwright,
)

from loadtests.local import free_port
from tests.conftest import (
    ENC_KEY,
    INDEX_KEY,
    PASSPHRASE,
    RECEIPT_SEED,
    ROOT,
    TODAY,
    default_scopes,
    unique_henan_code,
)
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer
from verify.db import institutions, signatures
from verify.domain import errors, payload
from verify.domain.institution import Scope
from verify.services import demo
from verify.services.keyring import Keyring
from verify.services.registry import Registry

CHROMIUM = os.environ.get("VERIFY_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# A mid-range phone: 360 CSS px wide at 2x, touch, Chinese locale.
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
ARTIFACTS = ROOT / "tests" / "artifacts"
MB = 1 << 20


# ---------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DemoData:
    certificates: list[dict[str, str]]
    # an active certificate of an active institution: number, name, id_type, id_number, institution_name
    holder: dict[str, str]
    # verdict -> "/c/<payload>" (status_unavailable: the valid one, opened on the stale server)
    paths: dict[str, str]
    institution: str  # the demo institution with every contact field filled in


async def fresh_institution(
    registry: Registry, fields: dict[str, Any] | None = None, *, scopes: list[Scope] | None = None
) -> str:
    """Register an institution under a code nobody else in the session database uses; returns the code."""
    taken = await institutions.all_institution_codes(registry.pool)
    for _ in range(50):
        code = unique_henan_code("S")
        if code in taken:
            continue
        record = {
            "kind": "social",
            "name": f"浏览器测试评价机构 {code}",
            "filing_authority": "city",
            "filing_date": date(2020, 1, 1),
            "status_since": date(2020, 1, 1),
            **(fields or {}),
            "code": code,
        }
        try:
            await registry.register_institution(record, actor="test:browser")
        except errors.Conflict:  # taken meanwhile
            continue
        inst = await institutions.get_institution(registry.pool, code)
        await institutions.add_scopes(
            registry.pool, inst.id, scopes if scopes is not None else default_scopes()
        )
        return code
    raise RuntimeError("no free institution code")  # pragma: no cover


async def publish_rows(registry: Registry, code: str, rows: list[Row], signer: Signer) -> None:
    result = await registry.import_batch(
        code, csv_bytes(rows), f"browser-{secrets.token_hex(4)}.csv", actor="test:browser", max_bytes=MB
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="test:browser")


async def landing_path(pool: asyncpg.Pool, number: str) -> str:
    data = await signatures.qr_payload(pool, number)
    assert data is not None, f"{number} is not signed"
    return "/c/" + payload.to_text(data)


def tampered(path: str) -> str:
    """The same URL with one character of the signature changed (what a forger's edit looks like)."""
    i = len(path) - 20
    swapped = "B" if path[i] != "B" else "C"
    return path[:i] + swapped + path[i + 1 :]


@pytest.fixture(scope="session")
async def demo_data(
    registry: Registry, pool: asyncpg.Pool, protector: IdProtector, signer: Signer
) -> DemoData:
    """The demo dataset (idempotent: other tests may have loaded it) plus one certificate of an
    institution terminated and one merged here, so every verdict has a URL."""
    await demo.load(pool, protector, today=TODAY, signer=signer)
    certs = await demo.certificates(pool, protector)
    holder = next(c for c in certs if c["institution"] == "S000041010012" and c["status"] == "active")
    revoked = next(c for c in certs if c["status"] == "revoked")
    superseded = next(c for c in certs if c["status"] == "superseded")
    suspended = next(c for c in certs if c["institution"] == "S000041030007" and c["status"] == "active")
    code = await fresh_institution(registry)
    row = Row(code, serial=1, name="赵终止")
    await publish_rows(registry, code, [row], signer)
    await registry.set_status(
        code, "terminated", effective=date(2026, 11, 1), reason="第十四条：终止备案（测试）",
        document_ref=None, actor="test:browser",
    )  # fmt: skip
    merged_code = await fresh_institution(registry)
    merged_row = Row(merged_code, serial=1, name="钱合并")
    await publish_rows(registry, merged_code, [merged_row], signer)
    await registry.set_status(
        merged_code, "merged", effective=date(2026, 11, 2), reason="第十四条：并入（测试）",
        document_ref=None, actor="test:browser", merged_into="S000041010012",
    )  # fmt: skip
    valid = await landing_path(pool, holder["number"])
    paths = {
        "valid": valid,
        "revoked": await landing_path(pool, revoked["number"]),
        "superseded": await landing_path(pool, superseded["number"]),
        "issuer_suspended": await landing_path(pool, suspended["number"]),
        "issuer_terminated": await landing_path(pool, number_of(row)),
        "issuer_merged": await landing_path(pool, number_of(merged_row)),
        "forged": tampered(valid),
        "status_unavailable": valid,
    }
    return DemoData(certs, holder, paths, "S000041010012")


# -------------------------------------------------------------------------------------- server


@dataclass
class LiveServer:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str) -> str:
        return self.base + path

    def health(self) -> dict[str, Any] | None:
        try:
            r = httpx.get(self.url("/healthz"), timeout=2)
        except httpx.HTTPError:
            return None
        body: dict[str, Any] = r.json()
        return body

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, "server exited:\n" + self.log.read_text(errors="replace")
            assert time.monotonic() < deadline, "server did not come up:\n" + self.log.read_text(
                errors="replace"
            )
            body = self.health()
            if body is not None and body.get("ok"):
                return
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
            self.proc.wait()


def start_server(test_dsn: str, keyring: Keyring, home: Path, **env_extra: str) -> LiveServer:
    """``python -m verify serve`` on a free loopback port against the session test database (not waited for)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VERIFY_DATABASE_URL": test_dsn,
        "VERIFY_HOME": str(home),
        "VERIFY_ID_INDEX_KEY": INDEX_KEY.hex(),
        "VERIFY_RECEIPT_KEY": RECEIPT_SEED.hex(),
        "VERIFY_ID_ENC_KEY": ENC_KEY.hex(),
        "VERIFY_SIGNING_KEYS_DIR": str(keyring.private_dir),
        "VERIFY_PUBLIC_KEYS_DIR": str(home / "public-keys"),
        "VERIFY_KEY_PASSPHRASE": PASSPHRASE.decode(),
        "VERIFY_PUBLIC_URL": base,
        "VERIFY_LOOKUP_PER_MINUTE": "100000",
        "VERIFY_LOOKUP_FREE_FAILURES": "100000",
        "VERIFY_LOG_LEVEL": "warning",
        **env_extra,
    }
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "verify", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    return LiveServer(base, proc, log)


@dataclass
class Servers:
    live: LiveServer
    stale: LiveServer  # VERIFY_STATUS_MAX_AGE=5: once its view is 5 s old it answers status_unavailable


@pytest.fixture(scope="session")
def servers(
    demo_data: DemoData, test_dsn: str, keyring: Keyring, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """Both servers start together (after the data is in place); the stale one is usually stale by the
    time its test runs, as nothing writes to the status tables in between."""
    base = tmp_path_factory.mktemp("browser-server")
    live = start_server(test_dsn, keyring, base / "live")
    stale = start_server(test_dsn, keyring, base / "stale", VERIFY_STATUS_MAX_AGE="5")
    try:
        live.wait_ready()
        stale.wait_ready()
        yield Servers(live, stale)
    finally:
        live.stop()
        stale.stop()


@pytest.fixture(scope="session")
def live_server(servers: Servers) -> LiveServer:
    return servers.live


def wait_until_stale(server: LiveServer, timeout: float = 40.0) -> None:
    """Until the server's status view is older than its max age (it reloads every 30 s and on NOTIFY)."""
    deadline = time.monotonic() + timeout
    while True:
        body = server.health()
        if body is not None and body["status_view"]["fresh"] is False:
            return
        assert time.monotonic() < deadline, "the stale server's view stayed fresh"
        time.sleep(0.2)


@pytest.fixture
def stale_server(servers: Servers) -> LiveServer:
    """The second server, once its status view is older than its max age."""
    wait_until_stale(servers.stale)
    return servers.stale


# ------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium (`make browser-deps`); Playwright's own browser download is never used."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser-deps` (apt chromium + fonts-noto-cjk)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            await b.close()


@dataclass
class Guard:
    """Collects what must never happen on a page: console errors, uncaught errors, other origins."""

    origin: str
    # Main-document URLs the test expects to answer 4xx (Chromium logs "Failed to load resource" for them).
    expected_status: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        where = msg.location.get("url", "")
        if msg.text.startswith("Failed to load resource: the server responded with a status of 4") and (
            where.split("?")[0] in self.expected_status
        ):
            return
        self.problems.append(f"console error: {msg.text} ({where})")

    def on_page_error(self, error: Exception) -> None:
        self.problems.append(f"page error: {error}")

    def on_request(self, request: Request) -> None:
        if not self.same_origin(request.url):
            self.problems.append(f"request off the app's origin: {request.method} {request.url}")

    async def block(self, route: Route) -> None:
        await route.abort()


NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser, live_server: LiveServer) -> AsyncIterator[NewPage]:
    """Open a guarded page in a fresh phone context; keyword arguments override the context options
    (``java_script_enabled=False``, ``viewport=...``, ``bypass_csp=True``, ``base_url=...``)."""
    contexts: list[tuple[BrowserContext, Guard]] = []

    async def factory(**overrides: Any) -> Page:
        options = {**PHONE, "base_url": live_server.base, **overrides}
        guard = Guard(urlsplit(options["base_url"])._replace(path="", query="", fragment="").geturl())
        context = await browser.new_context(**options)
        context.on("console", guard.on_console)
        context.on("weberror", lambda e: guard.on_page_error(e.error))
        context.on("request", guard.on_request)
        await context.route(lambda url: not guard.same_origin(url), guard.block)
        context.set_default_timeout(10_000)
        contexts.append((context, guard))
        page = await context.new_page()
        page.guard = guard  # type: ignore[attr-defined]
        return page

    yield factory
    problems = [p for _, g in contexts for p in g.problems]
    for context, _ in contexts:
        await context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
async def page(new_page: NewPage) -> Page:
    return await new_page()


def guard_of(page: Page) -> Guard:
    g: Guard = page.guard  # type: ignore[attr-defined]
    return g


def expect_status(page: Page, path: str) -> None:
    """Tell the guard that ``path`` is expected to answer 4xx (so Chromium's resource-error log is fine)."""
    g = guard_of(page)
    g.expected_status.add(g.origin + path)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
