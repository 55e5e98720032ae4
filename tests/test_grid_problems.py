"""A grid file with many problems is refused once, with every problem listed (not one per attempt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rv_eval.cli import main
from rv_eval.errors import UserError
from rv_eval.grid import load_grid

BAD = """
name: g
out: {out}
bogus: 1
models:
  - {{name: a, path: other, colour: red}}
  - {{name: b, path: missing_dir}}
  - vector: {{name: v, pre: pre, post: post, target: target, alphas: [0, x, 0]}}
tasks: [demo_en, no_such_task, gsm8k_tset_en]
seeds: [0, -1, a]
sampling: {{temperature: -1, top_p: 2, colour: 1}}
backend: {{name: hf, bogus_opt: 1, other_bogus: 2}}
"""

# (key named at the start of the line, words of the problem), one per problem, written from the file above
EXPECTED = [
    ("bogus", "unknown key"),
    ("models[0].colour", "unknown key"),
    ("models[1].path", "does not exist"),
    ("models[2].vector.alphas", "'x' is not a finite number"),
    ("models[2].vector.alphas", "α 0 appears twice"),
    ("tasks[1]", "unknown task 'no_such_task'"),
    ("tasks[2]", "unknown task 'gsm8k_tset_en'"),
    ("seeds", "-1 is not an integer"),
    ("seeds", "'a' is not an integer"),
    ("sampling.colour", "unknown key"),
    ("sampling.temperature", "expected a number"),
    ("sampling.top_p", "expected a number"),
    ("backend.bogus_opt", "unknown option"),
    ("backend.other_bogus", "unknown option"),
]


@pytest.fixture()
def bad_grid(tmp_path: Path) -> Path:
    for name in ("pre", "post", "target", "other"):
        (tmp_path / name).mkdir()
    path = tmp_path / "grid.yaml"
    path.write_text(BAD.format(out=tmp_path / "res"))
    return path


def test_every_problem_of_a_grid_in_one_error(bad_grid):
    with pytest.raises(UserError) as e:
        load_grid(bad_grid)
    head, *lines = str(e.value).splitlines()
    assert head == f"{bad_grid}: {len(EXPECTED)} problems:"
    assert len(lines) == len(EXPECTED), str(e.value)
    for (key, words), line in zip(EXPECTED, lines, strict=True):
        assert line.strip().startswith(f"{key}: ") and words in line and "Fix: " in line, line


def test_cli_lists_every_problem_exits_2_and_writes_nothing(bad_grid, capsys):
    assert main(["run", "--model-grid", str(bad_grid), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].endswith(f"{bad_grid}: {len(EXPECTED)} problems:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 + len(EXPECTED)
    assert not (bad_grid.parent / "res").exists()


def test_one_problem_keeps_the_one_line_message(bad_grid):
    bad_grid.write_text("models: [{name: a, path: other}]\ntasks: [demo_en]\nseeds: [0, -1]\n")
    with pytest.raises(UserError) as e:
        load_grid(bad_grid)
    assert str(e.value).startswith(f"{bad_grid}: seeds: -1 is not an integer") and "\n" not in str(e.value)


def test_long_lists_are_cut(bad_grid):
    seeds = ", ".join(str(-i) for i in range(1, 31))
    bad_grid.write_text(f"models: [{{name: a, path: other}}]\ntasks: [demo_en]\nseeds: [{seeds}]\n")
    with pytest.raises(UserError) as e:
        load_grid(bad_grid)
    lines = str(e.value).splitlines()
    assert lines[0] == f"{bad_grid}: 30 problems:" and lines[-1].strip() == "... and 10 more" and len(lines) == 22
