"""One progress bar per level: a run never shows the cells bar and a backend's generation bar together.

Real HF backend (lm-eval's HFLM, whose generate_until draws "Running generate_until requests") on a
tiny local model; tqdm writes its bars to stderr even when it is not a terminal.
"""

from __future__ import annotations

import pytest

from rv_eval.grid import load_grid
from rv_eval.runner import progress_bars, run_grid
from tests.test_runner import toy_grader, write_grid

GENERATION_BAR = "Running generate_until requests"
CELLS_BAR = "cells:"


def test_progress_bars_rule():
    assert progress_bars(True, 5) == (True, False)
    assert progress_bars(True, 1) == (False, True)
    assert progress_bars(False, 5) == (False, False)
    assert progress_bars(False, 1) == (False, False)


@pytest.mark.integration
@pytest.mark.slow
def test_a_run_shows_one_kind_of_bar(tiny_family, tmp_path, capfd):
    models = f"  - {{name: target, path: {tiny_family['target']}}}\n"
    many = load_grid(write_grid(tmp_path, tiny_family, tmp_path / "many", seeds=(0, 1), samples=1,
                                max_gen=2, models=models))
    assert len(many.cells()) == 2
    run_grid(many, grader=toy_grader, progress=True)
    err = capfd.readouterr().err
    assert CELLS_BAR in err and GENERATION_BAR not in err, err[-2000:]

    one = load_grid(write_grid(tmp_path, tiny_family, tmp_path / "one", seeds=(0,), samples=1,
                               max_gen=2, models=models))
    run_grid(one, grader=toy_grader, progress=True)
    err = capfd.readouterr().err
    assert GENERATION_BAR in err and CELLS_BAR not in err, err[-2000:]
