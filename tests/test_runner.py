"""The grid runner end to end on tiny local models with the real HF backend and real lm-eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rv_eval.grid import load_grid
from rv_eval.regrade import import_samples, regrade
from rv_eval.runner import run_grid
from rv_eval.schema import Grade
from rv_eval.store import Store, load_samples

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCS = [{"id": f"q{i}", "gold": str(i + 2), "question": f"1 + {i + 1} = ?", "fold": i % 2} for i in range(3)]


def toy_grader(task: str, doc: dict, response: str) -> Grade:
    """A stand-in grader: correct when the gold string occurs in the response."""
    return Grade(doc["gold"] in response, doc["gold"] if doc["gold"] in response else None, "ok")


def write_toy_task(folder: Path) -> Path:
    """An lm-eval generation task `toy_en` over three local questions."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "toy.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (folder / "toy_en.yaml").write_text(
        "task: toy_en\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: generate_until\n"
        'doc_to_text: "Question: {{question}}\\nAnswer:"\ndoc_to_target: "{{gold}}"\n'
        'generation_kwargs:\n  until: ["\\n\\n"]\n  max_gen_toks: 16\n'
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
    )
    return folder


def write_grid(root: Path, family: dict[str, Path], out: Path, *, seeds=(0, 1), samples=2, max_gen=6,
               models: str | None = None) -> Path:
    """A grid over the tiny family and the toy task."""
    tasks = write_toy_task(root / "toytasks")
    models = models or f"  - {{name: target, path: {family['target']}}}\n  - {{name: post, path: {family['post']}}}\n"
    grid = root / f"grid-{out.name}.yaml"
    grid.write_text(
        f"name: toy\nout: {out}\ntask_paths: [{tasks}]\nmodels:\n{models}"
        f"tasks: [toy_en]\nseeds: {list(seeds)}\n"
        f"sampling: {{temperature: 0.9, top_p: 0.95, max_gen_toks: {max_gen}, samples: {samples}}}\n"
        "backend: {name: hf, dtype: float32, batch_size: 16}\nbaseline: target\n"
    )
    return grid


