"""Plain-text (markdown) tables of the statistics, for the terminal and CI comments."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from rv_eval.stats.alpha import AlphaSelection, Score


def _pct(x: float, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def _ci(lo: float, hi: float, signed: bool = False) -> str:
    return f"[{_pct(lo, signed)}, {_pct(hi, signed)}]"


def _score(s: Score) -> str:
    if math.isnan(s.mean):
        return "–"
    return f"{_pct(s.mean)} {_ci(s.ci_low, s.ci_high)}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def format_summary(s: pd.DataFrame) -> str:
    """The `summarize` table in percent: mean with 95% CI, seed sd, pass@k, maj@k, language fidelity."""
    header = ["model", "task", "acc", "95% CI", "questions", "seeds", "seed sd", "pass@k", "maj@k", "lang"]
    rows = [
        [
            str(r.model),
            str(r.task),
            _pct(r.mean),
            _ci(r.ci_low, r.ci_high),
            str(r.n_questions),
            str(r.n_seeds),
            _pct(r.seed_sd),
            f"{_pct(r.pass_at_k)} (k={r.k})",
            _pct(r.maj_at_k),
            _pct(r.lang_fidelity),
        ]
        for r in s.itertuples()
    ]
    return markdown_table(header, rows)


def format_macro(m: pd.DataFrame) -> str:
    """The `macro_average` table in percent (equal task weights)."""
    header = ["model", "tasks", "questions", "macro acc", "95% CI"]
    rows = [
        [str(r.model), str(r.n_tasks), str(r.n_questions), _pct(r.mean), _ci(r.ci_low, r.ci_high)]
        for r in m.itertuples()
    ]
    note = "\nmacro acc: mean of the test tasks' accuracies (equal weights); CI: bootstrap over questions within tasks.\n"
    return markdown_table(header, rows) + note


def format_paired(p: pd.DataFrame) -> str:
    """The `paired_compare` table in percentage points."""
    header = ["model", "task", "baseline", "model acc", "diff", "95% CI", "p", "p adj", "sig", "MDE"]
    rows = [
        [
            str(r.model),
            str(r.task),
            _pct(r.baseline_mean),
            _pct(r.candidate_mean),
            _pct(r.diff, True),
            _ci(r.ci_low, r.ci_high, True),
            f"{r.p_value:.3g}",
            f"{r.p_adjusted:.3g}",
            "yes" if r.significant else "no",
            _pct(r.mde),
        ]
        for r in p.itertuples()
    ]
    correction = p["correction"].iat[0] if len(p) else "holm"
    return markdown_table(header, rows) + f"\np adj: {correction} across all rows; sig: p adj < 0.05.\n"


def format_selection(sel: AlphaSelection) -> str:
    """The `select_alpha` result: chosen α, its test score, the honest and the naive estimates.

    Figures computed on the test questions the α was chosen on are marked optimistic (†).
    """
    header = ["scope", "method", "α", "test at α", "honest", "naive α", "naive best †", "optimism"]
    rows = [
        [
            c.scope,
            c.method,
            f"{c.alpha:g}",
            _score(c.test) + (" †" if c.method != "dev" and not math.isnan(c.test.mean) else ""),
            _score(c.honest),
            f"{c.naive_alpha:g}",
            _score(c.naive),
            _pct(c.optimism, True),
        ]
        for c in sel.choices
    ]
    note = (
        "\n† optimistic: α chosen on these same test questions. For cross-fit tasks only `honest` is "
        "unbiased; its interval comes from a bootstrap over the whole selection.\n"
    )
    return markdown_table(header, rows) + note


def jsonable(obj: Any) -> Any:
    """`obj` with NaN / NA turned into None and numpy scalars into Python ones (strict JSON)."""
    if isinstance(obj, pd.DataFrame):
        return [jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is pd.NA or (isinstance(obj, float) and math.isnan(obj)):
        return None
    return obj
