"""`rv-eval report`: the self-contained HTML report of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from rv_eval import atomicio

EXAMPLES = """\
examples:
  rv-eval report runs/demo                              # -> reports/demo.html, baseline from run.json
  rv-eval report runs/s1 --baseline ezo-32b -o reports/s1.html
  rv-eval report runs/big --response-budget 40000000    # smaller file: shorter responses

The file needs no network: open it from disk, attach it to a review or publish it. Deep links:
  reports/s1.html#m=<model>&t=<task>&q=<question id>
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` sub-command."""
    p = subparsers.add_parser(
        "report",
        help="write the leaderboard-style HTML report of a run",
        description="Write one self-contained HTML file from a run folder: leaderboard with CIs and\n"
        "significance markers, α-sweep charts, per-question drill-down, run metadata.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="run folder written by `rv-eval run` (holds run.json)")
    p.add_argument("--baseline", metavar="NAME", help="model to compare against (default: the run's baseline)")
    p.add_argument("-o", "--output", metavar="PATH", help="HTML file to write (default: reports/<OUT name>.html)")
    p.add_argument("--max-response-chars", type=int, default=6000, metavar="N",
                   help="longest response kept whole; longer ones keep head and tail (default: 6000)")
    p.add_argument("--response-budget", type=int, default=100_000_000, metavar="CHARS",
                   help="all responses together stay under this many characters: the per-response cap "
                   "shrinks to fit, never below 40 (default: 100000000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build and write the report; print where it went."""
    from rv_eval.errors import UserError
    from rv_eval.report import ReportOptions, write_report
    from rv_eval.store import results_folder

    if args.max_response_chars < 1 or args.response_budget < 1:
        raise UserError("--max-response-chars and --response-budget must be positive. Fix: pass a number ≥ 1.")
    output = Path(args.output) if args.output else Path("reports") / f"{Path(args.out).resolve().name}.html"
    atomicio.check_output_files(output)
    opts = ReportOptions(max_response_chars=args.max_response_chars, response_budget_chars=args.response_budget,
                         min_response_chars=min(40, args.max_response_chars))
    path = write_report(results_folder(args.out), output, baseline=args.baseline, options=opts)
    print(f"{path}  ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
