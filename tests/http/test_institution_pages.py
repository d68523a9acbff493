"""The institution lifecycle over HTTP: the public page and JSON of merged institutions, 站点,
warnings, grades and scheduled decisions; the reviewer and admin API; and the configured official
sites and hotline (docs/RULES.md rules 41, 50-53, 62)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import httpx
import pytest

from tests.conftest import ROOT, InstitutionFactory, unique_henan_code
from tests.workflow import account_token
from verify.config import Settings
from verify.db import institutions
from verify.domain import errors
from verify.http.app import create_app
from verify.services.registry import Registry
from verify.services.status_view import StatusView


async def _free_code(pool: asyncpg.Pool, city: str = "01") -> str:
    taken = await institutions.all_institution_codes(pool)
    return next(c for c in (unique_henan_code("S", city, "8") for _ in range(200)) if c not in taken)


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_rule_41_a_merged_institutions_page_names_and_links_the_new_one(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    a, b = (await make_institution())["code"], (await make_institution())["code"]
    new = await _free_code(pool)
    admin = await account_token(registry, "admin")
    body = {
        "institutions": [a, b], "form": "new_entity", "effective": "2026-11-02", "reason": "合并设立新机构",
        "document_ref": "豫人社函〔2026〕12号", "new_institution": {"kind": "social", "name": "合并后评价中心"},
    }  # fmt: skip
    answer = await client.post(f"/api/v1/institutions/{new}/merger", json=body, headers=_auth(admin))
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == new and answer.json()["mergers"][0]["form"] == "new_entity"
    page = await client.get(f"/institutions/{a}")
    assert page.status_code == 200 and "已合并" in page.text
    assert f'<a href="/institutions/{new}?lang=zh">合并后评价中心</a>' in page.text
    twin = (await client.get(f"/institutions/{a}.json")).json()
    assert (twin["status"]["merged_into"], twin["status"]["merged_into_name"]) == (new, "合并后评价中心")
    formed = await client.get(f"/institutions/{new}?lang=en")
    assert (
        "merger into a new institution" in formed.text and f'href="/institutions/{b}?lang=en"' in formed.text
    )
    # only an admin records a merger; a reviewer is refused before anything is read
    reviewer = await account_token(registry, "reviewer", jurisdiction="41")
    refused = await client.post(f"/api/v1/institutions/{new}/merger", json=body, headers=_auth(reviewer))
    assert refused.status_code == 403 and refused.json()["error"] == "role_not_allowed"
    again = await client.post(
        f"/api/v1/institutions/{a}/termination", json={"reason": "x"}, headers=_auth(admin)
    )
    assert again.status_code == 409 and again.json()["error"] == "institution_retired"


async def test_rule_50_the_parent_page_lists_its_sites_and_a_site_links_its_parent(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    parent = await make_institution(name="示例评价中心")
    site = await _free_code(pool, city="04")
    await registry.register_institution(
        {"code": site, "kind": "social", "name": "示例评价中心平顶山站点", "parent_code": parent["code"]},
        actor="t",
    )
    page = await client.get(f"/institutions/{parent['code']}")
    assert (
        "站点" in page.text
        and f'<a href="/institutions/{site}?lang=zh">示例评价中心平顶山站点</a>' in page.text
    )
    api = (await client.get(f"/api/v1/institutions/{parent['code']}")).json()
    assert [(s["code"], s["name"], s["status"]["code"]) for s in api["sites"]] == [
        (site, "示例评价中心平顶山站点", "active")
    ]
    child = await client.get(f"/institutions/{site}")
    assert f'<a href="/institutions/{parent["code"]}?lang=zh">示例评价中心</a>' in child.text


async def test_rule_51_53_warnings_grades_and_scheduled_decisions_on_the_page(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution(kind="appraisal")
    code = inst["code"]
    reviewer = await account_token(registry, "reviewer", jurisdiction="4101")
    warning = {
        "kind": "warning", "effective": "2026-11-20", "article": "人社职司便函〔2021〕57号 附件2 第十三条",
        "summary": "一年内未开展评价，警告并限期整改", "decided_by": "郑州市职业技能鉴定指导中心",
        "document_ref": "郑人社〔2026〕5号", "facts": "内部事实", "rectify_by": "2027-02-20",
    }  # fmt: skip
    answer = await client.post(f"/api/v1/institutions/{code}/records", json=warning, headers=_auth(reviewer))
    assert answer.status_code == 200, answer.text
    assert answer.json()["credit_records"][0]["decided_by"] == "郑州市职业技能鉴定指导中心"
    grade = {
        "year": 2025,
        "grade": "basic",
        "document_ref": "豫人社规〔2020〕1号 评估",
        "decided_by": "河南省人社厅",
    }
    assert (
        await client.post(f"/api/v1/institutions/{code}/grades", json=grade, headers=_auth(reviewer))
    ).status_code == 200
    suspend = {"status": "suspended", "effective": "2026-12-15", "reason": "第十三条 限期整改"}
    assert (
        await client.post(f"/api/v1/institutions/{code}/status", json=suspend, headers=_auth(reviewer))
    ).status_code == 200
    page = await client.get(f"/institutions/{code}")
    assert "自 2026-12-15 起暂停评价活动" in page.text and "正常" in page.text
    assert "警告" in page.text and "一年内未开展评价" in page.text and "郑人社〔2026〕5号" in page.text
    assert "基本合格" in page.text and "内部事实" not in page.text
    twin = (await client.get(f"/institutions/{code}.json")).json()
    assert twin["status"]["scheduled"][0]["notice"]["en"] == "assessments suspended from 2026-12-15"
    assert twin["quality_grades"][0]["grade"] == "basic"
    # terminating is an admin's, not a reviewer's
    refused = await client.post(
        f"/api/v1/institutions/{code}/termination", json={"reason": "x"}, headers=_auth(reviewer)
    )
    assert refused.status_code == 403 and refused.json()["error"] == "role_not_allowed"
    bad = await client.post(
        f"/api/v1/institutions/{code}/records", json={**warning, "kind": ""}, headers=_auth(reviewer)
    )
    assert bad.status_code == 400 and bad.json()["details"]["field"] == "kind"


async def test_rule_52_aliases_through_the_api_resolve_to_the_institution(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    code = (await make_institution())["code"]
    alias = "豫鉴所" + code[-4:]
    admin = await account_token(registry, "admin")
    added = await client.post(f"/api/v1/institutions/{code}/aliases", json={"alias": alias, "note": "原鉴定所代码"},
                              headers=_auth(admin))  # fmt: skip
    assert added.status_code == 200 and {"code": alias, "note": "原鉴定所代码"} in added.json()["aliases"]
    assert (await client.get(f"/api/v1/institutions/{alias}")).json()["code"] == code
    manager = await account_token(registry, "institution", institution=code, manager=True)
    own = await client.post(
        f"/api/v1/institutions/{code}/aliases", json={"alias": "X9"}, headers=_auth(manager)
    )
    assert own.status_code == 403  # not even its own institution's account
    gone = await client.post(f"/api/v1/institutions/{code}/aliases/withdraw", json={"alias": alias, "reason": "误登"},
                             headers=_auth(admin))  # fmt: skip
    assert gone.status_code == 200 and gone.json()["aliases"] == []
    assert (await client.get(f"/api/v1/institutions/{alias}")).status_code == 404


@pytest.fixture
async def configured(registry: Registry, status_view: StatusView) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env(
        {
            "VERIFY_HOME": str(ROOT / "var"),
            "VERIFY_HOTLINE": "0371-12345678",
            "VERIFY_OFFICIAL_INSTITUTION_SITE": "pjgg.osta.org.cn",
            "VERIFY_OFFICIAL_CERT_SITE": "https://jndj.example.cn",
            "VERIFY_MAX_LAG_MS": "0",
        }
    )

    async def factory() -> Registry:  # pragma: no cover - the lifespan is not run under ASGITransport
        return registry

    app = create_app(settings, registry_factory=factory)
    app.state.registry = registry
    app.state.status_view = status_view
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_rule_62_official_sites_and_hotline_come_from_the_settings(
    configured: httpx.AsyncClient, make_institution: InstitutionFactory
) -> None:
    code = (await make_institution())["code"]
    page = await configured.get(f"/institutions/{code}")
    assert "0371-12345678" in page.text and 'href="http://pjgg.osta.org.cn"' in page.text
    assert "010-84661234" not in page.text and "pjjg" not in page.text
    record = (await configured.get(f"/api/v1/institutions/{code}")).json()["complaint_channel"]
    assert record["national_hotline"] == "0371-12345678"
    assert record["official_sites"]["institutions"] == "http://pjgg.osta.org.cn"
    assert record["official_sites"]["certificates"] == "https://jndj.example.cn"
    forged = await configured.get("/c/AAAA")
    assert "https://jndj.example.cn" in forged.text and "0371-12345678" in forged.text
    lookup = (await configured.get("/index.json")).json()
    assert lookup["hotline"] == "0371-12345678"
    for name, value in (
        ("VERIFY_OFFICIAL_INSTITUTION_SITE", "javascript:alert(1)"),
        ("VERIFY_HOTLINE", "call us"),
    ):
        with pytest.raises(errors.ConfigError):
            Settings.from_env({name: value})


def test_rule_62_the_defaults_are_the_official_hosts() -> None:
    channels = Settings.from_env({}).channels
    assert channels.official_sites == {
        "certificates": "http://jndj.osta.org.cn",
        "institutions": "http://pjjg.osta.org.cn",
        "henan": "http://ha.osta.org.cn",
    }
    assert channels.hotline == "010-84661234"


async def test_every_decision_takes_its_date(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory
) -> None:
    code = (await make_institution())["code"]
    admin = await account_token(registry, "admin")
    ahead = await client.post(f"/api/v1/institutions/{code}/termination",
                              json={"reason": "第十四条", "effective": "2027-03-01"}, headers=_auth(admin))  # fmt: skip
    assert ahead.status_code == 200
    assert ahead.json()["status"]["code"] == "active"
    assert ahead.json()["status"]["scheduled"][0]["notice"]["zh"] == "自 2027-03-01 起终止备案"
    bad = await client.post(f"/api/v1/institutions/{code}/termination", json={"reason": "x", "effective": ""},
                            headers=_auth(admin))  # fmt: skip
    assert bad.status_code == 400 and bad.json()["details"]["field"] == "effective"
    assert date.fromisoformat(ahead.json()["retired_codes"][0]["retired_on"]) == date(2027, 3, 1)
