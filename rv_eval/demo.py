"""`rv-eval demo`: the whole pipeline on this CPU, offline, in a few minutes.

Builds a tiny (pre, post, target) family with `rv_eval.tinymodels`, writes a grid that sweeps the
reasoning vector post − pre over α ∈ {0, 0.5, 1} on the target (in place) and adds the post model,
runs it on the bundled demo tasks (Japanese and English, test and dev pools) with the HF backend,
2 seeds and 2 samples per question, grades, and writes the results and an HTML report. Running it
again resumes: finished cells are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rv_eval import atomicio
from rv_eval.grid import load_grid
from rv_eval.results import format_results
from rv_eval.runner import RunSummary, run_grid

log = logging.getLogger(__name__)

DEMO_TASKS = ("demo_en", "demo_ja", "demo_dev_en", "demo_dev_ja")
BASELINE = "tiny@0"


@dataclass(frozen=True)
class DemoSettings:
    """Size of the demo (the defaults finish in a few minutes on 2 CPU cores)."""

    limit: int = 8  # questions per task
    seeds: tuple[int, ...] = (0, 1)
    samples: int = 2
    max_gen_toks: int = 40  # a boxed two-step answer takes 18-26 tokens
    alphas: tuple[float, ...] = (0.0, 0.5, 1.0)


def grid_text(models_dir: Path, s: DemoSettings) -> str:
    """The demo's grid file (paths relative to the output folder)."""
    tasks = "\n".join(f"  - {{name: {t}, limit: {s.limit}}}" for t in DEMO_TASKS)
    alphas = ", ".join(format(a, "g") for a in s.alphas)
    return (
        "# written by `rv-eval demo`; run it again with `rv-eval run --model-grid grid.yaml`\n"
        "name: demo\nout: .\n"
        "models:\n"
        f"  - vector: {{name: tiny, pre: {models_dir.name}/pre, post: {models_dir.name}/post, "
        f"target: {models_dir.name}/target, alphas: [{alphas}]}}\n"
        f"  - {{name: post, path: {models_dir.name}/post}}\n"
        f"tasks:\n{tasks}\n"
        f"seeds: [{', '.join(str(x) for x in s.seeds)}]\n"
        f"sampling: {{temperature: 0.7, top_p: 0.95, max_gen_toks: {s.max_gen_toks}, samples: {s.samples}}}\n"
        "backend: {name: hf, dtype: float32, batch_size: 16}\n"
        f"baseline: {BASELINE}\n"
    )


def ensure_family(models_dir: Path) -> None:
    """Build the tiny family once (kept across runs so the second run resumes)."""
    if (models_dir / "family.json").is_file():
        return
    from rv_eval.tinymodels import build_trained_family

    log.info("building tiny pre/post/target models in %s", models_dir)
    with atomicio.atomic_path(models_dir, "folder") as tmp:
        build_trained_family(tmp)


def run_demo(out: str | Path, settings: DemoSettings = DemoSettings(), progress: bool = True) -> tuple[RunSummary, Path]:
    """Run the demo into `out`; return the run summary and the report path."""
    out = Path(out)
    models_dir = out / "models"
    ensure_family(models_dir)
    grid_file = out / "grid.yaml"
    text = grid_text(models_dir, settings)
    if not grid_file.is_file() or grid_file.read_text(encoding="utf-8") != text:
        atomicio.write_text(grid_file, text)
    summary = run_grid(load_grid(grid_file), progress=progress)
    return summary, write_report(out, out / "report.html", BASELINE)


def write_report(out: Path, path: Path, baseline: str | None) -> Path:
    """The demo's HTML report (`rv_eval.report.write_report`)."""
    from rv_eval.report import write_report as full_report

    return Path(full_report(out, path, baseline=baseline))


def summary_text(out: Path) -> str:
    """The plain per model × task table printed at the end of the demo."""
    return format_results(out, "table")
