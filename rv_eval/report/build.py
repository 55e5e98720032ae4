"""Build the self-contained HTML report from a samples table (and write it from a run folder)."""

from __future__ import annotations

import datetime as dt
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from tqdm import tqdm

from rv_eval import __version__, atomicio
from rv_eval.errors import UserError
from rv_eval.report import assemble, stats_calls
from rv_eval.report.encode import pack
from rv_eval.schema import RunMeta, check_samples_frame

log = logging.getLogger(__name__)


def _template_text(name: str) -> str:
    return resources.files("rv_eval.report").joinpath("templates", name).read_text(encoding="utf-8")


def _resolve_baseline(df: pd.DataFrame, meta: RunMeta | None, baseline: str | None) -> str | None:
    name = baseline if baseline is not None else (meta.baseline if meta is not None else None)
    models = sorted(df["model"].dropna().unique())
    if name is not None and name not in models:
        raise UserError(
            f"baseline {name!r} is not a model of this run (models: {', '.join(models)}). "
            "Fix: pass --baseline with one of those names, or omit it."
        )
    return name


def _chunks(df: pd.DataFrame, baseline: str | None, cap: int, opts: assemble.ReportOptions,
            progress: bool) -> tuple[list[dict[str, str]], dict[str, str], dict[str, dict[str, str]], dict]:
    """Encode every task chunk and model × task chunk; return (chunks, task ids, model ids, vocab)."""
    vocab: dict[str, dict[str, int]] = {"reason": {}, "lang": {}}
    chunks, tids, mids = [], {}, {}
    n = df.groupby(["task", "model"], observed=True).ngroups
    bar = tqdm(total=n, desc="report chunks", unit="cell", disable=not progress)
    for ti, (task, g) in enumerate(df.groupby("task", sort=True, observed=True)):
        payload, index = assemble.task_chunk(g, baseline, opts)
        tids[str(task)] = f"t{ti}"
        chunks.append({"id": f"t{ti}", "b64": pack(payload)})
        for model, gm in g.groupby("model", sort=True, observed=True):
            cid = f"c{len(chunks)}"
            body = assemble.model_chunk(gm, index, payload["prompt"], cap, vocab, opts.max_prompt_chars)
            chunks.append({"id": cid, "b64": pack(body)})
            mids.setdefault(str(model), {})[str(task)] = cid
            bar.update(1)
    bar.close()
    return chunks, tids, mids, {k: list(v) for k, v in vocab.items()}


def build_report(samples_df: pd.DataFrame, run_meta: RunMeta | None, baseline: str | None = None,
                 options: assemble.ReportOptions | None = None, title: str | None = None,
                 progress: bool = False) -> str:
    """The report as one self-contained HTML string (all data, CSS, JS and charts inline).

    `baseline` defaults to the run's baseline (`run_meta.baseline`); without one the page shows no
    significance markers and no flips.
    """
    opts = options or assemble.ReportOptions()
    df = check_samples_frame(samples_df)
    if df.empty:
        raise UserError("the samples table is empty: nothing to report. Fix: run `rv-eval run` first.")
    base = _resolve_baseline(df, run_meta, baseline)
    tasks = assemble.task_table(df)
    models = assemble.model_table(df, run_meta, base)
    log.info("report: statistics for %d models × %d tasks", len(models), len(tasks))
    summary = stats_calls.summarize(df)
    compare = stats_calls.paired_compare(df, base) if base is not None else None
    choices, notes = [], {}
    for vector in models["vector"].dropna().unique():
        chosen, why_not = stats_calls.select_alpha(df, str(vector))
        choices += chosen
        if why_not:
            notes[str(vector)] = why_not
    lengths = df["response"].fillna("").str.len().to_numpy(dtype=np.int64)
    cap = assemble.response_cap(lengths, opts)
    if cap < opts.max_response_chars:
        log.info("report: responses shortened to %d characters to fit the size budget", cap)
    chunks, tids, mids, vocab = _chunks(df, base, cap, opts, progress)
    grid = run_meta.grid if run_meta is not None else str(df["grid"].iloc[0])
    payload: dict[str, Any] = {
        "baseline": base, "cap": cap, "head": assemble.clip_head(cap), "vocab": vocab, "tchunks": tids, "mchunks": mids,
        "tasks": tasks.to_dict("records"),
        "models": [{"model": m.model, "vector": None if pd.isna(m.vector) else m.vector,
                    "alpha": assemble._f(m.alpha), "role": m.role} for m in models.itertuples(index=False)],
        "rows": assemble.leaderboard(tasks, models, summary, compare, assemble.question_means(df)),
        "sweeps": assemble.sweeps(tasks, models, summary, choices, base, notes),
        "meta": assemble.run_meta_dict(run_meta),
    }
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(_template_text("report.html.j2"))
    return template.render(
        title=title or f"rv-eval report: {grid}", grid=grid, version=__version__, baseline=base,
        n_models=len(models), n_tasks=len(tasks), n_samples=f"{len(df):,}",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        css=_template_text("report.css"), js=_template_text("report.js"),
        summary_b64=pack(payload), chunks=chunks,
    )


def write_report(out_dir: str | os.PathLike, path: str | os.PathLike, baseline: str | None = None,
                 options: assemble.ReportOptions | None = None) -> Path:
    """Build the report of the run folder `out_dir` and write it atomically to `path`."""
    from rv_eval.store import load_run_meta, load_samples, results_folder  # noqa: PLC0415

    out = results_folder(out_dir)  # UserError naming what the path is instead

    html = build_report(load_samples(out), load_run_meta(out), baseline=baseline, options=options, progress=True)
    target = Path(path)
    atomicio.write_text(target, html)
    return target
