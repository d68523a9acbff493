"""The pages in a real browser (Debian's chromium, phone viewport): every verdict of the QR landing
page, both lookups, the language switch, no-JavaScript use, security headers and accessibility.

Every page is guarded by the ``new_page`` fixture: a console error, an uncaught error or a request
to another origin fails the test. Verdict screenshots go to tests/artifacts/ (not in git).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, Response

from tests.browser.conftest import DemoData, LiveServer, NewPage, expect_status, wait_until_stale
from verify.domain.verdicts import OUTCOMES
from verify.http import i18n

pytestmark = pytest.mark.browser

REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


# ------------------------------------------------------------------------------------- helpers


def csp_directives(value: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


async def assert_secure_headers(response: Response | None, *, private: bool) -> dict[str, str]:
    """CSP without inline script (unless nonce-based) and with frame-ancestors 'none', nosniff, a
    strict referrer policy; ``Cache-Control: no-store`` on pages with personal data."""
    assert response is not None
    headers = await response.all_headers()
    assert headers["content-type"].startswith("text/html")
    csp = csp_directives(headers["content-security-policy"])
    scripts = csp.get("script-src", csp.get("default-src", []))
    nonce = any(s.startswith("'nonce-") for s in scripts)
    assert "'unsafe-inline'" not in scripts or nonce, csp
    assert "'unsafe-eval'" not in scripts and "*" not in scripts, csp
    assert "'unsafe-inline'" not in csp.get("style-src", csp.get("default-src", [])), csp
    assert csp.get("frame-ancestors") == ["'none'"], csp
    assert csp.get("default-src") == ["'none'"], csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in REFERRER_POLICIES
    if private:
        assert "no-store" in headers["cache-control"], headers["cache-control"]
    return headers


async def assert_nothing_inline(page: Page) -> None:
    """No inline script, inline style or event-handler attribute anywhere in the page."""
    assert await page.locator("script:not([src])").count() == 0
    assert await page.locator("[style]").count() == 0
    handlers = await page.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
        ".filter(n => n.startsWith('on'))"
    )
    assert handlers == []


async def submit(page: Page, form: Locator) -> Response:
    async with page.expect_navigation() as navigation:
        await form.locator("button[type=submit]").click()
    response = await navigation.value
    assert response is not None
    return response


def by_number_form(page: Page) -> Locator:
    return page.locator("form[action='/lookup']:has(input[name=number])")


def by_id_form(page: Page) -> Locator:
    return page.locator("form[action='/lookup']:has(input[name=id_number])")


async def lookup_by_number(page: Page, number: str, name: str, lang: str = "zh") -> Response:
    """Fill in and send the number + name form (the page in ``lang``, so the labels are known)."""
    await page.goto(f"/?lang={lang}")
    form = by_number_form(page)
    await form.get_by_label(i18n.t("number", lang), exact=True).fill(number)
    await form.get_by_label(i18n.t("name", lang), exact=True).fill(name)
    return await submit(page, form)


async def lookup_by_id(page: Page, id_type: str, id_number: str, name: str, lang: str = "zh") -> Response:
    await page.goto(f"/?lang={lang}")
    form = by_id_form(page)
    await form.get_by_label(i18n.t("id_type", lang), exact=True).select_option(id_type)
    await form.get_by_label(i18n.t("id_number", lang), exact=True).fill(id_number)
    await form.get_by_label(i18n.t("name", lang), exact=True).fill(name)
    return await submit(page, form)


def unknown_number(number: str) -> str:
    return number[:-6] + "999999"


async def main_text(page: Page) -> str:
    return await page.locator("main").inner_text()


# ------------------------------------------------------------------------------- QR landing page


@pytest.mark.parametrize("verdict", OUTCOMES)
async def test_verdict_page(
    verdict: str, new_page: NewPage, demo_data: DemoData, live_server: LiveServer, artifacts: Path,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    server = request.getfixturevalue("stale_server") if verdict == "status_unavailable" else live_server
    page = await new_page(base_url=server.base)
    path = demo_data.paths[verdict]
    zh, en = OUTCOMES[verdict].headline.zh, OUTCOMES[verdict].headline.en
    for attempt in range(3):
        if attempt:  # the stale server's view reloaded (every 30 s) between the check and the page
            wait_until_stale(server)
        response = await page.goto(path)
        assert response is not None and response.status == 200
        twin = await page.request.get(path, headers={"accept": "application/json"})
        outcome = (await twin.json())["outcome"]
        shown = await page.get_by_role("status").locator("h1").inner_text()
        if verdict != "status_unavailable" or (outcome == verdict and shown == zh):
            break
    await assert_secure_headers(response, private=True)
    assert outcome == verdict
    status = page.get_by_role("status")
    assert await status.count() == 1
    assert await status.get_attribute("aria-live") == "polite"
    assert await status.locator("h1").inner_text() == zh
    assert en in await status.inner_text()
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    assert (await page.title()).startswith(zh)
    text = await main_text(page)
    assert i18n.t("next_steps", "zh") in text and i18n.t("status_as_of", "zh") in text
    holder = demo_data.holder
    if verdict in ("valid", "status_unavailable"):
        assert holder["name"] in text and holder["number"] in text
        assert holder["id_number"][-4:] in text and holder["id_number"][:10] not in await page.content()
    if verdict == "revoked":
        assert i18n.t("revoked_on", "zh") in text and "2025年3月1日" in text
    if verdict == "superseded":
        assert i18n.t("superseded_by", "zh") in text
    if verdict == "forged":
        assert i18n.t("hotline", "zh") in text and i18n.t("official_site", "zh") in text
        assert holder["name"] not in text  # nothing from a forged payload is shown as fact
    if verdict == "status_unavailable":
        assert OUTCOMES["status_unavailable"].next_step.zh in text
    await assert_nothing_inline(page)
    # the checks stay folded until asked for, and open without script
    details = page.locator("details.checks")
    await details.locator("summary").click()
    assert await details.get_attribute("open") is not None
    await page.screenshot(path=artifacts / f"verdict-{verdict}.png", full_page=True)


# ----------------------------------------------------------------------------------------- lookup


async def test_lookup_by_number_and_name(page: Page, demo_data: DemoData) -> None:
    holder = demo_data.holder
    response = await lookup_by_number(page, holder["number"], holder["name"])
    assert response.status == 200 and response.request.method == "POST"
    await assert_secure_headers(response, private=True)
    assert await page.get_by_role("status").inner_text() == i18n.t("results_title", "zh")
    result = page.locator("article.result")
    assert await result.count() == 1
    text = await result.inner_text()
    assert holder["number"] in text and holder["name"] in text and holder["id_number"][-4:] in text
    assert holder["institution_name"] in text and i18n.t("status_valid", "zh") in text
    assert holder["id_number"] not in await main_text(page)
    # the holder's own QR images, by short-lived links
    assert await result.get_by_role("link", name="QR PNG").count() == 1
    await assert_nothing_inline(page)


async def test_lookup_by_id_and_name(page: Page, demo_data: DemoData) -> None:
    holder = demo_data.holder
    response = await lookup_by_id(page, holder["id_type"], holder["id_number"], holder["name"])
    assert response.status == 200
    await assert_secure_headers(response, private=True)
    text = await main_text(page)
    assert holder["number"] in text and holder["id_number"] not in text
    # every certificate shown is this holder's
    for card in await page.locator("article.result").all():
        assert holder["name"] in await card.inner_text()


async def test_wrong_name_gives_the_same_page_as_an_unknown_number(page: Page, demo_data: DemoData) -> None:
    holder = demo_data.holder
    expect_status(page, "/lookup")
    wrong = await lookup_by_number(page, holder["number"], holder["name"] + "甲")
    wrong_text = await main_text(page)
    unknown = await lookup_by_number(page, unknown_number(holder["number"]), holder["name"])
    unknown_text = await main_text(page)
    assert wrong.status == unknown.status == 404
    assert wrong_text == unknown_text
    assert await page.get_by_role("status").inner_text() == i18n.t("not_found_title", "zh")
    await assert_secure_headers(unknown, private=True)
    # by ID: a wrong name is "not found" too
    missing = await lookup_by_id(page, holder["id_type"], holder["id_number"], "无此人")
    assert missing.status == 404 and await page.get_by_role("status").inner_text() == i18n.t(
        "not_found_title", "zh"
    )


async def test_malformed_number_comes_back_with_the_problems(page: Page) -> None:
    expect_status(page, "/lookup")
    response = await lookup_by_number(page, "Y0000412900", "张三")
    assert response.status == 422
    await assert_secure_headers(response, private=True)
    alert = page.get_by_role("alert")
    assert i18n.t("form_problems", "zh") in await alert.inner_text()
    form = by_number_form(page)
    assert await form.get_by_label(i18n.t("number", "zh"), exact=True).input_value() == "Y0000412900"
    assert await form.get_by_label(i18n.t("name", "zh"), exact=True).input_value() == "张三"


# ------------------------------------------------------------------------------- language switch


async def test_language_switch_keeps_the_page(page: Page, demo_data: DemoData) -> None:
    switch_en = page.get_by_role("link", name=i18n.t("lang_switch_label", "zh"))
    for path in ("/", demo_data.paths["valid"], f"/institutions/{demo_data.institution}"):
        await page.goto(path + "?lang=zh")  # the previous switch set the cookie to English
        assert await page.locator("html").get_attribute("lang") == "zh-CN"
        async with page.expect_navigation():
            await switch_en.click()
        assert page.url.split("?")[0].endswith(path) and page.url.endswith("?lang=en")
        assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.locator("h1").first.inner_text() != ""
    # the choice is remembered (cookie): the next page comes in English without ?lang
    await page.goto(demo_data.paths["valid"])
    assert await page.get_by_role("status").locator("h1").inner_text() == OUTCOMES["valid"].headline.en
    switch_zh = page.get_by_role("link", name=i18n.t("lang_switch_label", "en"))
    async with page.expect_navigation():
        await switch_zh.click()
    assert await page.get_by_role("status").locator("h1").inner_text() == OUTCOMES["valid"].headline.zh


async def test_language_switch_on_a_result_page_posts_the_lookup_again(
    page: Page, demo_data: DemoData
) -> None:
    holder = demo_data.holder
    await lookup_by_number(page, holder["number"], holder["name"])
    switch = page.get_by_role("button", name=i18n.t("lang_switch_label", "zh"))
    async with page.expect_navigation() as navigation:
        await switch.click()
    response = await navigation.value
    assert response is not None and response.request.method == "POST" and response.status == 200
    await assert_secure_headers(response, private=True)
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.get_by_role("status").inner_text() == i18n.t("results_title", "en")
    text = await main_text(page)
    assert holder["number"] in text and i18n.t("status_valid", "en") in text
    # and back, from an ID lookup in English
    await lookup_by_id(page, holder["id_type"], holder["id_number"], holder["name"], lang="en")
    assert await page.locator("html").get_attribute("lang") == "en"
    async with page.expect_navigation():
        await page.get_by_role("button", name=i18n.t("lang_switch_label", "en")).click()
    assert await page.get_by_role("status").inner_text() == i18n.t("results_title", "zh")
    assert holder["number"] in await main_text(page)


# ------------------------------------------------------------------------------------ no script


async def test_pages_work_without_javascript(new_page: NewPage, demo_data: DemoData) -> None:
    page = await new_page(java_script_enabled=False)
    holder = demo_data.holder
    response = await lookup_by_number(page, holder["number"], holder["name"])
    assert response.status == 200 and holder["number"] in await main_text(page)
    async with page.expect_navigation():
        await page.get_by_role("button", name=i18n.t("lang_switch_label", "zh")).click()
    assert await page.get_by_role("status").inner_text() == i18n.t("results_title", "en")
    response = await lookup_by_id(page, holder["id_type"], holder["id_number"], holder["name"])
    assert response.status == 200 and holder["number"] in await main_text(page)
    for verdict in ("valid", "revoked", "forged"):
        landing = await page.goto(demo_data.paths[verdict] + "?lang=zh")
        assert landing is not None and landing.status == 200
        assert await page.get_by_role("status").locator("h1").inner_text() == OUTCOMES[verdict].headline.zh
        assert await page.locator("footer").get_by_text(i18n.t("footer", "zh")).is_visible()
        await page.locator("details.checks summary").click()
        assert await page.get_by_text(i18n.t("check_signature", "zh")).is_visible()
    await page.goto(f"/institutions/{demo_data.institution}")
    assert await page.locator("table tbody tr").count() > 0


# -------------------------------------------------------------------------------------- headers


async def test_security_headers_on_every_html_page(page: Page, demo_data: DemoData) -> None:
    holder = demo_data.holder
    public = ["/", "/?lang=en", f"/institutions/{demo_data.institution}"]
    for path in public:
        await assert_secure_headers(await page.goto(path), private=False)
        await assert_nothing_inline(page)
    for verdict in ("valid", "forged"):
        await assert_secure_headers(await page.goto(demo_data.paths[verdict]), private=True)
    expect_status(page, "/institutions/S000041019999")
    missing = await page.goto("/institutions/S000041019999")
    assert missing is not None and missing.status == 404
    await assert_secure_headers(missing, private=False)
    # personal lookups: never stored by a browser or proxy, whatever the answer
    await assert_secure_headers(await lookup_by_number(page, holder["number"], holder["name"]), private=True)
    await assert_secure_headers(
        await lookup_by_id(page, holder["id_type"], holder["id_number"], holder["name"]), private=True
    )
    expect_status(page, "/lookup")
    await assert_secure_headers(await lookup_by_number(page, holder["number"], "无此人"), private=True)


# -------------------------------------------------------------------------------- accessibility


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_field_has_a_label(page: Page, lang: str) -> None:
    await page.goto(f"/?lang={lang}")
    fields = page.locator("input:not([type=hidden]), select, textarea")
    assert await fields.count() >= 5
    for form in await page.locator("form").all():
        for field in await form.locator("input:not([type=hidden]), select, textarea").all():
            field_id = await field.get_attribute("id")
            assert field_id, await field.evaluate("e => e.outerHTML")
            label = form.locator(f"label[for='{field_id}']")
            assert await label.count() == 1, field_id
            text = (await label.inner_text()).strip()
            assert await form.get_by_label(text, exact=True).get_attribute("id") == field_id


async def test_focus_is_visible(page: Page) -> None:
    await page.goto("/")
    # the first Tab shows the skip link
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=i18n.t("skip_to_content", "zh"))
    assert await skip.evaluate("e => e === document.activeElement")
    box = await skip.bounding_box()
    assert box is not None and box["x"] >= 0
    assert await _outline(skip) != "none"
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.tagName") == "INPUT":
            break
    focused = page.locator(":focus")
    assert await focused.get_attribute("id") == "number"
    assert await focused.evaluate("e => e.matches(':focus-visible')")
    assert await _outline(focused) != "none"
    width = await focused.evaluate("e => parseFloat(getComputedStyle(e).outlineWidth)")
    assert width >= 2


async def _outline(locator: Locator) -> str:
    style: str = await locator.evaluate("e => getComputedStyle(e).outlineStyle")
    return style


ZOOM_PAGES = ["/", "/?lang=en", "institution", "valid", "revoked", "superseded", "forged", "results"]


@pytest.mark.parametrize("what", ZOOM_PAGES)
async def test_pages_reflow_at_200_percent_zoom(new_page: NewPage, demo_data: DemoData, what: str) -> None:
    """200% zoom on a 360 px phone is a 180 CSS px viewport: nothing may scroll sideways (WCAG 1.4.10)."""
    page = await new_page(viewport={"width": 180, "height": 370}, device_scale_factor=4)
    holder = demo_data.holder
    if what == "results":
        await lookup_by_number(page, holder["number"], holder["name"])
    elif what == "institution":
        await page.goto(f"/institutions/{demo_data.institution}")
    elif what.startswith("/"):
        await page.goto(what)
    else:
        await page.goto(demo_data.paths[what])
    overflow = await page.evaluate(
        "({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
        " wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >"
        " window.innerWidth + 1 && !e.closest('.table-wrap')).slice(0, 5).map(e => e.outerHTML.slice(0, 120))})"
    )
    assert overflow["scroll"] <= overflow["inner"], overflow
