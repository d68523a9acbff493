"""The verifier's batch verification screen in a real browser (Debian's chromium), at a 360x740 phone
and a 1280x800 desktop: a verifier uploads an XLSX of published certificates and a wrong name, sees
the summary and the coloured verdicts, filters them without script, downloads the answer as a file
and follows the receipt link to the printable receipt. A wrong CSRF token and an institution account
are refused. Accounts are created in the test registry, which shares the server's database.

Every page is guarded by the ``new_page`` fixture (console errors, page errors, other origins).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import FilePayload, Page

from tests.browser.conftest import (
    PHONE,
    DemoData,
    LiveServer,
    NewPage,
    expect_status,
    fresh_institution,
    publish_rows,
)
from tests.browser.test_console import DESKTOP, account, attach_session, fits, sign_in, submit, table_rows
from tests.browser.test_pages import assert_nothing_inline
from tests.factories import Row, holder_id, number_of
from verify.crypto.signing import Signer
from verify.domain import errors
from verify.domain.batch_verification import VERDICTS
from verify.domain.clock import CST
from verify.domain.events import CertificateEvent
from verify.http import i18n
from verify.services.registry import Registry

pytestmark = pytest.mark.browser

SCREEN = "/console/verify-batch"
FORM = f"form[action='{SCREEN}']"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# app.css's tone colours, as the browser computes them.
COLOURS = {"ok": "rgb(10, 107, 47)", "bad": "rgb(163, 20, 27)", "warn": "rgb(122, 74, 0)"}


@pytest.fixture(params=["phone", "desktop"])
def screen(request: pytest.FixtureRequest) -> dict[str, Any]:
    return PHONE if request.param == "phone" else DESKTOP


@pytest.fixture
async def console_page(new_page: NewPage, screen: dict[str, Any]) -> Page:
    return await new_page(**screen)


# ------------------------------------------------------------------------------------- helpers


async def published(registry: Registry, signer: Signer) -> list[Row]:
    """Four published certificates; the fourth is revoked."""
    code = await fresh_institution(registry)
    names = ((1, "冯一"), (2, "陈二"), (3, "褚三"), (4, "蒋四"))
    rows = [Row(code, serial=i, name=n, id_number=holder_id()) for i, n in names]
    await publish_rows(registry, code, rows, signer)
    await registry.certificate_event(
        CertificateEvent(number_of(rows[3]), "revoked", effective=date(2026, 11, 1), reason_category="fraud",
                         reason="第八条（测试）", decided_by="鉴定中心"),
        actor="test:browser",
    )  # fmt: skip
    return rows


def xlsx_file(rows: list[Row]) -> FilePayload:
    """A verifier's workbook: three published certificates by number and name (one by ID), one
    certificate with a wrong name, a revoked one, and a column of the verifier's own."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工号", "证书编号", "姓名", "证件号码"])
    ws.append(["E1", number_of(rows[0]), rows[0].name, ""])
    ws.append(["E2", number_of(rows[1]), rows[1].name, ""])
    ws.append(["E3", "", rows[2].name, rows[2].id_number])
    ws.append(["E4", number_of(rows[2]), "卫错名", ""])
    ws.append(["E5", number_of(rows[3]), rows[3].name, ""])
    out = io.BytesIO()
    wb.save(out)
    return {"name": "入职核验.xlsx", "mimeType": XLSX, "buffer": out.getvalue()}


async def visible_rows(page: Page) -> list[str]:
    verdicts: list[str] = await page.locator("table.vb-table tbody tr").evaluate_all(
        "rows => rows.filter(r => r.getClientRects().length > 0).map(r => r.dataset.verdict)"
    )
    return verdicts


async def colour(page: Page, selector: str) -> str:
    value: str = await page.locator(selector).first.evaluate("e => getComputedStyle(e).color")
    return value


async def receipts_of(registry: Registry, login: str) -> int:
    count: int = await registry.pool.fetchval(
        "SELECT count(*) FROM verification_receipts r JOIN accounts a ON a.id = r.account_id WHERE a.login = $1",
        login,
    )
    return count


def decode(png: bytes) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=QR_ONLY)]


# --------------------------------------------------------------------------------------- tests


