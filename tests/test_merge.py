"""Exactness of `rv-eval merge` against an independent in-memory reference on tiny checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rv_eval.cli import main
from rv_eval.merge import MergeSpec, merge_variants, stream_variant
from rv_eval.tinymodels import TinySpec, build_family


def load_model(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a (possibly sharded) safetensors folder, loaded with the safetensors library."""
    out: dict[str, torch.Tensor] = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


def reference(pre: dict, post: dict, target: dict, alpha: float) -> dict[str, torch.Tensor]:
    """θ = target + α·(post − pre) in float32, rounded once to the target's dtype; α = 0 is the target."""
    out = {}
    for name, t in target.items():
        if alpha == 0:
            out[name] = t
            continue
        v = post[name].float() - pre[name].float()
        out[name] = (t.float() + alpha * v).to(t.dtype)
    return out


def bits(t: torch.Tensor) -> torch.Tensor:
    """The tensor's raw bits (so -0.0 != 0.0 and NaN patterns count)."""
    return t.contiguous().view(torch.int16 if t.element_size() == 2 else torch.int32)


def assert_bit_equal(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        assert got[name].shape == want[name].shape, name
        assert torch.equal(bits(got[name]), bits(want[name])), name


ALPHAS = (0.0, 0.5, -1.0, 0.3, 2.0)


@pytest.mark.parametrize("arch,shards", [("qwen2", (None, "100KB", "60KB")), ("llama", ("70KB", None, "150KB"))])
def test_variants_match_reference(tmp_path, arch, shards):
    fam = build_family(tmp_path / "fam", TinySpec(arch=arch), shard_sizes=shards)
    spec = MergeSpec(pre=str(fam["pre"]), post=str(fam["post"]), target=str(fam["target"]), alphas=ALPHAS,
                     out=tmp_path / "out", max_shard_size="120KB", chunk_elems=3000)
    paths = merge_variants(spec)
    pre, post, target = (load_model(fam[r]) for r in ("pre", "post", "target"))
    assert set(paths) == set(ALPHAS)
    assert paths[-1.0].name == "alpha_-1" and paths[0.5].name == "alpha_0.5" and paths[2.0].name == "alpha_2"
    for alpha, folder in paths.items():
        assert_bit_equal(load_model(folder), reference(pre, post, target, alpha))
        assert json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    assert_bit_equal(load_model(paths[0.0]), target)  # α = 0 reproduces the target bit for bit


def test_tied_family_matches_reference(tmp_path):
    fam = build_family(tmp_path / "fam", TinySpec(tie_word_embeddings=True), shard_sizes=(None, "90KB", None))
    spec = MergeSpec(pre=str(fam["pre"]), post=str(fam["post"]), target=str(fam["target"]), alphas=(0.5, -2.0),
                     out=tmp_path / "out")
    pre, post, target = (load_model(fam[r]) for r in ("pre", "post", "target"))
    assert "lm_head.weight" not in target
    for alpha, folder in merge_variants(spec).items():
        assert_bit_equal(load_model(folder), reference(pre, post, target, alpha))


def test_stream_variant_equals_written_variant(tiny_family, tmp_path):
    spec = MergeSpec(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]),
                     target=str(tiny_family["target"]), alphas=(0.7,), out=tmp_path / "out")
    written = load_model(merge_variants(spec)[0.7])
    streamed = dict(stream_variant(spec, 0.7))
    assert_bit_equal(streamed, written)


def test_output_folder_is_complete_model(tiny_family, tmp_path):
    out = tmp_path / "out"
    assert main(["merge", "--pre", str(tiny_family["pre"]), "--post", str(tiny_family["post"]),
                 "--target", str(tiny_family["target"]), "--alpha", "1", "--out", str(out)]) == 0
    folder = out / "alpha_1"
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
            "rv_eval_merge.json", "model.safetensors"} <= names
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    prov = json.loads((folder / "rv_eval_merge.json").read_text())
    assert prov["alpha"] == 1.0 and set(prov["inputs"]) == {"pre", "post", "target"}
    assert all(len(d["fingerprint_sha256"]) == 64 for d in prov["inputs"].values())
    assert (folder / "tokenizer.json").read_bytes() == (tiny_family["target"] / "tokenizer.json").read_bytes()


def test_dtype_option_rounds_once_to_float16(tiny_family, tmp_path):
    spec = MergeSpec(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]),
                     target=str(tiny_family["target"]), alphas=(0.5,), out=tmp_path / "out", dtype="float16")
    got = load_model(merge_variants(spec)[0.5])
    pre, post, target = (load_model(tiny_family[r]) for r in ("pre", "post", "target"))
    want = {n: (t.float() + 0.5 * (post[n].float() - pre[n].float())).to(torch.float16) for n, t in target.items()}
    assert_bit_equal(got, want)
    assert json.loads((tmp_path / "out" / "alpha_0.5" / "config.json").read_text())["torch_dtype"] == "float16"


def test_saved_vector_applied_to_target_gives_same_variant(tiny_family, tmp_path):
    common = dict(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]))
    merge_variants(MergeSpec(**common, save_vector=tmp_path / "vec"))
    vec = load_model(tmp_path / "vec")
    pre, post = load_model(tiny_family["pre"]), load_model(tiny_family["post"])
    for n, v in vec.items():
        assert v.dtype == torch.float32
        assert torch.equal(v, post[n].float() - pre[n].float())
    direct = merge_variants(MergeSpec(**common, target=str(tiny_family["target"]), alphas=(1.5,),
                                      out=tmp_path / "a"))
    via_vec = merge_variants(MergeSpec(vector=str(tmp_path / "vec"), target=str(tiny_family["target"]),
                                       alphas=(1.5,), out=tmp_path / "b"))
    assert_bit_equal(load_model(via_vec[1.5]), load_model(direct[1.5]))


def test_include_exclude_select_tensors(tiny_family, tmp_path):
    spec = MergeSpec(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]), target=str(tiny_family["target"]),
                     alphas=(1.0,), out=tmp_path / "out", include=r"layers\.", exclude=r"mlp")
    got = load_model(merge_variants(spec)[1.0])
    target = load_model(tiny_family["target"])
    want = reference(load_model(tiny_family["pre"]), load_model(tiny_family["post"]), target, 1.0)
    for name in target:
        selected = "layers." in name and "mlp" not in name
        assert torch.equal(bits(got[name]), bits(want[name] if selected else target[name])), name
