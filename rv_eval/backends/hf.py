"""The `hf` backend: lm-eval's transformers model (HFLM) with explicit seeds and in-place weights.

- `seed` in a request's gen_kwargs seeds torch before generation (HF `generate` has no per-request
  seed), so the same requests with the same seed give the same samples.
- `load_weights(tensors)` copies checkpoint-named tensors into the live parameters: the α sweep
  sets target + α·v without reloading the model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from lm_eval.models.huggingface import HFLM

from rv_eval.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class _Request:
    """The part of an lm-eval Instance that HFLM.generate_until reads."""

    args: tuple[str, dict[str, Any]]


class RVHFLM(HFLM):
    """HFLM that honours a `seed` generation kwarg and supports in-place weight loading."""

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Generate for each request; requests sharing a seed are generated after seeding torch."""
        by_seed: dict[int | None, list[int]] = {}
        for i, req in enumerate(requests):
            by_seed.setdefault(req.args[1].get("seed"), []).append(i)
        out: list[str] = [""] * len(requests)
        for seed, idxs in by_seed.items():
            if seed is not None:
                torch.manual_seed(int(seed))
            reqs = [_Request((requests[i].args[0], _without_seed(requests[i].args[1]))) for i in idxs]
            for i, text in zip(idxs, super().generate_until(reqs, disable_tqdm=disable_tqdm), strict=True):
                out[i] = text
        return out

    @torch.no_grad()
    def load_weights(self, tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Copy `(checkpoint name, tensor)` pairs into the model's parameters (every parameter must be set)."""
        params = dict(self.model.named_parameters())
        params.update(dict(self.model.named_buffers()))
        missing = {n for n, _ in self.model.named_parameters()}
        for name, tensor in tensors:
            p = params.get(name)
            if p is None:
                if name == "lm_head.weight" and getattr(self.model.config, "tie_word_embeddings", False):
                    continue
                raise UserError(f"tensor {name!r} has no parameter in the loaded model. "
                                "Fix: the vector's checkpoints must have the target's architecture.")
            if tuple(p.shape) != tuple(tensor.shape):
                raise UserError(f"tensor {name!r} has shape {tuple(tensor.shape)}, the model expects "
                                f"{tuple(p.shape)}. Fix: use checkpoints of the same architecture.")
            p.copy_(tensor)
            missing.discard(name)
        if missing:
            raise UserError(f"in-place weights left {len(missing)} parameters unset (e.g. {sorted(missing)[0]!r}). "
                            "Fix: the variant's tensors must cover the whole model.")


def _without_seed(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != "seed"}


def create_lm(model: str, options: dict[str, Any]) -> RVHFLM:
    """An RVHFLM for the model folder (or hub id) `model`; options go to HFLM (dtype, batch_size, device...)."""
    opts = {"dtype": "auto", "batch_size": 8, "device": "cuda" if torch.cuda.is_available() else "cpu"}
    opts.update(options)
    log.info("loading %s with transformers (%s)", model, ", ".join(f"{k}={v}" for k, v in sorted(opts.items())))
    return RVHFLM(pretrained=model, **opts)
