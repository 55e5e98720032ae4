"""`rv-eval run --dry-run`: the grid's size and cost, computed by hand here first; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from rv_eval.cli import main
from rv_eval.estimate import wall_hours

# AIME 2024 has 30 problems (I and II, 15 each); aime24_ja is limited to 7 below.
GRID = """
name: small
out: {out}
models:
  - {{name: a, path: org/Model-A-7B}}
  - {{name: b, path: org/Model-B-7B}}
tasks: [{{name: aime24_ja, limit: 7}}, aime24_en]
seeds: [0, 1, 2]
sampling: {{temperature: 0.6, top_p: 0.95, max_gen_toks: 100, samples: 2}}
backend: {{name: hf}}
"""
# By hand: per model, aime24_ja 7 × 3 seeds × 2 samples = 42 requests (4,200 tokens), aime24_en
# 30 × 3 × 2 = 180 (18,000). Two models: 2 × 2 × 3 = 12 cells, 444 requests, 44,400 tokens.
# At 10 tokens/s per GPU: 4,440 GPU-seconds = 1.2 GPU-hours. Cells: 6 of 30 × 2 × 100 = 6,000 tokens,
# 6 of 7 × 2 × 100 = 1,400; on 8 (or 64) one-GPU engines the longest engine holds one 6,000-token cell:
# 600 s = 10 min. As a Slurm array of 8 shards (contiguous blocks of the 12 grid-ordered cells a:ja×3,
# a:en×3, b:ja×3, b:en×3, block bounds 12·i//8 = 0,1,3,4,6,7,9,10,12) the longest shard holds two
# aime24_en cells: 12,000 tokens = 20 min; 64 shards hold at most one cell: 10 min. With --executor ray
# each model is one engine group of 3 × 1,400 + 3 × 6,000 = 22,200 tokens: 2,220 s = 37 min from 2 GPUs up.
HAND_ROWS = [("a", "aime24_ja", 7, 42, 4200), ("a", "aime24_en", 30, 180, 18000),
             ("b", "aime24_ja", 7, 42, 4200), ("b", "aime24_en", 30, 180, 18000)]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def small_grid(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(GRID.format(out=tmp_path / "out"))
    return path


def test_dry_run_counts_match_the_hand_computation_and_write_nothing(small_grid, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    assert main(["run", "--model-grid", str(small_grid), "--dry-run", "--tokens-per-s", "10"]) == 0
    text = capsys.readouterr().out
    assert _tree(tmp_path) == before and not (tmp_path / "out").exists()
    lines = text.splitlines()
    for model, task, questions, requests, budget in HAND_ROWS:
        assert any(ln.split() == [model, task, str(questions), f"{requests:,}", f"{budget:,}"] for ln in lines), (model, task)
    assert "2 models × 2 tasks × 3 seeds = 12 cells" in text
    assert "total: 444 requests" in text and "budget 44,400" in text
    assert "GPU-hours at the budget: 1.2" in text
    assert ("    1 GPUs (1 engine): wall 1.2 h with cells spread largest first, 1.2 h as a Slurm array of 1 shards, "
            "1.2 h with --executor ray") in text
    assert ("    8 GPUs (8 engines): wall 10 min with cells spread largest first, 20 min as a Slurm array of 8 shards, "
            "37 min with --executor ray") in text
    assert ("   64 GPUs (64 engines): wall 10 min with cells spread largest first, 10 min as a Slurm array of 64 "
            "shards, 37 min with --executor ray") in text


def test_dry_run_from_flags_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs" / "x"
    code = main(["run", "--model", "org/Qwen2.5-1.5B-Instruct", "--tasks", "aime24_en", "--limit", "5",
                 "--seeds", "0,1", "--samples", "3", "--gen_kwargs", "temperature=0.6,max_gen_toks=1000",
                 "--backend", "vllm", "--out", str(out), "--dry-run", "--gpu", "A100"])
    text = capsys.readouterr().out
    assert code == 0 and _tree(tmp_path) == []
    assert "total: 30 requests" in text and "budget 30,000" in text  # 5 × 2 × 3, × 1,000
    # the published row for 1.5B / vllm / A100 is used, with its source
    assert "2,195 generated tokens/s per GPU" in text and "simon-mo/vLLM-Benchmark/pull/1" in text


def test_no_figure_asks_for_tokens_per_s(small_grid, capsys):
    assert main(["run", "--model-grid", str(small_grid), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "pass --tokens-per-s" in text and "GPU-hours at the budget" not in text and "wall" not in text.split("pass")[0]


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "fast"])
def test_bad_tokens_per_s_is_one_line_exit_2(small_grid, tmp_path, capsys, value):
    before = _tree(tmp_path)
    assert main(["run", "--model-grid", str(small_grid), "--dry-run", "--tokens-per-s", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--tokens-per-s" in err and "Traceback" not in err
    assert _tree(tmp_path) == before


def test_tokens_per_s_without_dry_run_is_refused_before_anything(small_grid, tmp_path, capsys):
    assert main(["run", "--model-grid", str(small_grid), "--tokens-per-s", "100"]) == 2
    assert "--dry-run" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_wall_time_spreads_cells_over_engines():
    # 5 cells of 4, 3, 3, 2, 2 tokens on 2 one-GPU engines at 1 token/s, largest first to the less loaded:
    # 4 | 3 → 4 | 6 → 6 | 6 → 8 | 6: 8 s. With tensor_parallel_size 2 on 4 GPUs: the same two
    # engines, each twice as fast: 4 s. Fewer GPUs than one engine needs: no figure.
    budgets = (4, 3, 3, 2, 2)
    assert wall_hours(budgets, 2, 1, 1.0) * 3600 == pytest.approx(8)
    assert wall_hours(budgets, 4, 2, 1.0) * 3600 == pytest.approx(4)
    assert wall_hours(budgets, 1, 2, 1.0) is None
