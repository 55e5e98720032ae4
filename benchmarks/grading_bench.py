"""Throughput of rv_eval.grading.grade_many vs plain serial math-verify on math responses.

10,000 synthetic EN/JA math responses (1% pathological: deep LaTeX nesting, megabytes of text,
NUL bytes, huge digit strings, nested fractions, a 9^{9^{9^9}} power tower) are graded by `grade_many` (process pool, hard
per-item timeout) and by plain math-verify `verify(parse(gold), parse(response))` serially in
this process (its own SIGALRM timeouts). Prints JSON: responses/s of each, their ratio, the
slowest item's grading time and the number of items that hit the hard timeout.

    python benchmarks/grading_bench.py            # the full run (10,000 items)
    python benchmarks/grading_bench.py --n 500    # a quick run
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rv_eval.grading import GradeItem, PoolConfig, grade_many  # noqa: E402
from rv_eval.grading.baselines import math_verify_correct  # noqa: E402

EN = [
    "She buys {a} packs of {b} pencils, so {a} * {b} = {c}. The answer is {c}.",
    "First, {a} + {b} = {s}. Then we multiply: {a} x {b} = {c}.\n#### {c}",
    "<think>Let me compute {a} times {b}. That is {c}.</think>\nThe total is $\\boxed{{{c}}}$.",
    "Each of the {a} boxes holds {b} apples. Therefore, there are {c} apples in total.",
    "Total cost: ${a} * {b} = ${c:,}. **Answer: {c:,}**",
]
JA = [
    "{a}個入りの袋が{b}袋あるので、{a} × {b} = {c}個です。答えは{c}です。",
    "1人{a}円を{b}人が払うので、合計は{c:,}円です。答え：{c:,}円",
    "<think>{a}×{b}={c}</think>\nよって、答えは {c} 個です。",
    "計算すると {a} × {b} = {c} となります。したがって、最終的な答えは $\\boxed{{{c}}}$ です。",
    "{a}と{b}を掛けると{c}になります。",
]


def pathological(rng: random.Random, i: int) -> str:
    """One of the hostile response shapes."""
    kind = i % 6
    if kind == 5:
        return "The answer is $\\boxed{9^{9^{9^{9}}}}$."  # sympy.N never returned on this power tower
    if kind == 0:
        return "\\boxed{" + "{" * 50_000 + "1" + "}" * 50_000 + "}"
    if kind == 1:
        return "word " * 400_000 + "The answer is 7."
    if kind == 2:
        return "\x00" * 100_000 + "The answer is 7.\x00"
    if kind == 3:
        return "The answer is " + "9" * 200_000
    return "The answer is $" + "\\frac{1}{" * 300 + "2" + "}" * 300 + "$"


def build(n: int, seed: int) -> list[GradeItem]:
    """n math items, 1% pathological, half JA."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        gold = a * b
        lang = "ja" if i % 2 else "en"
        if i % 100 == 99:
            response = pathological(rng, i // 100)
        else:
            c = gold if rng.random() < 0.7 else gold + rng.choice([-10, -1, 1, 100])
            response = rng.choice(JA if lang == "ja" else EN).format(a=a, b=b, c=c, s=a + b)
        items.append(GradeItem("math", response, str(gold), lang))
    return items


def main() -> None:
    """Run both graders on the same items and print the JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--item-timeout", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # its timeout warnings echo megabytes
    items = build(args.n, args.seed)

    timings: dict[int, float] = {}
    t0 = time.perf_counter()
    grades = grade_many(items, workers=args.workers, config=PoolConfig(item_timeout_s=args.item_timeout), timings=timings)
    ours_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    anchor_slowest = 0.0
    anchor_correct = 0
    for it in items:
        t1 = time.perf_counter()
        anchor_correct += math_verify_correct(it.response, it.gold)
        anchor_slowest = max(anchor_slowest, time.perf_counter() - t1)
    anchor_s = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "n": len(items),
                "pathological": sum(1 for i in range(len(items)) if i % 100 == 99),
                "rv_eval_grade_many": {
                    "seconds": round(ours_s, 2),
                    "responses_per_s": round(len(items) / ours_s, 1),
                    "slowest_item_s": round(max(timings.values()), 3),
                    "timeouts": sum(g.reason == "timeout" for g in grades),
                    "item_timeout_s": args.item_timeout,
                    "correct": sum(g.correct for g in grades),
                },
                "plain_math_verify_serial": {
                    "seconds": round(anchor_s, 2),
                    "responses_per_s": round(len(items) / anchor_s, 1),
                    "slowest_item_s": round(anchor_slowest, 3),
                    "correct": anchor_correct,
                },
                "throughput_ratio": round(anchor_s / ours_s, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
