"""Where things live: the project's own folders and the benchmark data directory."""

from __future__ import annotations

import os
from pathlib import Path

from rv_eval.errors import UserError

#: Root of the source checkout (holds tasks/, data/, merge/, examples/).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = PROJECT_ROOT / "tasks"
DATA_DIR = PROJECT_ROOT / "data"  # data the project authors itself (splits, translations, demo set)

DATA_DIR_ENV = "RV_EVAL_DATA_DIR"


def benchmark_data_dir(explicit: str | os.PathLike | None = None, must_exist: bool = True) -> Path:
    """The folder holding the official benchmark files (layout of `../shared/data`).

    Resolution order: `explicit` (the `--data-dir` option), the `RV_EVAL_DATA_DIR` environment
    variable, `~/.cache/rv-eval/data` (where `rv-eval data download` writes), then a `shared/data`
    folder beside the checkout.
    """
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get(DATA_DIR_ENV):
        candidates.append(Path(os.environ[DATA_DIR_ENV]))
    else:
        candidates += [default_download_dir(), PROJECT_ROOT.parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    if not must_exist:
        return candidates[0]
    raise UserError(
        f"benchmark data directory not found (looked in: {', '.join(str(c) for c in candidates)}). "
        f"Fix: run `rv-eval data download`, or pass --data-dir / set {DATA_DIR_ENV} to a folder "
        "with the layout of shared/data."
    )


def default_download_dir() -> Path:
    """Where `rv-eval data download` puts the benchmark files by default."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rv-eval" / "data"
