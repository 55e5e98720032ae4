"""The trained tiny family: reproducible, clean Japanese tokens, and a visible reasoning-vector effect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rv_eval.grading import grade_math
from rv_eval.merge import MergeSpec, merge_variants
from rv_eval.paths import DATA_DIR
from rv_eval.tinymodels import TrainSettings, build_trained_family, chat_prompt, demo_prompt
from rv_eval.wordproblems import generate

QUICK = TrainSettings(pre_steps=2, post_steps=2, target_steps=2, n_problems=40)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_generator_is_seeded_and_correct():
    probs = generate(50, seed=3)
    assert probs == generate(50, seed=3) and probs != generate(50, seed=4)
    for p in probs:
        assert eval(p.calc) == p.answer and p.answer > 0  # noqa: S307 - our own "a + b" strings
    assert not set(generate(50, seed=3, exclude={probs[0].en})) & {probs[0]}


def test_same_seed_same_weights(tmp_path):
    a = build_trained_family(tmp_path / "a", seed=1, settings=QUICK)
    b = build_trained_family(tmp_path / "b", seed=1, settings=QUICK)
    c = build_trained_family(tmp_path / "c", seed=2, settings=QUICK)
    for role in ("pre", "post", "target"):
        assert _same(_weights(a[role]), _weights(b[role])), role
        assert not _same(_weights(a[role]), _weights(c[role])), role
        assert _weights(a[role])["model.embed_tokens.weight"].dtype == torch.bfloat16
    assert (a["pre"] / "tokenizer.json").read_bytes() == (b["pre"] / "tokenizer.json").read_bytes()
    assert not _same(_weights(a["post"]), _weights(a["target"]))


def test_tokenizer_decodes_japanese_cleanly(tmp_path):
    from transformers import AutoTokenizer

    fam = build_trained_family(tmp_path, settings=QUICK)
    tok = AutoTokenizer.from_pretrained(fam["target"])
    assert len(tok) <= 1024 and tok.chat_template
    msg = [{"role": "user", "content": "問題"}]
    assert tok.apply_chat_template(msg, tokenize=False, add_generation_prompt=True) == chat_prompt("問題")
    for line in (DATA_DIR / "demo" / "demo.jsonl").read_text(encoding="utf-8").splitlines():
        ja = json.loads(line)["ja"]
        ids = tok(ja, add_special_tokens=False).input_ids
        assert tok.decode(ids) == ja
        assert all("\ufffd" not in tok.decode([i]) for i in ids), ja  # every token is whole characters


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """The default trained family plus its α = 0 and α = 1 variants merged by rv_eval.merge."""
    root = tmp_path_factory.mktemp("trained")
    fam = build_trained_family(root / "family")
    spec = MergeSpec(target=str(fam["target"]), pre=str(fam["pre"]), post=str(fam["post"]),
                     alphas=(0.0, 1.0), out=root / "variants")
    variants = merge_variants(spec)
    for folder in variants.values():  # the merge writes weights + config; the tokenizer comes from target
        for f in fam["target"].glob("tokenizer*"):
            (folder / f.name).write_bytes(f.read_bytes())
    return {**fam, "alpha0": variants[0.0], "alpha1": variants[1.0]}


def _answers(model_dir: Path, questions: list[str], lang: str) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    enc = tok([chat_prompt(demo_prompt(q, lang)) for q in questions], return_tensors="pt", padding=True,
              add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=32, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.batch_decode(out[:, enc.input_ids.shape[1]:], skip_special_tokens=True)


def _boxed_rate(answers: list[str]) -> float:
    return sum("\\boxed{" in a for a in answers) / len(answers)


@pytest.mark.slow
def test_reasoning_vector_changes_behaviour(trained):
    held_out = generate(16, seed=10_000)  # not the training seed: unseen questions
    ja = [p.ja for p in held_out]
    rates = {role: _boxed_rate(_answers(trained[role], ja, "ja")) for role in ("target", "post", "alpha0", "alpha1")}
    assert rates["post"] >= rates["target"] + 0.5, rates
    assert rates["alpha1"] >= rates["alpha0"] + 0.5, rates
    target_answers = _answers(trained["target"], ja, "ja")
    assert all("\ufffd" not in a for a in target_answers)
    assert sum(grade_math(a, str(p.answer), lang="ja").reason != "no_answer"
               for a, p in zip(target_answers, held_out, strict=True)) >= 8  # target answers, in its plain Japanese format
