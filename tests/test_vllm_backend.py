"""Tests of the vLLM backend (`rv-vllm`): request grouping, seeds, trace splitting, weight
chunking (fast, no engine), and one real vLLM engine (module-scoped, in a subprocess) checking
in-place α = materialized α, same seed ⇒ same samples, n = k in one request, lm-eval repeats."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rv_eval.backends.vllm_requests import (
    cut_at_stops,
    group_requests,
    parse_think_tags,
    request_seed,
    split_think,
)
from rv_eval.backends.vllm_weights import pack_chunks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from vllm_engine_checks import ALPHA, variant_tensors  # noqa: E402

# ---- fast: pure request logic -----------------------------------------------------------------


def test_group_requests_folds_identical_requests_in_order():
    g = {"until": ["\n"], "temperature": 1.0}
    args = [("a", g), ("b", g), ("a", dict(g)), ("a", {"until": ["\n"], "temperature": 0.5}), ("a", g)]
    groups, pos = group_requests(args)
    assert [(x.context, x.count) for x in groups] == [("a", 3), ("b", 1), ("a", 1)]
    assert pos == [(0, 0), (1, 0), (0, 1), (2, 0), (0, 2)]


def test_request_seed_is_stable_and_separates_grid_seeds():
    kw = {"temperature": 1.0, "until": ["x"]}
    s0 = request_seed(0, "q", kw)
    assert s0 == request_seed(0, "q", {"until": ["x"], "temperature": 1.0})  # key order irrelevant
    assert s0 != request_seed(1, "q", kw) and s0 != request_seed(0, "q2", kw)
    # vLLM gives the k children seeds s, s+1, ...: neighbouring grid seeds must not overlap
    s1 = request_seed(1, "q", kw)
    assert abs(s1 - s0) > 10_000
    assert 0 <= s0 < 2**62


@pytest.mark.parametrize(
    ("text", "thinking", "answer", "closed"),
    [
        ("<think>a+b</think>The answer is 3", "a+b", "The answer is 3", True),
        ("a+b</think> 3", "a+b", " 3", True),  # template opened the trace in the prompt
        ("<think>still thinking", "still thinking", "", False),
        ("plain 3", None, "plain 3", True),
    ],
)
def test_split_think(text, thinking, answer, closed):
    parts = split_think(text, ("<think>", "</think>"))
    assert (parts.thinking, parts.answer, parts.closed) == (thinking, answer, closed)


def test_split_think_disabled_and_tag_parsing():
    assert split_think("<think>x</think>y", None).answer == "<think>x</think>y"
    assert parse_think_tags("<think>,</think>") == ("<think>", "</think>")
    assert parse_think_tags("none") is None
    with pytest.raises(ValueError, match="think_tags"):
        parse_think_tags("<think>")


def test_cut_at_stops_uses_earliest_stop():
    assert cut_at_stops("abc\n\nQ: x<|im_end|>", ["<|im_end|>", "\n\n", ""]) == "abc"
    assert cut_at_stops("abc", ["zz"]) == "abc"


def test_pack_chunks_round_trips_and_bounds_chunk_size():
    from safetensors.torch import load

    tensors = [(f"w{i}", torch.full((256,), float(i), dtype=torch.bfloat16)) for i in range(10)]
    blobs = list(pack_chunks(tensors, max_bytes=1200))  # 512 B per tensor -> 2 per chunk
    assert len(blobs) == 5
    back = {k: v for b in blobs for k, v in load(b).items()}
    assert sorted(back) == sorted(n for n, _ in tensors)
    assert all(torch.equal(back[n], t) for n, t in tensors)
    with pytest.raises(ValueError, match="twice"):
        list(pack_chunks([("a", torch.zeros(1)), ("a", torch.zeros(1))]))


def test_registered_in_lm_eval_registry():
    from lm_eval.api.registry import get_model

    from rv_eval.backends.vllm import VLLMBackend

    assert get_model("rv-vllm") is VLLMBackend


# ---- one real engine ----------------------------------------------------------------------------

TASK_YAML = """\
task: rv_tiny_repeats
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
repeats: 3
generation_kwargs:
  until: ["<|im_end|>"]
  max_gen_toks: 8
  do_sample: true
  temperature: 1.0
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def _materialize(family: dict[str, Path], alpha: float, out: Path) -> Path:
    """In-test reference variant: target + α·(post − pre), float32 -> bf16, target's config."""
    from safetensors.torch import save_file

    out.mkdir(parents=True)
    save_file(dict(variant_tensors(family["target"].parent, alpha)), out / "model.safetensors",
              metadata={"format": "pt"})
    for f in family["target"].iterdir():
        if not f.name.endswith(".safetensors"):
            shutil.copy(f, out / f.name)
    return out


