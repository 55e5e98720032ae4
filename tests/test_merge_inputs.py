"""Merge inputs that used to give an unusable output with exit 0: impossible safetensors headers,
variants that overflow the output dtype, α beyond float32. Each is exit 2 with nothing published."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from rv_eval.cli import main


def _family(root: Path, value: float, dtype: torch.dtype = torch.float32) -> dict[str, Path]:
    """pre = 0, post = target = `value` everywhere, one 16×16 weight plus a small bias."""
    out = {}
    for role, v in (("pre", 0.0), ("post", value), ("target", value)):
        d = root / role
        d.mkdir(parents=True)
        save_file({"layer.weight": torch.full((16, 16), v, dtype=dtype), "layer.bias": torch.full((4,), v, dtype=dtype)},
                  d / "model.safetensors")
        out[role] = d
    return out


def _merge(fam: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["merge", "--pre", str(fam["pre"]), "--post", str(fam["post"]), "--target", str(fam["target"]),
                 "--out", str(out), *extra])


def _raw_safetensors(path: Path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _published(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []


@pytest.mark.parametrize("entry", [
    {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]},  # negative dims whose product matches the size
    {"dtype": "F32", "shape": [2, 2], "data_offsets": [-8, 8]},  # starts inside the header
    {"dtype": "F32", "shape": [2.0, 2], "data_offsets": [0, 16]},  # a float dimension
    {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 16]},  # overflowing dims
    {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 16]},  # dtype × shape ≠ byte size
])
def test_impossible_header_is_refused_before_writing(tmp_path, capsys, entry):
    fam = _family(tmp_path / "in", 1.0)
    _raw_safetensors(fam["target"] / "model.safetensors", {"layer.weight": entry}, bytes(16))
    out = tmp_path / "out"
    assert _merge(fam, out, "--alpha", "1") == 2
    err = capsys.readouterr().err
    assert "target/model.safetensors is not a readable safetensors file" in err and "layer.weight" in err
    assert len(err.strip().splitlines()) == 1
    assert _published(out) == []


def test_overlapping_tensor_data_is_refused(tmp_path, capsys):
    fam = _family(tmp_path / "in", 1.0)
    _raw_safetensors(fam["target"] / "model.safetensors",
                     {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                      "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, bytes(24))
    assert _merge(fam, tmp_path / "out", "--alpha", "1") == 2
    assert "share bytes" in capsys.readouterr().err


@pytest.mark.parametrize(("in_dtype", "out_dtype"), [
    (torch.float32, None), (torch.bfloat16, None), (torch.float32, "float16"), (torch.bfloat16, "bfloat16"),
])
def test_variant_overflowing_the_output_dtype_fails_naming_tensor_and_alpha(tmp_path, capsys, in_dtype, out_dtype):
    value = 1.7e38 if out_dtype != "float16" else 40000.0  # finite inputs; target + 2·v is not
    fam = _family(tmp_path / "in", value, in_dtype)
    out = tmp_path / "out"
    extra = ["--dtype", out_dtype] if out_dtype else []
    assert _merge(fam, out, "--alpha", "0.5,2", *extra) == 2
    err = capsys.readouterr().err
    assert "α=2" in err and "layer." in err and "overflows" in err
    assert len(err.strip().splitlines()) == 1
    assert _published(out) == []  # not even the finite α=0.5


def test_copied_tensor_overflowing_the_output_dtype_fails(tmp_path, capsys):
    fam = _family(tmp_path / "in", 1e5)  # fits float32, not float16
    out = tmp_path / "out"
    assert _merge(fam, out, "--alpha", "0", "--dtype", "float16") == 2
    assert "copied from the target" in capsys.readouterr().err
    assert _published(out) == []


def test_saved_vector_overflowing_its_dtype_fails(tmp_path, capsys):
    fam = _family(tmp_path / "in", 1e5)
    vec = tmp_path / "vec"
    rc = main(["merge", "--pre", str(fam["pre"]), "--post", str(fam["post"]), "--save-vector", str(vec),
               "--vector-dtype", "float16"])
    assert rc == 2
    assert "vector post − pre" in capsys.readouterr().err
    assert not vec.exists() or _published(vec) == []


def test_in_range_values_still_merge(tmp_path):
    fam = _family(tmp_path / "in", 1e38)
    out = tmp_path / "out"
    assert _merge(fam, out, "--alpha", "0.5,1") == 0
    assert _published(out) == ["alpha_0.5", "alpha_1"]


@pytest.mark.parametrize("alpha", ["1e39", "-1e39", "0.5,1e300"])
def test_alpha_beyond_float32_is_refused_at_parse_time(tmp_path, capsys, alpha):
    fam = _family(tmp_path / "in", 1.0)
    out = tmp_path / "out"
    assert _merge(fam, out, f"--alpha={alpha}") == 2
    assert "not finite in float32" in capsys.readouterr().err
    assert not out.exists()


def test_recipe_alpha_beyond_float32_is_refused(tmp_path, capsys):
    fam = _family(tmp_path / "in", 1.0)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"pre: {fam['pre']}\npost: {fam['post']}\ntarget: {fam['target']}\n"
                      f"alphas: [1.0e+39]\nout: {tmp_path / 'out'}\n")
    assert main(["merge", str(recipe)]) == 2
    assert "not finite in float32" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
