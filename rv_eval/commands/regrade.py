"""`rv-eval regrade`: re-grade stored samples without regenerating; import lm-eval sample logs."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  rv-eval regrade runs/demo
  rv-eval regrade runs/other --import lmeval_out/my-model/samples_gsm8k_test_en_2026-01-01T00-00-00.jsonl \\
      --model my-model --seed 0

Imported files become cells (model × task × seed) of OUT; the task comes from the file name
(samples_<task>_<date>.jsonl) unless --task is given, the model from the folder name unless
--model is given. Every response is graded in worker processes under a hard time limit
(--grade-timeout); marks a person made with `rv-eval audit` (OUT/overrides.jsonl) are kept.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `regrade` sub-command."""
    p = subparsers.add_parser(
        "regrade", help="re-grade stored samples / import lm-eval logs", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="results folder")
    p.add_argument("--import", dest="imports", nargs="+", type=Path, metavar="SAMPLES.jsonl",
                   help="lm-eval --log_samples files to import (instead of re-grading)")
    p.add_argument("--model", help="model name for imported files (default: their folder name)")
    p.add_argument("--task", help="task name for imported files (default: from the file name)")
    p.add_argument("--seed", type=int, default=0, help="seed recorded for imported files (default 0)")
    p.add_argument("--unsafe-code-execution", action="store_true",
                   help="grade code answers WITHOUT the bubblewrap sandbox when it cannot run (docs/security.md)")
    p.add_argument("--grade-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="hard grading time limit per response (reason `timeout` past it; default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Re-grade or import, then print a summary."""
    from rv_eval.regrade import import_samples, regrade
    from rv_eval.store import load_run_meta

    if args.unsafe_code_execution:
        from rv_eval.grading.sandbox import allow_unsafe_code_execution

        allow_unsafe_code_execution()
    if args.imports:
        keys = import_samples(args.out, args.imports, model=args.model, seed=args.seed, task=args.task,
                              timeout_s=args.grade_timeout)
        print(f"{args.out}: imported {len(keys)} cells: {', '.join(keys)}")
        return 0
    load_run_meta(args.out)  # a results folder, or one clear error (never create an empty one)
    s = regrade(args.out, timeout_s=args.grade_timeout)
    print(f"{args.out}: re-graded {s.samples} samples in {s.cells} cells; {s.changed} verdicts changed")
    return 0
