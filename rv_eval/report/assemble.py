"""Assemble the report's data from the samples table, the run metadata and the statistics.

The page embeds two kinds of payload (see `rv_eval.report.encode`):

- the *summary* (leaderboard, α-sweeps, run metadata, an index of drill-down chunks), decoded
  when the page opens;
- one *chunk* per task (question ids, gold, prompt, the baseline's per-question accuracy) and one
  per model × task (every sample, column-wise), each decoded only when its drill-down is opened.

Responses are the bulk of a large run, so they are clipped to a per-response cap (head + tail,
the tail holding the final answer) chosen so that all responses together fit a character budget.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from rv_eval.report import stats_calls
from rv_eval.schema import RunMeta

LANG_ORDER = {"ja": 0, "en": 1}
NO_ANSWER_REASONS = {"no_answer", "unclosed_think", "truncated", "no_code", "hedged"}


@dataclass(frozen=True)
class ReportOptions:
    """How much of each response the page embeds.

    max_response_chars: cap on one response (head + tail kept, the middle replaced by a marker).
    response_budget_chars: cap on all responses together; when they exceed it the per-response
    cap is lowered until they fit (never below min_response_chars).
    """

    max_response_chars: int = 6000
    response_budget_chars: int = 100_000_000
    min_response_chars: int = 40
    max_prompt_chars: int = 8000


def task_base(task: str, serves: str, lang: str) -> str:
    """The benchmark a task belongs to, without its language suffix (`gsm8k_ja` -> `gsm8k`)."""
    return re.sub(rf"[_-]{re.escape(lang)}$", "", serves or task)


def _f(x: Any, nd: int = 6) -> float | None:
    """A float rounded for embedding, or None for missing / NaN."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else round(v, nd)


def task_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per task: task, split, serves, lang, base; test tasks first, ordered base, JA, EN."""
    t = df[["task", "split", "serves", "lang"]].drop_duplicates("task").copy()
    t["base"] = [task_base(a, b, c) for a, b, c in zip(t["task"], t["serves"], t["lang"], strict=True)]
    t["_lo"] = t["lang"].map(LANG_ORDER).fillna(9)
    t["_so"] = (t["split"] != "test").astype(int)
    t = t.sort_values(["_so", "base", "_lo", "task"]).drop(columns=["_lo", "_so"])
    return t.reset_index(drop=True)


def model_table(df: pd.DataFrame, meta: RunMeta | None, baseline: str | None) -> pd.DataFrame:
    """One row per model (grid order where known): model, vector, alpha, role."""
    m = df[["model", "vector", "alpha"]].drop_duplicates("model").copy()
    order = [d.get("name") for d in (meta.models if meta else [])]
    m["_o"] = [order.index(x) if x in order else len(order) for x in m["model"]]
    m = m.sort_values(["_o", "vector", "alpha"], na_position="first").drop(columns="_o")
    m["role"] = ["baseline" if x == baseline else ("variant" if pd.notna(v) else "model")
                 for x, v in zip(m["model"], m["vector"], strict=True)]
    return m.reset_index(drop=True)


def _cell(row: pd.Series, cmp: dict[str, Any] | None) -> dict[str, Any]:
    cell = {
        "m": _f(row["mean"]), "lo": _f(row["ci_low"]), "hi": _f(row["ci_high"]),
        "nq": int(row["n_questions"]), "ns": int(row["n_seeds"]), "n": int(row["n_samples"]),
        "fid": _f(row.get("lang_fidelity")),
    }
    if cmp is not None:
        cell.update(d=_f(cmp["diff"]), dlo=_f(cmp["ci_low"]), dhi=_f(cmp["ci_high"]),
                    p=_f(cmp["p_adjusted"], 6), sig=bool(cmp["significant"]), mde=_f(cmp.get("mde")))
    return cell


def _macro_cell(x: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if x is None else {"m": _f(x["m"]), "lo": _f(x["lo"]), "hi": _f(x["hi"]), "k": x["k"]}


def leaderboard(tasks: pd.DataFrame, models: pd.DataFrame, summary: pd.DataFrame,
                compare: pd.DataFrame | None,
                macro: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The leaderboard rows: per model, a cell per test task, JA / EN / all averages, and language
    fidelity per language (never averaged across languages: a JA task and an EN task pull in
    opposite directions).

    `macro` ((model, "ja" | "en" | "all") -> {m, lo, hi, k}, from `stats_calls.macro_averages`)
    gives the averages with intervals from the per-question data; without it no average is shown.
    """
    test = tasks[tasks["split"] == "test"]
    s = {(r.model, r.task): r for r in summary.itertuples(index=False)}
    s = {k: pd.Series(v._asdict()) for k, v in s.items()}
    c = {} if compare is None else {(r["model"], r["task"]): r for r in compare.to_dict("records")}
    rows = []
    for m in models.itertuples(index=False):
        cells, by_lang = {}, {"ja": [], "en": [], "all": []}
        for t in test.itertuples(index=False):
            r = s.get((m.model, t.task))
            if r is None:
                continue
            cells[t.task] = _cell(r, c.get((m.model, t.task)))
            by_lang.setdefault(t.lang, []).append(r)
            by_lang["all"].append(r)
        n_lang = test["lang"].value_counts().to_dict()
        complete = {k: len(v) == (len(test) if k == "all" else n_lang.get(k, 0)) for k, v in by_lang.items()}
        avg = {k: (_macro_cell(macro.get((m.model, k))) if ok and macro is not None else None)
               for k, ok in complete.items()}
        fid = {}
        for lang in by_lang:
            if lang == "all":
                continue
            vals = [cells[t.task]["fid"] for t in test.itertuples(index=False)
                    if t.lang == lang and t.task in cells and cells[t.task]["fid"] is not None]
            fid[lang] = _f(sum(vals) / len(vals)) if vals else None
        rows.append({
            "model": m.model, "vector": None if pd.isna(m.vector) else m.vector,
            "alpha": _f(m.alpha), "role": m.role, "cells": cells, "avg": avg, "fid": fid,
        })
    return rows


