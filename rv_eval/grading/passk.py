"""Unbiased pass@k (Chen et al., 2021) over n samples of which c are correct."""

from __future__ import annotations

import numpy as np

from rv_eval.errors import UserError


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
