"""The nginx front for ``verify serve``: it bounds the requests in flight into the app and refuses
the excess itself, with the service's 503 (``Retry-After``, the ``unavailable`` error shape).

Why a front at all (docs/DECISIONS.md D33): a worker's own refusal (``verify.http.shedding``) still
costs the HTTP parsing, the guard and the access log line, about 0.5-0.8 of a QR answer from
memory, so at twice the sustainable rate a refusing worker is as saturated as an answering one and
new connections wait in the listen queue; the overload drill measured 503s taking seconds. nginx
refuses in C for a few microseconds, before the request reaches Python, and accepts connections as
fast as they come. Its ``limit_conn`` counts the requests being served across all its workers (a
shared-memory zone), so the bound is the app's concurrency, not a rate that would have to be
retuned for every machine: when the app slows down, requests stay in flight longer and the excess
is refused at once; an admitted request waits at most about ``max_in_flight`` / throughput.

``render`` is the one place the configuration is written; ``verify proxy-config`` prints it and the
overload drill (``make overload``) runs it. ``/healthz`` and ``/static/`` are never refused, as in
the app (``shedding.exempt``).
"""

from __future__ import annotations

import html
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from verify.http.guard import SECURITY_HEADERS
from verify.http.shedding import OVERLOADED_JSON, RETRY_AFTER, overloaded

# Connections nginx keeps open to the app, per nginx worker: enough that admitted requests rarely
# open a new one (each new upstream connection costs the app an accept and a handshake).
UPSTREAM_KEEPALIVE = 128
# The default bound, per app worker: about 10 ms of queue at a worker's ~3,000 QR answers a second,
# and far above what a lookup needs (docs/BENCHMARKS.md, overload).
IN_FLIGHT_PER_WORKER = 32
# Above the app's upload limit, so that a file a little too large still gets the app's own clear
# refusal (verify.http.api) rather than nginx's bare 413 page; multipart framing is well under this.
BODY_HEADROOM = 1 << 20


@dataclass(frozen=True, slots=True)
class FrontProxy:
    """What the configuration needs: where nginx listens, where the app is, the bound on requests
    in flight into the app, the largest request body (the app's upload limit), and a directory of
    nginx's own (pid file, error log, temporary files), so it runs without root."""

    listen: str  # "0.0.0.0:80", "127.0.0.1:8080"
    upstream: str  # the app, "127.0.0.1:8000"
    max_in_flight: int
    max_body_bytes: int
    prefix: Path
    # Load balancers whose X-Forwarded-For nginx believes (addresses or CIDR blocks); from any other
    # peer the header is ignored and the peer's address is the client's.
    real_ip_from: tuple[str, ...] = ()


def _quoted(text: str) -> str:
    """``text`` as an nginx single-quoted string. nginx expands ``$`` in strings and has no escape
    for it, so a text with one is refused rather than silently changed."""
    if "$" in text:
        raise ValueError("nginx strings cannot carry '$'")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def overloaded_page() -> str:
    """The page a browser gets when the front refuses it: the service's error message, both
    languages, no script or style (the security headers forbid both anyway)."""
    message = overloaded().to_json()["message"]
    zh, en = html.escape(message["zh"]), html.escape(message["en"])
    return (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{zh}</title><h1>{zh}</h1><p lang="en">{en}</p>'
        f"<p>{RETRY_AFTER} 秒后重试 / retry in {RETRY_AFTER} s</p></html>"
    )


def _refusal(name: str, content_type: str, body: str) -> str:
    headers = "".join(
        f"            add_header {k.decode()} {_quoted(v.decode())} always;\n" for k, v in SECURITY_HEADERS
    )
    return (
        f"        location {name} {{\n"
        f"            default_type {content_type};\n"
        f"            add_header Retry-After {RETRY_AFTER} always;\n"
        "            add_header Cache-Control no-store always;\n"
        f"{headers}"
        f"            return 503 {_quoted(body)};\n"
        "        }\n"
    )


def render(front: FrontProxy) -> str:
    """The whole nginx.conf. Raises ValueError for a bound below 1 or a ``real_ip_from`` entry that
    is not an address or CIDR block."""
    if front.max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    trusted = [str(ipaddress.ip_network(n, strict=False)) for n in front.real_ip_from]
    real_ip = "".join(f"    set_real_ip_from {n};\n" for n in trusted)
    if trusted:
        real_ip += "    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n"
    p = front.prefix
    proxied = (
        "            proxy_pass http://verify;\n"
        "            proxy_http_version 1.1;\n"
        '            proxy_set_header Connection "";\n'
        "            proxy_set_header Host $host;\n"
        # Overwritten, never appended: the app (VERIFY_TRUST_PROXY=1) takes the first entry as the
        # client, so a client-sent X-Forwarded-For must not reach it (docs/SECURITY.md). Behind a
        # trusted load balancer $remote_addr is the address it reported (real_ip_from).
        "            proxy_set_header X-Forwarded-For $remote_addr;\n"
        "            proxy_set_header X-Forwarded-Proto $scheme;\n"
    )
    return (
        "# Written by `verify proxy-config` (verify/http/front_proxy.py); edit the code, not this file.\n"
        "worker_processes auto;\n"
        f"pid {p / 'nginx.pid'};\n"
        f"error_log {p / 'error.log'} warn;\n"
        "events { worker_connections 16384; }\n"
        "http {\n"
        # The app writes its own access log, without personal data (verify.http.guard).
        "    access_log off;\n"
        "    server_tokens off;\n"
        f"    client_body_temp_path {p / 'body'};\n"
        f"    proxy_temp_path {p / 'proxy'};\n"
        f"    fastcgi_temp_path {p / 'fastcgi'};\n"
        f"    uwsgi_temp_path {p / 'uwsgi'};\n"
        f"    scgi_temp_path {p / 'scgi'};\n"
        f"    client_max_body_size {front.max_body_bytes};\n"
        f"{real_ip}"
        # One key for every request (nginx does not count requests whose key is empty, which
        # $server_name is without a server_name), so the bound is on the whole app.
        '    map "" $verify_front { default "app"; }\n'
        "    limit_conn_zone $verify_front zone=verify_in_flight:1m;\n"
        "    limit_conn_status 503;\n"
        # One line per refusal would cost what the front is there to save.
        "    limit_conn_log_level info;\n"
        "    upstream verify {\n"
        f"        server {front.upstream};\n"
        f"        keepalive {UPSTREAM_KEEPALIVE};\n"
        "    }\n"
        "    server {\n"
        f"        listen {front.listen} backlog=4096 reuseport;\n"
        "        location = /healthz {\n" + proxied + "        }\n"
        "        location /static/ {\n" + proxied + "        }\n"
        "        location /api/ {\n"
        f"            limit_conn verify_in_flight {front.max_in_flight};\n"
        "            error_page 503 = @overloaded_json;\n" + proxied + "        }\n"
        "        location / {\n"
        f"            limit_conn verify_in_flight {front.max_in_flight};\n"
        "            error_page 503 = @overloaded_page;\n"
        + proxied
        + "        }\n"
        + _refusal("@overloaded_json", "application/json", OVERLOADED_JSON.decode())
        + _refusal("@overloaded_page", '"text/html; charset=utf-8"', overloaded_page())
        + "    }\n"
        "}\n"
    )
