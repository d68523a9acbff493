"""Page-weight budget of the QR landing page (the page a phone opens from a scan, often on a weak
connection): HTML + CSS over gzip <= 15 KB, no render-blocking script, no web fonts, nothing from
another origin. A size budget, not a benchmark: the figures are deterministic."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.browser.conftest import DemoData, LiveServer
from verify.domain.channels import OFFICIAL_SITES

pytestmark = pytest.mark.browser

BUDGET = 15 * 1024
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "data", "srcset", "ping"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_head = False
        self.blocking_scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.resources: list[str] = []  # URLs the browser loads by itself
        self.links: list[str] = []  # URLs the user may follow (<a href>)
        self.preloaded_fonts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "head":
            self.in_head = True
        if tag == "body":
            self.in_head = False
        if (
            tag == "script"
            and self.in_head
            and not ({"defer", "async"} & a.keys() or a.get("type") == "module")
        ):
            self.blocking_scripts.append(a.get("src", "(inline)"))
        if tag == "link" and "stylesheet" in a.get("rel", "").split():
            self.stylesheets.append(a.get("href", ""))
        if tag == "link" and a.get("as") == "font":
            self.preloaded_fonts.append(a.get("href", ""))
        for name, value in a.items():
            if name in URL_ATTRIBUTES and value:
                urls = [part.split()[0] for part in value.split(",") if part.strip()]
                (self.links if tag == "a" and name == "href" else self.resources).extend(urls)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False


def _third_party(urls: list[str], base: str) -> list[str]:
    origin = urlsplit(base)
    out = []
    for url in urls:
        target = urlsplit(urljoin(base + "/", url))
        if target.scheme in ("http", "https") and target.netloc != origin.netloc:
            out.append(url)
    return out


async def _wire_size(client: httpx.AsyncClient, url: str) -> tuple[int, httpx.Response]:
    """Bytes on the wire for the body (before decompression), as a browser asking for gzip gets it."""
    response = await client.get(url, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200, url
    return response.num_bytes_downloaded, response


@pytest.mark.parametrize("verdict", ["valid", "revoked", "superseded", "issuer_suspended", "forged"])
async def test_landing_page_first_load_is_within_budget(
    live_server: LiveServer, demo_data: DemoData, verdict: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with httpx.AsyncClient(base_url=live_server.base) as client:
        html_bytes, page = await _wire_size(client, demo_data.paths[verdict])
        assert page.headers.get("content-encoding") == "gzip"
        parsed = _Page()
        parsed.feed(page.text)
        assert len(parsed.stylesheets) == 1 and parsed.stylesheets[0].startswith("/static/app.css")
        css_bytes, css = await _wire_size(client, parsed.stylesheets[0])
        assert css.headers.get("content-encoding") == "gzip"
    total = html_bytes + css_bytes
    with capsys.disabled():
        print(
            f"\n  landing page ({verdict}): HTML {html_bytes} B + CSS {css_bytes} B = {total} B gzip"
            f" (budget {BUDGET} B; uncompressed HTML {len(page.content)} B, CSS {len(css.content)} B)"
        )
    assert total <= BUDGET
    # nothing that delays the first paint or comes from elsewhere
    assert parsed.blocking_scripts == []
    assert "@font-face" not in css.text and not re.search(r"\.(woff2?|ttf|otf|eot)\b", css.text)
    assert parsed.preloaded_fonts == []
    assert _third_party(parsed.resources, live_server.base) == []
    # the only links elsewhere: the official national sites, on the "forged" page
    allowed = set(OFFICIAL_SITES.values()) if verdict == "forged" else set()
    assert set(_third_party(parsed.links, live_server.base)) <= allowed
    assert _third_party(re.findall(r"url\(\s*['\"]?([^'\")]+)", css.text), live_server.base) == []
    assert re.search(r"@import", css.text) is None
