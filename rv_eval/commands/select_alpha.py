"""`rv-eval select-alpha OUT --vector NAME`: choose α on held-out data, report its honest score."""

from __future__ import annotations

import argparse

from rv_eval import atomicio
from rv_eval.stats.options import add_out_argument, add_tasks_option

EXAMPLES = """\
examples:
  rv-eval select-alpha runs/grid --vector s1vec
  rv-eval select-alpha runs/grid --vector s1vec --macro --tasks aime24_ja,mgsm_ja
  rv-eval select-alpha runs/grid --vector s1vec --json runs/grid/alpha.json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `select-alpha` sub-command."""
    p = subparsers.add_parser(
        "select-alpha",
        help="choose α on dev pools / cross-fitted folds; show the optimism of best-on-test",
        description=(
            "Choose the vector's α per test task (or one α for the macro-average over --tasks) on\n"
            "the task's dev pool; ties go to the smaller |α|. Tasks without a dev pool are\n"
            "cross-fitted over the split manifest's folds (choose on k-1 folds, score the held-out\n"
            "fold). The honest estimate is shown next to the naive best-on-test score."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_out_argument(p)
    p.add_argument("--vector", required=True, help="vector name (the grid's α-variants of it)")
    add_tasks_option(p, "comma-separated test task names (default: all)")
    p.add_argument("--macro", action="store_true", help="one α for the macro-average over the tasks")
    p.add_argument("--json", metavar="FILE", help="also write the selection as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the selection table; optionally write it as JSON."""
    from rv_eval.stats import load_results, select_alpha
    from rv_eval.stats.tables import format_selection, jsonable
    from rv_eval.store import results_folder

    atomicio.check_output_files(args.json)
    selection = select_alpha(load_results(results_folder(args.out)), args.vector, tasks=args.tasks, macro=args.macro)
    print(format_selection(selection))
    if args.json:
        atomicio.write_json(args.json, jsonable(selection.to_dict()), allow_nan=False)
    return 0
