"""select_alpha(): dev-pool choice, cross-fitting, ties, macro mode, and its optimism by simulation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rv_eval.errors import UserError
from rv_eval.stats import select_alpha
from rv_eval.stats import simulate as sim


def _variant(correct, alpha: float, task: str, split: str = "test", serves: str | None = None, folds=None):
    y = np.asarray(correct, dtype=bool).reshape(-1, 1, 1)
    return sim.frame(
        y, model=f"v@{alpha:g}", task=task, vector="v", alpha=alpha, split=split, serves=serves, folds=folds
    )


def _table(
    test: dict[float, list[int]], dev: dict[float, list[int]] | None = None, task="gsm8k_en", folds=None
):
    parts = [_variant(y, a, task, folds=folds) for a, y in test.items()]
    if dev:
        parts += [_variant(y, a, f"{task}_dev", split="dev", serves=task) for a, y in dev.items()]
    return pd.concat(parts, ignore_index=True)


def _acc(k: int, n: int = 10) -> list[int]:
    return [1] * k + [0] * (n - k)


def test_dev_pool_chooses_alpha_and_reports_its_test_score():
    df = _table(
        test={0.0: _acc(5), 0.5: _acc(6), 1.0: _acc(8)},
        dev={0.0: _acc(4), 0.5: _acc(7), 1.0: _acc(6)},
    )
    c = select_alpha(df, "v").choices[0]
    assert (c.scope, c.method, c.alpha) == ("gsm8k_en", "dev", 0.5)
    assert c.test.mean == pytest.approx(0.6) and c.honest.mean == pytest.approx(0.6)
    assert c.test.ci_low < 0.6 < c.test.ci_high
    assert (c.naive_alpha, c.naive.mean, c.optimism) == (1.0, pytest.approx(0.8), pytest.approx(0.2))
    assert c.selection_scores == {0.0: pytest.approx(0.4), 0.5: pytest.approx(0.7), 1.0: pytest.approx(0.6)}
    row = select_alpha(df, "v").per_task.iloc[0]
    assert (row["task"], row["method"], row["alpha"]) == ("gsm8k_en", "dev", 0.5)
    assert (row["test_mean"], row["test_ci_low"]) == (pytest.approx(0.6), pytest.approx(c.test.ci_low))


def test_ties_go_to_the_smaller_abs_alpha():
    df = _table(
        test={-0.25: _acc(5), 0.25: _acc(5), 1.0: _acc(5)},
        dev={-0.25: _acc(3), 0.25: _acc(7), 1.0: _acc(7)},
    )
    assert select_alpha(df, "v").choices[0].alpha == 0.25
    df = _table(test={a: _acc(5) for a in (1.0, 0.5, -0.5)})
    assert select_alpha(df, "v").choices[0].naive_alpha == -0.5  # equal |α|: the smaller α


def test_cross_fitting_by_hand():
    folds = np.array([0, 0, 1, 1])
    df = _table(test={0.0: [1, 0, 0, 0], 1.0: [0, 0, 1, 1]}, task="aime24_en", folds=folds)
    c = select_alpha(df, "v").choices[0]
    assert c.method == "cross-fit"
    # fold 0 held out: fold 1 prefers α=1, which scores 0 on fold 0; fold 1 held out: α=0 scores 0
    assert c.fold_alphas == {0: 1.0, 1: 0.0}
    assert c.honest.mean == pytest.approx(0.0)
    assert (c.alpha, c.naive_alpha, c.naive.mean, c.optimism) == (1.0, 1.0, 0.5, 0.5)


def test_no_dev_pool_and_no_folds_is_test_only():
    c = select_alpha(_table(test={0.0: _acc(3), 1.0: _acc(4)}), "v").choices[0]
    assert c.method == "test-only" and np.isnan(c.honest.mean) and c.naive_alpha == 1.0


def test_macro_picks_one_alpha_for_the_task_set():
    a = _table(test={0.5: _acc(5), 1.0: _acc(5)}, dev={0.5: _acc(2), 1.0: _acc(9)}, task="a_en")
    b = _table(test={0.5: _acc(6), 1.0: _acc(4)}, dev={0.5: _acc(6), 1.0: _acc(5)}, task="b_en")
    df = pd.concat([a, b], ignore_index=True)
    per_task = {c.scope: c.alpha for c in select_alpha(df, "v").choices}
    assert per_task == {"a_en": 1.0, "b_en": 0.5}
    sel = select_alpha(df, "v", macro=True)
    (c,) = sel.choices
    assert (c.scope, c.alpha, c.tasks) == ("macro", 1.0, ["a_en", "b_en"])
    assert c.test.mean == pytest.approx((0.5 + 0.4) / 2)
    assert c.naive_alpha == 0.5 and c.naive.mean == pytest.approx(0.55)
    json.dumps(sel.to_dict())
    assert list(sel.to_frame()["scope"]) == ["macro"]
    per_task = sel.per_task.set_index("task")
    assert list(per_task.index) == ["a_en", "b_en"] and set(per_task["alpha"]) == {1.0}
    assert per_task.loc["b_en", "test_mean"] == pytest.approx(0.4)
    assert per_task.loc["a_en", "honest_mean"] == pytest.approx(0.5)
    only_b = select_alpha(df, "v", tasks=["b_en"], macro=True).choices[0]
    assert only_b.tasks == ["b_en"] and only_b.alpha == 0.5


def test_user_errors():
    df = _table(test={0.0: _acc(3), 1.0: _acc(4)})
    with pytest.raises(UserError, match="vector 'w'"):
        select_alpha(df, "w")
    with pytest.raises(UserError, match="nosuch"):
        select_alpha(df, "v", tasks=["nosuch"])


def test_cross_fitting_removes_the_optimism_of_best_on_test():
    """Every α is equally good: best-on-test is biased upwards, the cross-fitted score is not."""
    rng = np.random.default_rng(0)
    n_q, alphas, reps = 60, (0.0, 0.25, 0.5, 0.75, 1.0), 40
    folds = np.arange(n_q) % 5
    naive, honest, truth = [], [], []
    for _ in range(reps):
        p = sim.difficulty(rng, n_q, 0.5, 0.3)
        df = pd.concat(
            [_variant(rng.random(n_q) < p, a, "t_en", folds=folds) for a in alphas], ignore_index=True
        )
        c = select_alpha(df, "v").choices[0]
        naive.append(c.naive.mean)
        honest.append(c.honest.mean)
        truth.append(p.mean())
    gap_naive = np.mean(naive) - np.mean(truth)
    gap_honest = np.mean(honest) - np.mean(truth)
    se = np.std(np.array(honest) - truth, ddof=1) / np.sqrt(reps)
    assert gap_naive > 0.03
    assert abs(gap_honest) < 3 * se + 0.005


def test_alpha_on_fewer_questions_does_not_compete(caplog):
    df = _table(test={0.0: _acc(5), 0.5: _acc(6), 1.0: _acc(9)}, dev={0.0: _acc(4), 0.5: _acc(5)})
    partial = _variant(
        [1, 1, 1], 1.0, "gsm8k_en_dev", split="dev", serves="gsm8k_en"
    )  # 3 of 10 dev questions
    c = select_alpha(pd.concat([df, partial], ignore_index=True), "v").choices[0]
    assert c.alpha == 0.5 and set(c.selection_scores) == {0.0, 0.5} and c.n_questions == 10
    assert "cover fewer questions" in caplog.text
