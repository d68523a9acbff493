"""The /scan page in a real Chromium with a fake camera that films a real QR code. No mocks.

Chromium's ``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=<file>.y4m`` plays
a Y4M video as the camera, and ``--use-fake-ui-for-media-stream`` answers the permission prompt
(``=deny`` says no). The video is a QR code made by ``verify.render.qr.render_png`` (the images printed on
certificates) pasted on a white 640x480 frame, written as raw YUV 4:2:0 frames (grey: U = V = 128).
The page decodes it with the vendored qr-scanner (Linux Chromium has no BarcodeDetector, so this runs
the library's worker decoder, under the page's real CSP) and must open /c/<payload> on this server,
whatever host the printed URL names. The server is conftest.py's ``live_server`` (``python -m verify
serve`` on the session's test database); Chromium is Debian's (``chromium`` fixture), never a
downloaded one. The camera flags are launch flags, so this module launches its own browsers.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    expect,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import LAUNCH_ARGS, PHONE, LiveServer
from verify.domain import payload
from verify.http import i18n
from verify.render import qr

pytestmark = pytest.mark.browser

PRINTED_HOST = "https://verify.example.cn"  # the production name printed on the paper; never contacted
RECORD = payload.CertificateRecord(
    number="Y000041010001243000123", holder_name="张三丰", id_tail="123X", occupation_code="6-18-01-01",
    occupation_name="车工", job="普通车床", issue_date=date(2024, 6, 30), kid="a1b2",
)  # fmt: skip
# Well-formed but not signed by any key of the server: the landing page says it cannot confirm it.
PAYLOAD = payload.to_text(payload.assemble(payload.encode_body(RECORD), bytes(range(64))))
OUR_URL = payload.qr_url(PRINTED_HOST, payload.from_text(PAYLOAD))  # HTTPS://VERIFY.EXAMPLE.CN/C/...
FOREIGN_URL = "HTTPS://EXAMPLE.COM/PRODUCT/12345"

W, H = 640, 480


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> str:
    """The shared real server of conftest.py (``python -m verify serve`` on the test database)."""
    return live_server.base


def y4m_of_qr(data: str, frames: int = 4) -> bytes:
    """A short Y4M video (YUV4MPEG2, 4:2:0, 10 fps) of the QR code for ``data`` on white."""
    with Image.open(io.BytesIO(qr.render_png(data))) as image:
        code = image.convert("L")
    assert code.width <= W and code.height <= H, code.size
    frame = Image.new("L", (W, H), 255)
    frame.paste(code, ((W - code.width) // 2, (H - code.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((W // 2) * (H // 2))
    header = f"YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + (b"FRAME\n" + luma + chroma + chroma) * frames


@pytest.fixture(scope="module")
def sync_pw(chromium: str) -> Iterator[Playwright]:
    """This module's own Playwright driver (sync API): a fake camera is a launch flag, so these tests
    cannot use the shared browser of conftest.py."""
    with sync_playwright() as p:
        yield p


def _launch(sync_pw: Playwright, chromium: str, *camera: str) -> Browser:
    return sync_pw.chromium.launch(executable_path=chromium, headless=True, args=[*LAUNCH_ARGS, *camera])


def _filming(tmp_path_factory: pytest.TempPathFactory, qr_text: str) -> list[str]:
    """Chromium flags for a fake camera that films the QR code of ``qr_text`` (a looped Y4M file)."""
    video = tmp_path_factory.mktemp("camera") / "qr.y4m"
    video.write_bytes(y4m_of_qr(qr_text))
    return ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]


@pytest.fixture(scope="module")
def camera_browser(
    sync_pw: Playwright, chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Chromium whose camera films one of our certificate QR codes; the permission prompt says yes."""
    b = _launch(sync_pw, chromium, "--use-fake-ui-for-media-stream", *_filming(tmp_path_factory, OUR_URL))
    yield b
    b.close()