@pytest.fixture(scope="module")
def engine(tiny_family, tmp_path_factory) -> dict:
    """Run tests/vllm_engine_checks.py once (one engine start) and return what it recorded."""
    pytest.importorskip("vllm")
    tmp = tmp_path_factory.mktemp("vllm")
    alpha_dir = _materialize(tiny_family, ALPHA, tmp / f"alpha_{ALPHA:g}")
    data = tmp / "docs.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": "5"}) + "\n" for q in ("1+4?", "2+3?")))
    (tmp / "tasks").mkdir()
    (tmp / "tasks" / "rv_tiny_repeats.yaml").write_text(TASK_YAML.format(data=data))
    out = tmp / "checks.json"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "vllm_engine_checks.py"), str(tiny_family["target"].parent),
         str(alpha_dir), str(tmp / "tasks"), str(out)],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.vllm
def test_inplace_alpha_equals_materialized_variant(engine):
    assert engine["inplace"] == engine["fresh"]
    assert engine["inplace_again"] == engine["fresh"]  # recomputed each time: no drift
    # the switch really changed the weights in between
    assert engine["target"] != engine["fresh"] or engine["alpha1"] != engine["fresh"]
    assert engine["load_alpha"]["tensors"] == engine["n_checkpoint_tensors"]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.vllm
def test_partial_weight_stream_is_refused(engine):
    assert engine["partial_error"] is not None
    assert "unset" in engine["partial_error"] and "Fix:" in engine["partial_error"]
    assert engine["closed"]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.vllm
def test_k_samples_in_one_request_and_seed_determinism(engine):
    assert engine["sampled_calls"] == [[4]]  # one engine call, one request, n=4
    assert engine["sample_idx"] == [0, 1, 2, 3]
    assert len(set(engine["sampled_a"])) > 1  # k different samples
    assert engine["sampled_b"] == engine["sampled_a"]  # same seed => same samples
    assert engine["sampled_seed8"] != engine["sampled_a"]
    assert engine["sampled_kw_seed8"] == engine["sampled_seed8"]  # gen_kwargs["seed"] = grid seed
    assert all(0 < n <= 12 for n in engine["n_gen_tokens"])
    assert len(set(engine["n_prompt_tokens"])) == 1 and engine["n_prompt_tokens"][0] > 5


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.vllm
def test_chat_template_and_loglikelihood(engine):
    assert engine["context0"] == "<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n<|im_start|>assistant\n"
    (logprob, _greedy), = engine["loglik"]
    assert math.isfinite(logprob) and logprob < 0


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.vllm
def test_lm_eval_repeats_become_one_request_with_n(engine):
    rep = engine["repeats"]
    assert rep["calls"] == [[3, 3]]  # 2 docs x 3 repeats -> 2 requests with n=3, in one call
    assert all(len(r) == 3 for r in rep["resps"])
    assert all(len(set(r)) > 1 for r in rep["resps"])  # every sample scored, not the first thrice
    assert all("<|im_start|>user" in p for p in rep["prompts"])  # chat template applied


