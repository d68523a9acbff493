"""``verify verify-batch`` (a verifier's file, against this database or a remote service) and
``verify receipt check`` (a receipt, offline, with the JWKS alone).

A file larger than one request's row cap is sent in parts, each a JSON request of its own with its
own receipt; the verdicts are written together to ``--out`` (XLSX, CSV or JSON by its suffix) and
every part's receipt and exact request body to ``<out>.receipts.jsonl``, so that each part can be
rechecked later (``POST /api/v1/receipts/recheck`` with that body as the file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from verify.cli.common import Progress, print_json, read_file, with_registry
from verify.config import Settings
from verify.domain import errors
from verify.domain.batch_verification import InputRow, counts
from verify.files.verdict_sheet import to_csv, to_xlsx
from verify.files.verify_batch import read_verify_file
from verify.services.batch_verification import BatchAnswer, check_offline, request_digest
from verify.services.registry import Registry
from verify.services.status_view import StatusView

# The whole file is read locally first (to split it); a CLI user may send far more than one request.
MAX_FILE_ROWS = 1_000_000
HTTP_TIMEOUT = 120.0

Send = Callable[[bytes], Awaitable[dict[str, Any]]]


def part_body(rows: Sequence[InputRow]) -> bytes:
    """One part as the JSON request the API takes (``{"rows": [...]}``, column keys and the
    verifier's own columns), byte for byte what the part's receipt digests."""
    items = []
    for r in rows:
        item: dict[str, str] = dict(r.columns)
        for key in ("qr", "number", "name", "id_type", "id_number"):
            if getattr(r, key):
                item[key] = getattr(r, key)
        if r.claims.occupation:
            item["claimed_occupation"] = r.claims.occupation
        if r.claims.level:
            item["claimed_level"] = r.claims.level
        item["source_row"] = str(r.line)
        items.append(item)
    return json.dumps({"rows": items}, ensure_ascii=False, separators=(",", ":")).encode()


def _parts(rows: Sequence[InputRow], size: int) -> Iterator[Sequence[InputRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _remote(url: str, token: str) -> Send:
    endpoint = url.rstrip("/") + "/api/v1/verify-batch?filename=part.json"

    def post(body: bytes) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the user names the service's URL
            endpoint, data=body, method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:2000]
            raise errors.InvalidInput(
                f"服务拒绝了请求（HTTP {exc.code}）：{text}", f"the service refused (HTTP {exc.code}): {text}"
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise errors.Unavailable(f"无法连接 {url}：{exc}", f"cannot reach {url}: {exc}") from None

    async def send(body: bytes) -> dict[str, Any]:
        return await asyncio.to_thread(post, body)

    return send


def cmd_verify_batch(settings: Settings, args: argparse.Namespace) -> int:
    data = read_file(Path(args.file))
    rows = read_verify_file(data, Path(args.file).name, max_bytes=max(settings.max_upload_bytes, len(data)),
                            max_rows=MAX_FILE_ROWS)  # fmt: skip
    out = Path(args.out)
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in ("xlsx", "csv", "json"):
        raise errors.InvalidInput(
            "--out 须以 .xlsx、.csv 或 .json 结尾", "--out must end in .xlsx, .csv or .json"
        )
    size = min(args.part_rows, settings.batch_max_rows)
    progress = Progress(len(rows), enabled=args.progress or sys.stderr.isatty())

    async def run_all(send: Send) -> list[tuple[bytes, dict[str, Any]]]:
        done = []
        for part in _parts(rows, size):
            body = part_body(part)
            done.append((body, await send(body)))
            progress.advance(len(part))
        return done

    if args.url:
        if not args.token:
            raise errors.InvalidInput("使用 --url 时须给出 --token", "--url needs --token")
        answers = asyncio.run(run_all(_remote(args.url, args.token)))
    else:

        async def local(reg: Registry) -> list[tuple[bytes, dict[str, Any]]]:
            if not args.token:
                raise errors.InvalidInput(
                    "请用 --token 给出查验账户的令牌（verify accounts token）",
                    "give the verifier account's token with --token (verify accounts token)",
                )
            by = await reg.principal_for_token(args.token)
            assert reg.dsn is not None
            view = StatusView(reg.dsn, reg.pool, max_age=settings.status_max_age)
            await view.start()
            try:

                async def send(body: bytes) -> dict[str, Any]:
                    part = read_verify_file(body, "part.json", max_bytes=len(body) + 1, max_rows=size)
                    answer = await reg.verify_batch(
                        part, request_sha256=request_digest(body), by=by, view=view
                    )
                    return answer.to_json()

                return await run_all(send)
            finally:
                await view.stop()

        answers = with_registry(settings, local)
    results = [r for _, a in answers for r in a["results"]]
    receipts = [a["receipt"] for _, a in answers]
    merged = BatchAnswer(results, counts(results), receipts[0] if len(receipts) == 1 else {"parts": receipts})
    if suffix == "json":
        out.write_text(
            json.dumps({**merged.to_json(), "receipts": receipts}, ensure_ascii=False), encoding="utf-8"
        )
    elif suffix == "csv":
        out.write_bytes(to_csv(results))
    else:
        out.write_bytes(
            to_xlsx(results, merged.counts, receipts[0] if len(receipts) == 1 else _parts_sheet(receipts))
        )
    receipts_path = out.with_name(out.name + ".receipts.jsonl")
    with receipts_path.open("w", encoding="utf-8") as f:
        for body, answer in answers:
            f.write(
                json.dumps({"receipt": answer["receipt"], "request": body.decode()}, ensure_ascii=False)
                + "\n"
            )
    print_json({"rows": len(results), "counts": merged.counts, "parts": len(receipts), "out": str(out),
                "receipts": str(receipts_path)})  # fmt: skip
    return 0


def _parts_sheet(receipts: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"part {i + 1}": r["receipt_id"] for i, r in enumerate(receipts)}


def cmd_receipt_check(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when the receipt checks against the JWKS (and the results, when given), else 1."""
    receipt = read_file(Path(args.receipt))
    jwks_source = args.jwks
    if jwks_source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(jwks_source, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
                jwks = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise errors.Unavailable(f"无法读取 JWKS：{exc}", f"cannot read the JWKS: {exc}") from None
    else:
        try:
            jwks = json.loads(read_file(Path(jwks_source)))
        except ValueError:
            raise errors.BadFile("JWKS 不是 JSON", "the JWKS is not JSON") from None
    results = None
    if args.results:
        doc = json.loads(read_file(Path(args.results)))
        results = doc.get("results") if isinstance(doc, dict) else doc
    checked = check_offline(receipt, jwks if isinstance(jwks, dict) else {}, results)
    print_json({"ok": checked.ok, "reason": checked.reason,
                "receipt_id": (checked.receipt or {}).get("receipt_id")})  # fmt: skip
    return 0 if checked.ok else 1


def register(sub: Any) -> None:
    s = sub.add_parser(
        "verify-batch", help="verify a file of certificates (a verdict per row, signed receipts)"
    )
    s.add_argument("file", help="CSV, XLSX or JSON (docs/VERIFY-BATCH.md)")
    s.add_argument("--out", required=True, help="results file: .xlsx, .csv or .json")
    s.add_argument("--url", help="a remote service (default: this machine's database)")
    s.add_argument("--token", help="the verifier account's API token")
    s.add_argument(
        "--part-rows", type=int, default=10_000, help="rows per request (at most VERIFY_BATCH_MAX_ROWS)"
    )
    s.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    s.set_defaults(fn=cmd_verify_batch)
    r = sub.add_parser("receipt", help="batch-verification receipts")
    rs = r.add_subparsers(dest="receipt_command", required=True)
    c = rs.add_parser("check", help="check a receipt offline against the JWKS (exit 0 if it checks)")
    c.add_argument("receipt", help="the receipt JSON file")
    c.add_argument("--jwks", required=True, help="the JWKS file or URL (/.well-known/verify-keys.json)")
    c.add_argument(
        "--results", help="the results JSON (the answer, or its results list) to check against the root"
    )
    c.set_defaults(fn=cmd_receipt_check)
