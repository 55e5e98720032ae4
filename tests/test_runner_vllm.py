"""The grid runner on the vLLM backend: in-place α sweep, explicit seeds, k samples per question."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rv_eval.grid import load_grid
from rv_eval.runner import run_grid
from rv_eval.store import load_samples
from tests.test_runner import toy_grader, write_grid

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys
from rv_eval.grid import load_grid
from rv_eval.runner import run_grid
from tests.test_runner import toy_grader

if __name__ == "__main__":
    s = run_grid(load_grid(sys.argv[1]), grader=toy_grader, progress=False)
    print("RAN=" + json.dumps(s.ran))
"""


def test_vllm_grid_in_place_sweep(tiny_family, tmp_path):
    pytest.importorskip("vllm")
    out = tmp_path / "out"
    vec = (f"  - vector: {{name: v, pre: {tiny_family['pre']}, post: {tiny_family['post']}, "
           f"target: {tiny_family['target']}, alphas: [0, 1.5]}}\n")
    grid_file = write_grid(tmp_path, tiny_family, out, seeds=(0,), samples=2, max_gen=8, models=vec)
    text = grid_file.read_text().replace("baseline: target", "baseline: v@0").replace(
        "backend: {name: hf, dtype: float32, batch_size: 16}",
        "backend: {name: vllm, dtype: float32, gpu_memory_utilization: 0.3, max_model_len: 512, enforce_eager: true}")
    grid_file.write_text(text)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), str(grid_file)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = json.loads(proc.stdout.split("RAN=")[-1].splitlines()[0])
    assert ran == ["v@0--toy_en--s0", "v@1.5--toy_en--s0"]
    df = load_samples(out)
    assert len(df) == 2 * 3 * 2 and set(df["sample_idx"]) == {0, 1}
    assert (df.groupby(["model", "doc_id"])["response"].nunique() > 1).any()  # k distinct samples
    assert df["n_gen_tokens"].between(1, 8).all() and (df["n_prompt_tokens"] > 0).all()  # engine counts
    # vLLM's finish_reason is each sample's stop reason: the whole budget used means `length`
    full = df["n_gen_tokens"] == 8
    assert df["stop_reason"].isin(["stop", "length"]).all() and (df.loc[~full, "stop_reason"] == "stop").all()
    assert (df.loc[df["stop_reason"] == "length", "n_gen_tokens"] == 8).all()
    by_alpha = df.sort_values(["alpha", "doc_id", "sample_idx"]).groupby("alpha")["response"].apply(list)
    assert by_alpha[0.0] != by_alpha[1.5]  # the in-place weights changed the model
    # resume: nothing to run, so no engine is started
    assert run_grid(load_grid(grid_file), grader=toy_grader, progress=False).ran == []
