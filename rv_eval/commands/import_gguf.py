"""`rv-eval import-gguf FILE OUT`: a GGUF checkpoint as a safetensors model folder (tokenizer and chat template kept)."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rv-eval import-gguf models/SmolLM2-135M-Instruct.Q4_1.gguf models/smollm2
  rv-eval import-gguf ezo-7b.Q8_0.gguf models/ezo-7b --dtype bfloat16

The weights are dequantized by transformers (through the `gguf` package) and written as plain
float tensors, so the folder works for `merge`, `vector stats` and both backends. OUT is written
under a temporary name and renamed when complete.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `import-gguf` sub-command."""
    p = subparsers.add_parser(
        "import-gguf", help="convert a GGUF checkpoint to a safetensors model folder", description=__doc__,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE.gguf", help="the GGUF checkpoint")
    p.add_argument("out", metavar="OUT", help="model folder to write")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="dtype of the written weights (default float32: exactly what transformers dequantizes)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert and print the folder written."""
    from rv_eval.gguf_import import import_gguf

    print(import_gguf(args.file, args.out, dtype=args.dtype))
    return 0
