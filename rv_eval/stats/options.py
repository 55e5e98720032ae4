"""Command-line options shared by the statistics commands (`stats`, `check`, `select-alpha`).

Kept free of pandas and scipy: the CLI imports every command module to build its parser.
"""

from __future__ import annotations

import argparse

POOL_HELP = "also score the test tasks matching PATTERN as one task NAME (repeatable)"


def csv_list(text: str) -> list[str]:
    """Split a comma-separated command-line value ("a,b") into names."""
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_pool(spec: str) -> tuple[str, str]:
    """Parse a command-line pool "NAME=PATTERN" (e.g. "bbh_en_all=bbh_en_*")."""
    name, sep, pattern = spec.partition("=")
    if not sep or not name.strip() or not pattern.strip():
        raise argparse.ArgumentTypeError(f"{spec!r} is not NAME=PATTERN (e.g. 'bbh_en_all=bbh_en_*')")
    return name.strip(), pattern.strip()


def add_out_argument(p: argparse.ArgumentParser, help: str = "results folder written by `rv-eval run`") -> None:
    """The positional results folder OUT."""
    p.add_argument("out", metavar="OUT", help=help)


def add_tasks_option(p: argparse.ArgumentParser, help: str) -> None:
    """`--tasks a,b`: a comma-separated list of task names."""
    p.add_argument("--tasks", type=csv_list, help=help)


def add_pool_option(p: argparse.ArgumentParser) -> None:
    """`--pool NAME=PATTERN` (repeatable): score several test tasks as one."""
    p.add_argument("--pool", action="append", type=parse_pool, metavar="NAME=PATTERN", help=POOL_HELP)
