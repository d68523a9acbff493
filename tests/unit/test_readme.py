"""README examples run: the configuration table matches the settings, the shown commands behave."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from verify import cli
from verify.config import SETTINGS_TABLE

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_configuration_table_lists_every_setting() -> None:
    rows = re.findall(r"^\| `(VERIFY_[A-Z_]+)` \| ([^|]+) \|", README, flags=re.M)
    documented = {name: default.strip() for name, default in rows}
    assert list(documented) == [s.env for s in SETTINGS_TABLE]
    for s in SETTINGS_TABLE:
        shown = documented[s.env]
        assert shown == (f"`{s.default}`" if s.default else "(empty)"), s.env


def _examples() -> list[tuple[list[str], int]]:
    found = re.findall(r"^\$ verify (codes check .+)\n# exit (\d)", README, flags=re.M)
    return [(shlex.split(cmd), int(code)) for cmd, code in found]


def test_readme_has_examples() -> None:
    assert len(_examples()) >= 3


@pytest.mark.parametrize(("argv", "expected"), _examples())
def test_readme_codes_examples_exit_as_documented(
    argv: list[str], expected: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == expected
    assert capsys.readouterr().out.strip().startswith("{")


def test_every_cli_command_in_readme_exists() -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    names = set(getattr(subparsers, "choices", {}))
    for cmd in re.findall(r"^\| `verify ([\w-]+)", README, flags=re.M):
        assert cmd in names, cmd
