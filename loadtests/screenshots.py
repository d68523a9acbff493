"""Phone-width screenshots of the main pages for the README (``make screenshots``).

The same throwaway server as ``make lighthouse`` (embedded cluster under /tmp, development key, demo
data), Debian's chromium through Playwright at 360x740 CSS px and device scale factor 2, Chinese
locale. Each PNG is the first screen of the page, reduced to a 256-colour palette so it stays well
under 150 KB in git.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from loadtests.lighthouse import ROOT, DemoServer, demo_server

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
OUT = ROOT / "docs" / "screenshots"
MAX_BYTES = 150 * 1024


def tampered(url: str) -> str:
    """The valid QR URL with one character of its signature changed."""
    i = len(url) - 20
    return url[:i] + ("B" if url[i] != "B" else "C") + url[i + 1 :]


def lookup_result(page: Page, server: DemoServer) -> None:
    holder = server.holder()
    page.goto(server.base + "/?lang=zh")
    form = page.locator("form:has(input[name=number])")
    form.get_by_label("证书编号", exact=True).fill(holder["number"])
    form.get_by_label("姓名", exact=True).fill(holder["name"])
    with page.expect_navigation():
        form.locator("button[type=submit]").click()


def shots(server: DemoServer) -> dict[str, str | None]:
    """File name -> URL to open (None: a step that fills in a form)."""
    return {
        "lookup.png": server.base + "/?lang=zh",
        "landing-valid.png": server.verdict_urls["valid"] + "?lang=zh",
        "landing-revoked.png": server.verdict_urls["revoked"] + "?lang=zh",
        "landing-issuer-suspended.png": server.verdict_urls["issuer_suspended"] + "?lang=zh",
        "landing-forged.png": tampered(server.verdict_urls["valid"]) + "?lang=zh",
        "landing-valid-en.png": server.verdict_urls["valid"] + "?lang=en",
        "results.png": None,
        "institution.png": server.base + "/institutions/S000041010012?lang=zh",
    }


def save_png(raw: bytes, path: Path) -> int:
    """Write ``raw`` (a PNG) as a 256-colour palette PNG without dithering (flat UI colours stay exact)."""
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, format="PNG", optimize=True)
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="phone-width screenshots of the main pages")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output directory (default {OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    too_big = []
    with demo_server() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            for name, url in shots(server).items():
                context = browser.new_context(
                    viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                    has_touch=True, locale="zh-CN",
                )  # fmt: skip
                page = context.new_page()
                if url is None:
                    lookup_result(page, server)
                else:
                    page.goto(url)
                size = save_png(page.screenshot(animations="disabled", caret="hide"), args.out / name)
                print(f"  {args.out / name}: {size // 1024} KB")
                if size > MAX_BYTES:
                    too_big.append(name)
                context.close()
        finally:
            browser.close()
    if too_big:
        print(f"larger than {MAX_BYTES // 1024} KB: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
