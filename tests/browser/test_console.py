"""The console in a real browser (Debian's chromium), at a 360x740 phone and a 1280x800 desktop:
an institution uploads, lists and withdraws its batches; a reviewing centre works its queue,
approves and rejects, revokes a certificate and suspends and resumes an institution; sign-out,
CSRF, scope and sign-in refusals. Accounts are created in the test registry, which shares the
server's database.

Every page is guarded by the ``new_page`` fixture (console errors, page errors, other origins).
The phone-width screenshot of each screen goes to tests/artifacts/screenshots/ (docs/screenshots/ with
`make screenshots`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import FilePayload, Page

from loadtests.screenshots import MAX_BYTES, save_png
from tests.browser.conftest import (
    PHONE,
    DemoData,
    LiveServer,
    NewPage,
    expect_status,
    fresh_institution,
    publish_rows,
)
from tests.browser.test_pages import assert_nothing_inline, assert_secure_headers
from tests.conftest import ROOT
from tests.factories import Row, csv_bytes, holder_id, number_of
from verify.crypto.signing import Signer
from verify.db import accounts
from verify.domain import errors
from verify.domain.accounts import GRANTS, Action, Principal, Role
from verify.domain.batch.lifecycle import STATE_LABELS, BatchState
from verify.domain.batch.plan import BatchPlan
from verify.http.auth import SESSION_COOKIE
from verify.services.registry import Registry

pytestmark = pytest.mark.browser

MB = 1 << 20
PASSWORD = "console test password 1"
# Test runs write them under tests/artifacts/; `make screenshots` points this at docs/screenshots/
# so the committed ones change only when asked.
SHOTS = Path(os.environ.get("VERIFY_CONSOLE_SHOTS") or ROOT / "tests" / "artifacts" / "screenshots")
SHOTS.mkdir(parents=True, exist_ok=True)
DESKTOP: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 800},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
    "locale": "zh-CN",
}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
# A plan filed two days before the assessment and results sent long after: rule 33 warnings.
LATE_PLAN = {"plan_ref": "豫鉴计划-2025-061", "plan_filed_on": "2025-06-10", "assessed_on": "2025-06-12"}
# What each screen of the home page needs (the console's menu decides with GRANTS too).
SCREEN_ACTIONS = {
    "/console/upload": Action.BATCH_UPLOAD,
    "/console/review": Action.BATCH_REVIEW,
    "/console/batches": Action.BATCH_LIST,
    "/console/certificates/revoke": Action.CERTIFICATE_REVOKE,
    "/console/institutions": Action.INSTITUTION_STATUS,
    "/console/verify-batch": Action.BATCH_VERIFY,
}


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = SCREENS[request.param]
    return options


@pytest.fixture
async def console_page(new_page: NewPage, screen: dict[str, Any]) -> Page:
    return await new_page(**screen)


# ------------------------------------------------------------------------------------- helpers


async def account(registry: Registry, role: str, **kw: Any) -> str:
    """A new account of ``role`` with the console password; returns its login."""
    login = f"c-{role[:4]}-{secrets.token_hex(4)}"
    await registry.add_account(
        login, role, display_name=f"控制台测试 {login}", password=PASSWORD, by=None, actor="test", **kw
    )
    return login


async def sign_in(page: Page, login: str, password: str = PASSWORD) -> None:
    """Through the sign-in form, as a person does."""
    await page.goto("/console/login")
    await page.fill("#login", login)
    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.locator("form[action='/console/login'] button[type=submit]").click()


async def attach_session(page: Page, registry: Registry, server: LiveServer, login: str) -> None:
    """A session opened in the registry (not through the server's throttled form) in the page's cookies."""
    session, _, _ = await registry.sign_in(login, PASSWORD, client=f"192.0.2.{secrets.randbelow(200) + 1}")
    await page.context.add_cookies([{"name": SESSION_COOKIE, "value": session, "url": server.base}])


async def submit(page: Page, form: str) -> int:
    """Click the form's submit button; the status of the page it leads to."""
    async with page.expect_navigation() as navigation:
        await page.locator(f"{form} button[type=submit]").click()
    response = await navigation.value
    assert response is not None
    return response.status


async def fits(page: Page) -> None:
    """Nothing scrolls sideways: the document is no wider than the viewport."""
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], f"{page.url} is {width} px wide"


