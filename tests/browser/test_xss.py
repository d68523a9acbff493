"""Script payloads in every field an institution or a holder supplies render as text, in a real
browser: the institution's name, address, phone, website, complaint channel, status history; the
holder name, occupation name and 工种 of certificates (imported through a batch file, and in a
QR payload signed directly, which skips the batch rules).

The pages are opened twice: with the CSP enforced (no console error may appear) and with the CSP
bypassed, so that a missing escape would run (``window.__x`` set) instead of being hidden by the CSP.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from playwright.async_api import Page

from tests.browser.conftest import (
    LiveServer,
    NewPage,
    expect_status,
    fresh_institution,
    landing_path,
    publish_rows,
)
from tests.factories import Row, number_of
from verify.crypto.signing import Signer
from verify.domain import payload
from verify.domain.institution import Scope
from verify.services.registry import Registry

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__x=1</script>"
IMG = '"><img src=x onerror=window.__x=1>'
SVG = "'><svg onload=window.__x=1>"
JS_URL = "javascript:window.__x=1"
EVENT = '" autofocus onfocus=window.__x=1 x="'
PAYLOADS = (SCRIPT, IMG, SVG, EVENT)

# Short payloads for occupation and 工种: with a name payload the three texts must fit the QR budget
# of 80 bytes (rule 65), or the batch is rejected before anything could be rendered.
OCCUPATION = "钳工<svg/onload=window.__x=1>"
JOB = "'><b>"


@dataclass(frozen=True)
class Hostile:
    code: str  # institution with payloads in every contact field (website javascript:)
    fields: dict[str, str]
    other: str  # institution with an https website carrying a payload, and a status history with payloads
    other_fields: dict[str, str]
    rows: list[Row]  # certificates (holder name, occupation, 工种 with payloads)
    paths: dict[str, str]  # "row0".. and "signed": landing paths
    signed_fields: dict[str, str]


def _scopes() -> list[Scope]:
    since = date(2020, 1, 1)
    return [Scope("6-20-01-01", OCCUPATION, JOB, level, since) for level in (4, 3)]


@pytest.fixture(scope="module")
async def hostile(registry: Registry, pool: asyncpg.Pool, signer: Signer, live_server: LiveServer) -> Hostile:
    fields = {
        "name": "评价机构" + SCRIPT + IMG,
        "short_name": SVG,
        "address": "郑州市" + IMG + SCRIPT,
        "phone": "0371-1" + IMG,
        "website": JS_URL,
        "complaint_channel": "投诉" + SCRIPT + SVG + EVENT,
    }
    code = await fresh_institution(registry, fields, scopes=_scopes())
    rows = [
        Row(code, serial=1, name="张" + SCRIPT, occupation_name=OCCUPATION, job=JOB),
        Row(code, serial=2, name=IMG, occupation_name=OCCUPATION, job=JOB),
        Row(code, serial=3, name=SVG + "李", occupation_name=OCCUPATION, job=JOB),
        Row(code, serial=4, name="王" + EVENT, occupation_name=OCCUPATION, job=JOB),
    ]
    await publish_rows(registry, code, rows, signer)
    paths = {f"row{i}": await landing_path(pool, number_of(r)) for i, r in enumerate(rows)}
    # A record the batch rules would never produce, signed directly: the landing page shows whatever a
    # validly signed payload carries, so it must escape it too.
    signed_fields = {
        "holder_name": "</dd></dl>" + SCRIPT,
        "occupation_name": "<img src=x onerror=window.__x=1>",
        "job": "</title><script>window.__x=1</script>",
    }
    record = payload.CertificateRecord(
        number=f"{code}254900001", holder_name=signed_fields["holder_name"], id_tail="123X",
        occupation_code="6-20-01-01", occupation_name=signed_fields["occupation_name"], job=signed_fields["job"],
        issue_date=date(2025, 6, 18), kid=signer.kid,
    )  # fmt: skip
    body = payload.encode_body(record)
    paths["signed"] = "/c/" + payload.to_text(
        payload.assemble(body, signer.sign(payload.signed_message(body)))
    )
    other_fields = {
        "name": "另一评价机构" + SVG,
        "website": "https://example.org/" + SCRIPT,
        "complaint_channel": "",
    }
    other = await fresh_institution(registry, other_fields)
    await registry.set_status(
        other, "suspended", effective=date(2026, 11, 1), reason="第十三条" + SCRIPT, document_ref=IMG,
        actor="test:browser",
    )  # fmt: skip
    other_fields["reason"] = "第十三条" + SCRIPT
    other_fields["document_ref"] = IMG
    await _wait_until_served(live_server, paths["row0"], fields["name"])
    return Hostile(code, fields, other, other_fields, rows, paths, signed_fields)


async def _wait_until_served(server: LiveServer, path: str, institution_name: str) -> None:
    """The server's status view learns the new institution's name by NOTIFY within ~100 ms."""
    deadline = time.monotonic() + 5
    async with httpx.AsyncClient(base_url=server.base) as client:
        while True:
            body = (await client.get(path, headers={"accept": "application/json"})).json()
            if (body.get("certificate") or {}).get("institution", {}).get("name") == institution_name:
                return
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.05)


CSP_MODES = ["csp-enforced", "csp-bypassed"]


async def _open(new_page: NewPage, mode: str) -> Page:
    return await new_page(bypass_csp=mode == "csp-bypassed")


async def _assert_inert(page: Page) -> None:
    """No payload ran or became markup."""
    assert await page.evaluate("typeof window.__x") == "undefined"
    assert await page.locator("img[src=x], svg[onload], [onerror], [onfocus], [autofocus]").count() == 0
    scripts = await page.locator("script").evaluate_all("s => s.map(e => e.getAttribute('src'))")
    assert all(src and src.startswith("/static/") for src in scripts), scripts
    assert await page.locator("a[href^='javascript:' i]").count() == 0


async def _text(page: Page) -> str:
    return await page.locator("body").inner_text()


@pytest.mark.parametrize("mode", CSP_MODES)
async def test_institution_fields_render_as_text(new_page: NewPage, hostile: Hostile, mode: str) -> None:
    page = await _open(new_page, mode)
    response = await page.goto(f"/institutions/{hostile.code}")
    assert response is not None and response.status == 200
    await _assert_inert(page)
    text = await _text(page)
    for key in ("name", "address", "phone", "complaint_channel"):
        assert hostile.fields[key] in text, key
    assert await page.locator("h1").inner_text() == hostile.fields["name"]
    assert await page.title() == hostile.fields["name"] + " · 评价机构信息"
    # the phone stays inside its tel: link; the javascript: website is not a link at all
    tel = page.locator("a[href^='tel:0371']")
    assert await tel.get_attribute("href") == "tel:" + hostile.fields["phone"]
    assert await tel.inner_text() == hostile.fields["phone"]
    assert await page.get_by_role("link", name=JS_URL).count() == 0
    # the occupation name and 工种 in the filed scope
    table = await page.locator("table").inner_text()
    assert OCCUPATION in table and JOB in table
    await _assert_inert(page)


@pytest.mark.parametrize("mode", CSP_MODES)
async def test_institution_website_and_history_render_as_text(
    new_page: NewPage, hostile: Hostile, mode: str
) -> None:
    page = await _open(new_page, mode)
    await page.goto(f"/institutions/{hostile.other}")
    await _assert_inert(page)
    fields = hostile.other_fields
    link = page.get_by_role("link", name=fields["website"])
    assert await link.get_attribute("href") == fields["website"]
    text = await _text(page)
    for key in ("name", "reason", "document_ref"):
        assert fields[key] in text, key


@pytest.mark.parametrize("mode", CSP_MODES)
@pytest.mark.parametrize("which", ["row0", "row1", "row2", "row3", "signed"])
async def test_certificate_fields_render_as_text_on_the_landing_page(
    new_page: NewPage, hostile: Hostile, mode: str, which: str
) -> None:
    page = await _open(new_page, mode)
    response = await page.goto(hostile.paths[which])
    assert response is not None and response.status == 200
    assert await page.get_by_role("status").locator("h1").inner_text() == "证书真实有效"
    await _assert_inert(page)
    fields = page.locator("dl.fields").first
    text = await fields.inner_text()
    if which == "signed":
        expected = list(hostile.signed_fields.values())
    else:
        row = hostile.rows[int(which[3:])]
        expected = [row.name, OCCUPATION, JOB]
    for value in [*expected, hostile.fields["name"]]:
        assert value in text, value
    link = fields.get_by_role("link", name=hostile.fields["name"])
    assert await link.get_attribute("href") == f"/institutions/{hostile.code}?lang=zh"


@pytest.mark.parametrize("mode", CSP_MODES)
async def test_lookup_results_and_the_language_switch_keep_payloads_as_text(
    new_page: NewPage, hostile: Hostile, mode: str
) -> None:
    page = await _open(new_page, mode)
    for row in hostile.rows:
        await page.goto("/?lang=zh")
        form = page.locator("form:has(input[name=number])")
        await form.get_by_label("证书编号", exact=True).fill(number_of(row))
        await form.get_by_label("姓名", exact=True).fill(row.name)
        async with page.expect_navigation() as navigation:
            await form.locator("button[type=submit]").click()
        response = await navigation.value
        assert response is not None and response.status == 200, row.name
        await _assert_inert(page)
        text = await page.locator("article.result").inner_text()
        for value in (row.name, OCCUPATION, JOB, hostile.fields["name"]):
            assert value in text, value
        # the switch re-POSTs the name from a hidden field: it must come back byte for byte
        hidden = page.locator("form.lang-form input[name=name]")
        assert await hidden.input_value() == row.name
        async with page.expect_navigation() as navigation:
            await page.locator("form.lang-form button").click()
        response = await navigation.value
        assert response is not None and response.status == 200, row.name
        await _assert_inert(page)
        assert row.name in await page.locator("article.result").inner_text()


@pytest.mark.parametrize("mode", CSP_MODES)
async def test_form_echo_keeps_payloads_as_text(new_page: NewPage, mode: str) -> None:
    """A malformed number comes back in the form with the user's input: in attribute values, escaped."""
    page = await _open(new_page, mode)
    expect_status(page, "/lookup")
    await page.goto("/?lang=zh")
    form = page.locator("form:has(input[name=number])")
    number = "Y00" + IMG
    name = "张" + EVENT
    # The live number check may fetch the malformed number's 422 before the form is sent.
    expect_status(page, "/api/v1/codes/" + quote(number, safe="!'()*"))
    await form.get_by_label("证书编号", exact=True).fill(number)
    await form.get_by_label("姓名", exact=True).fill(name)
    async with page.expect_navigation() as navigation:
        await form.locator("button[type=submit]").click()
    response = await navigation.value
    assert response is not None and response.status == 422
    await _assert_inert(page)
    form = page.locator("form:has(input[name=number])")
    assert await form.get_by_label("证书编号", exact=True).input_value() == number
    assert await form.get_by_label("姓名", exact=True).input_value() == name
