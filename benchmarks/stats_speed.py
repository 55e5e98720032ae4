"""Time rv_eval.stats on a realistic grid; print JSON with ratios against a plain pandas anchor.

The anchor is the cheapest possible summary of the same table (a groupby mean of `correct` per
model x task), measured in the same run, so the ratios travel between machines.

    PYTHONPATH=. python benchmarks/stats_speed.py            # 8 α-variants + target, 4 seeds, the shipped task sizes
    PYTHONPATH=. python benchmarks/stats_speed.py --small    # a quick run
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from rv_eval.stats import paired_compare, select_alpha, summarize
from rv_eval.stats import simulate as sim

SIZES = {
    "aime24_en": 30,
    "gsm8k_en": 1319,
    "mgsm_ja": 250,
    "humaneval_en": 164,
    "sciq_en": 1000,
    "bbh_en": 6511,
}


def build(sizes: dict[str, int], alphas: list[float], seeds: int, rng: np.random.Generator) -> pd.DataFrame:
    """Target plus α-variants on every task, 5 cross-fitting folds, heterogeneous difficulty."""
    parts = []
    for task, n in sizes.items():
        p = sim.difficulty(rng, n, 0.5, 0.5)
        folds = np.arange(n) % 5
        parts.append(sim.frame(sim.outcomes(rng, p, seeds), model="target", task=task, folds=folds))
        for a in alphas:
            pa = np.clip(p + 0.05 * a, 0, 1)
            y = sim.outcomes(rng, pa, seeds)
            parts.append(sim.frame(y, model=f"v@{a:g}", task=task, vector="v", alpha=a, folds=folds))
    return pd.concat(parts, ignore_index=True)


def timed(fn, *args, **kwargs) -> float:
    """Wall seconds of one call."""
    t = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t


def main() -> None:
    """Build the table, time each statistic, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="two tasks, 3 α, 2 seeds")
    args = ap.parse_args()
    sizes = {"aime24_en": 30, "gsm8k_en": 1319} if args.small else SIZES
    alphas = [0.25, 0.5, 1.0] if args.small else [-0.5, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
    seeds = 2 if args.small else 4
    df = build(sizes, alphas, seeds, np.random.default_rng(0))
    anchor = timed(lambda: df.groupby(["model", "task"], observed=True)["correct"].mean())
    result = {
        "rows": len(df),
        "models": len(alphas) + 1,
        "tasks": len(sizes),
        "seeds": seeds,
        "anchor_s": anchor,
    }
    for name, fn, kw in (
        ("summarize", summarize, {}),
        ("paired_compare", paired_compare, {"baseline": "target"}),
        ("select_alpha", select_alpha, {"vector": "v"}),
    ):
        secs = timed(fn, df, **kw)
        result[f"{name}_s"] = round(secs, 3)
        result[f"{name}_vs_anchor"] = round(secs / anchor, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
