"""Imports point down: domain modules never import the web framework, the database driver or the
environment (ARCHITECTURE.md). Walks the real source with ast, so a new violation fails here."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "verify"
DOMAIN = {"errors", "config", "codes", "reference", "ids", "names", "idkeys", "batchfile", "batch", "occupations",
          "ratelimit", "payload", "signing", "qr", "verification", "issuance", "snapshot"}  # fmt: skip
FORBIDDEN_FOR_DOMAIN = {"starlette", "asyncpg", "uvicorn", "httpx", "jinja2", "verify.store", "verify.service",
                        "verify.app", "verify.cli", "verify.runtime", "verify.asgi", "verify.cluster",
                        "verify.status", "verify.keyring", "verify.demo", "verify.seed"}  # fmt: skip
# Process entry points read settings from the environment; cluster only strips PG* variables from
# the environment it hands to initdb/pg_ctl (a child-process concern, not configuration).
ENV_READERS = {"cli", "asgi", "cluster"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _modules() -> dict[str, ast.AST]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in PACKAGE.glob("*.py")}


def _closure(name: str, modules: dict[str, ast.AST]) -> set[str]:
    """Every import reachable from a module, following imports of the package's own modules."""
    seen: set[str] = set()
    todo = [name]
    found: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for imported in _imports(modules[current]):
            found.add(imported)
            parts = imported.split(".")
            if parts[0] == "verify" and len(parts) > 1 and parts[1] in modules:
                todo.append(parts[1])
    return found


def test_domain_modules_import_nothing_from_the_outer_layers() -> None:
    modules = _modules()
    assert set(modules) >= DOMAIN, DOMAIN - set(modules)
    for name in DOMAIN:
        reachable = _closure(name, modules)
        bad = {i for i in reachable if any(i == f or i.startswith(f + ".") for f in FORBIDDEN_FOR_DOMAIN)}
        assert not bad, f"verify/{name}.py reaches {sorted(bad)}"


def test_the_closure_sees_through_the_package() -> None:
    # the check above is only as good as this: the status view reaches the driver through store
    assert "asyncpg" in _closure("status", _modules())


def test_only_entry_points_read_the_environment() -> None:
    for name, tree in _modules().items():
        uses_environ = any(
            isinstance(n, ast.Attribute)
            and n.attr in {"environ", "getenv"}
            and isinstance(n.value, ast.Name)
            and n.value.id == "os"
            for n in ast.walk(tree)
        )
        assert not uses_environ or name in ENV_READERS, f"verify/{name}.py reads os.environ"


def test_store_and_service_do_not_import_the_web_framework() -> None:
    modules = _modules()
    for name in ("store", "service", "institutions", "publication", "runtime", "seed", "demo"):
        assert not {i for i in _imports(modules[name]) if i.startswith("starlette")}, name


def test_sql_lives_in_store_only() -> None:
    # Other modules may hold SQL only where they orchestrate a transaction the store opened (seed/demo
    # bulk loaders); the web and CLI layers hold none.
    for name in (
        "app",
        "cli",
        "service",
        "institutions",
        "publication",
        "pages",
        "batch",
        "batchfile",
        "codes",
        "ids",
    ):
        source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        for keyword in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM"):
            assert keyword not in source.replace("FOR UPDATE", ""), f"{keyword!r} in verify/{name}.py"