def csv_file(name: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": data}


async def table_rows(page: Page, table: str) -> list[list[str]]:
    rows: list[list[str]] = await page.locator(f"{table} tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    return rows


async def import_batch(
    registry: Registry, code: str, rows: list[Row], *, plan: BatchPlan | None = None
) -> str:
    result = await registry.import_batch(
        code, csv_bytes(rows), f"console-{secrets.token_hex(3)}.csv", actor="institution:test-upload",
        max_bytes=MB, plan=plan,
    )  # fmt: skip
    return result.batch_id


async def batch_state(registry: Registry, batch_id: str) -> str:
    state: str = await registry.pool.fetchval("SELECT state FROM batches WHERE public_id = $1", batch_id)
    return state


async def registry_principal(registry: Registry, login: str) -> Principal:
    return (await accounts.get_account(registry.pool, login)).principal("session")


def label(state: BatchState) -> str:
    return STATE_LABELS[state][0]


def bad_rows(code: str) -> list[Row]:
    """One good row and three bad ones (an ID whose check digit is wrong, an unknown level, no name)."""
    good = holder_id()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    return [
        Row(code, serial=1),
        Row(code, serial=2, id_number=wrong),
        Row(code, serial=3, level=9),
        Row(code, serial=4, name=""),
    ]


async def expected_problems(registry: Registry, code: str, data: bytes) -> list[list[str]]:
    """The rejected file's problems as the API reports them: line, column, code, message (zh)."""
    with pytest.raises(errors.BatchRejected) as caught:
        await registry.import_batch(code, data, "bad.csv", actor="test", max_bytes=MB)
    return [
        [str(p.line) if p.line is not None else "--", p.column or "--", p.code, p.message_zh]
        for p in caught.value.problems
    ]


async def home_links(page: Page) -> set[str]:
    links: list[str] = await page.locator("ul.screens a").evaluate_all("as => as.map(a => a.pathname)")
    return set(links)


def granted(role: Role) -> set[str]:
    return {path for path, action in SCREEN_ACTIONS.items() if role in GRANTS[action]}


async def screenshot(page: Page, name: str) -> None:
    """The first screen of the page at phone width, as a small palette PNG (like `make screenshots`)."""
    size = save_png(await page.screenshot(animations="disabled", caret="hide"), SHOTS / f"console-{name}.png")
    assert size <= MAX_BYTES, f"console-{name}.png is {size // 1024} KB"


# ------------------------------------------------------------------------------- institution


async def test_institution_uploads_a_good_file_and_a_bad_one(
    console_page: Page, registry: Registry, live_server: LiveServer, demo_data: DemoData
) -> None:
    page = console_page
    code = await fresh_institution(registry)
    login = await account(registry, "institution", institution_code=code)

    await sign_in(page, login)
    assert page.url.endswith("/console")
    assert await home_links(page) == granted(Role.INSTITUTION)
    await fits(page)

    # a good file with its plan and a roster that lacks two of its holders: the batch page, with
    # the rule 33 (plan) and rule 34 (roster) warnings
    good = [Row(code, serial=i, id_number=holder_id()) for i in (1, 2, 3)]
    roster = f"证件号码\n{good[0].id_number}\n".encode()
    await page.goto("/console/upload")
    await page.set_input_files("#file", csv_file("良好.csv", csv_bytes(good)))
    await page.set_input_files("#roster", csv_file("名册.csv", roster))
    for field, value in LATE_PLAN.items():
        await page.fill(f"#{field}", value)
    await fits(page)
    assert await submit(page, "form[action='/console/upload']") == 200
    assert "/console/batches/B" in page.url and page.url.endswith("?done=uploaded")
    uploaded = page.url.split("/console/batches/")[1].split("?")[0]
    await page.get_by_role("status").filter(has_text="已上传").wait_for()
    assert await page.locator(".badge").first.inner_text() == label(BatchState.SUBMITTED)
    detail = await registry.batch_detail(await registry_principal(registry, login), uploaded)
    warnings = await table_rows(page, "table.problem-table")
    assert len(warnings) == len(detail["warnings"]) >= 4
    assert [[w[0], w[2], w[3]] for w in warnings] == [
        [str(w.get("line", "--")), w["code"], w["message_zh"]] for w in detail["warnings"]
    ]
    assert {w[0] for w in warnings} >= {"3", "4"}  # the holders of file lines 3 and 4 are not on the roster
    assert LATE_PLAN["plan_ref"] in await page.locator("main").inner_text()
    await fits(page)

    # it is in the list, newest first
    await page.goto("/console/batches")
    rows = await table_rows(page, "table.batch-table")
    assert rows[0][0] == uploaded and rows[0][5] == str(len(detail["warnings"]))

    # a bad file: the upload form again, with every row problem as the API reports it
    data = csv_bytes(bad_rows(code))
    expected = await expected_problems(registry, code, data)
    assert len(expected) >= 3
    await page.goto("/console/upload")
    await page.set_input_files("#file", csv_file("有错.csv", data))
    expect_status(page, "/console/upload")
    assert await submit(page, "form[action='/console/upload']") == 422
    alert = page.get_by_role("alert")
    assert "未写入任何数据" in await alert.inner_text()
    assert await table_rows(page, "table.problem-table") == expected
    assert await page.locator("input#file").count() == 1  # the form is there to try again
    await fits(page)
    if page.viewport_size == PHONE["viewport"]:
        await screenshot(page, "upload-rejected")
    count = await registry.pool.fetchval(
        "SELECT count(*) FROM batches b JOIN institutions i ON i.id = b.institution_id WHERE i.code = $1",
        code,
    )
    assert count == 1


async def test_institution_lists_and_withdraws(
    console_page: Page, registry: Registry, live_server: LiveServer, demo_data: DemoData
) -> None:
    page = console_page
    code = await fresh_institution(registry)
    plan = BatchPlan(plan_filed_on=date(2025, 6, 10), assessed_on=date(2025, 6, 12))
    older = await import_batch(registry, code, [Row(code, serial=90)])
    newer = await import_batch(registry, code, [Row(code, serial=91)], plan=plan)
    login = await account(registry, "institution", institution_code=code)
    await attach_session(page, registry, live_server, login)

    # the list: newest first, with state labels and warning counts
    await page.goto("/console/batches")
    rows = await table_rows(page, "table.batch-table")
    assert [r[0] for r in rows] == [newer, older]
    assert [r[4] for r in rows] == [label(BatchState.SUBMITTED)] * 2
    detail = await registry.batch_detail(await registry_principal(registry, login), newer)
    assert [r[5] for r in rows] == [str(len(detail["warnings"])), "0"]
    assert detail["warnings"]
    await fits(page)

    # withdraw the older one
    await page.locator(f"a[href='/console/batches/{older}']").click()
    await page.wait_for_url(f"**/console/batches/{older}")
    await page.fill("#withdraw-reason", "文件选错了")
    assert await submit(page, f"form[action='/console/batches/{older}/withdraw']") == 200
    assert page.url.endswith(f"/console/batches/{older}?done=withdrawn")
    await page.get_by_role("status").filter(has_text="已撤回").wait_for()
    assert await page.locator(".badge").first.inner_text() == label(BatchState.WITHDRAWN)
    assert await page.locator("form[action$='/withdraw']").count() == 0
    assert "文件选错了" in await page.locator("dl.fields").last.inner_text()
    assert await batch_state(registry, older) == "withdrawn"
    assert await batch_state(registry, newer) == "submitted"
    # withdrawing it again (an old form): the batch page says why, nothing changes
    await page.goto(f"/console/batches/{newer}")
    await page.locator("form[action$='/withdraw']").evaluate(
        f"f => {{ f.action = '/console/batches/{older}/withdraw' }}"
    )
    expect_status(page, f"/console/batches/{older}/withdraw")
    assert await submit(page, "form[action$='/withdraw']") == 409
    assert "只有尚未审核的批次可以撤回" in await page.get_by_role("alert").inner_text()
    assert await batch_state(registry, older) == "withdrawn"


# ---------------------------------------------------------------------------------- reviewer


async def test_reviewer_reviews_revokes_and_suspends(
    console_page: Page,
    registry: Registry,
    live_server: LiveServer,
    signer: Signer,
    demo_data: DemoData,
    artifacts: Path,
) -> None:
    page = console_page
    code = await fresh_institution(registry)  # in 郑州市 (4101)
    plan = BatchPlan(plan_filed_on=date(2025, 6, 10), assessed_on=date(2025, 6, 12))
    first = await import_batch(registry, code, [Row(code, serial=i) for i in (1, 2)], plan=plan)
    second = await import_batch(registry, code, [Row(code, serial=i) for i in (3, 4)])
    published = Row(code, serial=50)
    await publish_rows(registry, code, [published], signer)
    login = await account(registry, "reviewer", jurisdiction="4101")

    await sign_in(page, login)
    assert await home_links(page) == granted(Role.REVIEWER)

    # the queue, oldest first
    await page.goto("/console/review")
    queued = [r[0] for r in await table_rows(page, "table.batch-table")]
    assert queued.index(first) < queued.index(second)
    await fits(page)

    # open the first: every warning, then approve it
    await page.locator(f"a[href='/console/batches/{first}']").click()
    await page.wait_for_url(f"**/console/batches/{first}")
    principal = await registry_principal(registry, login)
    warnings = (await registry.batch_detail(principal, first))["warnings"]
    shown = await table_rows(page, "table.problem-table")
    assert [[r[2], r[3]] for r in shown] == [[w["code"], w["message_zh"]] for w in warnings]
    assert len(shown) >= 2
    await fits(page)
    width = page.viewport_size["width"] if page.viewport_size else 0
    await page.screenshot(path=artifacts / f"console-batch-{width}.png", full_page=True)
    await page.fill("#note", "计划备案偏晚，已核实")
    assert await submit(page, f"form[action='/console/batches/{first}/approve']") == 200
    assert page.url.endswith("?done=approved")
    assert await page.locator(".badge").first.inner_text() == label(BatchState.APPROVED)
    assert await page.locator("form[action$='/approve']").count() == 0
    assert await batch_state(registry, first) == "approved"

    # reject the second, with a reason for one row
    await page.goto(f"/console/batches/{second}")
    await page.fill("#reject-reason", "证件信息需核对")
    await page.fill("#rows", "2: 证件号码与名册不符\n第3行：姓名有误")
    assert await submit(page, f"form[action='/console/batches/{second}/reject']") == 200
    assert page.url.endswith("?done=rejected")
    assert await page.locator(".badge").first.inner_text() == label(BatchState.REJECTED)
    decision = await registry.pool.fetchval("SELECT decision FROM batches WHERE public_id = $1", second)
    assert decision["rows"] == [
        {"line": 2, "reason": "证件号码与名册不符"},
        {"line": 3, "reason": "姓名有误"},
    ]
    assert decision["reason"] == "证件信息需核对"
    given = await page.locator("table.stack:has(caption)").last.locator("tbody tr").all_inner_texts()
    assert any("证件号码与名册不符" in r for r in given)

    # a row reason that does not read: the same page, saying which line
    third = await import_batch(registry, code, [Row(code, serial=5)])
    await page.goto(f"/console/batches/{third}")
    await page.fill("#rows", "第二行有误")
    expect_status(page, f"/console/batches/{third}/reject")
    assert await submit(page, f"form[action='/console/batches/{third}/reject']") == 400
    assert "第 1 行" in await page.get_by_role("alert").inner_text()
    assert await batch_state(registry, third) == "submitted"

    # revoke the published certificate
    number = number_of(published)
    await page.goto("/console/certificates/revoke")
    await fits(page)
    await page.fill("#number", number)
    await page.select_option("#reason_category", "data_error")
    await page.fill("#reason", "第二十条：证书数据错误（测试）")
    await page.fill("#document_ref", "豫鉴〔2026〕1号")
    assert await submit(page, "form[action='/console/certificates/revoke']") == 200
    assert page.url.endswith("?done=revoked")
    await page.get_by_role("status").filter(has_text="撤销").wait_for()
    status = await registry.pool.fetchval("SELECT status FROM certificates WHERE number = $1", number)
    assert status == "revoked"

    # revoking it again: the form again with why, nothing changed
    await page.fill("#number", number)
    await page.select_option("#reason_category", "data_error")
    await page.fill("#reason", "重复提交")
    expect_status(page, "/console/certificates/revoke")
    assert await submit(page, "form[action='/console/certificates/revoke']") == 409
    assert await page.locator("#number").input_value() == number
    assert "已是" in await page.get_by_role("alert").inner_text()

    # suspend and resume the institution
    await page.goto("/console/institutions")
    await page.fill("#code", code)
    async with page.expect_navigation():
        await page.locator("form[action='/console/institutions'] button").click()
    await page.wait_for_url(f"**/console/institutions/{code}/status")
    await fits(page)
    form = f"form[action='/console/institutions/{code}/status']"
    assert await page.locator(f"{form} input[value=suspended]").is_checked()
    await page.fill("#reason", "第十四条：暂停评价活动（测试）")
    await page.fill("#document_ref", "豫人社〔2026〕9号")
    assert await submit(page, form) == 200
    assert page.url.endswith("?done=suspended")
    assert "暂停" in await page.locator(".badge").first.inner_text()
    assert await page.locator(f"{form} input[value=active]").is_checked()
    await page.fill("#reason", "整改完成，恢复评价活动（测试）")
    assert await submit(page, form) == 200
    assert page.url.endswith("?done=resumed")
    history = await table_rows(page, "table.history-table")
    assert any("暂停评价活动（测试）" in " ".join(r) for r in history)
    assert any("整改完成" in " ".join(r) for r in history)
    view = await registry.institution_view(code)
    assert view["status"]["code"] == "active"
    await fits(page)


# --------------------------------------------------------------------------- session and refusals


async def test_sign_out_ends_the_session(
    console_page: Page, registry: Registry, live_server: LiveServer, demo_data: DemoData
) -> None:
    page = console_page
    code = await fresh_institution(registry)
    login = await account(registry, "institution", institution_code=code)
    await sign_in(page, login)
    await page.goto("/console/batches")
    async with page.expect_navigation():
        await page.locator("form[action='/console/logout'] button").click()
    assert "/console/login?why=signed_out" in page.url
    await page.get_by_text("已退出登录").wait_for()
    await page.go_back()
    await page.wait_for_load_state()
    assert "/console/login" in page.url, page.url
    await page.goto("/console/batches")
    assert "/console/login" in page.url
    await page.reload()
    assert "/console/login" in page.url
    assert await page.locator("#password").count() == 1
    ended = await registry.pool.fetchval(
        "SELECT bool_and(s.ended_at IS NOT NULL) FROM account_sessions s JOIN accounts a ON a.id = s.account_id"
        " WHERE a.login = $1",
        login,
    )
    assert ended is True


async def test_wrong_csrf_token_is_refused_and_changes_nothing(
    console_page: Page, registry: Registry, live_server: LiveServer, demo_data: DemoData
) -> None:
    page = console_page
    code = await fresh_institution(registry)
    batch = await import_batch(registry, code, [Row(code, serial=1)])
    login = await account(registry, "institution", institution_code=code)
    await attach_session(page, registry, live_server, login)
    await page.goto(f"/console/batches/{batch}")
    form = f"form[action='/console/batches/{batch}/withdraw']"
    await page.locator(f"{form} input[name=csrf]").evaluate("e => { e.value = 'not-the-token' }")
    await page.fill("#withdraw-reason", "试图伪造")
    expect_status(page, f"/console/batches/{batch}/withdraw")
    assert await submit(page, form) == 403
    assert errors.CsrfFailed.default_zh in await page.get_by_role("alert").inner_text()
    assert await batch_state(registry, batch) == "submitted"
    # the session itself still works
    await page.goto(f"/console/batches/{batch}")
    assert await page.locator(form).count() == 1


async def test_another_institutions_batch_is_not_found(
    console_page: Page, registry: Registry, live_server: LiveServer, demo_data: DemoData
) -> None:
    page = console_page
    mine, theirs = await fresh_institution(registry), await fresh_institution(registry)
    batch = await import_batch(registry, theirs, [Row(theirs, serial=1)])
    login = await account(registry, "institution", institution_code=mine)
    await attach_session(page, registry, live_server, login)
    path = f"/console/batches/{batch}"
    expect_status(page, path)
    response = await page.goto(path)
    assert response is not None and response.status == 404
    assert f"未找到批次 {batch}" in await page.get_by_role("alert").inner_text()
    # nor can it withdraw it, with its own valid form token
    await page.goto("/console")
    csrf = await page.locator("form[action='/console/logout'] input[name=csrf]").input_value()
    refused = await page.request.post(f"{path}/withdraw", form={"csrf": csrf, "reason": "x"}, max_redirects=0)
    assert refused.status == 404
    assert await batch_state(registry, batch) == "submitted"
    rows = await (await page.goto("/console/batches") or pytest.fail("no page")).text()
    assert batch not in rows


async def test_reviewer_outside_its_jurisdiction_is_refused(
    console_page: Page, registry: Registry, live_server: LiveServer, demo_data: DemoData
) -> None:
    page = console_page
    code = await fresh_institution(registry)  # 郑州市 (4101)
    batch = await import_batch(registry, code, [Row(code, serial=1)])
    login = await account(registry, "reviewer", jurisdiction="4102")
    await attach_session(page, registry, live_server, login)
    for path in (f"/console/batches/{batch}", f"/console/institutions/{code}/status"):
        expect_status(page, path)
        response = await page.goto(path)
        assert response is not None and response.status == 403, path
        assert errors.OutsideJurisdiction.default_zh in await page.get_by_role("alert").inner_text()
    queued = await (await page.goto("/console/review") or pytest.fail("no page")).text()
    assert batch not in queued


async def test_wrong_password_does_not_say_whether_the_login_exists(
    console_page: Page, registry: Registry, live_server: LiveServer, demo_data: DemoData
) -> None:
    page = console_page
    login = await account(registry, "regulator", jurisdiction="41")
    expect_status(page, "/console/login")
    texts = []
    for who in (login, f"nobody-{secrets.token_hex(4)}"):
        await sign_in(page, who, "a wrong password here")
        assert "/console/login" in page.url
        alert = await page.get_by_role("alert").inner_text()
        assert alert == errors.LoginFailed.default_zh
        texts.append(alert)
        assert SESSION_COOKIE not in {c["name"] for c in await page.context.cookies()}
    assert texts[0] == texts[1]
    # the right password then works, and a regulator's menu is read-only batches, institution status and batch verification
    await sign_in(page, login)
    assert page.url.endswith("/console")
    assert (
        await home_links(page)
        == granted(Role.REGULATOR)
        == {"/console/batches", "/console/institutions", "/console/verify-batch"}
    )


# ------------------------------------------------------------------------- layout and screenshots


Step = Callable[[Page], Awaitable[None]]


async def test_console_screens_fit_a_phone(
    new_page: NewPage, registry: Registry, live_server: LiveServer, signer: Signer, demo_data: DemoData
) -> None:
    """At 360 px nothing scrolls sideways on any console screen (long codes and file names
    included); no inline script or style; one screenshot per screen."""
    code = await fresh_institution(registry)
    plan = BatchPlan(
        plan_ref="豫鉴计划-2025-061", plan_filed_on=date(2025, 6, 10), assessed_on=date(2025, 6, 12)
    )
    batch = await registry.import_batch(
        code, csv_bytes([Row(code, serial=i) for i in (1, 2)]), "二〇二五年第三批次成绩汇总表（钳工四级）最终版.csv",
        actor="institution:test-upload", max_bytes=MB, plan=plan,
    )  # fmt: skip
    rejected = await import_batch(registry, code, [Row(code, serial=3)])
    institution = await account(registry, "institution", institution_code=code)
    reviewer = await account(registry, "reviewer", jurisdiction="4101")
    await registry.reject_batch(
        await registry_principal(registry, reviewer), rejected, reason="证件信息需核对",
        rows=[{"line": 2, "reason": "证件号码与名册不符"}],
    )  # fmt: skip

    screens: list[tuple[str | None, str, str | Step]] = [
        (None, "login", "/console/login"),
        (institution, "home", "/console"),
        (institution, "batches", "/console/batches"),
        (institution, "upload", "/console/upload"),
        (institution, "batch-rejected", f"/console/batches/{rejected}"),
        (reviewer, "review", "/console/review"),
        (reviewer, "batch", f"/console/batches/{batch.batch_id}"),
        (reviewer, "revoke", "/console/certificates/revoke"),
        (reviewer, "institution", f"/console/institutions/{code}/status"),
    ]
    for who, name, step in screens:
        page = await new_page()
        if who is not None:
            await attach_session(page, registry, live_server, who)
        if isinstance(step, str):
            response = await page.goto(step)
            assert response is not None and response.status == 200, step
            await assert_secure_headers(response, private=True)
        else:
            await step(page)
        await assert_nothing_inline(page)
        await fits(page)
        wide = await page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right >"
            " window.innerWidth + 1 && !e.closest('.table-wrap')).slice(0, 5).map(e => e.outerHTML.slice(0, 120))"
        )
        assert wide == [], (name, wide)
        await screenshot(page, name)
        if isinstance(step, str) and who is not None:  # and in English
            response = await page.goto(step + "?lang=en")
            assert response is not None and response.status == 200, step
            assert await page.locator("html").get_attribute("lang") == "en"
            await fits(page)
        await page.context.close()
