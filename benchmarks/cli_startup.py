"""Start-up time of `rv-eval --help` against the bare interpreter and against importing pandas.

Prints JSON: median wall seconds of each over --repeats runs, and the ratios
help/python and help/(python + pandas import). Goal: `--help` stays a small fraction of one
pandas import (heavy libraries load only inside the commands that need them).

    python benchmarks/cli_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall(cmd: list[str], repeats: int) -> float:
    """Median wall time of running `cmd` (output discarded)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    """Measure and print the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    py = [sys.executable]
    bare = wall([*py, "-c", "pass"], args.repeats)
    pandas = wall([*py, "-c", "import pandas"], args.repeats)
    help_ = wall([*py, "-m", "rv_eval", "--help"], args.repeats)
    print(json.dumps({
        "repeats": args.repeats, "python_s": round(bare, 4), "import_pandas_s": round(pandas, 4),
        "rv_eval_help_s": round(help_, 4), "help_over_python": round(help_ / bare, 2),
        "help_over_pandas_import": round(help_ / pandas, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
