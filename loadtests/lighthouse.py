"""Lighthouse scores of the main pages (``make lighthouse``): the QR landing page of a valid demo
certificate, the lookup page ``/`` and an institution page, on a phone (Lighthouse's default
mobile emulation and throttling). Prints the four category scores per page, the median of 3 runs,
the audits that cost points, and the page weight (HTML + CSS over gzip). Target: >= 95 everywhere.

The server is this script's own: a throwaway ``VERIFY_HOME`` under /tmp with the embedded
PostgreSQL cluster, the development signing key and the demo data, served on a free loopback
port; everything is stopped and removed at the end. Lighthouse 12.2.3 comes from the committed
package-lock.json (``npm ci``) and drives Debian's chromium (``CHROME_PATH``), never a download.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.local import free_port

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu"
TARGET = 95
RUNS = 3
INSTITUTION = "S000041010012"  # the demo institution with every contact field filled in
# Audits a page fails on purpose. The score is printed as measured; the target is checked on the
# category score recomputed without these audits (Lighthouse's own weights).
ACCEPTED: dict[str, dict[str, str]] = {
    "landing": {
        "is-crawlable": "the QR landing page shows a holder's name, so it is noindex on purpose "
        "(web/templates/landing.html); search engines must not index certificate holders",
    },
}


@dataclass
class DemoServer:
    base: str
    home: Path
    verdict_urls: dict[
        str, str
    ]  # verdict label ("valid", "revoked", ...) -> QR URL, as printed by `verify demo`
    certificates: list[dict[str, str]] = field(default_factory=list)

    def holder(self) -> dict[str, str]:
        """An active certificate of an active institution (for lookups)."""
        return next(
            c for c in self.certificates if c["institution"] == INSTITUTION and c["status"] == "active"
        )


def _verify(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "verify", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"verify {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return done.stdout


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own loopback server
        body: bytes = r.read()
        return body


@contextlib.contextmanager
def demo_server() -> Iterator[DemoServer]:
    """Start the embedded cluster, load the demo data and serve it; stop and remove it all afterwards."""
    home = Path(tempfile.mkdtemp(prefix="verify-pages-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env.update(
        VERIFY_HOME=str(home),
        VERIFY_PUBLIC_URL=base,
        VERIFY_PUBLIC_KEYS_DIR=str(home / "public-keys"),
        VERIFY_LOG_LEVEL="warning",
        VERIFY_LOOKUP_PER_MINUTE="1000",
    )
    proc: subprocess.Popen[bytes] | None = None
    started_db = False
    try:
        print(f"Starting a throwaway database and server under {home} ...", file=sys.stderr)
        _verify(env, "db", "start")
        started_db = True
        _verify(env, "keys", "dev")
        summary = _verify(env, "demo", "--ensure", "--summary")
        # the QR URLs are upper case (QR alphanumeric mode): keep the path, use our own base
        urls = {
            m.group(1).strip().replace(" ", "_"): base + m.group(2)
            for m in re.finditer(r"^\s+([a-z][a-z ]*?)\s+(?i:https?)://[^/\s]+(/\S+)\s*$", summary, re.M)
        }
        certificates = [json.loads(line) for line in _verify(env, "demo").splitlines() if line.strip()]
        if "valid" not in urls:
            raise SystemExit(f"no valid demo URL in `verify demo --summary`:\n{summary}")
        log = (home / "server.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "verify", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit("the server exited:\n" + (home / "server.log").read_text(errors="replace"))
            try:
                if json.loads(_get(base + "/healthz"))["ok"]:
                    break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(
                    "the server did not come up:\n" + (home / "server.log").read_text(errors="replace")
                )
            time.sleep(0.2)
        yield DemoServer(base, home, urls, certificates)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if started_db:
            subprocess.run([sys.executable, "-m", "verify", "db", "stop"], env=env, cwd=ROOT, capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------------------------------- weight


def page_weight(url: str) -> tuple[int, int]:
    """(HTML, CSS) bytes over the wire with gzip, as a phone's first load fetches them."""

    def fetch(u: str) -> tuple[int, bytes]:
        req = urllib.request.Request(u, headers={"Accept-Encoding": "gzip"})  # noqa: S310 - loopback
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            raw: bytes = r.read()
            text = gzip.decompress(raw) if r.headers.get("Content-Encoding") == "gzip" else raw
            return len(raw), text

    html_size, html = fetch(url)
    hrefs = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html.decode())
    css = sum(fetch(urllib.parse.urljoin(url, href))[0] for href in hrefs)
    return html_size, css


# ------------------------------------------------------------------------------------ lighthouse


