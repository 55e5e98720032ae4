"""`rv-eval run`: evaluate every model × task × seed of a grid file, resumably."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rv-eval run --model-grid examples/tiny_cpu.yaml
  rv-eval run --model-grid grid.yaml --out runs/s1 --shard 0/4      # one job of a 4-way array
  rv-eval run --model-grid grid.yaml --materialize                  # write α-variants, load each

Re-running the same grid skips finished cells; cells whose configuration changed
(sampling, task/prompt/data, model weights, seed) are re-run. Shards write into the
same folder safely; their union is the full grid.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` sub-command."""
    p = subparsers.add_parser(
        "run", help="run a model grid (resumable)", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model-grid", required=True, metavar="GRID.yaml", help="grid file")
    p.add_argument("--out", help="results folder (default: the grid's `out`)")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (0-based), e.g. 0/4")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--materialize", action="store_true", default=None,
                   help="write α-variant checkpoints and load each (default: α applied in place)")
    g.add_argument("--in-place", dest="materialize", action="store_false",
                   help="apply α in the live engine (the default unless the grid says otherwise)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the grid and print what was done."""
    from rv_eval.grid import load_grid, parse_shard
    from rv_eval.report.console import end_of_run_table
    from rv_eval.runner import run_grid

    shard = parse_shard(args.shard) if args.shard else None
    grid = load_grid(args.model_grid, out=args.out)
    s = run_grid(grid, shard=shard, materialize=args.materialize, progress=not args.no_progress)
    print(f"{grid.out}: ran {len(s.ran)} cells, skipped {s.skipped} finished, "
          f"{s.selected} in this shard of {s.total} ({s.seconds:.1f} s)")
    print(end_of_run_table(grid.out), end="")
    return 0
