"""Kill during a merge, then resume; skip / --force / changed-settings behaviour; the output loads in transformers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rv_eval.cli import main
from rv_eval.merge import MergeSpec, merge_variants
from tests.test_merge import assert_bit_equal, load_model, reference

ROOT = Path(__file__).resolve().parent.parent
ALPHAS = "0.25,0.5,1,2"


def _args(fam: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["merge", "--pre", str(fam["pre"]), "--post", str(fam["post"]), "--target", str(fam["target"]),
            "--alpha", ALPHAS, "--out", str(out), *extra]


@pytest.mark.slow
def test_killed_merge_leaves_nothing_finished_and_resumes(tiny_family, tmp_path):
    out = tmp_path / "out"
    # tiny chunks make the run slow enough to be killed mid-way
    proc = subprocess.Popen([sys.executable, "-m", "rv_eval", *_args(tiny_family, out, "--chunk-elems", "8")],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and any(p.name.startswith(".") for p in out.iterdir())):
        assert proc.poll() is None, "merge finished before it could be killed"
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not [p for p in out.iterdir() if p.name.startswith("alpha_")], "a killed run left a finished-looking folder"
    assert [p for p in out.iterdir() if p.name.startswith(".alpha_")]

    assert main(_args(tiny_family, out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["alpha_0.25", "alpha_0.5", "alpha_1", "alpha_2"]
    pre, post, target = (load_model(tiny_family[r]) for r in ("pre", "post", "target"))
    for alpha in (0.25, 0.5, 1.0, 2.0):
        assert_bit_equal(load_model(out / f"alpha_{alpha:g}"), reference(pre, post, target, alpha))


def test_rerun_skips_complete_force_redoes_and_changed_settings_refuse(tiny_family, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_args(tiny_family, out)) == 0
    shard = out / "alpha_1" / "model.safetensors"
    stamp = shard.stat().st_mtime_ns
    assert main(_args(tiny_family, out)) == 0
    assert shard.stat().st_mtime_ns == stamp  # skipped
    (out / "alpha_2" / "rv_eval_merge.json").unlink()  # not a complete output any more
    capsys.readouterr()
    assert main(_args(tiny_family, out)) == 2
    assert "alpha_2" in capsys.readouterr().err
    assert main(_args(tiny_family, out, "--force")) == 0
    assert shard.stat().st_mtime_ns != stamp
    assert main(_args(tiny_family, out, "--exclude", "mlp")) == 2
    assert "other inputs or settings" in capsys.readouterr().err


@pytest.mark.integration
def test_variant_loads_and_generates_in_transformers(tiny_family, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = MergeSpec(pre=str(tiny_family["pre"]), post=str(tiny_family["post"]), target=str(tiny_family["target"]),
                     alphas=(1.0,), out=tmp_path / "out", max_shard_size="150KB")
    folder = merge_variants(spec)[1.0]
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    want = load_model(folder)
    for name, param in model.state_dict().items():
        assert torch.equal(param, want[name]), name
    ids = tok.apply_chat_template([{"role": "user", "content": "2+3=?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    gen = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]