def run_lighthouse(url: str, out: Path) -> dict[str, Any]:
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    cmd = [
        "npx", "--no", "--", "lighthouse", url,
        "--quiet", "--output=json", f"--output-path={out}",
        f"--chrome-flags={CHROME_FLAGS}",
        f"--only-categories={','.join(CATEGORIES)}",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"lighthouse failed ({done.returncode}) on {url}:\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(out.read_text())
    if report.get("runtimeError"):
        raise SystemExit(f"lighthouse runtime error on {url}: {report['runtimeError']}")
    return report


def scores(report: dict[str, Any], without: frozenset[str] = frozenset()) -> dict[str, float]:
    """Category scores (0-100); ``without`` drops audits and reweighs the rest as Lighthouse does."""
    out: dict[str, float] = {}
    for c in CATEGORIES:
        refs = [r for r in report["categories"][c]["auditRefs"] if r.get("weight", 0) > 0]
        if not without or not any(r["id"] in without for r in refs):
            out[c] = round(100 * (report["categories"][c]["score"] or 0))
            continue
        kept = [r for r in refs if r["id"] not in without]
        total = sum(r["weight"] for r in kept)
        out[c] = round(
            100 * sum(r["weight"] * (report["audits"][r["id"]]["score"] or 0) for r in kept) / total
        )
    return out


def lost_points(report: dict[str, Any]) -> list[str]:
    """Audits that cost points (weighted, score below 1), per category."""
    out = []
    for c in CATEGORIES:
        for ref in report["categories"][c]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 1:
                value = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
                out.append(f"{c}: {ref['id']} {round(100 * audit['score'])}{value} - {audit['title']}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per page (the median is reported)")
    parser.add_argument("--keep-reports", type=Path, help="also keep the JSON reports in this directory")
    args = parser.parse_args(argv)
    if not (ROOT / "node_modules" / ".bin" / "lighthouse").exists():
        print("node_modules/.bin/lighthouse is missing: run `npm ci` (or `make lighthouse`)", file=sys.stderr)
        return 2
    failing = False
    with demo_server() as server, tempfile.TemporaryDirectory(prefix="lighthouse-") as tmp:
        pages = {
            "landing (valid QR)": server.verdict_urls["valid"],
            "lookup /": server.base + "/",
            f"institution {INSTITUTION}": f"{server.base}/institutions/{INSTITUTION}",
        }
        print(f"\nLighthouse 12 (mobile), median of {args.runs} runs; target >= {TARGET} in each category\n")
        header = f"{'page':<28}" + "".join(f"{c:>16}" for c in CATEGORIES) + "   HTML + CSS (gzip)"
        rows = [header, "-" * len(header)]
        notes: list[str] = []
        for label, url in pages.items():
            accepted = ACCEPTED.get(label.split()[0], {})
            runs: list[dict[str, float]] = []
            adjusted: list[dict[str, float]] = []
            lost: set[str] = set()
            for i in range(args.runs):
                out = Path(tmp) / f"{re.sub(r'[^a-z0-9]+', '-', label)}-{i}.json"
                report = run_lighthouse(url, out)
                runs.append(scores(report))
                adjusted.append(scores(report, frozenset(accepted)))
                lost.update(lost_points(report))
                if args.keep_reports:
                    args.keep_reports.mkdir(parents=True, exist_ok=True)
                    shutil.copy(out, args.keep_reports / out.name)
                print(f"  {label}: run {i + 1}: {runs[-1]}", file=sys.stderr)
            median = {c: statistics.median(r[c] for r in runs) for c in CATEGORIES}
            checked = {c: statistics.median(r[c] for r in adjusted) for c in CATEGORIES}
            html, css = page_weight(url)
            cells = [f"{median[c]:g}" + ("*" if checked[c] != median[c] else "") for c in CATEGORIES]
            rows.append(
                f"{label:<28}"
                + "".join(f"{cell:>16}" for cell in cells)
                + f"{html + css:>9} B ({html} + {css})"
            )
            if any(checked[c] < TARGET for c in CATEGORIES):
                failing = True
            for c in CATEGORIES:
                if checked[c] != median[c]:
                    notes.append(f"* {label}, {c}: {checked[c]:g} without the accepted audits:")
                    notes += [f"    {audit}: {why}" for audit, why in accepted.items()]
            unexpected = sorted(line for line in lost if line.split()[1] not in accepted)
            if unexpected:
                notes.append(f"{label}: audits that cost points in at least one run:")
                notes += [f"    {line}" for line in unexpected]
        print("\n".join(rows))
        if notes:
            print()
            print("\n".join(notes))
    verdict = "BELOW TARGET" if failing else "All pages at or above"
    print(f"\n{verdict} {TARGET} in every category (median of {args.runs}; * = without the accepted audits).")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
