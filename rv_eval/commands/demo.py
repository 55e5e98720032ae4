"""`rv-eval demo`: build tiny models, sweep a reasoning vector, evaluate, grade, report (CPU, offline)."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rv-eval demo --out runs/demo            # about a minute on 2 CPU cores
  rv-eval demo --out runs/demo            # again: finished cells are skipped
  rv-eval demo --out runs/demo-small --limit 4 --seeds 0,1
  rv-eval results runs/demo --format json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` sub-command."""
    p = subparsers.add_parser(
        "demo", help="run the whole pipeline on tiny local models", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="output folder (models, grid.yaml, cells, report.html)")
    # defaults live in rv_eval.demo.DemoSettings (imported only when the command runs)
    p.add_argument("--limit", type=int, default=None, help="questions per task (default: all, 40 test and 24 dev)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the end-of-run table (accuracy [95% CI], fidelity) and the report path."""
    from dataclasses import replace
    from pathlib import Path

    from rv_eval.demo import DemoSettings, run_demo, summary_text
    from rv_eval.errors import UserError

    settings = DemoSettings()
    if args.seeds is not None:
        try:
            settings = replace(settings, seeds=tuple(int(x) for x in args.seeds.split(",")))
        except ValueError:
            raise UserError(f"--seeds {args.seeds!r}: expected comma-separated integers. Fix: e.g. --seeds 0,1") from None
    if args.limit is not None:
        if args.limit < 1:
            raise UserError(f"--limit {args.limit}: must be >= 1. Fix: e.g. --limit 4")
        settings = replace(settings, limit=args.limit)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out {args.out} is a file, not a folder. Fix: pass a new folder (or an earlier demo's).")
    s, report = run_demo(Path(args.out), settings, progress=not args.no_progress)
    print(f"{args.out}: ran {len(s.ran)} cells, skipped {s.skipped} finished ({s.seconds:.1f} s)")
    print(summary_text(Path(args.out)), end="")
    print(f"report: {report}")
    return 0
