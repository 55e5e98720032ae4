"""α-variant merges: θ_α = θ_target + α·(θ_post − θ_pre), streamed in one pass for all α.

Planning (`plan`: every check before any byte is written) is separate from execution
(`executor`: chunked float32 math, reader/compute/writer threads); all file I/O lives in `io/`.
Names are imported on first use, so `rv_eval.merge.spec` (argument checks) loads without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_SOURCES = {
    "MergePlan": "plan", "TensorTask": "plan", "build_plan": "plan",
    "MergeSpec": "spec", "alpha_dirname": "spec", "load_recipe": "spec", "parse_alphas": "spec",
    "PROVENANCE": "variants", "merge_variants": "variants", "plan_merge": "variants", "stream_variant": "variants",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