def sweeps(tasks: pd.DataFrame, models: pd.DataFrame, summary: pd.DataFrame,
           choices: list[stats_calls.AlphaChoice], baseline: str | None,
           notes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Per vector × benchmark: accuracy against α for each language and split, baseline, chosen α.

    `notes`: per vector, why no α could be chosen (shown under its charts).
    """
    variants = models[models["role"] == "variant"]
    out = []
    summary = summary[["model", "task", "mean", "ci_low", "ci_high", "lang_fidelity"]]
    s = summary.merge(tasks, on="task").merge(models[["model", "vector", "alpha"]], on="model")
    for vector in variants["vector"].dropna().unique():
        sv = s[s["vector"] == vector]
        for base in tasks[tasks["split"] == "test"]["base"].unique():
            sb = sv[sv["base"] == base]
            if sb.empty:
                continue
            series = []
            for (lang, split), g in sb.groupby(["lang", "split"], sort=False):
                g = g.sort_values("alpha")
                series.append({"lang": lang, "split": split, "pts": [
                    [_f(a), _f(m), _f(lo), _f(hi), _f(fid)] for a, m, lo, hi, fid in
                    zip(g["alpha"], g["mean"], g["ci_low"], g["ci_high"], g["lang_fidelity"], strict=True)]})
            test_tasks = tasks[(tasks["base"] == base) & (tasks["split"] == "test")]
            base_lines = {}
            if baseline is not None:
                sbase = summary.merge(tasks, on="task")
                sbase = sbase[(sbase["model"] == baseline) & (sbase["base"] == base)]
                for r in sbase.itertuples(index=False):
                    base_lines[f"{r.lang}/{r.split}"] = [_f(r.mean), _f(r.ci_low), _f(r.ci_high),
                                                         _f(r.lang_fidelity)]
            chosen = {}
            for ch in choices:
                if ch.vector == vector and ch.task in set(test_tasks["task"]):
                    lang = test_tasks[test_tasks["task"] == ch.task]["lang"].iloc[0]
                    chosen[lang] = {k: (_f(v) if isinstance(v, float) else v)
                                    for k, v in asdict(ch).items() if k not in ("vector",)}
            out.append({"vector": vector, "base": base, "series": series, "baseline": base_lines,
                        "chosen": chosen, "note": (notes or {}).get(str(vector))})
    return out


def response_cap(lengths: np.ndarray, opts: ReportOptions) -> int:
    """The largest per-response cap ≤ max_response_chars whose clipped total fits the budget."""
    cap = opts.max_response_chars
    if lengths.size == 0 or np.minimum(lengths, cap).sum() <= opts.response_budget_chars:
        return cap
    lo, hi = opts.min_response_chars, cap
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if np.minimum(lengths, mid).sum() <= opts.response_budget_chars:
            lo = mid
        else:
            hi = mid - 1
    return lo


def clip_head(cap: int) -> int:
    """How many of a clipped text's `cap` characters come from its head (the rest from its tail)."""
    return cap // 4 if cap >= 400 else 0


def clip_text(text: str, cap: int, marker: bool = True) -> str:
    """`text` if it fits `cap`, else its head and tail (with an omission marker between them).

    Without `marker` the two parts are joined directly; the page re-inserts the marker after
    `clip_head(cap)` characters (this saves ~50 characters per clipped response).
    """
    if len(text) <= cap:
        return text
    head = clip_head(cap)
    tail = text[len(text) - (cap - head):]
    if not marker:
        return text[:head] + tail
    omitted = len(text) - cap
    return f"{text[:head]}\n[… {omitted:,} characters omitted in this report …]\n{tail}"


def _codes(values: pd.Series, vocab: dict[str, int]) -> list[int]:
    out = []
    for v in values.fillna("").astype(str):
        if v not in vocab:
            vocab[v] = len(vocab)
        out.append(vocab[v])
    return out


def task_chunk(g: pd.DataFrame, baseline: str | None, opts: ReportOptions) -> tuple[dict[str, Any], dict[str, int]]:
    """The per-task payload (question list) and the doc_id -> index map the model chunks use."""
    first_model = g["model"].iloc[0] if baseline is None or baseline not in set(g["model"]) else baseline
    docs = g[g["model"] == first_model].drop_duplicates("doc_id")
    extra = g[~g["doc_id"].isin(docs["doc_id"])].drop_duplicates("doc_id")
    docs = pd.concat([docs, extra])
    index = {d: i for i, d in enumerate(docs["doc_id"])}
    payload: dict[str, Any] = {
        "doc": docs["doc_id"].tolist(), "gold": docs["gold"].fillna("").tolist(),
        "prompt": [clip_text(p, opts.max_prompt_chars) for p in docs["prompt"].fillna("")],
        "prompt_model": first_model, "base": None,
    }
    if baseline is not None and baseline in set(g["model"]):
        b = g[g["model"] == baseline].groupby("doc_id", sort=False)["correct"].mean()
        payload["base"] = [_f(b.get(d)) for d in payload["doc"]]
    return payload, index


def marks_by_sample(applied: list[dict[str, Any]] | None) -> dict[tuple, dict[str, Any]]:
    """The marks `rv_eval.overrides.apply_marks` applied, by (model, task, seed, doc_id, sample_idx)."""
    return {(m["model"], m["task"], int(m["seed"]), m["doc_id"], int(m["sample_idx"])): m for m in applied or []}


def _marks_of(g: pd.DataFrame, marks: dict[tuple, dict[str, Any]]) -> dict[str, list[Any]]:
    """{position in g: [person's verdict, note, grader's verdict, grader's reason]} of marked samples."""
    keys = zip(g["model"].astype(str), g["task"].astype(str), g["seed"].astype(int), g["doc_id"].astype(str),
               g["sample_idx"].astype(int), strict=True)
    return {str(i): [int(m["correct"]), m["note"], int(m["graded_correct"]), m["graded_reason"]]
            for i, k in enumerate(keys) if (m := marks.get(k)) is not None}


def model_chunk(g: pd.DataFrame, index: dict[str, int], task_prompts: list[str], cap: int,
                vocab: dict[str, dict[str, int]], prompt_cap: int,
                marks: dict[tuple, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The per model × task payload: every sample, column-wise (`ov`: the marks a person made)."""
    g = g.sort_values(["doc_id", "seed", "sample_idx"], kind="stable")
    q = [index[d] for d in g["doc_id"]]
    firsts = g.drop_duplicates("doc_id")
    clipped = (clip_text(p, prompt_cap) for p in firsts["prompt"].fillna(""))
    overrides = {index[d]: p for d, p in zip(firsts["doc_id"], clipped, strict=True) if p != task_prompts[index[d]]}
    ext = g["extracted"]
    return {
        "q": q, "seed": g["seed"].astype(int).tolist(), "k": g["sample_idx"].astype(int).tolist(),
        "c": g["correct"].astype(int).tolist(),
        "x": [None if pd.isna(v) else str(v) for v in ext],
        "r": _codes(g["reason"], vocab["reason"]), "l": _codes(g["response_lang"], vocab["lang"]),
        "tok": g["n_gen_tokens"].astype(int).tolist(),
        "resp": [clip_text(t, cap, marker=False) for t in g["response"].fillna("")],
        "len": [len(t) if len(t) > cap else 0 for t in g["response"].fillna("")],
        "prompt_over": {str(k): v for k, v in overrides.items()},
        "ov": _marks_of(g, marks) if marks else {},
    }


def run_meta_dict(meta: RunMeta | None) -> dict[str, Any] | None:
    """The run metadata as plain JSON-able data."""
    return None if meta is None else asdict(meta)