async def test_verifier_verifies_an_xlsx_and_prints_the_receipt(
    console_page: Page, registry: Registry, live_server: LiveServer, signer: Signer, demo_data: DemoData,
    artifacts: Path,
) -> None:  # fmt: skip
    page = console_page
    size = "phone" if page.viewport_size == PHONE["viewport"] else "desktop"
    rows = await published(registry, signer)
    login = await account(registry, "verifier")
    await sign_in(page, login)
    assert page.url.endswith("/console")
    links = await page.locator("ul.screens a").evaluate_all("as => as.map(a => a.pathname)")
    assert links == [SCREEN]  # a verifier's one screen

    await page.goto(SCREEN)
    assert await page.locator("h1").inner_text() == i18n.t("console_nav_verify_batch", "zh")
    assert await page.locator(f"{FORM} input[name=format][value=page]").is_checked()
    await page.set_input_files("#file", xlsx_file(rows))
    await fits(page)
    assert await submit(page, FORM) == 200
    await assert_nothing_inline(page)

    # the summary: rows per verdict, coloured by tone
    assert await page.locator("h1").inner_text() == i18n.t("vb_results", "zh")
    counts = await page.locator(".vb-counts .vb-n").evaluate_all(
        "ns => Object.fromEntries(ns.map(n => [n.dataset.verdict, n.innerText]))"
    )
    assert counts == {"valid": "3", "revoked": "1", "not_found_or_mismatch": "1"}
    assert await page.locator(".vb-total").inner_text() == "共 5 行"
    # the table: row number, coloured verdict, the certificate's public fields, the verifier's column
    table = await table_rows(page, "table.vb-table")
    assert [r[0] for r in table] == ["2", "3", "4", "5", "6"]
    valid, wrong, revoked = (VERDICTS[v].label.zh for v in ("valid", "not_found_or_mismatch", "revoked"))
    assert [r[1] for r in table] == [valid, valid, valid, wrong, revoked]
    if page.viewport_size == DESKTOP["viewport"]:  # at phone width each cell also shows its label
        assert table[0][2:5] == [number_of(rows[0]), rows[0].name, "*" * 14 + rows[0].id_number[-4:]]
        assert table[2][2] == number_of(rows[2]) and table[3][2] == "--"
        assert [r[-1] for r in table] == ["E1", "E2", "E3", "E4", "E5"]
        assert table[4][8].startswith("已于 2026-11-01 撤销")  # the public facts, never the article
        assert table[0][5] == "钳工" and table[0][6] == "四级/中级工" and "浏览器测试评价机构" in table[0][7]
    assert await colour(page, "tr.v-valid .tone") == COLOURS["ok"]
    assert await colour(page, "tr.v-not_found_or_mismatch .tone") == COLOURS["bad"]
    assert await colour(page, "tr.v-revoked .tone") == COLOURS["bad"]
    main = await page.locator("main").inner_text()
    for row in rows:
        assert row.id_number not in main  # masked only, as a single lookup
    assert "卫错名" not in main and "第八条" not in main

    # the filter by verdict works without script (CSS :target)
    await page.locator("a[href='#only-not_found_or_mismatch']").click()
    assert await visible_rows(page) == ["not_found_or_mismatch"]
    await page.locator("a[href='#only-valid']").click()
    assert await visible_rows(page) == ["valid"] * 3
    await page.locator("a[href='#all-rows']").click()
    assert len(await visible_rows(page)) == 5
    await fits(page)
    await page.screenshot(path=artifacts / f"verify-batch-results-{size}.png", full_page=True)

    # the receipt: id, time, rows, root, and the links to its printable page and its JSON
    receipt_link = page.locator(".vb-receipt a.button-link")
    href = await receipt_link.get_attribute("href")
    assert href is not None and re.fullmatch(r"/receipts/[0-9a-f]{32}", href)
    receipt_id = href.rsplit("/", 1)[1]
    assert receipt_id in await page.locator(".vb-receipt").inner_text()
    json_link = page.locator(f".vb-receipt a[href='{href}.json']")
    assert await json_link.get_attribute("download") == f"receipt-{receipt_id}.json"
    async with page.expect_navigation():
        await receipt_link.click()

    # the printable receipt
    assert page.url == live_server.url(href)
    await assert_nothing_inline(page)
    check = page.get_by_role("status")
    assert "签名有效" in await check.inner_text()
    assert await colour(page, ".receipt-check") == COLOURS["ok"]
    text = await page.locator("main").inner_text()
    assert receipt_id in text and login in text and "北京时间" in text
    counted = await page.locator("table.receipt-counts tbody tr").evaluate_all(
        "rs => Object.fromEntries(rs.map(r => [r.dataset.verdict, r.cells[1].innerText]))"
    )
    assert counted == {"valid": "3", "revoked": "1", "not_found_or_mismatch": "1"}
    for row in rows:  # no holder's name or ID on the receipt
        assert row.name not in text and row.id_number not in text and number_of(row) not in text
    assert decode(await page.locator("svg.qr").screenshot()) == [live_server.url(href)]
    await fits(page)
    await page.screenshot(path=artifacts / f"verify-batch-receipt-{size}.png", full_page=True)
    # printed: A4, without the navigation
    await page.emulate_media(media="print")
    assert (
        not await page.locator("header.top").is_visible()
        and not await page.locator("footer.foot").is_visible()
    )
    assert await page.locator("svg.qr").is_visible() and await check.is_visible()
    await page.screenshot(path=artifacts / f"verify-batch-receipt-print-{size}.png", full_page=True)
    if page.viewport_size == DESKTOP["viewport"]:
        pdf = await page.pdf(prefer_css_page_size=True)
        assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1  # one A4 page
        assert re.search(rb"/MediaBox\s*\[\s*0 0 595\.\d+ 841\.\d+", pdf) or b"/MediaBox [0 0 594" in pdf
    await page.emulate_media(media="screen")


