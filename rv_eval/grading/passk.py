"""Unbiased pass@k (Chen et al., 2021) over n samples of which c are correct.

`pass_at_k` is the reference (one question); `pass_at_k_array` applies it to arrays of
questions (the statistics stage's per-question pass@k).
"""

from __future__ import annotations

import numpy as np

from rv_eval.errors import UserError


def vote_series(df):
    """Per sample, what maj@k votes on: the normalized parsed `answer` where the samples table has
    one, else the raw `extracted` text (results written before answers were normalized)."""
    if "answer" in df.columns:
        return df["answer"].fillna(df["extracted"])
    return df["extracted"]


def vote_value(grade: dict) -> str | None:
    """One graded sample's vote: its normalized `answer`, else its `extracted` text."""
    return grade.get("answer") or grade.get("extracted") or None


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), computed as a stable product; needs 0 <= c <= n and 1 <= k <= n."""
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise UserError(
            f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}. "
            "Fix: sample at least k responses per question (k <= samples per question)."
        )
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_array(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """`pass_at_k` element-wise over arrays `n` and `c` (broadcast), computed once per distinct (n, c)."""
    n, c = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    if n.size == 0:
        return np.zeros(n.shape)
    pairs, inverse = np.unique(np.stack([n.ravel(), c.ravel()], axis=1), axis=0, return_inverse=True)
    values = np.array([pass_at_k(int(ni), int(ci), k) for ni, ci in pairs])
    return values[inverse.ravel()].reshape(n.shape)
