"""`rv-eval check OUT --baseline NAME --candidate NAME`: the non-inferiority regression gate."""

from __future__ import annotations

import argparse
import json

from rv_eval import atomicio
from rv_eval.errors import CheckFailed, UserError
from rv_eval.stats.options import add_pool_option, add_tasks_option

EXAMPLES = """\
examples:
  rv-eval check runs/grid --baseline target --candidate s1vec@0.5
  rv-eval check runs/grid --baseline target --candidate s1vec@0.5 --margin 0.03 --tasks gsm8k_en,mgsm_ja
  rv-eval check runs/grid --baseline target --candidate s1vec@0.5 --pool 'bbh_en_all=bbh_en_*' --tasks bbh_en_all
  rv-eval check runs/new --baseline-from runs/release --baseline s1vec@0.5 --json verdict.json
exit codes: 0 pass, 1 fail (a regression, or too little data to rule one out: e.g. a task with
  fewer than 2 shared questions), 2 error
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `check` sub-command."""
    p = subparsers.add_parser(
        "check",
        help="regression gate: is the candidate non-inferior to the baseline on every task?",
        description=(
            "Per test task, the 95% paired-bootstrap CI of candidate - baseline over questions; a\n"
            "task passes when its lower end is above -MARGIN, the gate when every task passes.\n"
            "With --baseline-from, the baseline comes from another results folder (last release)\n"
            "and the candidate from OUT (new build). Prints a markdown summary (or --print json)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="results folder holding the candidate")
    p.add_argument("--baseline", required=True, help="baseline model name")
    p.add_argument("--candidate", help="candidate model name (default: --baseline, with --baseline-from)")
    p.add_argument(
        "--baseline-from", metavar="DIR", help="results folder holding the baseline (default: OUT)"
    )
    p.add_argument(
        "--margin", type=float, default=0.02, help="non-inferiority margin, fraction (default 0.02)"
    )
    add_tasks_option(p, "comma-separated test tasks (default: all of the baseline's)")
    add_pool_option(p)
    p.add_argument("--json", metavar="FILE", help="write the JSON verdict here")
    p.add_argument("--markdown", metavar="FILE", help="write the markdown summary here")
    p.add_argument(
        "--print",
        choices=["markdown", "json"],
        default="markdown",
        dest="print_format",
        help="what to print on stdout (default: markdown)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the gate, write/print the verdict; raise CheckFailed (exit 1) on a regression."""
    from rv_eval.stats import check, load_results
    from rv_eval.stats.pooling import apply_pools
    from rv_eval.stats.tables import jsonable
    from rv_eval.store import results_folder

    candidate = args.candidate or (args.baseline if args.baseline_from else None)
    if candidate is None:
        raise UserError("--candidate is missing. Fix: name the candidate model, or use --baseline-from.")
    atomicio.check_output_files(args.json, args.markdown)
    df = apply_pools(load_results(results_folder(args.out)), args.pool)
    base_df = apply_pools(load_results(results_folder(args.baseline_from)), args.pool) if args.baseline_from else None
    verdict = check(
        df,
        args.baseline,
        candidate,
        margin=args.margin,
        tasks=args.tasks,
        baseline_df=base_df,
        seed=args.seed,
    )
    verdict.baseline_source = args.baseline_from or args.out
    verdict.candidate_source = args.out
    text = json.dumps(jsonable(verdict.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)
    if args.json:
        atomicio.write_text(args.json, text + "\n")
    if args.markdown:
        atomicio.write_text(args.markdown, verdict.to_markdown())
    print(text if args.print_format == "json" else verdict.to_markdown())
    if not verdict.passed:
        failed = [t.task for t in verdict.tasks if not t.passed]
        raise CheckFailed(
            f"{candidate} is not shown non-inferior to {args.baseline} (margin {args.margin:g}) "
            f"on {', '.join(failed)}"
        )
    return 0
