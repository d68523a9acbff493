"""``verify serve`` and ``verify db``: the HTTP server and the embedded PostgreSQL cluster."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from verify import __version__
from verify.cli.common import print_json
from verify.config import Settings
from verify.domain import errors
from verify.http import front_proxy
from verify.services import runtime
from verify.services.privileges import drop_to_web_user


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    dsn, first = runtime.ensure_database(settings)
    if first:
        print(f"Created the embedded PostgreSQL cluster in {settings.pg_root}", file=sys.stderr)

    async def prepare() -> None:
        reg = await runtime.open_registry(settings, dsn=dsn, max_size=2)
        await reg.pool.close()

    asyncio.run(prepare())  # migrations once, before workers start
    runtime.id_keys(settings)  # the ID keys file exists before root is given up
    runtime.receipt_key(settings)  # and so does the receipt key
    dropped = drop_to_web_user(settings)
    if dropped is not None:
        print(f"running as {dropped.name} (uid {dropped.uid}), not root", file=sys.stderr)
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    print(
        f"verify {__version__} serving on http://{host}:{port}/ ({workers} worker(s)); Ctrl-C stops it.",
        file=sys.stderr,
    )
    uvicorn.run(
        "verify.http.asgi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=settings.trust_proxy,
        access_log=False,  # the app writes its own, without personal data (verify.http.guard)
        server_header=False,
    )
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "url":
        # The owner's DSN (psql, pg_dump, creating databases); --app: what the app's pools use.
        print(runtime.database_dsn(settings) if args.app else runtime.migration_dsn(settings))
        return 0
    if settings.database_url and args.action in ("start", "stop"):
        raise errors.ConfigError(
            "已设置 VERIFY_DATABASE_URL，外部数据库不由本命令启停",
            "VERIFY_DATABASE_URL is set: an external database is not started or stopped here",
        )
    cluster = runtime.embedded_cluster(settings)
    if args.action == "start":
        runtime.ensure_database(settings)
        print_json(cluster.status())
    elif args.action == "stop":
        cluster.stop()
        print("stopped")
    elif args.action == "status":
        print_json(cluster.status())
    elif args.action == "migrate":
        print_json({"applied": asyncio.run(runtime.migrate_database(settings, grant=args.grant))})
    return 0


def cmd_proxy_config(settings: Settings, args: argparse.Namespace) -> int:
    workers = args.workers or settings.workers
    bound = workers * front_proxy.IN_FLIGHT_PER_WORKER if args.max_in_flight is None else args.max_in_flight
    if bound < 1:
        raise errors.ConfigError(
            f"--max-in-flight 至少为 1（收到 {bound}）", f"--max-in-flight must be at least 1 (got {bound})"
        )
    front = front_proxy.FrontProxy(
        listen=args.listen,
        upstream=args.upstream or f"{settings.host}:{settings.port}",
        max_in_flight=bound,
        max_body_bytes=settings.max_upload_bytes + front_proxy.BODY_HEADROOM,
        prefix=Path(args.prefix).resolve(),
        real_ip_from=tuple(args.real_ip_from),
    )
    try:
        text = front_proxy.render(front)
    except ValueError as exc:
        raise errors.ConfigError(
            f"--real-ip-from 须为 IP 地址或网段：{exc}",
            f"--real-ip-from must be an address or CIDR block: {exc}",
        ) from exc
    print(text, end="")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("serve", help="run the HTTP server (production: uvicorn, N workers)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser(
        "proxy-config",
        help="print the nginx.conf of the front that bounds requests in flight and refuses the excess with 503",
    )
    s.add_argument("--listen", default="0.0.0.0:80", help="where nginx listens (default 0.0.0.0:80)")
    s.add_argument("--upstream", help="the app's host:port (default VERIFY_HOST:VERIFY_PORT)")
    s.add_argument("--workers", type=int, help="app workers behind it (default VERIFY_WORKERS)")
    s.add_argument(
        "--max-in-flight", type=int,
        help=f"requests in flight into the app at most (default {front_proxy.IN_FLIGHT_PER_WORKER} per worker)",
    )  # fmt: skip
    s.add_argument(
        "--real-ip-from", action="append", default=[], metavar="CIDR",
        help="a load balancer whose X-Forwarded-For nginx believes (repeatable; default: none)",
    )  # fmt: skip
    s.add_argument("--prefix", default="/var/lib/verify-nginx", help="nginx's pid, error log and temp files")
    s.set_defaults(fn=cmd_proxy_config)

    s = sub.add_parser("db", help="embedded PostgreSQL: start | stop | status | url | migrate")
    s.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    s.add_argument("--app", action="store_true", help="url: the app's DSN (role verify_app), not the owner's")
    s.add_argument(
        "--grant", metavar="ROLE",
        help="migrate: create ROLE if missing and grant it the app's privileges (for VERIFY_DATABASE_URL; "
        "the embedded cluster's verify_app is always granted)",
    )  # fmt: skip
    s.set_defaults(fn=cmd_db)
