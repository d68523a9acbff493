"""The command line (``verify``). Imports services and the domain; never SQL modules."""

from verify.cli.main import EXIT_CODES, build_parser, exit_code, main

__all__ = ["EXIT_CODES", "build_parser", "exit_code", "main"]