def test_grid_stores_every_sample_and_resumes(tiny_family, tmp_path):
    out = tmp_path / "out"
    grid = load_grid(write_grid(tmp_path, tiny_family, out))
    s = run_grid(grid, grader=toy_grader, progress=False)
    assert len(s.ran) == 4 and s.skipped == 0
    df = load_samples(out)
    assert len(df) == 2 * 2 * 3 * 2  # models × seeds × questions × samples
    assert sorted(df["sample_idx"].unique()) == [0, 1]
    assert set(df["doc_id"]) == {"q0", "q1", "q2"} and set(df["fold"]) == {0, 1}
    assert (df["n_prompt_tokens"] > 0).all() and df["prompt"].str.contains("<|im_start|>assistant", regex=False).all()
    # k samples per question are distinct draws, and seeds differ
    per_q = df.groupby(["model", "seed", "doc_id"])["response"].nunique()
    assert (per_q > 1).mean() > 0.5
    a = df[df.seed == 0].sort_values(["model", "doc_id", "sample_idx"])["response"].tolist()
    b = df[df.seed == 1].sort_values(["model", "doc_id", "sample_idx"])["response"].tolist()
    assert a != b
    # resume: nothing re-runs, nothing changes
    before = {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    s2 = run_grid(grid, grader=toy_grader, progress=False)
    assert s2.ran == [] and s2.skipped == 4
    assert before == {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    # a changed sampling setting re-runs every cell instead of mixing
    grid3 = load_grid(write_grid(tmp_path, tiny_family, out, max_gen=4))
    s3 = run_grid(grid3, grader=toy_grader, progress=False)
    assert len(s3.ran) == 4
    assert len(load_samples(out)) == 24


def test_same_seed_same_samples_and_shards_union(tiny_family, tmp_path):
    full = load_grid(write_grid(tmp_path, tiny_family, tmp_path / "full", seeds=(3,)))
    run_grid(full, grader=toy_grader, progress=False)
    sharded = load_grid(write_grid(tmp_path, tiny_family, tmp_path / "sharded", seeds=(3,)))
    ran = [run_grid(sharded, shard=(i, 2), grader=toy_grader, progress=False).ran for i in range(2)]
    assert sorted(ran[0] + ran[1]) == sorted(c.key for c in full.cells()) and not set(ran[0]) & set(ran[1])
    cols = ["model", "doc_id", "sample_idx", "response", "correct"]
    a, b = load_samples(tmp_path / "full")[cols], load_samples(tmp_path / "sharded")[cols]
    assert a.reset_index(drop=True).equals(b.reset_index(drop=True))


def test_regrade_and_changed_weights(tiny_family, tmp_path):
    import shutil

    target = tmp_path / "target_copy"
    shutil.copytree(tiny_family["target"], target)
    out = tmp_path / "out"
    models = f"  - {{name: target, path: {target}}}\n"
    grid = load_grid(write_grid(tmp_path, tiny_family, out, seeds=(0,), models=models))
    run_grid(grid, grader=toy_grader, progress=False)
    s = regrade(out, grader=lambda t, d, r: Grade(True, "x", "ok"))
    assert s.cells == 1 and s.samples == 6
    df = load_samples(out)
    assert df["correct"].all() and (df["extracted"] == "x").all()
    # new weights under the same path make the cell re-run
    wfile = target / "model.safetensors"
    data = bytearray(wfile.read_bytes())
    data[-1] ^= 1
    wfile.write_bytes(bytes(data))
    assert run_grid(grid, grader=toy_grader, progress=False).ran == [grid.cells()[0].key]
    # an edited question (task data) re-runs the cell too
    data_file = tmp_path / "toytasks" / "toy.jsonl"
    data_file.write_text(data_file.read_text().replace("1 + 1 = ?", "1 + 1 = ??"))
    assert run_grid(load_grid(grid.source), grader=toy_grader, progress=False).ran == [grid.cells()[0].key]
    assert load_samples(out)["prompt"].str.contains("1 + 1 = ??", regex=False).any()


def test_import_lm_eval_log_samples(tiny_family, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    tasks = write_toy_task(tmp_path / "toytasks")
    tracker = EvaluationTracker(output_path=str(tmp_path / "lmeval"))
    res = simple_evaluate(model="hf", model_args=f"pretrained={tiny_family['target']},dtype=float32,device=cpu",
                          tasks=["toy_en"], limit=2, log_samples=True, apply_chat_template=True,
                          gen_kwargs="max_gen_toks=4", task_manager=TaskManager(include_path=str(tasks)),
                          evaluation_tracker=tracker)
    samples = res.pop("samples")
    tracker.save_results_aggregated(results=res, samples=samples)  # what the lm_eval CLI does
    tracker.save_results_samples(task_name="toy_en", samples=samples["toy_en"])
    files = list((tmp_path / "lmeval").rglob("samples_toy_en_*.jsonl"))
    assert len(files) == 1
    keys = import_samples(tmp_path / "out", files, model="ext", seed=0, grader=toy_grader)
    df = load_samples(tmp_path / "out")
    assert keys == ["ext--toy_en--s0"] and len(df) == 2
    assert df["prompt"].str.contains("1 + 1 = ?", regex=False).any()
    assert Store(tmp_path / "out").stored_fingerprints()[keys[0]].startswith("import:")


def test_in_place_alpha_equals_materialized_alpha(tiny_family, tmp_path):
    pytest.importorskip("rv_eval.merge")
    vec = (f"  - vector: {{name: v, pre: {tiny_family['pre']}, post: {tiny_family['post']}, "
           f"target: {tiny_family['target']}, alphas: [0, 1.5]}}\n")
    results = {}
    for mode in ("inplace", "materialized"):
        grid_file = write_grid(tmp_path, tiny_family, tmp_path / mode, seeds=(0,), samples=1, max_gen=8, models=vec)
        text = grid_file.read_text().replace("temperature: 0.9", "temperature: 0").replace("baseline: target", "baseline: v@0")
        grid_file.write_text(text)
        s = run_grid(load_grid(grid_file), materialize=mode == "materialized", grader=toy_grader, progress=False)
        assert len(s.ran) == 2
        results[mode] = load_samples(tmp_path / mode)[["model", "alpha", "doc_id", "response"]]
    assert results["inplace"].equals(results["materialized"])
    a = results["inplace"]
    assert a[a.alpha == 0]["response"].tolist() != a[a.alpha == 1.5]["response"].tolist()
    assert list((tmp_path / "materialized" / "variants" / "v").glob("alpha_*"))
