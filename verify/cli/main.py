"""``verify`` / ``python -m verify``: the command line, with the one error-to-exit-code mapping.

The CLI is a process entry point, so it is the place that reads the environment (once, into
Settings). Signing and other privileged work run here, never in the web process. Each command
group lives in its own module with its ``register`` function.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from verify import __version__
from verify.cli import (
    accounts,
    audit,
    bans,
    batches,
    certificates,
    data,
    institutions,
    keys,
    legacy,
    photos,
    render,
    server,
    verification,
)
from verify.cli.common import Interrupted
from verify.config import Settings
from verify.domain import errors

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
    errors.AuditChainBroken: 8,  # `verify audit check`: the log was tampered with (a Conflict otherwise)
}

COMMAND_GROUPS = (
    accounts,
    server,
    certificates,
    batches,
    keys,
    data,
    institutions,
    audit,
    legacy,
    bans,
    verification,
    render,
    photos,
)


def exit_code(exc: errors.VerifyError) -> int:
    return errors.mapped(exc, EXIT_CODES, 1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="verify", description="职业技能等级证书查验服务 / certificate verification service"
    )
    p.add_argument("--version", action="version", version=f"verify {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
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
    except Interrupted as exc:
        print(f"interrupted ({exc}); nothing more was written", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything is closed by now (pool, transaction, helper processes terminated). Exit at once:
        # the interpreter's exit would join the process pool's manager thread, which some Python
        # 3.11 releases (Debian 12's 3.11.2) deadlock on after its workers were terminated.
        os._exit(128 + exc.signum)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `verify demo | head`: the reader left; nothing more to say.
        sys.stderr.close()
        return 0
