"""`rv-eval stats OUT`: per model x task accuracy with CIs, and paired tests against a baseline."""

from __future__ import annotations

import argparse

from rv_eval import atomicio
from rv_eval.stats.options import add_out_argument, add_pool_option, add_tasks_option

EXAMPLES = """\
examples:
  rv-eval stats runs/demo
  rv-eval stats runs/grid --baseline target --correction bh --json runs/grid/stats.json
  rv-eval stats runs/grid --baseline target --tasks aime24_ja,aime24_en
  rv-eval stats runs/grid --baseline target --pool 'bbh_en_all=bbh_en_*'
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `stats` sub-command."""
    p = subparsers.add_parser(
        "stats",
        help="accuracy with question-clustered CIs; paired tests against a baseline",
        description=(
            "Per model x task: accuracy over seeds and samples with a question-clustered 95% CI,\n"
            "seed-to-seed sd, pass@k, maj@k and language fidelity; with several test tasks, each\n"
            "model's macro average over them (stratified bootstrap over questions). With --baseline: paired\n"
            "differences (CI inverting the test), p-values (sign-flip / McNemar score test)\n"
            "corrected across the grid and tasks (Holm or BH), and minimum detectable effects."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_out_argument(p)
    p.add_argument("--baseline", help="model name to compare every other model with")
    p.add_argument("--correction", choices=["holm", "bh", "none"], default="holm", help="default: holm")
    add_tasks_option(p, "comma-separated task names (default: all)")
    add_pool_option(p)
    p.add_argument("--json", metavar="FILE", help="also write the tables as JSON")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap / permutation draws")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary (and paired) tables; optionally write them as JSON."""
    from rv_eval.report.console import order_like_report
    from rv_eval.stats import load_results, macro_average, paired_compare, summarize
    from rv_eval.stats.loading import filter_tasks
    from rv_eval.stats.pooling import apply_pools
    from rv_eval.stats.tables import format_macro, format_paired, format_summary, jsonable
    from rv_eval.store import load_run_meta, results_folder

    atomicio.check_output_files(args.json)
    df = apply_pools(load_results(results_folder(args.out)), args.pool)
    df = filter_tasks(df, args.tasks)
    models = [m["name"] for m in load_run_meta(args.out).models]
    # the paired tests first: a mistyped --baseline is an error before anything is printed
    paired = paired_compare(df, args.baseline, correction=args.correction, seed=args.seed) if args.baseline else None
    summary = order_like_report(summarize(df), df, models)  # grid order, test tasks first: as the report
    print(format_summary(summary))
    result = {"summary": jsonable(summary)}
    pooled = {name for name, _ in args.pool or []}  # a pool repeats its tasks' questions: leave it out
    test_tasks = sorted(set(df.loc[df["split"] == "test", "task"].unique()) - pooled)
    if len(test_tasks) > 1:
        macro = macro_average(df, test_tasks, seed=args.seed)
        print(format_macro(macro))
        result["macro"] = jsonable(macro)
    if paired is not None:
        paired = order_like_report(paired, df, models)
        print(format_paired(paired))
        result["paired"] = jsonable(paired)
    if args.json:
        atomicio.write_json(args.json, result, allow_nan=False)
    return 0
