"""The `hf` backend: lm-eval's transformers model (HFLM) with explicit seeds and in-place weights.

- `set_seed(seed)` makes the next `generate_until` seed torch first (HF `generate` has no
  per-request seed), so the same requests with the same seed give the same samples.
- `load_weights(tensors)` copies checkpoint-named tensors into the live parameters: the α sweep
  sets target + α·v without reloading the model.
- `stop_reasons` (after each `generate_until`): per response, "length" when generation used its
  whole `max_gen_toks` budget without EOS or a stop string, else "stop".
- `threads` sets torch's CPU threads (on CPU only). The default, half the usable cores (at least 1,
  at most 8), avoids oversubscription: on a busy 2-core machine SmolLM2-135M generated 6.6 tokens/s
  with torch's default threads and 50.5 with one.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch
from lm_eval.models.huggingface import HFLM

from rv_eval.errors import UserError

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Torch threads for CPU generation: half the cores this process may use, between 1 and 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores // 2))


class RVHFLM(HFLM):
    """HFLM with an explicit sampling seed and in-place weight loading."""

    def __init__(self, pretrained: str, device: str | None = None, batch_size: int | str = 8,
                 dtype: str = "auto", threads: int | None = None, **kwargs: Any) -> None:
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if str(device).startswith("cpu"):
            n = default_threads() if threads is None else int(threads)
            if n < 1:
                raise UserError(f"hf backend: threads={threads} must be a positive integer. Fix: e.g. threads: 1")
            torch.set_num_threads(n)
            log.info("hf backend on CPU: %d torch threads", n)
        super().__init__(pretrained=pretrained, device=device, batch_size=batch_size, dtype=dtype, **kwargs)
        self.seed: int | None = None
        self.stop_reasons: list[str] = []
        self._budget_texts: list[str] = []

    def set_seed(self, seed: int) -> None:
        """Seed used for every later `generate_until` call."""
        self.seed = int(seed)

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Seed torch (if a seed is set), then generate as HFLM does."""
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self._budget_texts = []
        # A generation cut by max_gen_toks inside a multi-byte character decodes to a trailing U+FFFD
        # here, while vLLM's incremental detokenizer holds the incomplete character back: drop it so
        # both backends return the same text for the same tokens.
        texts = [r.rstrip("\ufffd") for r in super().generate_until(requests, disable_tqdm=disable_tqdm)]
        cut = Counter(self._budget_texts)  # rows are batched out of order: match them by their text
        self.stop_reasons = []
        for text in texts:
            self.stop_reasons.append("length" if cut[text] > 0 else "stop")
            cut[text] -= 1
        return texts

    def _model_generate(self, context: torch.Tensor, max_length: int, stop: list[str], **kwargs: Any) -> torch.Tensor:
        """HFLM's generation; also notes the returned text of every row that used its whole budget."""
        out = super()._model_generate(context, max_length=max_length, stop=stop, **kwargs)
        if self.backend == "causal":
            self._budget_texts += self._budget_exhausted(out[:, context.shape[1]:].tolist(),
                                                         max_length - context.shape[1], stop)
        return out

    def _budget_exhausted(self, rows: list[list[int]], budget: int, stop: list[str]) -> list[str]:
        """The texts (as `generate_until` returns them) of rows that reached `budget` tokens without
        an EOS token or a stop string."""
        from lm_eval.models.utils import postprocess_generated_text

        eos = {self.tokenizer.eos_token_id, self.eot_token_id}
        config_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        eos |= set(config_eos) if isinstance(config_eos, list) else {config_eos}
        think = self.think_end_token
        texts = []
        for toks in rows:
            if len(toks) < budget or eos & set(toks):
                continue
            raw = self.tok_decode(toks)
            if any(s and s in raw for s in stop):
                continue
            if isinstance(think, int) and think in toks:
                raw = self.tok_decode(toks[len(toks) - toks[::-1].index(think):]).lstrip()
            text = postprocess_generated_text(raw, stop, think if isinstance(think, str) else None)
            texts.append(text.rstrip("\ufffd"))  # as generate_until returns it
        return texts

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
