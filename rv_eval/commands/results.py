"""`rv-eval results`: per model × task accuracy and counts of a results folder."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rv-eval results runs/demo
  rv-eval results runs/demo --format json > a.json   # deterministic: diff two runs
  rv-eval results runs/demo --format csv
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `results` sub-command."""
    p = subparsers.add_parser(
        "results", help="print per model × task results", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="results folder of `rv-eval run`")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the results."""
    from rv_eval.results import format_results

    print(format_results(args.out, args.format), end="")
    return 0
