"""MGSM-ja is named mgsm_ja (grouped with mgsm_en); the old name gsm8k_ja still works, with a warning."""

from __future__ import annotations

import logging

from rv_eval import tasks
from rv_eval.grid import load_grid
from rv_eval.report.assemble import task_base


def test_mgsm_ja_is_an_mgsm_task_and_the_old_name_warns(caplog):
    info = tasks.task_info("mgsm_ja")
    assert (info.lang, info.split, info.kind) == ("ja", "test", "math")
    assert "gsm8k_ja" not in tasks.list_tasks()
    assert task_base("mgsm_ja", info.serves, "ja") == task_base("mgsm_en", "mgsm_en", "en") == "mgsm"
    with caplog.at_level(logging.WARNING, logger="rv_eval.tasks"):
        assert tasks.task_info("gsm8k_ja").name == "mgsm_ja"
    assert "now named 'mgsm_ja'" in caplog.text


def test_grid_with_the_old_name_runs_the_new_task(tmp_path, caplog):
    (tmp_path / "m").mkdir()
    grid = tmp_path / "grid.yaml"
    grid.write_text("name: g\nout: out\nmodels:\n  - {name: m, path: m}\ntasks:\n  - gsm8k_ja\n  - {name: mgsm_en, limit: 2}\n"
                    "seeds: [0]\nsampling: {temperature: 0, max_gen_toks: 8, samples: 1}\nbackend: {name: hf}\n",
                    encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rv_eval.tasks"):
        g = load_grid(grid)
    assert [t.name for t in g.tasks] == ["mgsm_ja", "mgsm_en"]
    assert "gsm8k_ja" in caplog.text
