"""The trained tiny family: seeded data and weights, clean Japanese tokens, no demo question in
training, and the build script that made the shipped family (re-run here on a small setting)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rv_eval.demo import FAMILY_DIR, read_checksums, verify_family
from rv_eval.errors import UserError
from rv_eval.paths import DATA_DIR
from rv_eval.tinymodels import (
    TRAINED_SPEC,
    TrainSettings,
    build_trained_family,
    chat_prompt,
    main,
    training_sets,
)
from rv_eval.wordproblems import demo_set, equations, generate

QUICK = TrainSettings(pre_steps=2, post_steps=2, target_steps=2, n_problems=40, n_equations=100, batch_size=4)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_generator_is_seeded_and_its_worked_solutions_are_right():
    probs = generate(200, seed=3)
    assert probs == generate(200, seed=3) and probs != generate(200, seed=4)
    assert len({p.en for p in probs}) == 200
    for p in probs:
        value = None
        for step in p.steps:  # each step "a op b = c" is true, and chains into the next
            lhs, rhs = step.split(" = ")
            assert eval(lhs) == int(rhs)  # noqa: S307 - our own "a + b" strings
            assert value is None or lhs.startswith(f"{value} ")
            value = int(rhs)
        assert value == p.answer > 0
    assert not {p.en for p in generate(50, seed=3, exclude={probs[0].en})} & {probs[0].en}
    for eq in equations(100, seed=1):
        lhs, rhs = eq.split(" = ")
        assert eval(lhs) == int(rhs)  # noqa: S307


def test_demo_file_is_the_seeded_demo_set():
    rows = [json.loads(x) for x in (DATA_DIR / "demo" / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows == demo_set()
    assert sum(r["split"] == "test" for r in rows) == 40 and sum(r["split"] == "dev" for r in rows) == 24


def test_no_demo_question_is_in_any_training_example():
    """Test and dev questions (either language) appear in no training text of any stage."""
    sets = training_sets(0, TrainSettings())
    corpus = "\n".join(p + "\n" + c for pairs in sets.values() for p, c in pairs)
    rows = [json.loads(x) for x in (DATA_DIR / "demo" / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    leaked = [r["id"] for r in rows for lang in ("en", "ja") if r[lang] in corpus]
    assert leaked == []
    # the check can fail: a training question is found the same way
    assert sets["post"][0][0].split("\n")[3] in corpus


def test_same_seed_same_weights(tmp_path):
    a = build_trained_family(tmp_path / "a", seed=1, settings=QUICK)
    b = build_trained_family(tmp_path / "b", seed=1, settings=QUICK)
    c = build_trained_family(tmp_path / "c", seed=2, settings=QUICK)
    for role in ("pre", "post", "target"):
        assert _same(_weights(a[role]), _weights(b[role])), role
        assert not _same(_weights(a[role]), _weights(c[role])), role
        assert _weights(a[role])["model.embed_tokens.weight"].dtype == torch.float32  # deltas kept exactly
    assert (a["pre"] / "tokenizer.json").read_bytes() == (b["pre"] / "tokenizer.json").read_bytes()
    assert not _same(_weights(a["post"]), _weights(a["target"]))


def test_tokenizer_decodes_japanese_cleanly_and_splits_digits(tmp_path):
    from transformers import AutoTokenizer

    fam = build_trained_family(tmp_path, settings=QUICK)
    tok = AutoTokenizer.from_pretrained(fam["target"])
    assert len(tok) <= 1024 and tok.chat_template
    msg = [{"role": "user", "content": "問題"}]
    assert tok.apply_chat_template(msg, tokenize=False, add_generation_prompt=True) == chat_prompt("問題")
    assert [t for t in tok.tokenize("123 + 45") if t.strip("Ġ")] == ["1", "2", "3", "Ġ+", "4", "5"]
    for line in (DATA_DIR / "demo" / "demo.jsonl").read_text(encoding="utf-8").splitlines():
        ja = json.loads(line)["ja"]
        ids = tok(ja, add_special_tokens=False).input_ids
        assert tok.decode(ids) == ja
        assert all("\ufffd" not in tok.decode([i]) for i in ids), ja  # every token is whole characters


def test_shipped_family_matches_its_checksums_and_the_code_settings():
    verify_family(FAMILY_DIR)
    sums = read_checksums(FAMILY_DIR)
    assert {f"{r}/model.safetensors" for r in ("pre", "post", "target")} <= set(sums)
    size = sum((FAMILY_DIR / n).stat().st_size for n in sums)
    assert size <= 20_000_000
    meta = json.loads((FAMILY_DIR / "family.json").read_text(encoding="utf-8"))
    assert meta["seed"] == 0 and meta["spec"] == TRAINED_SPEC.__dict__
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in TrainSettings().__dict__.items()}
    assert meta["trained"] == expected


@pytest.mark.slow
def test_build_script_on_a_small_setting(tmp_path, capsys):
    """The script that built data/demo/family, at 1/500 of its steps: same checksums twice, and a
    tampered file is caught by the demo's check."""
    assert main(["--out", str(tmp_path / "a"), "--steps-scale", "0.002"]) == 0
    assert main(["--out", str(tmp_path / "b"), "--steps-scale", "0.002"]) == 0
    verify_family(tmp_path / "a")
    assert read_checksums(tmp_path / "a") == read_checksums(tmp_path / "b")
    meta = json.loads((tmp_path / "a" / "family.json").read_text(encoding="utf-8"))
    assert meta["trained"]["pre_steps"] == max(1, round(TrainSettings().pre_steps * 0.002))
    weights = tmp_path / "a" / "post" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="post/model.safetensors does not match its sha256"):
        verify_family(tmp_path / "a")
    # pre and post can come from an earlier build (the shipped family's came from a GPU build)
    assert main(["--out", str(tmp_path / "c"), "--steps-scale", "0.002", "--reuse-from", str(tmp_path / "b")]) == 0
    verify_family(tmp_path / "c")
    sums_b, sums_c = read_checksums(tmp_path / "b"), read_checksums(tmp_path / "c")
    for role in ("pre", "post", "target"):  # target retrained from the same pre: the same bytes
        assert sums_b[f"{role}/model.safetensors"] == sums_c[f"{role}/model.safetensors"], role
    meta_c = json.loads((tmp_path / "c" / "family.json").read_text(encoding="utf-8"))
    assert meta_c["reused"]["post"]["trained"] == meta["trained"]
