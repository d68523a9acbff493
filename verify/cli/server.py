"""``verify serve`` and ``verify db``: the HTTP server and the embedded PostgreSQL cluster."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from verify import __version__
from verify.cli.common import print_json
from verify.config import Settings
from verify.domain import errors
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
        print(runtime.database_dsn(settings))
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
        print_json({"applied": asyncio.run(runtime.migrate_database(settings))})
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("serve", help="run the HTTP server (production: uvicorn, N workers)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("db", help="embedded PostgreSQL: start | stop | status | url | migrate")
    s.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    s.set_defaults(fn=cmd_db)
