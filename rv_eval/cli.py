"""The `rv-eval` command line.

Each sub-command lives in its own module under `rv_eval.commands` and exposes
`register(subparsers)`, which adds its parser and sets `func` (a callable taking the parsed
namespace and returning an exit code). Commands stay thin: parse, call the library, print.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from rv_eval import __version__, atomicio, commands
from rv_eval.errors import CheckFailed, UserError
from rv_eval.library_output import once_filter

log = logging.getLogger("rv_eval")

EPILOG = """\
exit codes: 0 success, 1 a check failed, 2 user error (message on stderr), 3 check inconclusive

examples:
  rv-eval demo --out runs/demo
  rv-eval merge --pre P --post Q --target T --alpha 0.25,0.5,1 --out variants/
  rv-eval run --model-grid examples/tiny_cpu.yaml
  rv-eval report runs/demo --baseline tiny@0
  rv-eval tasks
"""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command found in `rv_eval.commands`."""
    parser = argparse.ArgumentParser(
        prog="rv-eval",
        description="Build, evaluate and compare reasoning-vector α-variants.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rv-eval {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # rv-eval's own progress at INFO; libraries (lm-eval, torch, vLLM) only warn unless --verbose
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    once_filter()  # lm-eval's `--metadata` hint once per command (rv-eval's tasks load their own data)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"rv-eval: error: {e}", file=sys.stderr)
        return e.exit_code
    except CheckFailed as e:
        print(f"rv-eval: check failed: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("rv-eval: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (`rv-eval tasks | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        if not atomicio.is_no_space(e):
            raise
        # a full disk outside the writers that name their output (atomicio, the merge writer)
        err = atomicio.no_space(e.filename) if e.filename else UserError(
            f"no space left on device ({e}). Fix: free disk space, or write the output to another disk.")
        print(f"rv-eval: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
