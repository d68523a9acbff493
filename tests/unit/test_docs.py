"""The repository's docs stand alone: nothing refers to a file outside it, every relative link and
every cited section exists, and every rule number a test or the code cites is in docs/RULES.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".json", ".html", ".js", ".css", ".toml", ".sql", ".txt", ""}


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    paths = [ROOT / line for line in out.splitlines()]
    return [p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES and "vendor" not in p.parts]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""


OUTSIDE = re.compile(
    r"\.\./shared|/work/|DEVELOPERS\.md|ANCHORS|STYLE-MODELS|FRONTEND-NOTES"
    r"|(?<![\w/])(?:RULES|SECURITY|ARCHITECTURE)\.md|(?<![\w/.])RULES §"
)


def test_nothing_refers_to_a_file_outside_the_repository() -> None:
    found = []
    for path in _tracked():
        # Applied migrations never change (their checksum is checked), so an old comment of theirs
        # that says "RULES §2.6" stays: docs/RULES.md keeps that section for it.
        if path == Path(__file__) or path.suffix == ".sql":
            continue
        for n, line in enumerate(_read(path).splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not found, "\n".join(found)


def test_relative_links_in_the_docs_resolve() -> None:
    for path in [ROOT / "README.md", ROOT / "keys" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(path)):
            if "://" in target:
                continue
            assert (path.parent / target).exists(), f"{path.relative_to(ROOT)} links to missing {target}"


def _sections(doc: str) -> set[str]:
    return set(
        re.findall(r"^#+ §?(\d+(?:\.\d+)?)\b", (ROOT / "docs" / doc).read_text(encoding="utf-8"), re.M)
    )


@pytest.mark.parametrize("doc", ["RULES.md", "SECURITY.md", "QR-FORMAT.md"])
def test_cited_sections_exist(doc: str) -> None:
    have = _sections(doc)
    cited = re.compile(rf"docs/{re.escape(doc)} §(\d+(?:\.\d+)?)")
    for path in _tracked():
        for section in cited.findall(_read(path)):
            assert section in have, f"{path.relative_to(ROOT)} cites docs/{doc} §{section}"


def test_every_rule_a_test_names_is_stated_in_rules_md() -> None:
    rules = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    stated = {int(n) for n in re.findall(r"^\| (\d+) \| (?:MUST|SHOULD)", rules, re.M)}
    assert stated == set(range(1, 77))
    named = set()
    for path in (ROOT / "tests").rglob("*.py"):
        named |= {int(n) for n in re.findall(r"def test_rule_(\d+)", _read(path))}
    assert named and named <= stated


def test_sections_cited_by_the_migrations_exist() -> None:
    have = _sections("RULES.md")
    for path in (ROOT / "verify" / "db" / "migrations").glob("*.sql"):
        for section in re.findall(r"RULES §(\d+(?:\.\d+)?)", _read(path)):
            assert section in have, f"{path.name} cites RULES §{section}"


def _rule_rows() -> dict[int, tuple[str, str]]:
    """Rule number -> (level, status cell) from docs/RULES.md §7."""
    rules = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8").replace("\\|", "/")  # escaped pipes
    rows = re.findall(r"^\| (\d+) \| (MUST|SHOULD)[^|]* \|.*\| ([^|]*) \|\s*$", rules, re.M)
    return {int(n): (level, status.strip()) for n, level, status in rows}


def test_the_rules_summary_table_counts_the_status_cells() -> None:
    rows = _rule_rows()
    assert set(rows) == set(range(1, 77))
    counts: dict[tuple[str, str], int] = {}
    for level, status in rows.values():
        state = "implemented" if status.startswith("implemented") else status.split(":")[0]
        assert state in {"implemented", "partly", "not yet"}, status
        counts[level, state] = counts.get((level, state), 0) + 1
    rules = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    for level in ("MUST", "SHOULD"):
        row = [counts.get((level, s), 0) for s in ("implemented", "partly", "not yet")]
        assert f"| {level} | {row[0]} | {row[1]} | {row[2]} |" in rules, (level, row)


def test_every_test_an_implemented_rule_cites_exists() -> None:
    tests = "".join(_read(p) for p in (ROOT / "tests").rglob("*.py"))
    for number, (_, status) in _rule_rows().items():
        for prefix in re.findall(r"`(test_rule_[0-9a-z_]+?)_?\*?`", status):
            assert f"def {prefix}" in tests, f"rule {number} cites {prefix}, which no test defines"
