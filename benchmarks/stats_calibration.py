"""Calibration of rv-eval's statistics by an independent simulation; prints JSON.

    PYTHONPATH=. python benchmarks/stats_calibration.py [--reps 4000] [--quick]

Data come from tests/stats_sim.py (logit-normal question difficulty, σ = 2.5, or the README's
Beta planning model; Bernoulli responses per seed and sample given each question's probability),
which shares no code with `rv_eval.stats`. Each figure is a rate over `reps` simulated
benchmarks with its Monte-Carlo standard error sqrt(rate (1 - rate) / reps). The estimand is the
question population's mean (a benchmark is a sample of questions). tests/test_stats_*.py run the
same functions with small replication counts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rv_eval.stats.intervals import proportion_ci  # noqa: E402
from rv_eval.stats.power import DesignAssumptions, gate_margin, mde_design  # noqa: E402
from rv_eval.stats.significance import mcnemar_score_pvalue, mcnemar_test, sign_flip_test  # noqa: E402
from tests.stats_sim import beta_pair, logit_normal, paired_logit_normal, per_question_accuracy  # noqa: E402

README_SIZES = {"AIME24": 30, "GSM8K": 1319, "MGSM": 250, "HumanEval": 164, "SciQ": 1000, "BBH": 6511}


def _rate(hits: np.ndarray) -> dict[str, float]:
    r = float(np.mean(hits))
    return {"rate": round(r, 4), "mc_se": round(math.sqrt(r * (1 - r) / hits.size), 4), "reps": int(hits.size)}


def accuracy_coverage(reps: int, n: int, m: int, acc: float, sigma: float = 2.5, seed: int = 0) -> dict:
    """Coverage of the accuracy CI (summarize's) of the population accuracy `acc`."""
    rng = np.random.default_rng(seed)
    v = per_question_accuracy(rng, logit_normal(rng, (reps, n), acc, sigma), m, 1)
    _, _, lo, hi = proportion_ci(v)
    return _rate((lo <= acc) & (acc <= hi))


def tail_breakdown(reps: int, m: int, acc: float = 0.05, sigma: float = 2.5, seed: int = 0) -> dict:
    """Coverage of the accuracy CI split by how many of the 30 questions are easy (p > 0.3).

    At 5% accuracy and σ = 2.5 about half the population accuracy sits on the 4.8% of questions
    with p > 0.3; a benchmark that drew none of them estimates about half the truth.
    """
    rng = np.random.default_rng(seed)
    p = logit_normal(rng, (reps, 30), acc, sigma)
    _, _, lo, hi = proportion_ci(per_question_accuracy(rng, p, m, 1))
    hit, easy = (lo <= acc) & (acc <= hi), (p > 0.3).sum(axis=1)
    return {f"{k}_easy": {"share": round(float(np.mean(easy == k)), 3), **_rate(hit[easy == k])} for k in (0, 1, 2)}


def binomial_lattice(n: int = 30, accs: tuple[float, ...] = (0.05, 0.1, 0.15, 0.3, 0.5)) -> dict:
    """One response per question: exact coverage of the accuracy CI, and what any interval could reach.

    With one response the number solved is Binomial(n, p) (question population), so an interval's
    coverage at p is the probability of the counts whose interval holds p, a run of consecutive
    counts. `reachable_near_95` lists every coverage in [93, 97] % that some run of counts holding
    n p gives: the coverages a non-randomised interval can have at that p.
    """
    from scipy.stats import binom

    x = np.arange(n + 1)
    _, _, lo, hi = proportion_ci((x[:, None] >= np.arange(1, n + 1)[None, :]).astype(float))
    out = {}
    for acc in accs:
        pmf = binom.pmf(x, n, acc)
        cover = float(pmf[(lo <= acc) & (acc <= hi)].sum())
        runs = {round(100 * float(pmf[a:b + 1].sum()), 1) for a in range(n + 1) for b in range(a, n + 1)
                if a <= n * acc <= b}
        out[f"acc{acc}"] = {"coverage": round(100 * cover, 2), "reachable_near_95": sorted(c for c in runs if 93 <= c <= 97)}
    grid = np.linspace(0.03, 0.5, 400)
    inside = (lo[:, None] <= grid[None, :]) & (grid[None, :] <= hi[:, None])
    out["mean_coverage_p3_50"] = round(100 * float(np.mean((binom.pmf(x[:, None], n, grid[None, :]) * inside).sum(axis=0))), 2)
    return out


def _paired(d: np.ndarray, xb: np.ndarray, xc: np.ndarray, m: int, i: int, flips: int):
    if m == 1:
        return mcnemar_test(xb, xc)
    return sign_flip_test(d, n_resamples=flips, rng=np.random.default_rng(i))


def paired_coverage(reps: int, n: int, m: int, base: float, shift: float, seed: int = 0, flips: int = 999) -> dict:
    """Coverage of the paired interval of the population difference, and its agreement with the test."""
    rng = np.random.default_rng(seed)
    pb, pc, truth = paired_logit_normal(rng, (reps, n), base, shift)
    xb, xc = per_question_accuracy(rng, pb, m, 1), per_question_accuracy(rng, pc, m, 1)
    cover, agree = np.zeros(reps, bool), np.zeros(reps, bool)
    for i in range(reps):
        p, lo, hi = _paired(xc[i] - xb[i], xb[i], xc[i], m, i, flips)
        cover[i] = lo <= truth <= hi
        agree[i] = (p <= 0.05) == (not lo <= 0 <= hi)
    return {**_rate(cover), "truth": round(truth, 4), "agreement": float(agree.mean())}


def mcnemar_level(reps: int, n: int, base: float, rho: float, seed: int = 0) -> dict:
    """Type I error of McNemar's score test (the one that runs) and of the exact test, same data.

    Two equally accurate models (no shift) whose question difficulties correlate `rho`.
    """
    from rv_eval.stats.significance import mcnemar_exact_pvalue

    rng = np.random.default_rng(seed)
    pb, pc, _ = paired_logit_normal(rng, (reps, n), base, 0.0, rho=rho)
    xb, xc = per_question_accuracy(rng, pb, 1, 1), per_question_accuracy(rng, pc, 1, 1)
    score = np.array([mcnemar_score_pvalue(xb[i], xc[i]) <= 0.05 for i in range(reps)])
    exact = np.array([mcnemar_exact_pvalue(xb[i], xc[i]) <= 0.05 for i in range(reps)])
    return {"score": _rate(score), "exact": _rate(exact)}


def power_at_mde(reps: int, n: int, seeds: int, a: DesignAssumptions | None = None, seed: int = 0,
                 flips: int = 999) -> dict:
    """Rejection rate of the test that runs at the design MDE it reports (target 80%)."""
    a = a or DesignAssumptions()
    mde = mde_design(n, seeds, a=a)
    rng = np.random.default_rng(seed)
    pb, pc = beta_pair(rng, (reps, n), a.p, a.icc, a.r, mde)
    xb, xc = per_question_accuracy(rng, pb, seeds, 1), per_question_accuracy(rng, pc, seeds, 1)
    if seeds == 1:
        rej = np.array([mcnemar_score_pvalue(xb[i], xc[i]) <= 0.05 for i in range(reps)])
    else:
        rej = np.array([
            sign_flip_test(xc[i] - xb[i], n_resamples=flips, rng=np.random.default_rng(i))[0] <= 0.05
            for i in range(reps)
        ])
    return {**_rate(rej), "mde_points": round(100 * mde, 1)}


def gate_rates(reps: int, n: int, seeds: int, p: float = 0.5, seed: int = 0, flips: int = 999) -> dict:
    """The check's verdicts (pass: lower end > -margin; regression: upper end < -margin).

    identical: the same model again (fresh responses) at the default margin (`gate_margin`);
    equal_at_mde: an equally accurate model (r = 0.8) at margin = the design MDE;
    drop_2x_margin: a model 2 x margin worse at the default margin.
    """
    a = DesignAssumptions(p=p)
    margin, mde = gate_margin(n, seeds, a), mde_design(n, seeds, a=a)
    rng = np.random.default_rng(seed)
    out: dict[str, object] = {"margin_points": round(100 * margin, 1), "mde_points": round(100 * mde, 1)}
    scenarios = (("identical", 1.0, 0.0, margin), ("equal_at_mde", a.r, 0.0, mde),
                 ("drop_2x_margin", a.r, -2 * margin, margin))
    for name, r, delta, m in scenarios:
        pb, pc = beta_pair(rng, (reps, n), a.p, a.icc, r, delta)
        xb, xc = per_question_accuracy(rng, pb, seeds, 1), per_question_accuracy(rng, pc, seeds, 1)
        verdicts = []
        for i in range(reps):
            _, lo, hi = _paired(xc[i] - xb[i], xb[i], xc[i], seeds, i, flips)
            verdicts.append("pass" if lo > -m else "regression" if hi < -m else "inconclusive")
        v = np.array(verdicts)
        out[name] = {k: _rate(v == k) for k in ("pass", "regression", "inconclusive")}
    return out


def selection_coverage(reps: int, n: int, m: int = 1, n_alpha: int = 5, n_folds: int = 5, acc: float = 0.5,
                       sigma: float = 1.0, seed: int = 0) -> dict:
    """select-alpha with every α equally good: coverage of the honest interval (cross-fit) and bias.

    Two estimands: the question population's accuracy `acc`, and the mean success probability of
    this benchmark's own questions. Also the mean optimism of best-on-test.
    """
    import pandas as pd

    from rv_eval.stats import select_alpha
    from rv_eval.stats import simulate as frames  # only builds the samples table from our outcomes

    rng = np.random.default_rng(seed)
    folds = np.arange(n) % n_folds
    alphas = [round(0.25 * i, 2) for i in range(n_alpha)]
    pop, fixed, honest, naive, ses = [], [], [], [], []
    for _ in range(reps):
        p = logit_normal(rng, (n,), acc, sigma)
        parts = [
            frames.frame(rng.random((n, m, 1)) < p[:, None, None], model=f"v@{a:g}", task="t_en", vector="v",
                         alpha=a, folds=folds)
            for a in alphas
        ]
        c = select_alpha(pd.concat(parts, ignore_index=True), "v").choices[0]
        pop.append(c.honest.ci_low <= acc <= c.honest.ci_high)
        fixed.append(c.honest.ci_low <= p.mean() <= c.honest.ci_high)
        honest.append(c.honest.mean - acc)
        ses.append(c.honest.se)
        naive.append(c.naive.mean - acc)
    return {
        "population": _rate(np.array(pop)),
        "fixed_questions": _rate(np.array(fixed)),
        "honest_bias_points": round(100 * float(np.mean(honest)), 2),
        "honest_bias_mc_se": round(100 * float(np.std(honest, ddof=1) / math.sqrt(reps)), 2),
        "naive_optimism_points": round(100 * float(np.mean(naive)), 2),
        # the reported se against the honest score's actual sd around the population accuracy
        "se_ratio": round(float(np.mean(ses) / np.std(honest, ddof=1)), 3),
    }


def macro_coverage(reps: int, sizes: tuple[int, ...] = (30, 30, 30), accs: tuple[float, ...] = (0.05, 0.15, 0.5),
                   m: int = 4, sigma: float = 2.5, seed: int = 0, n_resamples: int = 1000) -> dict:
    """Coverage of the macro average's interval (equal task weights) of the population macro accuracy."""
    from rv_eval.stats.macro import macro_interval

    rng = np.random.default_rng(seed)
    truth = float(np.mean(accs))
    hits = np.zeros(reps, bool)
    for i in range(reps):
        per_task = [
            per_question_accuracy(rng, logit_normal(rng, (n,), a, sigma), m, 1)
            for n, a in zip(sizes, accs, strict=True)
        ]
        _, _, lo, hi = macro_interval(per_task, n_resamples=n_resamples, seed=i)
        hits[i] = lo <= truth <= hi
    return _rate(hits)


def sections(r: int, quick: bool = False) -> dict[str, object]:
    """Each figure of docs/stats.md as a function of the replication count `r` (run lazily)."""
    pr, sr = max(r // 4, 200), max(r // 10, 100)
    grid = [(acc, m, s) for s in (2.5, 1.0) for acc in (0.05, 0.15, 0.3, 0.5) for m in (1, 2, 4, 8, 32)]
    return {
        "accuracy": lambda: {
            f"acc{acc}_m{m}_sigma{s}": accuracy_coverage(r, 30, m, acc, s, seed=i)
            for i, (acc, m, s) in enumerate(grid)
        },
        "lattice": lambda: binomial_lattice(),
        "tail": lambda: {f"acc0.05_m{m}_sigma2.5": tail_breakdown(r, m, seed=m) for m in (8, 32)},
        "paired": lambda: {
            **{f"m{m}_shift{sh}": paired_coverage(r // 2, 30, m, 0.15, sh, seed=m)
               for m in (1, 4, 8) for sh in (0.5, -0.5)},
            **{f"m1_base{b}_shift{sh}": paired_coverage(r // 2, 30, 1, b, sh, seed=7)
               for b, sh in ((0.05, 0.5), (0.15, 0.0), (0.5, -0.5))},
        },
        "mcnemar_level": lambda: {
            f"n{n}_acc{b}_rho{rho}": mcnemar_level(r, n, b, rho, seed=n)
            for n in (30, 250) for b in (0.05, 0.15, 0.5) for rho in (0.9, 0.5)
        },
        "power": lambda: {
            f"{task}_{k}seeds": power_at_mde(pr, n, k, seed=k)
            for task, n in README_SIZES.items() for k in (1, 8)
            if not quick or task in ("AIME24", "MGSM")
        },
        "gate": lambda: {
            f"n{n}_s{k}": gate_rates(pr, n, k, seed=n) for n, k in ((30, 8), (250, 4), (250, 1))
        },
        "macro": lambda: {
            "3x30q_acc5-15-50_m4": macro_coverage(pr, seed=1),
            "2x250q_acc15-50_m1": macro_coverage(pr, (250, 250), (0.15, 0.5), m=1, seed=2),
        },
        "select": lambda: {
            f"n{n}_m{m}_sigma{sg}": selection_coverage(sr, n, m, sigma=sg, seed=n + m)
            for n, m, sg in ((60, 1, 1.0), (30, 1, 1.0), (250, 1, 1.0), (60, 4, 2.5))
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=4000, help="replications of the accuracy CI (others: a share)")
    ap.add_argument("--quick", action="store_true", help="the headline power settings only")
    ap.add_argument("--only", help="comma-separated sections: accuracy, lattice, tail, paired, mcnemar_level, power, gate, select, macro")
    args = ap.parse_args()
    t0 = time.perf_counter()
    todo = sections(args.reps, args.quick)
    names = args.only.split(",") if args.only else list(todo)
    res: dict[str, object] = {"reps": args.reps}
    for name in names:
        res[name] = todo[name]()
    res["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
