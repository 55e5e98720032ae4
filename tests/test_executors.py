"""Planning engine groups and choosing an executor (no engine is loaded here)."""

from __future__ import annotations

import pytest

from rv_eval.cli import main
from rv_eval.errors import UserError
from rv_eval.executors import get_executor
from rv_eval.grid import parse_grid
from rv_eval.runner import engine_groups

GRID = """
name: g
out: {out}
models:
  - {{name: base, path: org/base}}
  - vector: {{name: v, pre: org/pre, post: org/post, target: org/target, alphas: [0, 0.5, 1]}}
tasks: [aime24_ja]
seeds: [0, 1]
backend: {{name: vllm, tensor_parallel_size: 2{extra}}}
"""


def grid(tmp_path, extra=""):
    return parse_grid(GRID.format(out=tmp_path / "out", extra=extra))


def test_groups_are_a_model_or_a_vector_with_all_its_alphas(tmp_path):
    g = grid(tmp_path)
    groups = engine_groups(g, g.cells())
    assert [x.name for x in groups] == ["base", "v"]
    assert [c.key for c in groups[0].cells] == ["base--aime24_ja--s0", "base--aime24_ja--s1"]
    assert [m.name for m in groups[1].models] == ["v@0", "v@0.5", "v@1"] and len(groups[1].cells) == 6
    assert groups[1].vector.name == "v" and all(x.gpus == 2 for x in groups)
    # only pending cells are planned; a model with none left gets no engine
    pending = [c for c in g.cells() if c.model != "base"][:3]
    assert [(x.name, len(x.cells)) for x in engine_groups(g, pending)] == [("v", 3)]


def test_data_parallel_size_splits_each_group_into_engines(tmp_path):
    g = grid(tmp_path, ", data_parallel_size: 2")
    groups = engine_groups(g, g.cells())
    assert [(x.name, len(x.cells)) for x in groups] == [("base#0", 1), ("base#1", 1), ("v#0", 3), ("v#1", 3)]
    assert sorted(c.key for x in groups for c in x.cells) == sorted(c.key for c in g.cells())
    assert [m.name for m in groups[2].models] == ["v@0", "v@0.5"]  # contiguous: few α switches per engine
    assert [m.name for m in groups[3].models] == ["v@0.5", "v@1"]


def test_loader_never_passes_data_parallel_size_to_the_engine(tmp_path, monkeypatch):
    from rv_eval.executors import engine

    seen = {}
    monkeypatch.setattr(engine, "create_lm", lambda backend, model, options: seen.update(options) or object())
    engine.Loader(grid(tmp_path, ", data_parallel_size: 4"))("org/base")
    assert seen == {"tensor_parallel_size": 2}


def test_executor_choice_errors(capsys):
    with pytest.raises(UserError, match="--ray-address needs --executor ray"):
        get_executor("local", "127.0.0.1:6379")
    with pytest.raises(UserError, match="no Ray cluster at 127.0.0.1:1"):
        pytest.importorskip("ray")
        get_executor("ray", "127.0.0.1:1")
    with pytest.raises(UserError, match="expected auto or HOST:PORT"):
        get_executor("ray", "nohostport")
    with pytest.raises(SystemExit) as e:
        main(["run", "--model-grid", "x.yaml", "--executor", "dask"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_workers_get_no_results_folder_and_keep_engine_processes_in_the_actor(tmp_path):
    pytest.importorskip("ray")
    from rv_eval.executors.ray import _worker_grid

    g = _worker_grid(grid(tmp_path))
    assert str(tmp_path) not in str(g.out)
    assert g.backend.options == {"tensor_parallel_size": 2, "distributed_executor_backend": "mp"}
    chosen = _worker_grid(grid(tmp_path, ", distributed_executor_backend: ray"))
    assert chosen.backend.options["distributed_executor_backend"] == "ray"
