"""Statistics on the samples table: clustered CIs, paired tests, α selection, regression gate.

Questions are the unit of every interval and test; seeds and samples are repeated measures
of a question. See docs/stats.md.

The public names below are imported on first use (PEP 562), so the CLI, which imports every
command module to build its parser, does not pay for scipy and statsmodels unless a statistics
command runs.
"""

from __future__ import annotations

import importlib
from typing import Any

_SOURCES = {
    "AlphaChoice": "alpha",
    "AlphaSelection": "alpha",
    "Score": "alpha",
    "select_alpha": "alpha",
    "CheckVerdict": "gate",
    "TaskVerdict": "gate",
    "check": "gate",
    "bootstrap_ci": "intervals",
    "clustered_ci": "intervals",
    "proportion_ci": "intervals",
    "load_results": "loading",
    "PAIRED_COLUMNS": "paired",
    "paired_compare": "paired",
    "pool_tasks": "pooling",
    "MACRO_COLUMNS": "macro",
    "macro_average": "macro",
    "macro_interval": "macro",
    "DesignAssumptions": "power",
    "mde_design": "power",
    "mde_from_sd": "power",
    "mde_table": "power",
    "gate_margin": "power",
    "question_table": "questions",
    "adjust_pvalues": "significance",
    "mcnemar_exact_pvalue": "significance",
    "mcnemar_score_pvalue": "significance",
    "tango_interval": "significance",
    "sign_flip_pvalue": "significance",
    "sign_flip_test": "significance",
    "mcnemar_test": "significance",
    "SUMMARY_COLUMNS": "summary",
    "pass_at_k": "summary",
    "summarize": "summary",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
