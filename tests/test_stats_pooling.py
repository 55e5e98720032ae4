"""pool_tasks(): several test tasks scored as one, questions weighted equally."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rv_eval.errors import UserError
from rv_eval.stats import pool_tasks, summarize
from rv_eval.stats import simulate as sim


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = [
        sim.frame(sim.outcomes(rng, np.full(n, p), 2), model="m", task=t)
        for t, n, p in (("bbh_en_a", 10, 0.9), ("bbh_en_b", 30, 0.2))
    ]
    parts.append(
        sim.frame(sim.outcomes(rng, np.full(5, 0.5), 1), model="m", task="bbh_dev_en_a", split="dev")
    )
    return pd.concat(parts, ignore_index=True)


def test_pooled_task_weights_questions_equally():
    df = _table()
    pooled = pool_tasks(df, "bbh_en_all", "bbh_en_*")
    s = summarize(pooled).set_index("task")
    test = df[df["split"] == "test"]
    assert s.loc["bbh_en_all", "n_questions"] == 40
    assert s.loc["bbh_en_all", "mean"] == pytest.approx(test["correct"].mean())
    assert s.loc["bbh_en_a", "mean"] == pytest.approx(summarize(df).set_index("task").loc["bbh_en_a", "mean"])
    assert len(pooled) == len(df) + len(test)


def test_pool_errors():
    df = _table()
    with pytest.raises(UserError, match="dev tasks"):
        pool_tasks(df, "all", "bbh_*")
    with pytest.raises(UserError, match="already a task"):
        pool_tasks(df, "bbh_en_a", ["bbh_en_b"])
    with pytest.raises(UserError, match="no samples"):
        pool_tasks(df, "x", "gsm8k_*")
    ja = sim.frame(np.ones((3, 1, 1), bool), model="m", task="bbh_ja_a", lang="ja")
    with pytest.raises(UserError, match="languages"):
        pool_tasks(pd.concat([df, ja], ignore_index=True), "x", ["bbh_en_a", "bbh_ja_a"])
