"""Hostile grid files and recipes: YAML bombs and out-of-range values end in a short exit-2 message,
quickly, before anything is written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rv_eval.cli import main

# "billion laughs": 9 levels of 9 aliases, 9^9 ≈ 3.9e8 strings once expanded, in a few hundred bytes
LAUGHS = ", ".join(
    [f"&a [{', '.join(['lol'] * 9)}]"] +
    [f"&{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)])
#: Where each bomb sits: a value the validator prints in its error message.
BOMBS = {"tasks": f"[{{x: [{LAUGHS}]}}]", "seeds": f"{{x: [{LAUGHS}]}}"}


def _grid_text(tmp_path: Path, **over: str) -> str:
    (tmp_path / "m").mkdir(exist_ok=True)
    keys = {"name": "g", "out": str(tmp_path / "res"), "models": "[{name: m, path: m}]", "tasks": "[demo_en]",
            "seeds": "[0]", "sampling": "{max_gen_toks: 8}"}
    keys.update(over)
    return "".join(f"{k}: {v}\n" for k, v in keys.items())


def _run(tmp_path: Path, text: str, capsys) -> str:
    grid = tmp_path / "grid.yaml"
    grid.write_text(text)
    t0 = time.perf_counter()
    rc = main(["run", "--model-grid", str(grid), "--no-progress"])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 2, err
    assert elapsed < 10, f"took {elapsed:.1f} s"
    lines = err.strip().splitlines()  # one line per problem (at most 20 listed), the first naming the file
    assert 1 <= len(lines) <= 22 and all(len(line) < 600 for line in lines), err[:2000]
    assert not (tmp_path / "res").exists(), "something was written for a refused grid"
    return err


@pytest.mark.parametrize("key", ["tasks", "seeds"])
def test_yaml_bomb_in_grid_is_refused_quickly(tmp_path, capsys, key):
    text = _grid_text(tmp_path, **{key: BOMBS[key]})
    assert len(LAUGHS) < 426
    err = _run(tmp_path, text, capsys)
    assert "aliases" in err and "lol" not in err


def test_recursive_alias_is_refused(tmp_path, capsys):
    err = _run(tmp_path, _grid_text(tmp_path, tasks="&t [demo_en, *t]"), capsys)
    assert "recursive alias" in err


def test_yaml_bomb_in_recipe_alphas_is_refused_quickly(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"pre: {tmp_path}\npost: {tmp_path}\ntarget: {tmp_path}\nout: {tmp_path / 'res'}\n"
                      f"alphas: [[{LAUGHS.replace('lol', '1')}]]\n")
    t0 = time.perf_counter()
    assert main(["merge", str(recipe)]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert "aliases" in err and len(err) < 600
    assert not (tmp_path / "res").exists()


def test_long_user_values_are_cut_in_messages(tmp_path, capsys):
    err = _run(tmp_path, _grid_text(tmp_path, tasks="[[" + ", ".join(["x" * 50] * 2000) + "]]"), capsys)
    assert "..." in err


@pytest.mark.parametrize(("over", "key"), [
    ({"seeds": "[100000000000000000000000000000]"}, "seeds"),  # 1e29
    ({"sampling": "{max_gen_toks: 8, samples: 1000000000000, temperature: 1.0}"}, "sampling.samples"),  # 1e12
    ({"tasks": "[{name: demo_en, limit: 100000000000000000000000}]"}, "tasks[0].limit"),  # 1e23
    ({"sampling": "{max_gen_toks: 100000000000000000000}"}, "sampling.max_gen_toks"),  # 1e20
    ({"seeds": "[-1]"}, "seeds"),
])
def test_out_of_range_values_are_refused_before_anything_is_written(tmp_path, capsys, over, key):
    err = _run(tmp_path, _grid_text(tmp_path, **over), capsys)
    assert f": {key}: " in err


def test_alpha_beyond_float32_in_grid_is_refused(tmp_path, capsys):
    for role in ("pre", "post", "target"):
        (tmp_path / role).mkdir()
    models = "[{vector: {name: v, pre: pre, post: post, target: target, alphas: [0, 1.0e+39]}}]"
    err = _run(tmp_path, _grid_text(tmp_path, models=models), capsys)
    assert "alphas" in err and "float32" in err


@pytest.mark.parametrize(("over", "key"), [
    ({"models": "[{name: m, path: m, 1: 2, x: 3}]"}, "models[0].1"),  # keys of two types
    ({"sampling": "{1: 2, x: 3}"}, "sampling.1"),
    ({"sampling": "{? " + "x" * 5000 + " : 1}"}, "sampling.xxx"),  # a 5000-character key, cut in the message
])
def test_unknown_keys_of_any_type_and_length_are_short_lines(tmp_path, capsys, over, key):
    err = _run(tmp_path, _grid_text(tmp_path, **over), capsys)
    assert (f": {key}" in err or f"\n  {key}" in err) and "unknown key" in err


def test_recipe_chunk_size_out_of_range_is_refused(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"pre: {tmp_path}\npost: {tmp_path}\ntarget: {tmp_path}\nout: {tmp_path / 'res'}\n"
                      "alphas: [1]\nchunk_elems: 100000000000000000000\n")
    assert main(["merge", str(recipe)]) == 2
    assert "chunk_elems" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()
