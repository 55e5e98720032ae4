"""Synthetic samples tables for the report's tests, size benchmark and previews.

`synthetic_samples` builds a run with a baseline target, a post model and α-variants of one
vector, JA and EN test tasks (some with a dev pool), several seeds and questions, with accuracy
rising with α up to a peak, some unparsed and wrong-language answers, and a configurable response
length. Column-wise construction keeps 1.6M rows affordable; responses come from a pool of
distinct texts (shared, not copied, in memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rv_eval.schema import SAMPLE_COLUMNS, RunMeta

_EN = ("let us think step by step the sum of both sides gives we substitute hence therefore so the "
       "number of ways equals because each term is divisible by and then check the remaining case "
       "which leaves modulo square root triangle area probability factor").split()
_JA = "まず 両辺 を 計算 します 。 したがって 次に 条件 より 余り は 面積 確率 通り です よって 答え 確認 し ます".split()


@dataclass(frozen=True)
class SyntheticSpec:
    """Shape of the synthetic run."""

    bases: tuple[str, ...] = ("aime24", "gsm8k")
    dev_bases: tuple[str, ...] = ("gsm8k",)  # bases that have a dev pool
    alphas: tuple[float, ...] = (0.0, 0.5, 1.0)
    extra_models: tuple[str, ...] = ("target", "post")
    seeds: tuple[int, ...] = (0, 1)
    n_questions: int = 12
    n_dev_questions: int = 8
    response_chars: int = 300  # median response length
    pool_size: int = 500
    seed: int = 0
    answer_suffix: bool = True  # False: responses are the pool texts themselves (no per-row copies)
    special: dict[str, str] = field(default_factory=dict)  # (model|task|doc_id) -> response override


def _pool(rng: np.random.Generator, size: int, median: int) -> list[str]:
    lengths = np.clip(rng.lognormal(np.log(max(median, 20)), 0.6, size), 20, median * 12).astype(int)
    out = []
    for i, n in enumerate(lengths):
        words = _JA if i % 2 else _EN
        idx = rng.integers(0, len(words), n // 5 + 2)
        digits = rng.integers(0, 1000, n // 40 + 1)
        text = " ".join(words[j] for j in idx)
        text += " " + " ".join(str(d) for d in digits)
        out.append(text[:n])
    return out


def _models(spec: SyntheticSpec) -> list[tuple[str, str | None, float | None, float]]:
    """(name, vector, alpha, skill) per model; skill peaks near α = 0.6."""
    out = [(m, None, None, 0.35 if m == "target" else 0.5) for m in spec.extra_models]
    for a in spec.alphas:
        out.append((f"s1vec@{a:g}", "s1vec", float(a), 0.35 + 0.25 * a - 0.2 * a * a))
    return out


def synthetic_samples(spec: SyntheticSpec | None = None) -> pd.DataFrame:
    """A samples DataFrame (columns `SAMPLE_COLUMNS`) for a synthetic run shaped by `spec`."""
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    pool = _pool(rng, spec.pool_size, spec.response_chars)
    frames = []
    tasks = []
    for base in spec.bases:
        for lang in ("ja", "en"):
            tasks.append((f"{base}_{lang}", "test", f"{base}_{lang}", lang, spec.n_questions))
            if base in spec.dev_bases:
                tasks.append((f"{base}_dev_{lang}", "dev", f"{base}_{lang}", lang, spec.n_dev_questions))
    models = _models(spec)
    for task, split, serves, lang, nq in tasks:
        difficulty = rng.normal(0, 1.2, nq)
        gold = rng.integers(1, 999, nq)
        for name, vector, alpha, skill in models:
            frames.append(_cell(rng, spec, pool, task, split, serves, lang, difficulty, gold, name, vector, alpha, skill))
    df = pd.concat(frames, ignore_index=True)
    for key, text in spec.special.items():
        m, t, d = key.split("|")
        df.loc[(df["model"] == m) & (df["task"] == t) & (df["doc_id"] == d), "response"] = text
    return df[SAMPLE_COLUMNS]


def _cell(rng, spec, pool, task, split, serves, lang, difficulty, gold, name, vector, alpha, skill) -> pd.DataFrame:
    nq, ns = len(difficulty), len(spec.seeds)
    n = nq * ns
    q = np.tile(np.arange(nq), ns)
    seeds = np.repeat(np.asarray(spec.seeds), nq)
    logit = np.log(skill / (1 - skill)) - difficulty[q] + (0.3 if lang == "en" else 0.0)
    correct = rng.random(n) < 1 / (1 + np.exp(-logit))
    unparsed = (~correct) & (rng.random(n) < 0.15)
    off = rng.integers(1, 50, n)
    extracted = np.where(correct, gold[q], gold[q] + off).astype(str).astype(object)
    extracted[unparsed] = None
    wrong_lang = rng.random(n) < (0.15 if lang == "ja" else 0.03)
    resp_lang = np.where(wrong_lang, "en" if lang == "ja" else "ja", lang)
    reason = np.where(correct, "ok", np.where(unparsed, "no_answer", "mismatch"))
    picks = rng.integers(0, len(pool), n)
    tails = np.where(unparsed, " I am not sure.", "")
    if spec.answer_suffix:
        response = [f"{pool[p]} The answer is \\boxed{{{x}}}.{t}" if x is not None else f"{pool[p]}{t}"
                    for p, x, t in zip(picks, extracted, tails, strict=True)]
    else:
        response = [pool[p] for p in picks]
    doc_ids = np.array([f"{task.split('_')[0]}-{i:04d}" for i in range(nq)], dtype=object)
    return pd.DataFrame({
        "grid": "synthetic", "model": name, "vector": vector, "alpha": alpha, "task": task, "split": split,
        "serves": serves, "lang": lang, "seed": seeds, "doc_id": doc_ids[q], "doc_hash": "0" * 16,
        "fold": (q % 5) if split == "test" and "gsm8k" not in task else -1, "sample_idx": 0,
        "prompt": [f"Problem {d} of {task}: compute the value." for d in doc_ids[q]],
        "response": pd.Series(response, dtype=object), "gold": gold[q].astype(str), "extracted": extracted, "correct": correct,
        "reason": reason, "response_lang": resp_lang, "n_prompt_tokens": 40,
        "n_gen_tokens": [len(pool[p]) // 4 for p in picks], "gen_seconds": 0.01, "stop_reason": "stop",
        "answer": extracted,
    })


def synthetic_meta(df: pd.DataFrame, baseline: str | None = "target") -> RunMeta:
    """Run metadata matching a synthetic samples table."""
    models = []
    for m in df[["model", "vector", "alpha"]].drop_duplicates("model").itertuples(index=False):
        prov = None if pd.isna(m.vector) else {"recipe": "merge/s1.yaml", "pre": "pre", "post": "post",
                                                "target": "target", "alpha": m.alpha, "sha256": "ab" * 8}
        models.append({"name": m.model, "path": f"models/{m.model}", "vector": None if pd.isna(m.vector) else m.vector,
                       "alpha": None if pd.isna(m.alpha) else float(m.alpha), "provenance": prov})
    return RunMeta(
        grid="synthetic", grid_file_text="name: synthetic\nmodels: ...\n", seeds=sorted(int(s) for s in df["seed"].unique()),
        sampling={"temperature": 0.6, "top_p": 0.95, "max_tokens": 4096, "k": 1}, backend={"kind": "vllm"},
        baseline=baseline, models=models,
        versions={"rv-eval": "0.1.0", "lm-eval": "0.4.13", "vllm": "0.32.0", "math-verify": "0.9.0"},
    )
