"""`rv-eval run` from flags: the same grid as a YAML, every flag problem at once, nothing written on
a failing check, hub ids checked before the run folder exists; console fixes (stats, lm-eval warning)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rv_eval.cli import main
from rv_eval.grid import parse_grid
from rv_eval.grid_flags import RunFlags, grid_from_flags, grid_yaml
from tests.test_check import write_store  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent


def _same(a, b) -> None:
    for field in ("name", "out", "models", "vectors", "tasks", "seeds", "sampling", "backend", "baseline"):
        assert getattr(a, field) == getattr(b, field), field


def test_flags_build_the_grid_a_yaml_file_would(tiny_family, tmp_path):
    pre, post, target = (tiny_family[k] for k in ("pre", "post", "target"))
    flags = RunFlags(models=[f"tgt={target}"], vectors=[f"v=pre:{pre},post:{post},target:{target}"],
                     alpha="0,0.5,1", tasks="demo_en,demo_ja", limit=3, seeds="0,1", samples=2, backend="hf",
                     model_args="dtype=float32,batch_size=4,threads=1", gen_kwargs="temperature=0.7,top_p=0.9,max_gen_toks=40",
                     baseline="v@0", out=str(tmp_path / "out"), name="g")
    hand = parse_grid(f"""
name: g
out: {tmp_path / 'out'}
models:
  - {{name: tgt, path: {target}}}
  - vector: {{name: v, pre: {pre}, post: {post}, target: {target}, alphas: [0, 0.5, 1]}}
