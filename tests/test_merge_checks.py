"""Every user-error path of `rv-eval merge` (exit 2, a clear message, nothing written) and the vocab/tied policies."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from rv_eval.cli import main
from rv_eval.merge import MergeSpec, merge_variants
from tests.test_merge import assert_bit_equal, bits, load_model, reference

EMBED, HEAD = "model.embed_tokens.weight", "lm_head.weight"


def derive(src: Path, dst: Path, mutate: Callable[[dict], None] | None = None,
           config: Callable[[dict], None] | None = None) -> Path:
    """A single-file copy of the model at `src` with its tensors / config.json changed."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    tensors = load_model(src)
    if mutate:
        mutate(tensors)
    save_file(tensors, dst / "model.safetensors", metadata={"format": "pt"})
    if config:
        cfg = json.loads((dst / "config.json").read_text())
        config(cfg)
        (dst / "config.json").write_text(json.dumps(cfg))
    return dst


def run_merge(fam: dict[str, Path], out: Path, *extra: str, **roles: Path) -> int:
    paths = {**fam, **roles}
    return main(["merge", "--pre", str(paths["pre"]), "--post", str(paths["post"]), "--target",
                 str(paths["target"]), "--alpha", "0.5,1", "--out", str(out), *extra])


def assert_user_error(capsys, rc: int, out: Path, *needles: str) -> None:
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    assert not out.exists() or not any(out.rglob("*")), list(out.rglob("*"))


def _first_layer_tensor(t: dict) -> str:
    return next(n for n in t if ".layers.0.self_attn.q_proj.weight" in n)


CASES = {
    "architecture": (dict(config=lambda c: c.update(model_type="llama", architectures=["LlamaForCausalLM"])),
                     ["model_type", "post=llama"]),
    "missing": (dict(mutate=lambda t: t.pop(_first_layer_tensor(t))), ["missing tensors", "q_proj.weight"]),
    "extra": (dict(mutate=lambda t: t.update({"model.extra.weight": torch.zeros(3)})), ["model.extra.weight"]),
    "shape": (dict(mutate=lambda t: t.update({_first_layer_tensor(t): torch.zeros(4, 4, dtype=torch.bfloat16)})),
              ["shape mismatch", "q_proj.weight", "[4, 4]", "[128, 128]"]),
    "nonfinite": (dict(mutate=lambda t: t[_first_layer_tensor(t)].view(-1).__setitem__(7, float("nan"))),
                  ["NaN", "q_proj.weight", "post"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_post_is_user_error(tiny_family, tmp_path, capsys, case):
    kwargs, needles = CASES[case]
    post = derive(tiny_family["post"], tmp_path / "post", **kwargs)
    out = tmp_path / "out"
    assert_user_error(capsys, run_merge(tiny_family, out, post=post), out, *needles)


@pytest.mark.parametrize("corruption", ["truncated", "garbage-header"])
def test_corrupt_safetensors_is_user_error(tiny_family, tmp_path, capsys, corruption):
    target = shutil.copytree(tiny_family["target"], tmp_path / "target")
    f = target / "model.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2] if corruption == "truncated" else b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    out = tmp_path / "out"
    assert_user_error(capsys, run_merge(tiny_family, out, target=target), out, str(f))


def test_missing_folder_and_bad_alpha(tiny_family, tmp_path, capsys):
    out = tmp_path / "out"
    assert_user_error(capsys, run_merge(tiny_family, out, pre=tmp_path / "nope"), out, "pre checkpoint", "nope")
    rc = main(["merge", "--pre", str(tiny_family["pre"]), "--post", str(tiny_family["post"]), "--target",
               str(tiny_family["target"]), "--alpha", "0.5,x", "--out", str(out)])
    assert_user_error(capsys, rc, out, "'x'")


def _grow_vocab(t: dict) -> None:
    for name in (EMBED, HEAD):
        t[name] = torch.cat([t[name], torch.full((6, t[name].shape[1]), 0.25, dtype=t[name].dtype)])


def test_vocab_mismatch_error_and_policies(tiny_family, tmp_path, capsys):
    target = derive(tiny_family["target"], tmp_path / "target", mutate=_grow_vocab,
                    config=lambda c: c.update(vocab_size=c["vocab_size"] + 6))
    out = tmp_path / "out"
    assert_user_error(capsys, run_merge(tiny_family, out, target=target), out,
                      "vocabulary mismatch", EMBED, "--vocab common-rows", "--skip-embeddings")

    pre, post, tgt = load_model(tiny_family["pre"]), load_model(tiny_family["post"]), load_model(target)
    rows = pre[EMBED].shape[0]
    got = load_model(merge_variants(MergeSpec(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]),
                                              target=str(target), alphas=(1.0,), out=tmp_path / "common",
                                              vocab="common-rows"))[1.0])
    for name in (EMBED, HEAD):
        want = torch.cat([(tgt[name][:rows].float() + (post[name].float() - pre[name].float())).to(torch.bfloat16),
                          tgt[name][rows:]])
        assert torch.equal(bits(got[name]), bits(want)), name
    skipped = load_model(merge_variants(MergeSpec(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]),
                                                  target=str(target), alphas=(1.0,), out=tmp_path / "skip",
                                                  skip_embeddings=True))[1.0])
    ref = reference(pre, post, {n: t for n, t in tgt.items() if n not in (EMBED, HEAD)}, 1.0)
    assert_bit_equal(skipped, {**ref, EMBED: tgt[EMBED], HEAD: tgt[HEAD]})


def _tie(t: dict) -> None:
    t.pop(HEAD)


def test_tied_target_with_untied_pre_post(tiny_family, tmp_path):
    target = derive(tiny_family["target"], tmp_path / "target", mutate=_tie,
                    config=lambda c: c.update(tie_word_embeddings=True))
    spec = MergeSpec(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]), target=str(target),
                     alphas=(0.5,), out=tmp_path / "out")
    got = load_model(merge_variants(spec)[0.5])
    pre, post = load_model(tiny_family["pre"]), load_model(tiny_family["post"])
    assert HEAD not in got  # the output stays tied, like the target
    assert_bit_equal(got, reference(pre, post, load_model(target), 0.5))


def test_untied_target_with_tied_pre_post(tiny_family, tmp_path):
    tie_cfg = dict(config=lambda c: c.update(tie_word_embeddings=True))
    pre = derive(tiny_family["pre"], tmp_path / "pre", mutate=_tie, **tie_cfg)
    post = derive(tiny_family["post"], tmp_path / "post", mutate=_tie, **tie_cfg)
    spec = MergeSpec(pre=str(pre), post=str(post), target=str(tiny_family["target"]), alphas=(-1.0,),
                     out=tmp_path / "out")
    got = load_model(merge_variants(spec)[-1.0])
    p, q, tgt = load_model(pre), load_model(post), load_model(tiny_family["target"])
    p[HEAD], q[HEAD] = p[EMBED], q[EMBED]  # a tied model's lm_head is its embedding
    assert_bit_equal(got, reference(p, q, tgt, -1.0))
