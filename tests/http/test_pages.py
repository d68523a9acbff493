"""Pages over HTTP (no browser): each page's JSON twin, headers, language choice, no personal data
in URLs. The browser suite (tests/browser) covers rendering, scripts and accessibility."""

from __future__ import annotations

import re

import asyncpg
import httpx
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.domain.verdicts import CHECK_STATES, FORGED_REASONS, OUTCOMES
from verify.http import i18n
from verify.services.registry import Registry

MB = 1 << 20


def test_every_text_has_both_languages() -> None:
    outcome_texts = {
        f"{slug}.{part}": (getattr(o, part).zh, getattr(o, part).en)
        for slug, o in OUTCOMES.items()
        for part in ("message", "headline", "next_step")
    }
    more = {f"check.{k}": (t.zh, t.en) for k, t in CHECK_STATES.items()}
    more |= {f"forged.{k}": (t.zh, t.en) for k, t in FORGED_REASONS.items()}
    for key, (zh, en) in {**i18n.TEXT, **outcome_texts, **more}.items():
        assert zh.strip() and en.strip(), key
        assert re.search(r"[\u4e00-\u9fff]", zh) or key == "lang_switch", (
            f"{key}: Chinese text expected first"
        )


def test_dates_in_the_local_format() -> None:
    assert i18n.format_date("2025-06-18", "zh") == "2025年6月18日"
    assert i18n.format_date("2025-06-18", "en") == "18 Jun 2025"


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [(None, None, None, "zh"), ("en", None, None, "en"), (None, "en", None, "en"), (None, None, "en-GB,en", "en"),
     ("zh", "en", "en", "zh"), ("xx", None, "zh-CN", "zh")],
)  # fmt: skip
def test_language_choice(query: str | None, cookie: str | None, accept: str | None, expected: str) -> None:
    assert i18n.pick_lang(query, cookie, accept) == expected


async def test_lookup_page_and_its_json_twin(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        '<html lang="zh-CN">' in page.text
        and 'rel="alternate" type="application/json" href="/index.json"' in page.text
    )
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert (
        page.headers["x-content-type-options"] == "nosniff"
        and page.headers["referrer-policy"] == "no-referrer"
    )
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    twin = await client.get("/index.json")
    assert twin.json()["page"] == "lookup" and twin.json()["hotline"] == "010-84661234"
    english = await client.get("/?lang=en")
    assert '<html lang="en">' in english.text and "lang=en" in english.headers["set-cookie"]


async def test_lookup_form_results_are_private_and_equal_to_the_api(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="李娜")
    result = await registry.import_batch(inst["code"], csv_bytes([row]), "p.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    form = {"number": number_of(row), "name": "李娜", "lang": "zh"}
    page = await client.post("/lookup", data=form)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert (
        number_of(row) in page.text
        and row.id_number[-4:] in page.text
        and row.id_number[:10] not in page.text
    )
    twin = await client.post("/lookup", data=form, headers={"accept": "application/json"})
    api = await client.post("/api/v1/lookup", json={"number": number_of(row), "name": "李娜"})
    assert _without_links(twin.json()) == _without_links(api.json())
    # wrong name and unknown number: the same page
    wrong = await client.post("/lookup", data={**form, "name": "李四"})
    unknown = await client.post("/lookup", data={**form, "number": number_of(row)[:-6] + "999999"})
    # identical apart from the language switch, which re-posts each user's own input
    assert wrong.status_code == unknown.status_code == 404 and _main(wrong) == _main(unknown)
    # a malformed number comes back to the form with the problems, in the chosen language
    bad = await client.post("/lookup", data={**form, "number": "Y0000412900", "lang": "en"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text and '<html lang="en">' in bad.text
    # by ID: the ID is never echoed back into the page
    by_id = await client.post(
        "/lookup", data={"id_number": row.id_number, "id_type": "resident_id", "name": "李娜"}
    )
    assert by_id.status_code == 200 and by_id.text.count(row.id_number) <= 1  # only in the re-POST form field


def _without_links(body: dict[str, list[dict[str, object]]]) -> list[dict[str, object]]:
    return [{k: v for k, v in c.items() if k != "qr"} for c in body["certificates"]]


def _main(page: httpx.Response) -> str:
    return page.text[page.text.index("<main") :]


async def test_landing_page_and_twin(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory,
    signer: Signer,
) -> None:  # fmt: skip
    inst = await make_institution()
    row = Row(inst["code"], serial=1, name="王芳")
    result = await registry.import_batch(inst["code"], csv_bytes([row]), "l.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    data = await signatures.qr_payload(pool, number_of(row))
    assert data is not None
    path = "/c/" + payload.to_text(data)
    page = await client.get(path)
    assert page.status_code == 200 and 'role="status"' in page.text and "证书真实有效" in page.text
    assert page.headers["cache-control"] == "no-store" and "王芳" in page.text
    assert f'href="/institutions/{inst["code"]}?lang=zh"' in page.text
    twin = await client.get(path, headers={"accept": "application/json"})
    assert twin.json()["outcome"] == "valid"
    linked = re.search(r'rel="alternate" type="application/json" href="([^"]+)"', page.text)
    assert linked is not None and linked.group(1) == path + ".json"
    assert (await client.get(linked.group(1))).json() == twin.json()
    english = await client.get(path + "?lang=en")
    assert "Genuine and valid" in english.text and "(UTC+8)" in english.text


async def test_institution_page_and_twin(
    client: httpx.AsyncClient, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution(website="javascript:alert(1)", address="<b>地址</b>")
    page = await client.get(f"/institutions/{inst['code']}")
    assert page.status_code == 200 and "&lt;b&gt;地址&lt;/b&gt;" in page.text
    assert "javascript:" not in page.text  # only http(s) links are rendered
    assert "车工" in page.text and "4、3、2、1" in page.text  # levels grouped as filed
    twin = await client.get(f"/institutions/{inst['code']}.json")
    assert twin.json()["code"] == inst["code"]
    missing = await client.get("/institutions/S000041019999")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


async def test_static_files_are_versioned_and_cached(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    href = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page.text)
    assert href is not None
    css = await client.get(href.group(1))
    assert css.status_code == 200 and "max-age" in css.headers["cache-control"]
    assert "@font-face" not in css.text  # no web fonts
