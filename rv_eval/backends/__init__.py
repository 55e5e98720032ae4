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

import ast
import functools
import importlib
import importlib.util
import logging
from pathlib import Path
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
    try:
        return getattr(module, cls_name)(pretrained=model, **options)
    except OSError as e:
        if Path(model).expanduser().exists():
            raise
        raise UserError(f"model {model!r} is not a local folder and cannot be loaded from the Hugging Face hub "
                        f"({_first_line(e)}). Fix: download it first (hf download {model}) and "
                        "give its local path in the grid, or run where the hub is reachable "
                        "(HF_HUB_OFFLINE unset).") from None


def _first_line(e: BaseException) -> str:
    """The first line of an exception's message (transformers' OSError messages span several)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


#: backend name -> (file, class) pairs whose constructor keywords (or dataclass fields) are its options;
#: a file is "<package>/<relative path>" so it is found without importing the package
_OPTION_SOURCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "hf": (("rv_eval", "backends/hf.py", "RVHFLM"), ("lm_eval", "models/huggingface.py", "HFLM")),
    "vllm": (("rv_eval", "backends/vllm.py", "VLLMBackend"), ("vllm", "entrypoints/llm.py", "LLM"),
             ("vllm", "engine/arg_utils.py", "EngineArgs")),
}
#: options the backend is built with by the runner itself (never from a grid)
_RESERVED = {"self", "pretrained"}
#: options a backend takes although no signature names them (VLLMBackend drops lm-eval's `device`)
# Keywords HFLM passes through to `from_pretrained` (not in its signature, so listed here).
_HF_FROM_PRETRAINED = {
    "attn_implementation", "low_cpu_mem_usage", "device_map", "quantization_config", "use_safetensors",
    "variant", "cache_dir", "local_files_only", "token", "torch_dtype", "offload_state_dict",
}
_EXTRA = {"vllm": {"device"}, "hf": _HF_FROM_PRETRAINED}


def backend_options(backend: str) -> frozenset[str] | None:
    """The option names `backend` accepts, read from its classes' source (nothing is imported).

    HF: the keywords of RVHFLM and lm-eval's HFLM; vLLM: those of VLLMBackend, vllm.LLM and the
    fields of vllm's EngineArgs. None when a source file cannot be found (e.g. vllm is not
    installed): the options are then checked only when the backend starts.
    """
    names: set[str] = set()
    for package, rel, cls in _OPTION_SOURCES.get(backend, ()):
        found = _class_keywords(package, rel, cls)
        if found is None:
            return None
        names |= found
    return frozenset((names | _EXTRA.get(backend, set())) - _RESERVED) if names else None


def unknown_options(backend: str, options: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(option names `backend` does not accept, the accepted ones, sorted); ([], []) if unknown."""
    known = backend_options(backend)
    if known is None:
        return [], []
    return sorted(k for k in options if k not in known), sorted(known)


def option_sources(backend: str) -> str:
    """Where `backend`'s options come from, for messages (e.g. "RVHFLM, HFLM")."""
    return ", ".join(f"{package}:{cls}" for package, _, cls in _OPTION_SOURCES.get(backend, ()))


@functools.cache
def _class_keywords(package: str, rel: str, cls: str) -> frozenset[str] | None:
    """Named `__init__` keywords, or annotated fields of a dataclass, of class `cls` in a package file."""
    spec = importlib.util.find_spec(package)
    roots = list(spec.submodule_search_locations or []) if spec else []
    path = next((Path(r) / rel for r in roots if (Path(r) / rel).is_file()), None)
    if path is None:
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
    if node is None:
        return None
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is not None:
        return frozenset(a.arg for a in init.args.args + init.args.kwonlyargs)
    return frozenset(n.target.id for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name))


def supports_in_place(lm: Any) -> bool:
    """True if `lm` can take new weights in place (`load_weights`)."""
    return callable(getattr(lm, "load_weights", None))
