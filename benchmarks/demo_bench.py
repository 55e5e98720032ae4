"""Wall time of `rv-eval demo` (fresh and resumed) and where it goes.

Runs the demo three times, each into a fresh folder, in a subprocess as a user would
(`python -m rv_eval demo --out DIR --no-progress`), then once more into the last folder (resumed).
Prints one JSON object: the three wall times and their median, the resumed time, and the split
of the median run into the family (checksums + copy of data/demo/family: no training happens in
the demo), generation (sum of the stored per-sample generation time), grading (a full
`rv-eval regrade` of the same samples) and the rest (engine and task setup, statistics, report).
Also the machine's CPU count and load average, since a busy machine stretches every figure.

Usage:
    python benchmarks/demo_bench.py [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - start


def _family_seconds(tmp: Path) -> float:
    from rv_eval.demo import ensure_family

    start = time.perf_counter()
    ensure_family(tmp / "family_copy")
    return time.perf_counter() - start


def main() -> int:
    """Measure and print the JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", help="folder for the runs (default: a temporary one, removed after)")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="demo_bench_"))
    py = [sys.executable, "-m", "rv_eval"]
    walls = []
    for i in range(args.runs):
        walls.append(_timed(py + ["demo", "--out", str(base / f"run{i}"), "--no-progress"]))
    median_i = sorted(range(args.runs), key=lambda i: walls[i])[args.runs // 2]
    out = base / f"run{median_i}"
    resumed = _timed(py + ["demo", "--out", str(out), "--no-progress"])

    from rv_eval.store import load_samples

    generation = float(load_samples(out)["gen_seconds"].sum())
    grading = _timed(py + ["regrade", str(out)])
    family = _family_seconds(base)
    median = statistics.median(walls)
    print(json.dumps({
        "command": "python -m rv_eval demo --out DIR --no-progress",
        "runs_s": [round(w, 1) for w in walls], "median_s": round(median, 1), "resumed_s": round(resumed, 1),
        "split_of_median_run_s": {"family_check_and_copy": round(family, 1), "training": 0.0,
                                  "generation": round(generation, 1), "grading": round(grading, 1),
                                  "other": round(walls[median_i] - family - generation - grading, 1)},
        "cpus": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