async def test_the_answer_downloads_as_a_file_and_a_bad_file_is_explained(
    new_page: NewPage, registry: Registry, live_server: LiveServer, signer: Signer, demo_data: DemoData
) -> None:
    page = await new_page(**DESKTOP)
    rows = await published(registry, signer)
    login = await account(registry, "regulator", jurisdiction="41")  # a regulator may verify too
    await attach_session(page, registry, live_server, login)
    await page.goto("/console")
    assert SCREEN in await page.locator("ul.screens a").evaluate_all("as => as.map(a => a.pathname)")
    await page.goto(SCREEN)
    await page.set_input_files("#file", xlsx_file(rows))
    await page.locator(f"{FORM} input[name=format][value=xlsx]").check()
    async with page.expect_download() as download:
        await page.locator(f"{FORM} button[type=submit]").click()
    done = await download.value
    assert done.suggested_filename.startswith("verdicts-") and done.suggested_filename.endswith(".xlsx")
    path = await done.path()
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).worksheets[0]
    assert [c.value for c in sheet[1]][1] == "查验结果 / Verdict"
    assert [sheet.cell(r, 3).value for r in range(2, 7)] == ["valid"] * 3 + [
        "not_found_or_mismatch",
        "revoked",
    ]

    # a file without the columns: the form again, with the error and its problems
    await page.goto(SCREEN)
    await page.set_input_files("#file", {"name": "错.csv", "mimeType": "text/csv", "buffer": b"x,y\n1,2\n"})
    expect_status(page, SCREEN)
    assert await submit(page, FORM) == 400
    alert = page.get_by_role("alert")
    assert await alert.inner_text()
    problems = await table_rows(page, "table.problem-table")
    assert problems and problems[0][2] == "header_missing"
    assert await page.locator(f"{FORM} input#file").count() == 1  # to try again

    # the account's rows for today are used up: the form again, saying so, and nothing verified
    today = datetime.now(UTC).astimezone(CST).date()
    before = await receipts_of(registry, login)
    await registry.pool.execute(
        "INSERT INTO verification_usage (account_id, day, rows) SELECT id, d, 1000000000 FROM accounts,"
        " unnest($2::date[]) AS d WHERE login = $1 ON CONFLICT (account_id, day) DO UPDATE SET rows = 1000000000",
        login, [today, today + timedelta(days=1)],
    )  # fmt: skip
    await page.set_input_files("#file", xlsx_file(rows))
    await page.locator(f"{FORM} input[name=format][value=page]").check()
    assert await submit(page, FORM) == 429
    assert "本账户今日查验行数将超过上限" in await page.get_by_role("alert").inner_text()
    assert await receipts_of(registry, login) == before


async def test_wrong_csrf_token_is_refused_and_verifies_nothing(
    console_page: Page, registry: Registry, live_server: LiveServer, signer: Signer, demo_data: DemoData
) -> None:
    page = console_page
    rows = await published(registry, signer)
    login = await account(registry, "verifier")
    await attach_session(page, registry, live_server, login)
    await page.goto(SCREEN)
    await page.locator(f"{FORM} input[name=csrf]").evaluate("e => { e.value = 'not-the-token' }")
    await page.set_input_files("#file", xlsx_file(rows))
    expect_status(page, SCREEN)
    assert await submit(page, FORM) == 403
    assert errors.CsrfFailed.default_zh in await page.get_by_role("alert").inner_text()
    assert await receipts_of(registry, login) == 0
    # the session itself still works
    await page.goto(SCREEN)
    assert await page.locator(FORM).count() == 1


async def test_an_institution_is_not_offered_the_screen_and_is_refused(
    console_page: Page, registry: Registry, live_server: LiveServer, signer: Signer, demo_data: DemoData
) -> None:
    page = console_page
    rows = await published(registry, signer)
    login = await account(registry, "institution", institution_code=rows[0].institution)
    await attach_session(page, registry, live_server, login)
    await page.goto("/console")
    assert SCREEN not in await page.locator("ul.screens a").evaluate_all("as => as.map(a => a.pathname)")
    assert await page.locator(f".console-nav a[href='{SCREEN}']").count() == 0
    expect_status(page, SCREEN)
    response = await page.goto(SCREEN)
    assert response is not None and response.status == 403
    # nor can it post a file, with its own valid form token
    await page.goto("/console")
    csrf = await page.locator("form[action='/console/logout'] input[name=csrf]").input_value()
    upload = xlsx_file(rows)
    refused = await page.request.post(
        SCREEN, multipart={"csrf": csrf, "format": "json", "file": upload}, max_redirects=0
    )
    assert refused.status == 403
    assert await receipts_of(registry, login) == 0
