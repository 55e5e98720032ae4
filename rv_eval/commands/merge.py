"""`rv-eval merge`: write α-variants θ_target + α·(θ_post − θ_pre) from checkpoints or a recipe."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rv_eval.errors import UserError

if TYPE_CHECKING:  # torch is imported only when the command runs: other commands start fast
    from rv_eval.merge import MergeSpec

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  rv-eval merge --pre Qwen2.5-32B --post s1-32B --target EZO-Qwen2.5-32B-Instruct \\
      --alpha 0.25,0.5,1,2 --out variants/s1-ezo
  rv-eval merge merge/s1-32b_ezo-32b.yaml               # the same from a recipe
  rv-eval merge merge/tiny.yaml --out /tmp/tiny-variants  # command-line values override the recipe
  rv-eval merge --pre P --post Q --save-vector vectors/s1  # only save v = post - pre
  rv-eval merge --vector vectors/s1 --target T --alpha 1 --out variants/
  rv-eval merge ... --vocab common-rows                  # target has a larger vocabulary
  rv-eval merge ... --exclude 'lm_head|embed_tokens'     # leave some tensors as in the target

Output: OUT/alpha_<α> per α (alpha_0.5, alpha_1, alpha_-1), each a complete HF model folder with
rv_eval_merge.json (provenance). Every input tensor is read once for all α; complete variants are
skipped on a re-run (use --force to redo them); a killed run never leaves a finished-looking folder.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `merge` sub-command."""
    p = subparsers.add_parser(
        "merge", help="write α-variants target + α·(post − pre)",
        description="Write α-variants θ_target + α·(θ_post − θ_pre) (float32 math, rounded once) in one "
                    "streaming pass over safetensors checkpoints, from options or a recipe YAML.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", help="recipe YAML (merge/*.yaml); options below override its values")
    p.add_argument("--pre", help="checkpoint before reasoning training (folder or hub id)")
    p.add_argument("--post", help="checkpoint after reasoning training")
    p.add_argument("--target", help="model receiving the vector")
    p.add_argument("--vector", help="a vector saved with --save-vector (instead of --pre/--post)")
    p.add_argument("--alpha", help="comma-separated α values, e.g. 0.25,0.5,1,-1")
    p.add_argument("--out", help="output folder (one alpha_<α> subfolder per α)")
    p.add_argument("--dtype", choices=["bfloat16", "float16", "float32"],
                   help="output dtype (default: each tensor keeps the target's dtype)")
    p.add_argument("--vocab", choices=["error", "common-rows"], default=None,
                   help="when embedding rows differ: error (default) or apply the vector to the shared rows")
    p.add_argument("--skip-embeddings", action="store_true", default=None,
                   help="leave embed_tokens and lm_head as in the target")
    p.add_argument("--include", metavar="REGEX", help="apply the vector only to tensors matching REGEX")
    p.add_argument("--exclude", metavar="REGEX", help="leave tensors matching REGEX as in the target")
    p.add_argument("--save-vector", metavar="V", help="also write v = post − pre to the folder V")
    p.add_argument("--vector-dtype", choices=["float32", "bfloat16", "float16"], default=None,
                   help="dtype of the saved vector (default float32)")
    p.add_argument("--max-shard-size", help="largest output shard, e.g. 5GB (default)")
    p.add_argument("--chunk-elems", type=int, help="elements per streamed chunk (memory bound; default 262144)")
    p.add_argument("--force", action="store_true", default=None, help="redo α-variants that are already complete")
    p.set_defaults(func=run)


def spec_from_args(args: argparse.Namespace) -> MergeSpec:
    """A MergeSpec from the parsed options (a recipe's values, overridden by options given)."""
    from rv_eval.merge.spec import MergeSpec, load_recipe

    values = {"pre": args.pre, "post": args.post, "target": args.target, "vector": args.vector,
              "alphas": args.alpha, "out": args.out, "dtype": args.dtype, "vocab": args.vocab,
              "skip_embeddings": args.skip_embeddings, "include": args.include, "exclude": args.exclude,
              "save_vector": args.save_vector, "vector_dtype": args.vector_dtype,
              "max_shard_size": args.max_shard_size, "chunk_elems": args.chunk_elems, "force": args.force}
    if args.recipe:
        return load_recipe(args.recipe, **values)
    return MergeSpec(**{k: v for k, v in values.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    """Run the merge and print one line per output folder (arguments are checked before torch loads)."""
    from rv_eval.merge.spec import check_refs

    spec = spec_from_args(args)
    for what, path in (("--out", spec.out), ("--save-vector", spec.save_vector)):
        if path is not None and Path(path).exists() and not Path(path).is_dir():
            raise UserError(f"{what} {path} is a file, not a folder. Fix: pass a new or existing folder.")
    check_refs({"pre": spec.pre, "post": spec.post, "target": spec.target, "vector": spec.vector})
    from rv_eval.merge.variants import merge_variants

    for alpha, path in merge_variants(spec).items():
        print(f"alpha={format(alpha, 'g')}\t{path}")
    if spec.save_vector is not None:
        print(f"vector\t{spec.save_vector}")
    return 0
