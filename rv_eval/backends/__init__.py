"""Generation backends, by the name a grid's `backend:` gives.

Each name maps to an lm-eval LM class, imported only when a grid asks for it (so `vllm` is
needed only for vLLM grids) and built as `cls(pretrained=<model folder or hub id>, **options)`.
The runner drives it through lm-eval's `generate_until(requests)`:

- before each cell the runner calls `lm.set_seed(grid_seed)`; the backend makes sampling
  reproducible from it (HF: torch.manual_seed; vLLM: per-request SamplingParams.seed);
- each request's gen_kwargs carry the grid's sampling settings (temperature, top_p, do_sample,
  max_gen_toks) on top of the task's stop sequences;
- k samples per question arrive as k consecutive copies of the same request (lm-eval's `repeats`
  convention); the backend must return k independent samples for them (vLLM: one request, n=k);
- an LM that supports the in-place α sweep has
  `load_weights(tensors: Iterable[tuple[str, torch.Tensor]]) -> None`, which copies checkpoint-named
  tensors into the live model and resets any caches (prefix/KV) itself.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from rv_eval.errors import UserError

log = logging.getLogger(__name__)

#: backend name -> "module:LM class"
BACKENDS: dict[str, str] = {
    "hf": "rv_eval.backends.hf:RVHFLM",
    "vllm": "rv_eval.backends.vllm:VLLMBackend",
}


def create_lm(backend: str, model: str, options: dict[str, Any]) -> Any:
    """Instantiate the lm-eval LM of `backend` for the model folder (or hub id) `model`."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}. Fix: use one of {sorted(BACKENDS)}.")
    module_name, cls_name = BACKENDS[backend].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        extra = " (pip install 'rv-eval[vllm]')" if backend == "vllm" else ""
        raise UserError(f"backend {backend!r} is not available: {e}. Fix: install its dependencies{extra} "
                        "or choose another `backend:` in the grid.") from None
    log.info("loading %s with the %s backend (%s)", model, backend,
             ", ".join(f"{k}={v}" for k, v in sorted(options.items())))
    return getattr(module, cls_name)(pretrained=model, **options)


def supports_in_place(lm: Any) -> bool:
    """True if `lm` can take new weights in place (`load_weights`)."""
    return callable(getattr(lm, "load_weights", None))
