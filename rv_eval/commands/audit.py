"""`rv-eval audit`: list the samples a person should look at, and record their marks."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  rv-eval audit runs/s1                               # writes runs/s1/audit.html
  rv-eval audit runs/s1 --format csv -o audit.csv     # the same list as CSV
  rv-eval audit runs/s1 --mark 3fa2c19d0b7e correct "boxed 1/2, gold 0.5" --mark 9c01d2e3f4a5 wrong
  rv-eval audit runs/s1 --apply audit.csv             # after filling the CSV's `mark` column

Listed: samples where rv-eval and plain math-verify disagree, whose reason is fallback, truncated
or hedged, or whose answer equals the gold but was found only by the fallback. Marks go to
OUT/overrides.jsonl: statistics, check, select-alpha, results and the report count them (reason
`override`), and `rv-eval regrade` never removes them.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `audit` sub-command."""
    p = subparsers.add_parser(
        "audit", help="samples a person should check; record their marks", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="results folder")
    p.add_argument("-o", "--output", type=Path, help="page or CSV to write (default: OUT/audit.html or OUT/audit.csv)")
    p.add_argument("--format", choices=("html", "csv"), help="html (default) or csv (default: from --output's suffix)")
    p.add_argument("--mark", nargs="+", action="append", metavar="ID VERDICT [NOTE]",
                   help="record a mark: a sample id from the list, correct|wrong, an optional note (repeatable)")
    p.add_argument("--apply", type=Path, metavar="AUDIT.csv", help="record the marks filled into an audit CSV")
    p.add_argument("--grade-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="time limit per math-verify check (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Record marks (--mark / --apply), or write the audit list."""
    from rv_eval.audit import marks_from_csv, marks_from_ids, parse_mark_word, write_audit
    from rv_eval.errors import UserError
    from rv_eval.overrides import add_marks
    from rv_eval.store import results_folder

    out = results_folder(args.out)
    if args.mark or args.apply:
        marks = []
        for spec in args.mark or []:
            if len(spec) not in (2, 3):
                raise UserError(f"--mark {' '.join(spec)}: expected ID VERDICT [NOTE]. "
                                "Fix: e.g. --mark 3fa2c19d0b7e correct \"boxed 1/2, gold 0.5\".")
            ok = parse_mark_word(spec[1])
            if ok is None:
                raise UserError("--mark: the verdict is empty. Fix: write `correct` or `wrong`.")
            marks += marks_from_ids(out, [(spec[0], ok, spec[2] if len(spec) == 3 else "", None)])
        if args.apply:
            marks += marks_from_csv(out, args.apply)
        path = add_marks(out, marks)
        print(f"{path}: recorded {len(marks)} marks")
        return 0
    fmt = args.format or ("csv" if args.output and args.output.suffix.lower() == ".csv" else "html")
    path, n = write_audit(out, args.output or out / f"audit.{fmt}", fmt, timeout_s=args.grade_timeout)
    print(f"{path}: {n} samples to look at")
    return 0
