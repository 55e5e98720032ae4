"""One progress bar per level: a run never shows the cells bar and a backend's generation bar together,
and libraries (datasets, transformers, huggingface_hub) draw none of their own; library warnings once.

Real HF backend (lm-eval's HFLM, whose generate_until draws "Running generate_until requests") on a
tiny local model; tqdm writes its bars to stderr even when it is not a terminal.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter

import pytest

from rv_eval.grid import load_grid
from rv_eval.library_output import library_output
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


def _bar_states() -> tuple[bool, bool, bool]:
    """(datasets, transformers, huggingface_hub) progress bars enabled."""
    from datasets.utils import are_progress_bars_disabled
    from huggingface_hub.utils import are_progress_bars_disabled as hub_disabled
    from transformers.utils.logging import is_progress_bar_enabled

    return not are_progress_bars_disabled(), is_progress_bar_enabled(), not hub_disabled()


def test_library_bars_off_during_a_run_unless_verbose_and_restored():
    before = _bar_states()
    assert before == (True, True, True)  # the libraries' defaults (no HF_*_DISABLE_PROGRESS_BARS here)
    with library_output():
        assert _bar_states() == (False, False, False)
    assert _bar_states() == before
    rv = logging.getLogger("rv_eval")
    level = rv.level
    rv.setLevel(logging.DEBUG)  # `rv-eval -v`
    try:
        with library_output():
            assert _bar_states() == before
    finally:
        rv.setLevel(level)


@pytest.mark.integration
@pytest.mark.slow
def test_a_real_run_shows_no_library_bar_and_each_warning_once(tiny_family, tmp_path, capfd):
    from tests.test_runner import write_toy_task

    before = _bar_states()
    toy = write_toy_task(tmp_path / "toytasks")  # a json task: datasets builds it ("Generating test split")
    grid = load_grid(write_grid(tmp_path, tiny_family, tmp_path / "out", seeds=(0,), samples=1, max_gen=2))
    text = grid.source.read_text().replace("tasks: [toy_en]", "tasks: [toy_en, {name: demo_en, limit: 2}]")
    grid.source.write_text(text.replace(f"task_paths: [{tmp_path / 'toytasks'}]", f"task_paths: [{toy}]"))
    grid = load_grid(grid.source)
    assert len(grid.cells()) == 4  # two models (two engines, each loading both tasks) x two tasks
    console = logging.StreamHandler(sys.stderr)  # library warnings on stderr, as `rv-eval` prints them
    console.setLevel(logging.WARNING)
    logging.getLogger().addHandler(console)
    try:
        run_grid(grid, grader=toy_grader, progress=True)
    finally:
        logging.getLogger().removeHandler(console)
    err = capfd.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    bars = [line for line in lines if "/s]" in line or "it/s" in line]
    assert bars and all(line.startswith(CELLS_BAR) for line in bars), err[-3000:]  # only rv-eval's cells bar
    for name in ("Generating test split", "Loading weights", "Loading checkpoint shards", "Map", "Filter",
                 "Fetching", "Downloading"):
        assert name not in err, err[-3000:]
    repeated = {line: n for line, n in Counter(line for line in lines if line not in bars).items() if n > 1}
    assert not repeated, repeated  # lm-eval's `--metadata` hint came once per task load before
    assert "Custom kwargs can be passed to `--metadata`" in err  # shown, once
    assert _bar_states() == before  # the caller's settings are back
