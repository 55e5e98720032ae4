"""The recipes in merge/: the tiny one runs end to end; the papers' ones parse to the intended setups."""

from __future__ import annotations

from pathlib import Path

import pytest

from rv_eval.cli import main
from rv_eval.errors import UserError
from rv_eval.merge import load_recipe
from rv_eval.tinymodels import build_family
from tests.test_merge import assert_bit_equal, load_model, reference

RECIPES = Path(__file__).resolve().parent.parent / "merge"


def test_tiny_recipe_runs_and_cli_overrides(tmp_path, monkeypatch):
    fam = build_family(tmp_path / "build" / "tiny-family", shard_sizes=(None, None, "80KB"))
    monkeypatch.chdir(tmp_path)
    assert main(["merge", str(RECIPES / "tiny.yaml"), "--alpha", "0.5,-1"]) == 0
    out = tmp_path / "build" / "tiny-variants"
    assert sorted(p.name for p in out.iterdir()) == ["alpha_-1", "alpha_0.5"]
    pre, post, target = (load_model(fam[r]) for r in ("pre", "post", "target"))
    assert_bit_equal(load_model(out / "alpha_-1"), reference(pre, post, target, -1.0))


def test_paper_recipes_parse():
    s1 = load_recipe(RECIPES / "s1-32b_ezo-32b.yaml")
    assert (s1.pre, s1.post, s1.target) == ("Qwen/Qwen2.5-32B", "simplescaling/s1-32B",
                                            "AXCXEPT/EZO-Qwen2.5-32B-Instruct")
    assert 1.0 in s1.alphas and s1.dtype == "bfloat16"
    for size in ("1.5b", "7b"):
        path = RECIPES / f"grpo-sft_qwen2.5-{size}-instruct.yaml"
        with pytest.raises(UserError, match="--pre and --post"):
            load_recipe(path)
        spec = load_recipe(path, pre="/models/sft", post="/models/grpo")
        assert spec.target.startswith("Qwen/Qwen2.5-") and -1.0 in spec.alphas and 1.0 in spec.alphas


def test_bad_recipe_is_user_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pre: a\npost: b\ntarget: c\nalphas: [1]\nout: o\nalfa: 2\n")
    assert main(["merge", str(bad)]) == 2
    assert "unknown keys alfa" in capsys.readouterr().err
    bad.write_text("pre: [unclosed\n")
    assert main(["merge", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
