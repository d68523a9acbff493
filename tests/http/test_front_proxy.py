"""The nginx front (``verify proxy-config``, ``verify.http.front_proxy``, DECISIONS D33): at most N
requests in flight into the app, the excess refused by nginx at once with the service's 503
(``Retry-After``, the error shape or a page, the security headers); ``/healthz`` and ``/static/``
never refused; the client's ``X-Forwarded-For`` replaced by the address nginx saw; the app's own
answers, a 503 of its own included, passed through untouched.

Real nginx (Debian's, installed by ``make test``) with the configuration the CLI prints, in front of
a small upstream that holds each request until the test lets it go, so that exactly N requests are
in flight. Counted, never timed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loadtests.local import free_port
from verify.cli.main import main as cli_main
from verify.http.errors import error_body
from verify.http.front_proxy import FrontProxy, overloaded_page, render
from verify.http.guard import SECURITY_HEADERS
from verify.http.shedding import RETRY_AFTER, overloaded

LIMIT = 3
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is missing: run `make browser-deps` (apt nginx-light)"
)


@dataclass
class Upstream:
    port: int
    gate: threading.Event
    inside: list[int]  # requests currently held
    seen_xff: list[str]


def _upstream() -> tuple[ThreadingHTTPServer, Upstream]:
    state = Upstream(0, threading.Event(), [0], [])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.seen_xff.append(self.headers.get("X-Forwarded-For", ""))
            status, body = 200, b'{"ok":true}'
            if self.path.startswith("/app-503"):
                status, body = 503, b'{"error":"unavailable","details":{"cause":"database"}}'
            elif "hold" in self.path:
                with lock:
                    state.inside[0] += 1
                state.gate.wait(20)
                with lock:
                    state.inside[0] -= 1
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    return server, state


@dataclass
class Front:
    port: int
    upstream: Upstream

    def get(self, path: str, source: str = "127.0.0.1", **headers: str) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        try:
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def hold(
        self, pool: ThreadPoolExecutor, n: int, path: str
    ) -> list[Future[tuple[int, dict[str, str], bytes]]]:
        before = self.upstream.inside[0]
        futures = [pool.submit(self.get, path) for _ in range(n)]
        deadline = time.monotonic() + 20
        while self.upstream.inside[0] < before + n:
            assert time.monotonic() < deadline, "the held requests never reached the upstream"
            time.sleep(0.01)
        return futures


@contextlib.contextmanager
def _front(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Iterator[Front]:
    server, upstream = _upstream()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    # The configuration exactly as an operator gets it.
    code = cli_main(["proxy-config", "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{upstream.port}",
                     "--max-in-flight", str(LIMIT), "--prefix", str(prefix), *extra])  # fmt: skip
    assert code == 0
    conf = prefix / "nginx.conf"
    conf.write_text(capsys.readouterr().out, encoding="utf-8")
    assert NGINX is not None
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"])
    f = Front(port, upstream)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if f.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (prefix / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.05)
        upstream.seen_xff.clear()
        yield f
    finally:
        upstream.gate.set()
        proc.terminate()
        proc.wait(10)
        server.shutdown()
        server.server_close()


@pytest.fixture
def front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Front]:
    with _front(tmp_path, capsys) as f:
        yield f


def _security_headers_present(headers: dict[str, str]) -> None:
    for k, v in SECURITY_HEADERS:
        assert headers.get(k.decode()) == v.decode(), k


def test_the_excess_over_the_bound_is_refused_by_the_front_in_the_service_error_shape(front: Front) -> None:
    with ThreadPoolExecutor(LIMIT + 2) as pool:
        held = front.hold(pool, LIMIT, "/api/v1/hold")
        status, headers, body = front.get("/api/v1/verify/anything")
        assert status == 503
        assert body == error_body(overloaded())
        assert headers["content-type"] == "application/json"
        assert headers["retry-after"] == str(RETRY_AFTER)
        _security_headers_present(headers)
        # A page request gets a page, in both languages.
        status, headers, body = front.get("/c/anything")
        assert status == 503 and headers["retry-after"] == str(RETRY_AFTER)
        assert headers["content-type"].startswith("text/html") and body.decode() == overloaded_page()
        assert "服务暂时不可用" in body.decode() and "temporarily unavailable" in body.decode()
        _security_headers_present(headers)
        # Never refused, however full: the health check and static files.
        assert front.get("/healthz")[0] == 200
        assert front.get("/static/app.css")[0] == 200
        front.upstream.gate.set()
        assert [f.result()[0] for f in held] == [200] * LIMIT
    # With the held requests answered, the bound has room again.
    front.upstream.gate.clear()
    assert front.get("/api/v1/verify/anything")[0] == 200


def test_below_the_bound_nothing_is_refused(front: Front) -> None:
    with ThreadPoolExecutor(LIMIT) as pool:
        held = front.hold(pool, LIMIT - 1, "/api/v1/hold")
        assert front.get("/api/v1/verify/anything")[0] == 200
        front.upstream.gate.set()
        assert [f.result()[0] for f in held] == [200] * (LIMIT - 1)


def test_the_apps_own_503_passes_through_untouched(front: Front) -> None:
    status, headers, body = front.get("/app-503")
    assert status == 503 and json.loads(body)["details"]["cause"] == "database"
    assert "retry-after" not in headers


def test_a_client_sent_x_forwarded_for_never_reaches_the_app(front: Front) -> None:
    front.get("/api/v1/verify/x", **{"X-Forwarded-For": "203.0.113.9"})
    assert front.upstream.seen_xff == ["127.0.0.1"]


def test_the_body_limit_leaves_room_for_the_apps_own_refusal(tmp_path: Path) -> None:
    text = render(FrontProxy("127.0.0.1:1", "127.0.0.1:2", 8, 50 * 2**20 + 2**20, tmp_path))
    assert f"client_max_body_size {50 * 2**20 + 2**20};" in text
    with pytest.raises(ValueError, match="at least 1"):
        render(FrontProxy("127.0.0.1:1", "127.0.0.1:2", 0, 1, tmp_path))


def test_a_bound_below_one_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["proxy-config", "--max-in-flight", "0"]) == 7
    assert "--max-in-flight" in capsys.readouterr().err


def test_the_readme_example_writes_a_configuration_nginx_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In production: the nginx front", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    line = next(x for x in block.splitlines() if x.startswith("verify proxy-config"))
    args = line.split(">", 1)[0].split()[1:]
    args[args.index("--prefix") + 1] = str(tmp_path)
    assert cli_main(args) == 0
    conf = tmp_path / "nginx.conf"
    conf.write_text(capsys.readouterr().out, encoding="utf-8")
    assert NGINX is not None
    done = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "limit_conn verify_in_flight 128;" in conf.read_text()  # 4 workers x 32


def test_behind_a_trusted_load_balancer_its_client_address_is_passed_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 127.0.0.2 plays the load balancer; a request from 127.0.0.1 is an untrusted peer.
    with _front(tmp_path, capsys, "--real-ip-from", "127.0.0.2") as f:
        f.get("/api/v1/verify/x", **{"X-Forwarded-For": "203.0.113.9"})
        f.get("/api/v1/verify/x", source="127.0.0.2", **{"X-Forwarded-For": "198.51.100.7"})
        assert f.upstream.seen_xff == ["127.0.0.1", "198.51.100.7"]


def test_a_real_ip_source_that_is_no_address_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["proxy-config", "--real-ip-from", "lb.example"]) == 7
    assert "--real-ip-from" in capsys.readouterr().err
