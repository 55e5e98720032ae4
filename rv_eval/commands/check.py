"""`rv-eval check OUT --baseline NAME --candidate NAME`: the non-inferiority regression gate."""

from __future__ import annotations

import argparse
import json
import sys

from rv_eval import atomicio
from rv_eval.errors import CheckFailed, UserError
from rv_eval.stats.options import add_pool_option, add_tasks_option

EXAMPLES = """\
examples:
  rv-eval check runs/grid --baseline target --candidate s1vec@0.5
  rv-eval check runs/grid --baseline target --candidate s1vec@0.5 --margin 0.03 --tasks gsm8k_en,mgsm_ja
  rv-eval check runs/grid --baseline target --candidate s1vec@0.5 --pool 'bbh_en_all=bbh_en_*' --tasks bbh_en_all
  rv-eval check runs/new --baseline-from runs/release --baseline s1vec@0.5 --json verdict.json
exit codes: 0 pass (non-inferiority shown on every task), 1 regression (a task significantly
  worse than baseline - margin), 3 inconclusive (neither; --inconclusive pass|fail maps it to
  0 or 1), 2 error. Without --margin each task is judged at its design margin: 80% power to
  pass an equal candidate and to flag a drop of twice the margin (docs/stats.md).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `check` sub-command."""
    p = subparsers.add_parser(
        "check",
        help="regression gate: is the candidate non-inferior to the baseline on every task?",
        description=(
            "Per test task, the 95% paired CI of candidate - baseline over questions (inverting the\n"
            "paired test): pass when its lower end is above -MARGIN, regression when its upper end\n"
            "is below -MARGIN, else inconclusive (it then says what would decide it).\n"
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
        "--margin",
        type=float,
        default=None,
        help="non-inferiority margin, fraction (default: each task's design margin at its questions and seeds)",
    )
    p.add_argument(
        "--inconclusive",
        choices=["pass", "fail"],
        help="exit 0 (pass) or 1 (fail) instead of 3 when the verdict is inconclusive",
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
    p.add_argument("--seed", type=int, default=0, help="seed of the sign-flip draws")
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
    return _exit_code(verdict, candidate, args)


def _exit_code(verdict, candidate: str, args: argparse.Namespace) -> int:
    """0 pass, 1 regression (CheckFailed), 3 inconclusive (or what --inconclusive maps it to)."""
    if verdict.verdict == "regression":
        bad = [t.task for t in verdict.tasks if t.verdict == "regression"]
        raise CheckFailed(
            f"{candidate} is significantly worse than {args.baseline} minus the margin on {', '.join(bad)}"
        )
    if verdict.verdict == "inconclusive":
        open_tasks = [t for t in verdict.tasks if t.verdict == "inconclusive"]
        hints = "; ".join(f"{t.task}: {t.decide_hint()}" for t in open_tasks)
        if args.inconclusive == "fail":
            raise CheckFailed(f"inconclusive, counted as a failure (--inconclusive fail). {hints}")
        print(f"rv-eval: check inconclusive: {hints}", file=sys.stderr)
        return 0 if args.inconclusive == "pass" else 3
    return 0
