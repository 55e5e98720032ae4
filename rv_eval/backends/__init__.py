"""Generation backends, by the name a grid's `backend:` gives.

A backend module `rv_eval.backends.<name>` exposes

    create_lm(model: str, options: dict) -> lm_eval.api.model.LM

and is imported only when a grid asks for it (so `vllm` is needed only for vLLM grids).
The LM it returns is driven by the runner through lm-eval's `generate_until(requests)`:

- each request's gen_kwargs carry the sampling settings and `seed` (the grid seed); the backend
  makes sampling reproducible from it (HF: torch.manual_seed; vLLM: SamplingParams.seed);
- k samples per question arrive as k consecutive copies of the same request (lm-eval's `repeats`
  convention); the backend must return k independent samples for them (vLLM: one request, n=k);
- an LM that supports the in-place α sweep has
  `load_weights(tensors: Iterable[tuple[str, torch.Tensor]]) -> None`, which copies checkpoint-named
  tensors into the live model and resets any caches (prefix/KV) itself.
"""

from __future__ import annotations

import importlib
from typing import Any

from rv_eval.errors import UserError

#: backend name -> module holding `create_lm`
BACKENDS: dict[str, str] = {
    "hf": "rv_eval.backends.hf",
    "vllm": "rv_eval.backends.vllm",
}


def create_lm(backend: str, model: str, options: dict[str, Any]) -> Any:
    """Instantiate the lm-eval LM of `backend` for the model folder (or hub id) `model`."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}. Fix: use one of {sorted(BACKENDS)}.")
    try:
        module = importlib.import_module(BACKENDS[backend])
    except ImportError as e:
        extra = " (pip install 'rv-eval[vllm]')" if backend == "vllm" else ""
        raise UserError(f"backend {backend!r} is not available: {e}. Fix: install its dependencies{extra} "
                        "or choose another `backend:` in the grid.") from None
    return module.create_lm(model, dict(options))


def supports_in_place(lm: Any) -> bool:
    """True if `lm` can take new weights in place (`load_weights`)."""
    return callable(getattr(lm, "load_weights", None))
