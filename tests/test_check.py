"""The regression gate: check() and `rv-eval check` (exit 0 pass / 1 regression / 3 inconclusive / 2 error)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rv_eval.cli import main
from rv_eval.errors import UserError
from rv_eval.schema import RunMeta
from rv_eval.stats import check, paired_compare
from rv_eval.stats import simulate as sim
from rv_eval.store import Store, load_samples


def _results(seed: int = 0, drop: float = 0.0, n_q: int = 300, tasks=("gsm8k_en", "mgsm_ja")) -> pd.DataFrame:
    """target, a same-quality candidate `same@1` and one `worse@1` that loses `drop` on every question."""
    rng = np.random.default_rng(seed)
    parts = []
    for task in tasks:
        p = sim.difficulty(rng, n_q, 0.6, 0.5)
        for model, pm in (("target", p), ("same@1", p), ("worse@1", np.clip(p - drop, 0, 1))):
            vec = None if model == "target" else model.split("@")[0]
            y = sim.outcomes(rng, pm, n_seeds=2)
            parts.append(sim.frame(y, model=model, task=task, vector=vec, alpha=None if vec is None else 1.0))
    return pd.concat(parts, ignore_index=True)


def test_equal_candidate_passes_and_worse_fails():
    df = _results(drop=0.25)
    ok = check(df, "target", "same@1", margin=0.1)
    assert ok.passed and [t.task for t in ok.tasks] == ["gsm8k_en", "mgsm_ja"]
    bad = check(df, "target", "worse@1", margin=0.1)
    assert not bad.passed and not any(t.passed for t in bad.tasks)
    md = bad.to_markdown()
    assert bad.verdict == "regression" and all(t.verdict == "regression" for t in bad.tasks)
    assert "### rv-eval check: REGRESSION" in md and "**regression**" in md and "| gsm8k_en | 300 |" in md
    json.dumps(bad.to_dict())


def test_verdict_is_lower_bound_above_minus_margin():
    df = _results(drop=0.04, seed=1)
    cmp = paired_compare(df, "target", ["worse@1"], correction="none").set_index("task")
    for margin in (0.0, 0.02, 0.05, 0.1):
        v = check(df, "target", "worse@1", margin=margin)
        for t in v.tasks:
            assert t.ci_low == pytest.approx(cmp.loc[t.task, "ci_low"])
            assert t.passed == (cmp.loc[t.task, "ci_low"] > -margin)
            regression = cmp.loc[t.task, "ci_high"] < -margin
            assert t.verdict == ("pass" if t.passed else "regression" if regression else "inconclusive")
    assert not check(df, "target", "worse@1", margin=0.0).passed
    assert check(df, "target", "worse@1", margin=0.3).passed


def test_tasks_filter_and_errors():
    df = _results(drop=0.15)
    assert [t.task for t in check(df, "target", "same@1", tasks=["mgsm_ja"]).tasks] == ["mgsm_ja"]
    with pytest.raises(UserError, match="margin"):
        check(df, "target", "same@1", margin=2)
    with pytest.raises(UserError, match="nobody"):
        check(df, "target", "nobody")
    partial = df[~((df["model"] == "same@1") & (df["task"] == "mgsm_ja"))]
    with pytest.raises(UserError, match=r"candidate has no test samples for tasks \['mgsm_ja'\]"):
        check(partial, "target", "same@1")


def test_identical_models_on_few_questions_cannot_pass():
    """No disagreement on 3 questions decides nothing (inconclusive); on 300 questions it passes."""
    few = _results(n_q=3, tasks=("gsm8k_en",))
    v = check(few, "target", "target", margin=0.2)
    assert not v.passed and v.verdict == "inconclusive"
    assert "the smallest margin this data can establish is" in v.to_markdown()
    many = _results(n_q=300, tasks=("gsm8k_en",))
    v = check(many, "target", "target", margin=0.02)
    assert v.passed and v.tasks[0].ci_low == pytest.approx(-(1 - 0.025 ** (1 / 300)))


def test_refuses_to_gate_on_a_subset_of_questions():
    df = _results()
    unfinished = df[~((df["model"] == "same@1") & (df["task"] == "mgsm_ja") & (df["doc_id"] > "q00200"))]
    with pytest.raises(UserError, match="task mgsm_ja: baseline answered 300 questions, candidate 201"):
        check(unfinished, "target", "same@1")


def test_two_result_folders_pair_by_question_and_refuse_changed_data():
    release = _results(seed=2)
    build = _results(seed=3)  # same questions, fresh draws
    v = check(build, "same@1", "same@1", baseline_df=release, margin=0.1)
    assert v.tasks[0].n_questions == 300
    changed = build.copy()
    changed.loc[changed["doc_id"] == "q00007", "doc_hash"] = "edited"
    with pytest.raises(UserError, match="doc_hash"):
        check(changed, "same@1", "same@1", baseline_df=release)


@pytest.fixture()
def write_store():
    """Write a samples table as a real results folder; the commands read it via `load_samples`."""

    def write(out: Path, df: pd.DataFrame) -> Path:
        cells = {f"{m}--{t}--s{s}": g for (m, t, s), g in df.groupby(["model", "task", "seed"], sort=False)}
        store = Store(out)
        store.write_run_meta(
            RunMeta(
                grid="sim",
                grid_file_text="",
                seeds=sorted(df["seed"].unique().tolist()),
                sampling={},
                backend={},
                baseline="target",
                models=[],
                versions={},
                extra={"cells": [[key, "fp"] for key in cells]},
            )
        )
        for key, g in cells.items():
            meta = {"model": g["model"].iat[0], "task": g["task"].iat[0], "seed": int(g["seed"].iat[0])}
            store.write_cell(key, {**meta, "fingerprint": "fp"}, g)
        assert len(load_samples(out)) == len(df)
        return out

    return write


def test_cli_exit_codes_and_outputs(write_store, tmp_path, capsys):
    out = write_store(tmp_path / "run", _results(drop=0.25))
    verdict, md = tmp_path / "v.json", tmp_path / "v.md"
    args = [
        str(out),
        "--baseline",
        "target",
        "--margin",
        "0.1",
        "--json",
        str(verdict),
        "--markdown",
        str(md),
    ]
    assert main(["check", *args, "--candidate", "same@1"]) == 0
    assert json.loads(verdict.read_text())["passed"] is True
    assert "PASS" in capsys.readouterr().out
    assert main(["check", *args, "--candidate", "worse@1"]) == 1
    assert json.loads(verdict.read_text())["passed"] is False and "REGRESSION" in md.read_text()
    assert "check failed" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "missing"), "--baseline", "target", "--candidate", "same@1"]) == 2
    assert main(["check", str(out), "--baseline", "target"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("rv-eval: error:") == 2


def test_cli_two_folders_prints_json(write_store, tmp_path, capsys):
    old = write_store(tmp_path / "release", _results(seed=4))
    new = write_store(tmp_path / "build", _results(seed=5))
    argv = ["check", str(new), "--baseline-from", str(old), "--baseline", "same@1", "--margin", "0.1"]
    assert main([*argv, "--print", "json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["baseline_source"] == str(old) and v["candidate_source"] == str(new)


def test_cli_stats_and_select_alpha(write_store, tmp_path, capsys):
    out = write_store(tmp_path / "run", _results(drop=0.25))
    assert main(["stats", str(out), "--baseline", "target", "--json", str(tmp_path / "s.json")]) == 0
    text = capsys.readouterr().out
    assert "| worse@1 | gsm8k_en |" in text and "holm" in text
    saved = json.loads((tmp_path / "s.json").read_text())
    assert len(saved["summary"]) == 6 and len(saved["paired"]) == 4
    # the macro average over the two test tasks, one row per model, with its interval
    assert "| model | tasks | questions | macro acc | 95% CI |" in text
    macro = {r["model"]: r for r in saved["macro"]}
    assert sorted(macro) == ["same@1", "target", "worse@1"] and macro["target"]["n_questions"] == 600
    s = {(r["model"], r["task"]): r["mean"] for r in saved["summary"]}
    assert macro["target"]["mean"] == pytest.approx((s["target", "gsm8k_en"] + s["target", "mgsm_ja"]) / 2)
    assert macro["target"]["ci_low"] < macro["target"]["mean"] < macro["target"]["ci_high"]
    assert main(["select-alpha", str(out), "--vector", "same", "--json", str(tmp_path / "a.json")]) == 0
    assert "test-only" in capsys.readouterr().out
    alpha_json = json.loads((tmp_path / "a.json").read_text())
    assert alpha_json["vector"] == "same" and alpha_json["choices"][0]["honest"]["mean"] is None
    assert main(["select-alpha", str(out), "--vector", "nope"]) == 2
    assert main(["stats", str(out), "--tasks", "gsm8k_en,nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_exit_code_of_the_real_process(write_store, tmp_path):
    out = write_store(tmp_path / "run", _results(drop=0.25, tasks=("gsm8k_en",)))
    root = Path(__file__).resolve().parent.parent
    argv = [sys.executable, "-m", "rv_eval", "check", str(out), "--baseline", "target", "--margin", "0.1"]
    bad = subprocess.run([*argv, "--candidate", "worse@1"], cwd=root, capture_output=True, text=True)
    assert bad.returncode == 1 and "| gsm8k_en |" in bad.stdout and "significantly worse" in bad.stderr
    # an identical model on 8 questions cannot be told apart: exit 3, with what would decide it
    few = write_store(tmp_path / "few", _results(n_q=8, tasks=("gsm8k_en",)))
    argv = [sys.executable, "-m", "rv_eval", "check", str(few), "--baseline", "target", "--candidate", "same@1"]
    unsure = subprocess.run(argv, cwd=root, capture_output=True, text=True)
    assert unsure.returncode == 3 and "smallest margin this data can establish" in unsure.stderr
    for mode, code in (("pass", 0), ("fail", 1)):
        r = subprocess.run([*argv, "--inconclusive", mode], cwd=root, capture_output=True, text=True)
        assert r.returncode == code, r.stderr


def test_cli_pools_tasks(write_store, tmp_path, capsys):
    df = _results(drop=0.25, n_q=40, tasks=("bbh_en_navigate", "bbh_en_snarks"))
    out = write_store(tmp_path / "run", df)
    assert main(["stats", str(out), "--pool", "bbh_en_all=bbh_en_*", "--baseline", "target"]) == 0
    text = capsys.readouterr().out
    assert "| target | bbh_en_all |" in text and "| worse@1 | bbh_en_all |" in text
    # the macro average counts the two subtasks once, not again through their pool
    assert "| target | 2 | 80 |" in text
    argv = ["check", str(out), "--baseline", "target", "--candidate", "worse@1", "--margin", "0.1"]
    assert main([*argv, "--pool", "bbh_en_all=bbh_en_*", "--tasks", "bbh_en_all"]) == 1
    assert "| bbh_en_all | 80 |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main([*argv, "--pool", "no-equals-sign"])
    assert e.value.code == 2
