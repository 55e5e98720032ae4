"""The typed interfaces between stages.

The samples table is the log every later stage reads (stats, select-alpha, check, report,
regrade): one row per (model, task, seed, question, sample index). The runner writes it,
`rv_eval.store.load_samples(out_dir)` returns it as a pandas DataFrame with exactly
`SAMPLE_COLUMNS` (in that order), and nothing downstream needs anything else from a run
except the run metadata (`RunMeta`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rv_eval.errors import UserError

if TYPE_CHECKING:  # pandas is imported only where frames are built: graders stay light
    import pandas as pd


@dataclass(frozen=True)
class Grade:
    """A grader's verdict on one response.

    reason is one of: ok, mismatch, no_answer, hedged, timeout, truncated (cut off at the token
    limit, or a reasoning block never closed, with no complete final statement before the cut),
    fallback (correct or not, but no answer marker was found: math-verify's reading of the final
    paragraph was graded), error; older results may hold unclosed_think and last_number; for code:
    test_failed, syntax_error, runtime_error, timeout, memory, output_limit, crashed,
    exited_early (left before its tests finished), no_code. See docs/grading.md.
    """

    correct: bool
    extracted: str | None
    reason: str
    answer: str | None = None  # the normalized parsed answer as text ("1/2"), what maj@k votes on
    stop_reason: str | None = None  # why generation stopped: "stop", "length" or None (unknown)


@dataclass
class Sample:
    """One graded response. Field order = column order of the samples table."""

    grid: str  # grid name (from the grid file)
    model: str  # model name as in the grid (α-variants: "<vector>@<alpha>", e.g. "s1vec@0.5")
    vector: str | None  # the vector's name for α-variants, else None
    alpha: float | None  # α for α-variants (0.0 = the target itself when swept), else None
    task: str  # lm-eval task name, e.g. "aime24_ja", "gsm8k_dev_en"
    split: str  # "dev" or "test"
    serves: str  # the test task this row's task is a dev pool for (== task for test tasks)
    lang: str  # task language: "ja" or "en"
    seed: int  # the grid seed (sampling seed)
    doc_id: str  # stable question id within the task (from the data / split manifest)
    doc_hash: str  # sha256 of the question's content (detects changed data)
    fold: int  # cross-fitting fold from the split manifest (-1 where the task has a dev pool)
    sample_idx: int  # 0..k-1 for k samples per question
    prompt: str
    response: str
    gold: str
    extracted: str | None
    correct: bool
    reason: str
    response_lang: str  # "ja", "en", "zh", "mixed", "other", "empty"
    n_prompt_tokens: int
    n_gen_tokens: int
    gen_seconds: float  # wall time of the cell's generation divided evenly among its samples
    stop_reason: str | None = None  # why generation ended: "stop" (EOS / stop string), "length" (token budget); None: unknown
    answer: str | None = None  # the grader's normalized parsed answer (what maj@k votes on); None: none or unknown


SAMPLE_COLUMNS: list[str] = list(Sample.__dataclass_fields__)
#: Columns added after the first results folders were written: older cells and frames lack them and
#: read back as missing values (None).
LATER_COLUMNS: tuple[str, ...] = ("stop_reason", "answer")

SAMPLE_DTYPES: dict[str, str] = {
    "grid": "string",
    "model": "string",
    "vector": "string",
    "alpha": "float64",
    "task": "string",
    "split": "string",
    "serves": "string",
    "lang": "string",
    "seed": "int64",
    "doc_id": "string",
    "doc_hash": "string",
    "fold": "int64",
    "sample_idx": "int64",
    "prompt": "string",
    "response": "string",
    "gold": "string",
    "extracted": "string",
    "correct": "bool",
    "reason": "string",
    "response_lang": "string",
    "n_prompt_tokens": "int64",
    "n_gen_tokens": "int64",
    "gen_seconds": "float64",
    "stop_reason": "string",
    "answer": "string",
}


def samples_frame(rows: list[Sample] | list[dict[str, Any]]) -> pd.DataFrame:
    """Build a samples DataFrame with the canonical columns and dtypes."""
    import pandas as pd

    dicts = [asdict(r) if isinstance(r, Sample) else dict(r) for r in rows]
    df = pd.DataFrame(dicts, columns=SAMPLE_COLUMNS)
    return df.astype(SAMPLE_DTYPES)


def check_samples_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Raise UserError if `df` lacks sample columns; return it with canonical column order.

    Columns of `LATER_COLUMNS` that an older table lacks are added as missing values."""
    later = [c for c in LATER_COLUMNS if c not in df.columns]
    if later:
        df = df.assign(**{c: pd_missing(len(df)) for c in later})
    missing = [c for c in SAMPLE_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"samples table lacks columns {missing}; was it written by this rv-eval version?")
    return df[SAMPLE_COLUMNS]


def pd_missing(n: int) -> Any:
    """A string column of `n` missing values (an array: it never aligns on an index)."""
    import pandas as pd

    return pd.array([None] * n, dtype="string")


@dataclass
class RunMeta:
    """What a run folder says about itself (OUT/run.json): shown by reports, never used for grading."""

    grid: str
    grid_file_text: str  # the grid YAML as given
    seeds: list[int]
    sampling: dict[str, Any]
    backend: dict[str, Any]
    baseline: str | None
    models: list[dict[str, Any]]  # name, path, vector, alpha, provenance (merge provenance if any)
    versions: dict[str, str]  # rv-eval, lm-eval, torch, transformers, vllm, math-verify
    extra: dict[str, Any] = field(default_factory=dict)
