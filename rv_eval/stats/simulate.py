"""Synthetic samples tables with heterogeneous question difficulty (for tests, docs and benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rv_eval.schema import SAMPLE_COLUMNS, SAMPLE_DTYPES


def difficulty(rng: np.random.Generator, n_questions: int, mean: float = 0.5, icc: float = 0.5) -> np.ndarray:
    """Per-question success probabilities ~ Beta with the given mean and var = icc * mean * (1 - mean)."""
    total = 1.0 / icc - 1.0
    return rng.beta(mean * total, (1 - mean) * total, size=n_questions)


def outcomes(rng: np.random.Generator, p: np.ndarray, n_seeds: int = 1, samples: int = 1) -> np.ndarray:
    """Bernoulli(p_q) outcomes shaped (..., n_questions, n_seeds, samples)."""
    p = np.asarray(p, dtype=float)
    return rng.random((*p.shape, n_seeds, samples)) < p[..., None, None]


def frame(
    correct: np.ndarray,
    *,
    model: str,
    task: str,
    vector: str | None = None,
    alpha: float | None = None,
    split: str = "test",
    serves: str | None = None,
    lang: str = "en",
    folds: np.ndarray | None = None,
    doc_ids: list[str] | None = None,
    extracted: np.ndarray | None = None,
    response_lang: str | None = None,
) -> pd.DataFrame:
    """A samples table for one model x task from outcomes shaped (n_questions, n_seeds, samples)."""
    n_q, n_s, k = correct.shape
    q, s, i = (a.ravel() for a in np.meshgrid(np.arange(n_q), np.arange(n_s), np.arange(k), indexing="ij"))
    ids = np.asarray(doc_ids if doc_ids is not None else [f"q{j:05d}" for j in range(n_q)])
    fold = np.full(n_q, -1) if folds is None else np.asarray(folds)
    ok = correct.ravel()
    ext = np.where(ok, "gold", "wrong") if extracted is None else extracted.ravel()
    cols = {
        "grid": "sim",
        "model": model,
        "vector": vector,
        "alpha": alpha,
        "task": task,
        "split": split,
        "serves": serves or task,
        "lang": lang,
        "seed": s,
        "doc_id": ids[q],
        "doc_hash": ids[q],
        "fold": fold[q],
        "sample_idx": i,
        "prompt": "",
        "response": "",
        "gold": "gold",
        "extracted": ext,
        "correct": ok,
        "reason": np.where(ok, "ok", "mismatch"),
        "response_lang": response_lang or lang,
        "n_prompt_tokens": 0,
        "n_gen_tokens": 0,
        "gen_seconds": 0.0,
        "stop_reason": "stop",
        "answer": ext,
    }
    df = pd.DataFrame({c: cols[c] for c in SAMPLE_COLUMNS}, index=pd.RangeIndex(len(ok)))
    return df.astype(SAMPLE_DTYPES)
