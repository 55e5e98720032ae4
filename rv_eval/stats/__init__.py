"""Statistics on the samples table: clustered CIs, paired tests, α selection, regression gate.

Questions are the unit of every interval and test; seeds and samples are repeated measures
of a question. See docs/stats.md.
"""

from rv_eval.stats.alpha import AlphaChoice, AlphaSelection, Score, select_alpha
from rv_eval.stats.gate import CheckVerdict, TaskVerdict, check
from rv_eval.stats.intervals import bootstrap_ci, clustered_ci, proportion_ci
from rv_eval.stats.loading import load_results
from rv_eval.stats.paired import PAIRED_COLUMNS, paired_compare
from rv_eval.stats.pooling import pool_tasks
from rv_eval.stats.power import DesignAssumptions, mde_design, mde_from_sd, mde_table
from rv_eval.stats.questions import question_table
from rv_eval.stats.significance import adjust_pvalues, mcnemar_exact_pvalue, sign_flip_pvalue
from rv_eval.stats.summary import SUMMARY_COLUMNS, pass_at_k, summarize

__all__ = [
    "PAIRED_COLUMNS",
    "SUMMARY_COLUMNS",
    "AlphaChoice",
    "AlphaSelection",
    "CheckVerdict",
    "DesignAssumptions",
    "Score",
    "TaskVerdict",
    "adjust_pvalues",
    "bootstrap_ci",
    "check",
    "clustered_ci",
    "load_results",
    "mcnemar_exact_pvalue",
    "mde_design",
    "mde_from_sd",
    "mde_table",
    "paired_compare",
    "pass_at_k",
    "pool_tasks",
    "proportion_ci",
    "question_table",
    "select_alpha",
    "sign_flip_pvalue",
    "summarize",
]
