"""`rv-eval vector stats` against values computed directly from the loaded tensors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rv_eval.cli import main
from rv_eval.merge.stats import layer_of, vector_stats
from tests.test_merge import bits, load_model


def test_stats_match_direct_computation(tiny_family):
    fam = tiny_family
    stats = vector_stats(str(fam["pre"]), str(fam["post"]), vs=(str(fam["pre"]), str(fam["target"])),
                         target=str(fam["target"]), alphas=(0.5, 0.0), chunk_elems=1000)
    pre, post, target = (load_model(fam[r]) for r in ("pre", "post", "target"))
    rows = {r["name"]: r for r in stats["tensors"]}
    assert set(rows) == set(target)
    for name, t in target.items():
        v = (post[name].double() - pre[name].double()).flatten()
        w = (target[name].double() - pre[name].double()).flatten()
        r = rows[name]
        assert r["numel"] == t.numel()
        assert r["norm"] == pytest.approx(v.norm().item(), rel=1e-5)
        pre_norm = pre[name].double().norm().item()
        if pre_norm == 0:  # zero-initialised biases: the ratio is undefined
            assert r["rel_norm"] is None
        else:
            assert r["rel_norm"] == pytest.approx(v.norm().item() / pre_norm, rel=1e-5)
        assert r["zero_frac"] == pytest.approx((v == 0).double().mean().item())
        assert r["cosine"] == pytest.approx(torch.nn.functional.cosine_similarity(v, w, dim=0).item(), abs=1e-5)
        out = (t.float() + 0.5 * (post[name].float() - pre[name].float())).to(t.dtype)
        assert r["unchanged_frac"]["0.5"] == pytest.approx((bits(out) == bits(t)).double().mean().item())
        assert r["unchanged_frac"]["0"] == 1.0
    total_sq = sum(r["norm"] ** 2 for r in stats["tensors"])
    assert stats["total"]["norm"] == pytest.approx(math.sqrt(total_sq), rel=1e-6)
    layer0 = next(r for r in stats["layers"] if r["name"] == "layer 0")
    assert layer0["numel"] == sum(t.numel() for n, t in target.items() if ".layers.0." in n)


def test_stats_cli_table_and_json(tiny_family, capsys):
    fam = tiny_family
    base = ["vector", "stats", "--pre", str(fam["pre"]), "--post", str(fam["post"])]
    assert main(base) == 0
    table = capsys.readouterr().out
    assert "layer 0" in table and "layer 1" in table and "total" in table and "|v|/|pre|" in table
    assert main([*base, "--json", "--target", str(fam["target"]), "--alpha", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["alphas"] == [1.0] and 0 < data["total"]["unchanged_frac"]["1"] < 1
    assert main([*base, "--alpha", "1"]) == 2
    assert "--target" in capsys.readouterr().err


def test_layer_grouping():
    assert layer_of("model.layers.12.mlp.up_proj.weight") == "layer 12"
    assert layer_of("model.embed_tokens.weight") == "embeddings"
    assert layer_of("lm_head.weight") == "embeddings"
    assert layer_of("model.norm.weight") == "other"
