"""In-place weight updates for a live vLLM engine.

Two halves:

- `WeightUpdateExtension` is injected into every vLLM worker (`LLM(worker_extension_cls=
  WORKER_EXTENSION)`) and exposes three `collective_rpc` methods that run one update session:
  begin (vLLM's layerwise reload set-up), load chunks (the model's own `load_weights`, which
  maps HF checkpoint names onto vLLM's fused qkv / gate_up parameters and shards them for
  tensor parallelism), end (finalize: per-layer post-processing such as CPU weight repacking,
  then a check that every parameter was set).
- `pack_chunks` turns a stream of (name, tensor) pairs into safetensors byte blobs of bounded
  size; bytes cross vLLM's RPC layers (msgpack to the engine process, pickle to TP workers)
  unchanged, tensors do not.

This is vLLM's own `reload_weights` (vllm.model_executor.model_loader.reload) split into
begin / chunks / end so a 60 GB variant can stream through in bounded memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import torch

WORKER_EXTENSION = "rv_eval.backends.vllm_weights.WeightUpdateExtension"
DEFAULT_CHUNK_BYTES = 512 * 2**20


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
        with set_current_vllm_config(self.vllm_config):
            initialize_layerwise_reload(model)

    def rv_load_weight_chunk(self, blob: bytes) -> tuple[int, float]:
        """Load one safetensors blob through the model's `load_weights`.

        Returns (tensor count, seconds spent in this worker).
        """
        from safetensors.torch import load
        from vllm.config import set_current_vllm_config

        t0 = time.perf_counter()
        tensors = load(blob)
        model = self.model_runner.get_model()
        with set_current_vllm_config(self.vllm_config), torch.no_grad():
            loaded = model.load_weights(iter(tensors.items()))
        if loaded:
            self._rv_loaded |= set(loaded)
        return len(tensors), time.perf_counter() - t0

    def rv_end_weight_update(self) -> list[str]:
        """Finish the session; return the model parameters the session did not set (sorted)."""
        from vllm.config import set_current_vllm_config
        from vllm.model_executor.model_loader.reload import finalize_layerwise_reload

        model = self.model_runner.get_model()
        with set_current_vllm_config(self.vllm_config):
            finalize_layerwise_reload(model, self.vllm_config.model_config)
        for reset in ("reset_lora_state", "reset_encoder_cache", "reset_mm_cache"):
            fn = getattr(self.model_runner, reset, None)
            if callable(fn):
                fn()
        expected = {name for name, _ in model.named_parameters()}
        missing = sorted(expected - self._rv_loaded) if self._rv_loaded else sorted(expected)
        self._rv_loaded = set()
        return missing
