"""`rv-eval vector stats`: norms, sparsity, cosine similarity and rounding survival of a reasoning vector."""

from __future__ import annotations

import argparse
import json
import sys

from rv_eval.errors import UserError

EPILOG = """\
examples:
  rv-eval vector stats --pre Qwen2.5-32B --post s1-32B
  rv-eval vector stats --pre P --post Q --vs P2,Q2            # cosine similarity to v2 = Q2 - P2
  rv-eval vector stats --pre P --post Q --target T --alpha 0.5,1 --json > stats.json
  rv-eval vector stats --pre P --post Q --tensors              # one row per tensor

Columns: |v| (L2 norm of post - pre), |v|/|pre| (relative to the pre weights), zero% (deltas that are
exactly 0), cos(v,w) (with --vs), same@α (target weights left bit-identical by the α-variant after
rounding to the target dtype; needs --target and --alpha).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vector` command group (`vector stats`)."""
    p = subparsers.add_parser("vector", help="inspect reasoning vectors (stats)",
                              description="Inspect reasoning vectors v = post − pre.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="vector_command", metavar="SUBCOMMAND")
    s = sub.add_parser("stats", help="per tensor / per layer statistics of v = post − pre",
                       description="Per tensor and per layer: ‖v‖, ‖v‖/‖θ_pre‖, zero fraction, cosine to "
                                   "another vector, and per α the fraction of target weights unchanged.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--pre", required=True, help="checkpoint before reasoning training")
    s.add_argument("--post", required=True, help="checkpoint after reasoning training")
    s.add_argument("--vs", metavar="OTHER_PRE,OTHER_POST", help="another vector to compare with (cosine)")
    s.add_argument("--target", help="target model, for the unchanged-after-rounding fractions")
    s.add_argument("--alpha", help="comma-separated α values (with --target)")
    s.add_argument("--include", metavar="REGEX", help="only tensors matching REGEX")
    s.add_argument("--exclude", metavar="REGEX", help="leave out tensors matching REGEX")
    s.add_argument("--tensors", action="store_true", help="table rows per tensor instead of per layer")
    s.add_argument("--json", action="store_true", help="print the full statistics as JSON instead of a table")
    s.set_defaults(func=run_stats)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def run_stats(args: argparse.Namespace) -> int:
    """Compute and print the statistics."""
    from rv_eval.merge.spec import MergeSpec, check_refs, parse_alphas

    vs = None
    if args.vs:
        parts = [x for x in args.vs.split(",") if x]
        if len(parts) != 2:
            raise UserError(f"--vs {args.vs!r} must be OTHER_PRE,OTHER_POST. Fix: pass two checkpoints.")
        vs = (parts[0], parts[1])
    alphas = tuple(parse_alphas(args.alpha)) if args.alpha else ()
    if alphas and not args.target:
        raise UserError("--alpha needs --target (the fractions are of the target's weights). Fix: pass --target T.")
    MergeSpec(pre=args.pre, post=args.post, target=args.target, alphas=alphas, include=args.include,
              exclude=args.exclude, analysis_only=True, vocab="common-rows")  # the checks vector_stats makes
    check_refs({"pre": args.pre, "post": args.post, "target": args.target,
                "--vs pre": vs[0] if vs else None, "--vs post": vs[1] if vs else None})
    from rv_eval.merge.stats import format_table, vector_stats  # torch: only once the arguments are sound

    stats = vector_stats(args.pre, args.post, vs=vs, target=args.target, alphas=alphas,
                         include=args.include, exclude=args.exclude)
    print(json.dumps(stats, indent=2) if args.json else format_table(stats, per_tensor=args.tensors))
    return 0