tasks: [{{name: demo_en, limit: 3}}, {{name: demo_ja, limit: 3}}]
seeds: [0, 1]
sampling: {{temperature: 0.7, top_p: 0.9, max_gen_toks: 40, samples: 2}}
backend: {{name: hf, dtype: float32, batch_size: 4, threads: 1}}
baseline: v@0
""")
    grid = grid_from_flags(flags)
    _same(grid, hand)
    assert [m.name for m in grid.models] == ["tgt", "v@0", "v@0.5", "v@1"]
    _same(parse_grid(grid_yaml(flags)), grid)  # the printed grid is the same grid


def test_every_flag_problem_in_one_error_and_nothing_written(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--model", "m", "--tasks", "demo_en", "--limit", "0", "--alpha", "1",
                 "--model_args", "dtype", "--gen_kwargs", "until=x", "--seeds", "0,a", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "6 problems" in err and "Traceback" not in err
    for phrase in ("--alpha without --vector", "--limit", "'until' is not supported", "'dtype' is not KEY=VALUE",
                   "--seeds", "--model m: model folder"):
        assert phrase in err
    assert not out.exists()


def test_print_grid_prints_yaml_and_writes_nothing(tiny_family, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--model", str(tiny_family["target"]), "--tasks", "demo_en", "--out", str(out), "--print-grid"])
    text = capsys.readouterr().out
    assert code == 0 and not out.exists()
    grid = parse_grid(text)
    assert grid.models[0].path == str(tiny_family["target"].resolve()) and grid.out == out.resolve()


def test_grid_file_and_flags_together_are_refused(tmp_path, capsys):
    assert main(["run", "--model-grid", "examples/tiny_cpu.yaml", "--model", "x", "--tasks", "demo_en"]) == 2
    assert "both given" in capsys.readouterr().err
    assert main(["run"]) == 2
    assert "no grid given" in capsys.readouterr().err


def test_mistyped_hub_id_fails_fast_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rv_eval", "run", "--model", "HuggingFaceTB/SmolLM2-135M-Instrukt",
                           "--tasks", "demo_en", "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "SmolLM2-135M-Instrukt" in proc.stderr and "Fix:" in proc.stderr and "Traceback" not in proc.stderr
    assert time.perf_counter() - t < 60  # no download retries
    assert not out.exists()  # no run.json, no index.sqlite


def test_hub_check_names_every_bad_id(monkeypatch):
    from rv_eval.backends import hub
    from rv_eval.errors import UserError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    grid = grid_from_flags(RunFlags(models=["org/aaa", "org/bbb"], tasks="demo_en"))
    with pytest.raises(UserError) as e:
        hub.check_hub_models(grid)
    assert "'org/aaa'" in str(e.value) and "'org/bbb'" in str(e.value)


def test_stats_with_a_mistyped_baseline_prints_nothing(write_store, tmp_path, capsys):  # noqa: F811
    from rv_eval.schema import samples_frame

    rows = [{"model": m, "task": "gsm8k_en", "seed": 0, "doc_id": str(q), "sample_idx": 0, "correct": bool(q % 2),
             "alpha": None, "vector": None, "split": "test", "serves": "gsm8k_en", "lang": "en"}
            for m in ("target", "cand") for q in range(6)]
    out = write_store(tmp_path / "res", samples_frame([_full(r) for r in rows]))
    assert main(["stats", str(out), "--baseline", "targte"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "targte" in captured.err


def _full(row: dict) -> dict:
    """A samples-table row with the remaining columns filled."""
    base = {"grid": "sim", "doc_hash": "h", "fold": -1, "prompt": "p", "response": "r", "gold": "1", "extracted": "1",
            "reason": "", "response_lang": "en", "n_prompt_tokens": 1, "n_gen_tokens": 1, "gen_seconds": 0.1}
    return {**base, **row}


def test_lm_eval_metadata_warning_is_printed_once(capsys, caplog):
    main(["tasks"])  # installs the console filters, as every command does
    logger = logging.getLogger("lm_eval.api.task")
    with caplog.at_level(logging.WARNING, logger="lm_eval.api.task"):
        for task in ("demo_en", "demo_ja", "gsm8k_en"):
            logger.warning(f"{task}: Custom kwargs can be passed to `--metadata` in console (as json string).")
        logger.warning("another warning")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Custom kwargs" in m for m in messages) == 1 and "another warning" in messages


def test_import_gguf_refuses_a_missing_or_non_gguf_file(tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["import-gguf", str(tmp_path / "missing.gguf"), str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "model.bin").write_bytes(b"x")
    assert main(["import-gguf", str(tmp_path / "model.bin"), str(out)]) == 2
    assert "not a .gguf file" in capsys.readouterr().err and not out.exists()


def test_flag_and_grid_problems_in_one_error_named_by_flag(tmp_path, capsys):
    out, missing = tmp_path / "out", tmp_path / "no_model"
    code = main(["run", "--model", str(missing), "--tasks", "demo_en,nosuchtask", "--limit", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert lines[0] == "rv-eval: error: the command line: 3 problems:", err
    assert sorted(line.strip().split(":")[0] for line in lines[1:]) == ["--limit", f"--model {missing}", "--tasks"]
    assert f"--model {missing}: model folder {missing} does not exist" in err
    assert "--tasks: unknown task 'nosuchtask'" in err and "--limit: 0 is not a positive integer" in err
    assert "models[0]" not in err and "tasks[1]" not in err and "grid file" not in err
    assert not out.exists()  # no run.json, no index.sqlite, no folder


def test_vector_missing_folders_all_reported_with_flag_problems(tmp_path, capsys):
    out, target = tmp_path / "out", tmp_path / "target"
    target.mkdir()
    code = main(["run", "--vector", f"s1=pre:{tmp_path / 'no_pre'},post:{tmp_path / 'no_post'},target:{target}",
                 "--alpha", "0,1", "--tasks", "demo_en", "--seeds", "0,x", "--limit", "3000000000", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "the command line: 4 problems:" in err and "Traceback" not in err, err
    assert f"--vector s1 (pre): model folder {tmp_path / 'no_pre'} does not exist" in err
    assert f"--vector s1 (post): model folder {tmp_path / 'no_post'} does not exist" in err
    assert "--seeds: 'x' is not an integer" in err
    assert "--limit: expected an integer from 1 to" in err and "Fix: write e.g. --limit 10" in err  # flag syntax
    assert not out.exists()


def test_a_single_problem_is_one_line(tmp_path, capsys):
    missing = tmp_path / "no_model"
    assert main(["run", "--model", str(missing), "--tasks", "demo_en", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"rv-eval: error: --model {missing}: model folder {missing} does not exist. "
                   "Fix: fix the path (relative paths are relative to the current folder)\n")
    assert main(["run", "--model", str(missing), "--tasks", "demo_en", "--limit", "0"]) == 2  # flag + grid problem
    assert "2 problems" in capsys.readouterr().err
