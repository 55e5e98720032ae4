"""Grid files: parsing, validation errors, expansion into cells, shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from rv_eval.errors import UserError
from rv_eval.grid import Cell, load_grid, parse_grid, parse_shard, shard_cells


@pytest.fixture()
def folders(tmp_path: Path) -> Path:
    for name in ("pre", "post", "target", "other"):
        (tmp_path / name).mkdir()
    return tmp_path


def _grid(folders: Path, body: str):
    path = folders / "grid.yaml"
    path.write_text(body)
    return load_grid(path)


GOOD = """
name: g
models:
  - {name: other, path: other}
  - vector: {name: vec, pre: pre, post: post, target: target, alphas: [0, 0.5, 1]}
  - {name: hub, path: Qwen/Qwen2.5-7B-Instruct}
tasks: [demo_en, {name: demo_ja, limit: 3}]
seeds: [0, 1]
sampling: {temperature: 0.6, top_p: 0.95, max_gen_toks: 32, samples: 2}
backend: {name: vllm, dtype: bfloat16, gpu_memory_utilization: 0.3, in_place: false}
baseline: vec@0
"""


def test_valid_grid_expands_vector_into_alpha_models(folders):
    g = _grid(folders, GOOD)
    assert [m.name for m in g.models] == ["other", "vec@0", "vec@0.5", "vec@1", "hub"]
    assert g.model("vec@0.5").alpha == 0.5 and g.model("vec@0.5").vector == "vec"
    assert g.model("other").path == str((folders / "other").resolve())
    assert g.model("hub").path == "Qwen/Qwen2.5-7B-Instruct"
    assert g.vector("vec").target == str((folders / "target").resolve())
    assert g.backend.name == "vllm" and not g.backend.in_place
    assert g.backend.options == {"dtype": "bfloat16", "gpu_memory_utilization": 0.3}
    assert g.sampling.samples == 2 and g.tasks[1].limit == 3
    cells = g.cells()
    assert len(cells) == 5 * 2 * 2
    assert cells[0] == Cell("other", "demo_en", 0)
    assert len({c.key for c in cells}) == len(cells)
    assert g.out == Path("runs") / "g"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("models: [{name: a, path: missing}]\ntasks: [demo_en]\n", "models[0].path"),
        ("models: [{name: a, path: other, colour: red}]\ntasks: [demo_en]\n", "models[0].colour"),
        ("models: [{path: other}]\ntasks: [demo_en]\nsurprise: 1\n", "surprise"),
        ("models: [{path: other}]\n", "tasks"),
        ("models: [{vector: {pre: pre, post: post, target: target, alphas: [a]}}]\ntasks: [demo_en]\n", "alphas"),
        ("models: [{vector: {pre: pre, post: post, target: target, alphas: [1, 1]}}]\ntasks: [demo_en]\n", "twice"),
        ("models: [{vector: {pre: pre, post: post, alphas: [1]}}]\ntasks: [demo_en]\n", "vector.target"),
        ("models: [{path: other}]\ntasks: [demo_en]\nsampling: {temperature: -1}\n", "sampling.temperature"),
        ("models: [{path: other}]\ntasks: [demo_en]\nsampling: {samples: 4}\n", "temperature 0"),
        ("models: [{path: other}]\ntasks: [{name: demo_en, limit: 0}]\n", "tasks[0].limit"),
        ("models: [{path: other}]\ntasks: [demo_en]\nseeds: [1, 1]\n", "seeds"),
        ("models: [{path: other}]\ntasks: [demo_en]\nbackend: tgi\n", "backend.name"),
        ("models: [{path: other}]\ntasks: [demo_en]\nbaseline: nope\n", "baseline"),
        ("models: [{path: other}, {path: other}]\ntasks: [demo_en]\n", "appears twice"),
        ("models: [{path: other}\n", "not valid YAML"),
        ("models: [{path: other}]\ntasks: [demo_eng]\n", "did you mean ['demo_en'"),
        ("models: [{path: other}]\ntasks: [demo_en]\nbackend: {name: hf, bogus_opt: 1}\n", "backend.bogus_opt"),
        ("models: [{path: other}]\ntasks: [demo_en]\nbackend: {name: hf, batchsize: 4}\n", "did you mean batch_size"),
        ("models: [{path: other}]\ntasks: [demo_en]\nbackend: {name: vllm, enforce_eagr: true}\n",
         "did you mean enforce_eager"),
        ("models: [{path: other}]\ntasks: [bbh_en]\n", "bbh_en_snarks"),
    ],
)
def test_errors_name_file_and_key(folders, body, needle):
    with pytest.raises(UserError) as e:
        _grid(folders, body)
    msg = str(e.value)
    assert "grid.yaml" in msg and needle in msg and "Fix:" in msg


def test_missing_grid_file_is_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_grid(tmp_path / "nope.yaml")


def test_out_override_and_default(folders):
    g = parse_grid("models: [{path: other}]\ntasks: [demo_en]\nout: res\n", source=folders / "x.yaml")
    assert g.out == folders / "res"
    g2 = parse_grid("models: [{path: other}]\ntasks: [demo_en]\n", source=folders / "x.yaml", out="elsewhere")
    assert g2.out == Path("elsewhere")


def test_backend_options_of_the_constructors_are_accepted(folders):
    """Options named by RVHFLM/HFLM (hf) and VLLMBackend/vllm.LLM/EngineArgs (vllm) pass the grid check."""
    hf = _grid(folders, "models: [{path: other}]\ntasks: [demo_en]\n"
                        "backend: {name: hf, dtype: float32, batch_size: 4, max_length: 512, revision: main}\n")
    assert hf.backend.options["max_length"] == 512
    vllm = _grid(folders, "models: [{path: other}]\ntasks: [demo_en]\nbackend: {name: vllm, think_tags: none, "
                          "enforce_eager: true, kv_cache_memory_bytes: 1000000, max_num_seqs: 8, device: cpu}\n")
    assert vllm.backend.options["max_num_seqs"] == 8


def test_unknown_backend_option_is_refused_before_anything_is_written(folders, capsys):
    """`rv-eval run` stops at the grid check: exit 2, one line naming the key, no output folder."""
    from rv_eval.cli import main

    (folders / "g.yaml").write_text("out: res\nmodels: [{path: other}]\ntasks: [demo_en]\n"
                                    "backend: {name: hf, bogus_opt: 1}\n")
    assert main(["run", "--model-grid", str(folders / "g.yaml")]) == 2
    err = capsys.readouterr().err
    assert "backend.bogus_opt" in err and "batch_size" in err and "Traceback" not in err
    assert not (folders / "res").exists()


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_partition_the_grid(n):
    cells = [Cell(f"m{i}", f"t{j}", s) for i in range(3) for j in range(2) for s in range(2)]
    parts = [shard_cells(cells, (i, n)) for i in range(n)]
    flat = [c for p in parts for c in p]
    assert flat == cells  # disjoint, ordered, complete


@pytest.mark.parametrize("bad", ["4/4", "a/b", "1", "-1/2", "0/0"])
def test_bad_shard_is_user_error(bad):
    with pytest.raises(UserError, match="--shard"):
        parse_shard(bad)


@pytest.mark.parametrize("name", ["s1_ezo_ja.yaml", "grpo_sft_qwen.yaml"])
def test_paper_example_grids_validate(name):
    g = load_grid(Path(__file__).resolve().parent.parent / "examples" / name)
    assert g.backend.name == "vllm" and len(g.seeds) == 3 and g.sampling.samples == 4
    assert g.baseline in {m.name for m in g.models}
    assert any(m.alpha == 0 for m in g.models)


def test_cli_run_with_bad_grid_exits_2_without_traceback(folders, capsys):
    from rv_eval.cli import main

    (folders / "bad.yaml").write_text("models: [{path: nowhere}]\ntasks: [demo_en]\n")
    assert main(["run", "--model-grid", str(folders / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert "models[0].path" in err and "Traceback" not in err
    assert main(["run", "--model-grid", str(folders / "bad.yaml"), "--shard", "2/2"]) == 2
    assert "--shard '2/2'" in capsys.readouterr().err
