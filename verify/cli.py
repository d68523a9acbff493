"""``verify`` / ``python -m verify``: the command line, with one error-to-exit-code mapping.

The CLI is a process entry point, so it is the place that reads the environment (once, into
Settings). Signing and other privileged work run here, never in the web process.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from verify import __version__, batchfile, codes, demo, errors, payload, qr, runtime, seed, store
from verify.config import Settings
from verify.keyring import Keyring
from verify.service import Registry, shutdown_checkers, today_utc8

T = TypeVar("T")

# The one mapping from errors to exit codes (documented in README).
EXIT_CODES: dict[type[errors.VerifyError], int] = {
    errors.InvalidInput: 1,
    errors.NotFound: 3,
    errors.Conflict: 4,
    errors.Unauthorized: 5,
    errors.Forbidden: 5,
    errors.RateLimited: 6,
    errors.Unavailable: 6,
    errors.ConfigError: 7,
}


def exit_code(exc: errors.VerifyError) -> int:
    return errors.mapped(exc, EXIT_CODES, 1)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _with_registry(settings: Settings, fn: Callable[[Registry], Awaitable[T]]) -> T:
    async def run() -> T:
        dsn, _ = runtime.ensure_database(settings)
        reg = await runtime.open_registry(settings, dsn=dsn, max_size=4)
        try:
            return await fn(reg)
        finally:
            await reg.pool.close()
            shutdown_checkers()

    return asyncio.run(run())


# ---------------------------------------------------------------------------- commands


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    dsn, first = runtime.ensure_database(settings)
    if first:
        print(f"Created the embedded PostgreSQL cluster in {settings.pg_root}", file=sys.stderr)

    async def prepare() -> None:
        reg = await runtime.open_registry(settings, dsn=dsn, max_size=2)
        await reg.pool.close()

    asyncio.run(prepare())  # migrations once, before workers start
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    print(
        f"verify {__version__} serving on http://{host}:{port}/ ({workers} worker(s)); Ctrl-C stops it.",
        file=sys.stderr,
    )
    uvicorn.run(
        "verify.asgi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=settings.trust_proxy,
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
        _print_json(cluster.status())
    elif args.action == "stop":
        cluster.stop()
        print("stopped")
    elif args.action == "status":
        _print_json(cluster.status())
    elif args.action == "migrate":
        _print_json({"applied": asyncio.run(_migrate(settings))})
    return 0


async def _migrate(settings: Settings) -> list[str]:
    dsn, _ = runtime.ensure_database(settings)
    pool = await store.create_pool(dsn, max_size=1)
    try:
        return await store.migrate(pool)
    finally:
        await pool.close()


def cmd_codes_check(settings: Settings, args: argparse.Namespace) -> int:
    result = codes.check_code(args.number, today=today_utc8())
    _print_json(result.to_json())
    return 0 if result.valid else 1


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise errors.BadFile(
            f"无法读取文件 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}"
        ) from None
    result = _with_registry(
        settings,
        lambda reg: reg.import_batch(
            args.institution, data, path.name, actor=f"cli:{_user()}", max_bytes=settings.max_upload_bytes
        ),
    )
    _print_json(result.to_json())
    return 0


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> dict[str, Any]:
        signer = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
        return await reg.publish(args.batch, actor=f"cli:{_user()}", signer=signer)

    _print_json(_with_registry(settings, run))
    return 0


def passphrase(settings: Settings) -> bytes:
    """The signing-key passphrase: VERIFY_KEY_PASSPHRASE, else the development key's file, else a
    prompt on a terminal. Raises ConfigError when none is available."""
    if settings.key_passphrase:
        return settings.key_passphrase
    dev = runtime.dev_passphrase_file(settings)
    if dev.exists():
        return dev.read_bytes().strip()
    if sys.stdin.isatty():
        return getpass.getpass("签名密钥口令 / signing key passphrase: ").encode()
    raise errors.ConfigError(
        "需要签名密钥口令：设置 VERIFY_KEY_PASSPHRASE 或在终端中运行",
        "the signing key passphrase is needed: set VERIFY_KEY_PASSPHRASE or run in a terminal",
    )


def _dev_key(settings: Settings, ring: Keyring) -> Awaitable[str | None]:
    async def run() -> str | None:
        if any(k.status == "active" for k in await ring.keys()):
            return None
        dev = runtime.dev_passphrase_file(settings)
        if settings.key_passphrase:
            phrase = settings.key_passphrase
        else:
            if not dev.exists():
                dev.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(dev, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(24))
            phrase = dev.read_bytes().strip()
        key = await ring.generate(phrase, note="development key (make run)")
        return key.kid

    return run()


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> Any:
        ring = runtime.keyring(settings, reg.pool)
        if args.action == "list":
            return [k.to_json() for k in await ring.keys()]
        if args.action == "dev":
            kid = await _dev_key(settings, ring)
            if kid is None:
                return None
            where = (
                "VERIFY_KEY_PASSPHRASE"
                if settings.key_passphrase
                else str(runtime.dev_passphrase_file(settings))
            )
            print(
                f"Created a development signing key {kid}: private key {ring.private_dir / (kid + '.key.pem')}, "
                f"passphrase in {where}.\nFor production, run `verify keys generate` with your own passphrase "
                "(keys/README.md).",
                file=sys.stderr,
            )
            return None
        if args.action == "generate":
            key = await ring.generate(
                passphrase(settings), not_before=_datetime(args.not_before), not_after=_datetime(args.not_after),
                note=args.note,
            )  # fmt: skip
            return key.to_json()
        if args.action == "rotate":
            new, retired = await ring.rotate(passphrase(settings), note=args.note)
            return {"new": new.to_json(), "retired": retired}
        if not args.kid:
            raise errors.InvalidInput("请给出 kid", "give the kid")
        if args.action == "retire":
            return (await ring.retire(args.kid)).to_json()
        return (await ring.compromise(args.kid)).to_json()

    result = _with_registry(settings, run)
    if result is not None:
        _print_json(result)
    return 0


def cmd_resign(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> dict[str, Any]:
        signer = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
        count = await reg.resign(args.kid, actor=f"cli:{_user()}", signer=signer)
        return {"resigned": count, "from_kid": args.kid, "new_kid": signer.kid}

    _print_json(_with_registry(settings, run))
    return 0


def cmd_event(settings: Settings, args: argparse.Namespace) -> int:
    event = {"revoke": "revoked", "supersede": "superseded", "reinstate": "reinstated"}[args.command]
    _print_json(
        _with_registry(
            settings,
            lambda reg: reg.certificate_event(
                args.number, event, effective=_date(args.effective), reason_category=args.category,
                reason=args.reason, decided_by=args.decided_by, actor=f"cli:{_user()}", document_ref=args.document,
                served=args.served, superseded_by=getattr(args, "by", None),
            ),
        )
    )  # fmt: skip
    return 0


def cmd_qr(settings: Settings, args: argparse.Namespace) -> int:
    async def all_urls(reg: Registry) -> int:
        async with reg.pool.acquire() as conn:
            async for _number, signed in store.published_payloads(conn):
                print(payload.qr_url(settings.public_url, signed))
        return 0

    async def one_url(reg: Registry) -> str:
        found = await store.qr_payload(reg.pool, codes.normalize(args.number))
        if found is None:
            raise errors.NotFound("该证书未发布或尚未签名", "the certificate is not published or not signed")
        return payload.qr_url(settings.public_url, found)

    if args.all:
        return _with_registry(settings, all_urls)
    if not args.number:
        raise errors.InvalidInput("请给出证书编号，或使用 --all", "give a certificate number, or --all")
    url = _with_registry(settings, one_url)
    if args.url or not args.out:
        print(url)
    if args.out:
        out = Path(args.out)
        out.write_bytes(qr.render_svg(url) if out.suffix.lower() == ".svg" else qr.render_png(url))
        spec = qr.qr_spec(url)
        print(f"{out}: QR version {spec.version}-{spec.error_correction}, {spec.modules} modules, "
              f"{spec.module_mm:.3f} mm/module ({spec.dots_per_module} dots at {spec.dpi} dpi), "
              f"symbol {spec.symbol_mm:.1f} mm", file=sys.stderr)  # fmt: skip
    return 0


def _datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise errors.InvalidInput(f"时间格式应为 ISO 8601：{text}", f"times are ISO 8601: {text}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> seed.SeedReport:
        return await seed.seed(
            reg.pool,
            reg.protector,
            institutions=args.institutions,
            certificates=args.certificates,
            today=today_utc8(),
            rng_seed=args.seed,
            published=not args.unpublished,
        )

    report = _with_registry(settings, run)
    _print_json(
        {"institutions": report.institutions, "certificates": report.certificates, "batches": report.batches}
    )
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> tuple[bool, list[dict[str, str]]]:
        created = False
        if args.ensure and not await demo.is_loaded(reg.pool):
            signer = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
            created = await demo.load(reg.pool, reg.protector, today=today_utc8(), signer=signer)
        if not await demo.is_loaded(reg.pool):
            raise errors.NotFound(
                "尚未加载演示数据：运行 verify demo --ensure", "no demo data yet: run verify demo --ensure"
            )
        return created, await demo.certificates(reg.pool, reg.protector)

    created, certs = _with_registry(settings, run)
    urls: dict[str, str] = {}
    if args.summary:

        async def payloads(reg: Registry) -> dict[str, str]:
            found = {}
            for _label, cert in _verdicts(certs):
                data = await store.qr_payload(reg.pool, cert["number"])
                if data is not None:
                    found[cert["number"]] = payload.qr_url(settings.public_url, data)
            return found

        urls = _with_registry(settings, payloads)
    if args.summary:
        if created:
            print(f"Loaded the demo data: {len(certs)} certificates.")
        print("Demo certificates to try (number / holder name):")
        for c in _showcase(certs):
            print(f"  {c['number']}  {c['name']}  ({c['institution_name']})")
        print("Scan or open a verdict (QR URLs of demo certificates):")
        for label, cert in _verdicts(certs):
            print(f"  {label:<18} {urls.get(cert['number'], '(not signed)')}")
        print("All demo certificates: .venv/bin/verify demo   (JSON lines, with synthetic ID numbers)")
        return 0
    for c in certs:
        print(json.dumps(c, ensure_ascii=False))
    return 0


def _verdicts(certs: list[dict[str, str]]) -> list[tuple[str, dict[str, str]]]:
    """One demo certificate per verdict a scanner can meet."""
    picks: list[tuple[str, Callable[[dict[str, str]], bool]]] = [
        ("valid", lambda c: c["institution"] == "S000041010012" and c["status"] == "active"),
        ("revoked", lambda c: c["status"] == "revoked"),
        ("superseded", lambda c: c["status"] == "superseded"),
        ("issuer suspended", lambda c: c["institution"] == "S000041030007"),
    ]
    out = []
    for label, test in picks:
        cert = next((c for c in certs if test(c)), None)
        if cert is not None:
            out.append((label, cert))
    return out


def _showcase(certs: list[dict[str, str]]) -> list[dict[str, str]]:
    first_active = next(c for c in certs if c["institution"] == "S000041010012" and c["status"] == "active")
    suspended_issuer = next((c for c in certs if c["institution"] == "S000041030007"), None)
    return [first_active] + ([suspended_issuer] if suspended_issuer else [])


def cmd_institutions(settings: Settings, args: argparse.Namespace) -> int:
    actor = f"cli:{_user()}"
    if args.action == "show":
        _print_json(_with_registry(settings, lambda reg: reg.institution_view(args.code)))
    elif args.action == "token":
        print(_with_registry(settings, lambda reg: reg.issue_token(args.code, label=args.label, actor=actor)))
    elif args.action == "add":
        fields = {k: v for k, v in vars(args).items() if k in store.INSTITUTION_FIELDS and v is not None}
        for key in ("filing_date", "filing_expires"):
            if key in fields:
                fields[key] = _date(fields[key])
        _print_json(_with_registry(settings, lambda reg: reg.register_institution(fields, actor=actor)))
    elif args.action == "scope":
        levels: list[int | None] = [int(x) for x in args.levels.split(",")] if args.levels else [None]
        _print_json(
            _with_registry(
                settings,
                lambda reg: reg.add_scope(
                    args.code, occupation_code=args.occupation_code or "", occupation_name=args.occupation,
                    job=args.job or "", levels=levels, effective_from=_date(args.effective), actor=actor,
                ),
            )
        )  # fmt: skip
    elif args.action == "status":
        _print_json(
            _with_registry(
                settings,
                lambda reg: reg.set_status(
                    args.code, args.status, effective=_date(args.effective), reason=args.reason,
                    document_ref=args.document, actor=actor, merged_into=args.into,
                ),
            )
        )  # fmt: skip
    return 0


def _date(text: str | None) -> date:
    if not text:
        return today_utc8()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise errors.InvalidInput(
            f"日期格式应为 YYYY-MM-DD：{text}", f"dates are YYYY-MM-DD: {text}"
        ) from None


def cmd_template(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(batchfile.template_csv())
    return 0


def _user() -> str:
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="verify", description="职业技能等级证书查验服务 / certificate verification service"
    )
    p.add_argument("--version", action="version", version=f"verify {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP server (production: uvicorn, N workers)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("db", help="embedded PostgreSQL: start | stop | status | url | migrate")
    s.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    s.set_defaults(fn=cmd_db)

    s = sub.add_parser("codes", help="certificate numbers and institution codes")
    csub = s.add_subparsers(dest="codes_command", required=True)
    c = csub.add_parser("check", help="check a number; JSON on stdout; exit 0 valid, 1 invalid")
    c.add_argument("number")
    c.set_defaults(fn=cmd_codes_check)

    s = sub.add_parser("import", help="import a result batch (CSV or XLSX) for an institution")
    s.add_argument("file")
    s.add_argument(
        "--institution", required=True, help="institution code (positions 1-13, or the 8-digit 专项 code)"
    )
    s.set_defaults(fn=cmd_import)

    s = sub.add_parser("publish", help="publish a batch: its certificates become publicly verifiable")
    s.add_argument("batch")
    s.set_defaults(fn=cmd_publish)

    s = sub.add_parser(
        "keys", help="signing keys: list | generate | rotate | retire <kid> | compromise <kid> | dev"
    )
    s.add_argument("action", choices=["list", "generate", "rotate", "retire", "compromise", "dev"])
    s.add_argument("kid", nargs="?")
    s.add_argument("--not-before", help="generate: start of the signing window (ISO 8601)")
    s.add_argument("--not-after", help="generate: end of the signing window (ISO 8601)")
    s.add_argument("--note")
    s.set_defaults(fn=cmd_keys)

    s = sub.add_parser("resign", help="re-sign every certificate signed by a key (after a compromise)")
    s.add_argument("--kid", required=True)
    s.set_defaults(fn=cmd_resign)

    for name, helptext in (("revoke", "revoke a certificate (rule 35)"),
                           ("supersede", "mark a certificate superseded by a corrected/re-issued one"),
                           ("reinstate", "reverse a revocation after review (复核)")):  # fmt: skip
        s = sub.add_parser(name, help=helptext)
        s.add_argument("number")
        if name == "supersede":
            s.add_argument("--by", required=True, help="the certificate that replaces it")
        s.add_argument("--category", required=True, help="fraud | invalid_result | data_error | out_of_scope | "
                       "institution_violation | other")  # fmt: skip
        s.add_argument("--reason", required=True, help="article and facts of the decision")
        s.add_argument("--decided-by", required=True, help="the deciding body (评价机构 or 监管部门)")
        s.add_argument("--document", help="document reference (文号)")
        s.add_argument("--served", help="how the decision was served or announced")
        s.add_argument("--effective", help="YYYY-MM-DD (default today)")
        s.set_defaults(fn=cmd_event)

    s = sub.add_parser(
        "qr", help="QR code of a published certificate: --url prints its URL, --out writes PNG/SVG"
    )
    s.add_argument("number", nargs="?")
    s.add_argument("--out", help="file.png or file.svg (300 dpi, 30 mm symbol)")
    s.add_argument("--url", action="store_true", help="print the URL the QR encodes")
    s.add_argument("--all", action="store_true", help="with --url: every published certificate, one per line")
    s.set_defaults(fn=cmd_qr)

    s = sub.add_parser("seed", help="generate synthetic institutions and certificates into the database")
    s.add_argument("--institutions", type=int, default=20)
    s.add_argument("--certificates", type=int, default=1000)
    s.add_argument("--seed", type=int, default=None, help="random seed (repeatable data)")
    s.add_argument("--unpublished", action="store_true", help="leave the generated batches unpublished")
    s.set_defaults(fn=cmd_seed)

    s = sub.add_parser("demo", help="print the demo certificates as JSON lines")
    s.add_argument("--ensure", action="store_true", help="load the demo data first if it is missing")
    s.add_argument("--summary", action="store_true", help="print a short human summary instead of JSON lines")
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser(
        "institutions", help="institution registry: show | token | add | scope | status  <code>",
        description="show: the public record; token: mint an upload API token; add: file a new institution; "
        "scope: file scope rows (增量备案); status: record a status decision (suspended, terminated, merged, active)",
    )  # fmt: skip
    s.add_argument("action", choices=["show", "token", "add", "scope", "status"])
    s.add_argument("code")
    s.add_argument("--label", default="api", help="token: a label for the token")
    s.add_argument(
        "--kind", help="add: employer | social | technical_school | college | appraisal | special_assessor"
    )
    s.add_argument("--name", help="add: the filed name")
    for flag in ("short-name", "filing-number", "filing-authority", "filing-date", "filing-expires", "parent-code",
                 "address", "phone", "email", "website", "complaint-channel"):  # fmt: skip
        s.add_argument(f"--{flag}", help="add: institution field")
    s.add_argument("--occupation-code", help="scope: 职业编码 D-DD-DD-DD (empty for 专项)")
    s.add_argument("--occupation", help="scope: 职业名称 (or 专项 project name)")
    s.add_argument("--job", help="scope: 工种/职业方向 (empty = --)")
    s.add_argument("--levels", help="scope: comma-separated levels 1-5 (omit for 专项)")
    s.add_argument("--effective", help="scope/status: effective date YYYY-MM-DD (default today)")
    s.add_argument("--status", help="status: active | suspended | terminated | merged")
    s.add_argument("--reason", default="", help="status: article and facts of the decision")
    s.add_argument("--document", help="status: document reference (文号)")
    s.add_argument("--into", help="status merged: the absorbing institution's code")
    s.set_defaults(fn=cmd_institutions)

    s = sub.add_parser("template", help="print the batch CSV template")
    s.set_defaults(fn=cmd_template)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        code: int = args.fn(settings, args)
        return code
    except errors.VerifyError as exc:
        body = exc.to_json()
        print(json.dumps(body, ensure_ascii=False, indent=2, default=str), file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `verify demo | head`: the reader left; nothing more to say.
        sys.stderr.close()
        return 0