def _fake_backend(**opts):
    """A VLLMBackend without an engine, for its post-processing only."""
    from rv_eval.backends.vllm import VLLMBackend

    lm = VLLMBackend.__new__(VLLMBackend)
    lm.think_tags = parse_think_tags(opts.get("think_tags", "<think>,</think>"))
    lm.answer_only = opts.get("answer_only", False)
    lm.defer_stops = opts.get("defer_stops", False)
    return lm


def _output(*texts):
    from types import SimpleNamespace

    return SimpleNamespace(outputs=[SimpleNamespace(text=t, token_ids=list(range(len(t))), finish_reason="stop")
                                    for t in texts])


@pytest.mark.parametrize(
    ("opts", "text", "returned", "answer"),
    [
        ({}, "<think>a\n\nb</think>42", "<think>a\n\nb</think>42", "42"),
        ({"answer_only": True}, "<think>a</think> 42", " 42", " 42"),
        ({"answer_only": True}, "<think>never closed", "", ""),
        # stops deferred past the trace: "\n\n" inside the trace stays, the answer is cut at it
        ({"defer_stops": True}, "<think>a\n\nb</think>42\n\nQ: next", "<think>a\n\nb</think>42", "42"),
        ({"think_tags": "none", "answer_only": True}, "<think>a</think>42", "<think>a</think>42",
         "<think>a</think>42"),
    ],
)
def test_record_keeps_full_text_and_splits_trace(opts, text, returned, answer):
    lm = _fake_backend(**opts)
    prep = {"greedy": False, "until": ["\n\n", "<|im_end|>"], "seed": 5, "prompt_ids": [1, 2, 3]}
    rec = lm._record("ctx", prep, _output("other", text), sample_idx=1)
    assert (rec.returned, rec.answer, rec.sample_idx, rec.seed) == (returned, answer, 1, 5)
    assert rec.n_prompt_tokens == 3 and rec.n_gen_tokens == len(text)
    if not opts.get("defer_stops"):
        assert rec.text == text  # nothing stripped


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.vllm
def test_rv_eval_run_grid_on_vllm_in_place(tiny_family, tmp_path):
    """`rv-eval run` with `backend: vllm`: an α sweep in one engine, k samples, two seeds, resume."""
    pytest.importorskip("vllm")
    from rv_eval.store import load_samples

    fam, out = tiny_family, tmp_path / "out"
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        f"name: vgrid\nout: {out}\nmodels:\n"
        f"  - vector: {{name: vec, pre: {fam['pre']}, post: {fam['post']}, target: {fam['target']}, "
        "alphas: [0, 0.5]}\n"
        "tasks: [{name: demo_en, limit: 2}]\nseeds: [0, 1]\n"
        "sampling: {temperature: 1.0, max_gen_toks: 8, samples: 3}\n"
        "backend: {name: vllm, dtype: bfloat16, max_model_len: 256, enforce_eager: true}\n")
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "rv_eval", "run", "--model-grid", str(grid), "--no-progress"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    df = load_samples(out)
    assert len(df) == 2 * 2 * 2 * 3  # α-variants × seeds × questions × samples
    assert sorted(df["sample_idx"].unique()) == [0, 1, 2]
    per_q = df.groupby(["model", "seed", "doc_id"])["response"].nunique()
    assert (per_q > 1).all()  # k distinct samples, not one sample k times
    key = ["model", "doc_id", "sample_idx"]
    s0 = df[df.seed == 0].sort_values(key)["response"].tolist()
    s1 = df[df.seed == 1].sort_values(key)["response"].tolist()
    assert s0 != s1
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(load_samples(out)) == len(df)  # resume: nothing new


@pytest.mark.slow
@pytest.mark.vllm
def test_user_errors_before_any_engine_starts(tmp_path):
    pytest.importorskip("vllm")
    from rv_eval.backends.vllm import VLLMBackend
    from rv_eval.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        VLLMBackend(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="data_parallel_size"):
        VLLMBackend(str(tmp_path), data_parallel_size=2)
    with pytest.raises(UserError, match="colour"):
        VLLMBackend(str(tmp_path), colour="red")
