"""`rv-eval run`: evaluate every model × task × seed of a grid file, resumably."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rv-eval run --model-grid examples/tiny_cpu.yaml
  rv-eval run --model-grid grid.yaml --out runs/s1 --shard 0/4      # one job of a 4-way array
  rv-eval run --model-grid grid.yaml --materialize                  # write α-variants, load each
  rv-eval run --model-grid grid.yaml --executor ray --ray-address auto   # engines on a Ray cluster

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
    p.add_argument("--unsafe-code-execution", action="store_true",
                   help="grade code answers WITHOUT the bubblewrap sandbox when it cannot run (docs/security.md)")
    p.add_argument("--grade-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="hard grading time limit per response (reason `timeout` past it; default 10)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="where cells run: this process (default) or a Ray cluster (one actor per engine)")
    p.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="Ray cluster to use with --executor ray (default: auto, the cluster of this node)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the grid and print what was done."""
    from rv_eval.executors import get_executor
    from rv_eval.grid import load_grid, parse_shard
    from rv_eval.report.console import end_of_run_table
    from rv_eval.runner import run_grid

    if args.unsafe_code_execution:
        from rv_eval.grading.sandbox import allow_unsafe_code_execution

        allow_unsafe_code_execution()
    shard = parse_shard(args.shard) if args.shard else None
    grid = load_grid(args.model_grid, out=args.out)
    _check_code_sandbox(grid)
    executor = get_executor(args.executor, args.ray_address)
    s = run_grid(grid, shard=shard, materialize=args.materialize, progress=not args.no_progress,
                 grade_timeout_s=args.grade_timeout, executor=executor)
    print(f"{grid.out}: ran {len(s.ran)} cells, skipped {s.skipped} finished, "
          f"{s.selected} in this shard of {s.total} ({s.seconds:.1f} s)")
    print(end_of_run_table(grid.out), end="")
    return 0


def _check_code_sandbox(grid) -> None:
    """Refuse before any model loads when a code task's answers could not be graded in the sandbox."""
    from rv_eval.grading.sandbox import require_sandbox
    from rv_eval.tasks import task_info

    if any(task_info(t.name).kind == "code" for t in grid.tasks):
        require_sandbox()