@pytest.fixture(scope="module")
def foreign_browser(
    sync_pw: Playwright, chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Chromium whose camera films somebody else's QR code; the permission prompt says yes."""
    b = _launch(sync_pw, chromium, "--use-fake-ui-for-media-stream", *_filming(tmp_path_factory, FOREIGN_URL))
    yield b
    b.close()


@pytest.fixture(scope="module")
def blocking_browser(
    sync_pw: Playwright, chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Chromium with a camera whose permission prompt says no."""
    b = _launch(
        sync_pw, chromium, "--use-fake-ui-for-media-stream=deny", *_filming(tmp_path_factory, OUR_URL)
    )
    yield b
    b.close()


@pytest.fixture(scope="module")
def cameraless_browser(sync_pw: Playwright, chromium: str) -> Iterator[Browser]:
    """Chromium on a machine without a camera (no fake device); the permission prompt says yes."""
    if list(Path("/dev").glob("video*")):
        pytest.skip("this machine has a real camera; the test needs one without")
    b = _launch(sync_pw, chromium, "--use-fake-ui-for-media-stream")
    yield b
    b.close()


class Watched:
    """A phone-sized page that records console errors, page errors and every request it makes."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def foreign_requests(self, base: str) -> list[str]:
        origin = urlsplit(base)
        out = []
        for url in self.requests:
            parts = urlsplit(url[len("blob:") :] if url.startswith("blob:") else url)
            if parts.scheme == "data":
                continue
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                out.append(url)
        return out


def _phone(browser: Browser, locale: str) -> Iterator[Watched]:
    context = browser.new_context(**{**PHONE, "locale": locale})  # 360x740
    try:
        yield Watched(context)
    finally:
        context.close()


@pytest.fixture
def phone(camera_browser: Browser) -> Iterator[Watched]:
    yield from _phone(camera_browser, "zh-CN")


@pytest.fixture
def foreign_phone(foreign_browser: Browser) -> Iterator[Watched]:
    yield from _phone(foreign_browser, "en-GB")


@pytest.fixture
def blocking_phone(blocking_browser: Browser) -> Iterator[Watched]:
    yield from _phone(blocking_browser, "en-GB")


@pytest.fixture
def cameraless_phone(cameraless_browser: Browser) -> Iterator[Watched]:
    yield from _phone(cameraless_browser, "zh-CN")


def test_scanning_a_certificate_opens_its_landing_page_here(server: str, phone: Watched) -> None:
    page = phone.page
    page.goto(f"{server}/scan")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    scanner = page.locator("#scanner")
    expect(scanner).to_be_visible()
    expect(page.locator("p.notice")).to_have_count(0)  # with scripts on, <noscript> is not rendered
    start = page.get_by_role("button", name=i18n.t("scan_start", "zh"))
    expect(start).to_be_visible()
    expect(page.locator("#scan-status")).to_have_attribute("aria-live", "polite")
    expect(page.locator("video")).to_have_attribute("aria-label", i18n.t("scan_video_label", "zh"))
    # No camera before the button is pressed.
    page.wait_for_timeout(300)
    assert page.evaluate("document.getElementById('scan-video').srcObject") is None
    expect(page.locator("#scan-view")).to_be_hidden()

    start.click()
    # The printed URL names the production host; the scanner must stay on this server.
    try:
        page.wait_for_url(f"{server}/c/{PAYLOAD}?lang=zh", timeout=20_000)
    except PlaywrightTimeoutError:
        status = page.locator("#scan-status").text_content()
        pytest.fail(f"no navigation; status {status!r}, errors {phone.errors}, url {page.url}")
    expect(page.locator(".verdict h1")).to_be_visible()
    assert phone.errors == []
    assert phone.foreign_requests(server) == []
    assert any(url.startswith(f"{server}/static/vendor/qr-scanner-1.4.2/") for url in phone.requests)


def test_a_foreign_qr_code_is_reported_and_scanning_goes_on(server: str, foreign_phone: Watched) -> None:
    page = foreign_phone.page
    page.goto(f"{server}/scan?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name=i18n.t("scan_start", "en")).click()
    status = page.locator("#scan-status")
    expect(status).to_have_text(i18n.t("scan_not_ours", "en"), timeout=20_000)
    page.wait_for_timeout(1000)
    assert urlsplit(page.url).path == "/scan"
    live = "(() => { const v = document.getElementById('scan-video'); return !!v.srcObject && !v.paused; })()"
    assert page.evaluate(live), "the camera keeps running after a foreign code"
    # The same button stops the camera and releases it.
    stop = page.get_by_role("button", name=i18n.t("scan_stop", "en"))
    page.evaluate("window.__track = document.getElementById('scan-video').srcObject.getVideoTracks()[0]")
    stop.click()
    expect(page.get_by_role("button", name=i18n.t("scan_start", "en"))).to_be_visible()
    expect(page.locator("#scan-view")).to_be_hidden()
    page.wait_for_function("window.__track.readyState === 'ended'")
    # Start again, then leave the page: pagehide turns the camera off.
    page.get_by_role("button", name=i18n.t("scan_start", "en")).click()
    expect(status).to_have_text(i18n.t("scan_not_ours", "en"), timeout=20_000)
    page.evaluate("window.__track = document.getElementById('scan-video').srcObject.getVideoTracks()[0]")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}))")
    page.wait_for_function("window.__track.readyState === 'ended'")
    assert page.evaluate("document.getElementById('scan-video').srcObject") is None
    assert foreign_phone.errors == []
    assert foreign_phone.foreign_requests(server) == []


def test_camera_permission_denied_is_explained(server: str, blocking_phone: Watched) -> None:
    page = blocking_phone.page
    # "Block" in the permission prompt, remembered for the site (so navigator.permissions says so).
    cdp = blocking_phone.context.new_cdp_session(page)
    context_id = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
    cdp.send(
        "Browser.setPermission",
        {"permission": {"name": "camera"}, "setting": "denied", "origin": server, "browserContextId": context_id},
    )  # fmt: skip
    page.goto(f"{server}/scan?lang=en")
    start = page.get_by_role("button", name=i18n.t("scan_start", "en"))
    start.click()
    expect(page.locator("#scan-status")).to_have_text(i18n.t("scan_denied", "en"), timeout=20_000)
    expect(start).to_be_enabled()
    expect(page.locator("#scan-view")).to_be_hidden()
    assert urlsplit(page.url).path == "/scan"
    assert blocking_phone.errors == []


def test_no_camera_is_explained(server: str, cameraless_phone: Watched) -> None:
    page = cameraless_phone.page
    page.goto(f"{server}/scan")
    start = page.get_by_role("button", name=i18n.t("scan_start", "zh"))
    start.click()
    expect(page.locator("#scan-status")).to_have_text(i18n.t("scan_no_camera", "zh"), timeout=20_000)
    expect(start).to_be_enabled()
    expect(page.locator("#scan-view")).to_be_hidden()
    assert cameraless_phone.errors == []


def test_without_javascript_the_page_says_so(server: str, camera_browser: Browser) -> None:
    context = camera_browser.new_context(**PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server}/scan")
        notice = page.locator("p.notice")
        expect(notice).to_be_visible()
        expect(notice).to_have_text(i18n.t("scan_nojs", "zh"))
        expect(page.locator("#scanner")).to_be_hidden()
        expect(page.get_by_role("button", name=i18n.t("scan_start", "zh"))).to_be_hidden()
    finally:
        context.close()
