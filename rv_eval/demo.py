"""`rv-eval demo`: the whole pipeline on this CPU, offline, in about a minute.

The tiny (pre, post, target) family of `rv_eval.tinymodels` ships in `data/demo/family` (built by
`python -m rv_eval.tinymodels`, checked here against `data/demo/family/SHA256SUMS`). The demo
copies it into the output folder, writes a grid that sweeps the reasoning vector post − pre over
α ∈ {0, 0.25, …, 1.5} on the target (in place) and adds the post model, runs it on the demo tasks
(Japanese and English, test and dev pools) with the HF backend, grades, and writes the results
and an HTML report. Running it again resumes: finished cells are skipped.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from rv_eval import atomicio
from rv_eval.errors import UserError
from rv_eval.grid import load_grid
from rv_eval.hashing import sha256_file
from rv_eval.paths import DATA_DIR
from rv_eval.runner import RunSummary, run_grid

log = logging.getLogger(__name__)

DEMO_TASKS = ("demo_ja", "demo_en", "demo_dev_ja", "demo_dev_en")
BASELINE = "tiny@0"
FAMILY_DIR = DATA_DIR / "demo" / "family"
CHECKSUMS = "SHA256SUMS"
BUILD_COMMAND = "python -m rv_eval.tinymodels --out data/demo/family"


@dataclass(frozen=True)
class DemoSettings:
    """Size of the demo (the defaults: every demo question, 1 seed × 2 samples)."""

    limit: int | None = None  # questions per task (None: all: 40 test, 24 dev)
    seeds: tuple[int, ...] = (0,)
    samples: int = 2
    temperature: float = 0.3
    max_gen_toks: int = 48  # a two-step worked answer takes about 35 tokens
    alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def grid_text(models_dir: Path, s: DemoSettings) -> str:
    """The demo's grid file (paths relative to the output folder)."""
    limit = f", limit: {s.limit}" if s.limit else ""
    tasks = "\n".join(f"  - {{name: {t}{limit}}}" for t in DEMO_TASKS)
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
        f"sampling: {{temperature: {s.temperature:g}, top_p: 0.95, max_gen_toks: {s.max_gen_toks}, "
        f"samples: {s.samples}}}\n"
        "backend: {name: hf, dtype: float32, batch_size: 128}\n"
        f"baseline: {BASELINE}\n"
    )


def read_checksums(folder: Path) -> dict[str, str]:
    """{relative path: sha256} from `folder/SHA256SUMS` (lines `<sha256>  <path>`)."""
    out = {}
    for line in (folder / CHECKSUMS).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.strip()] = digest
    return out


def write_checksums(folder: Path) -> Path:
    """Write `folder/SHA256SUMS` for every file under `folder` (what `verify_family` checks)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS)
    text = "".join(f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in files)
    atomicio.write_text(folder / CHECKSUMS, text)
    return folder / CHECKSUMS


def verify_family(folder: Path = FAMILY_DIR) -> None:
    """UserError unless every file listed in `folder/SHA256SUMS` is there with that checksum."""
    fix = f"Fix: restore it with `git checkout -- {folder}` or rebuild it with `{BUILD_COMMAND}`."
    if not (folder / CHECKSUMS).is_file():
        raise UserError(f"the demo's model family {folder} has no {CHECKSUMS}. {fix}")
    for name, digest in read_checksums(folder).items():
        path = folder / name
        if not path.is_file():
            raise UserError(f"demo model file {path} is missing. {fix}")
        if sha256_file(path) != digest:
            raise UserError(f"demo model file {path} does not match its sha256 in {folder / CHECKSUMS}. {fix}")


def ensure_family(models_dir: Path, source: Path = FAMILY_DIR) -> None:
    """Copy the shipped family (after checking its checksums) into `models_dir`, once."""
    if (models_dir / "family.json").is_file():
        return
    verify_family(source)
    log.info("copying the tiny pre/post/target family into %s", models_dir)
    with atomicio.atomic_path(models_dir, "folder") as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)


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
    report = out / "report.html"
    if summary.ran or not report.is_file():
        write_report(out, report, BASELINE)
    return summary, report


def write_report(out: Path, path: Path, baseline: str | None) -> Path:
    """The demo's HTML report (`rv_eval.report.write_report`)."""
    from rv_eval.report import write_report as full_report

    return Path(full_report(out, path, baseline=baseline))


def summary_text(out: Path) -> str:
    """The table printed at the end of the demo: accuracy [95% CI] and language fidelity per model × task."""
    from rv_eval.report.console import end_of_run_table

    return end_of_run_table(out)
