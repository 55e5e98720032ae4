"""Tiny, locally built transformer checkpoints (no model hub needed).

Used by the demo, the tests and the benchmarks: a byte-level BPE tokenizer trained on a few
hundred lines of English and Japanese text, and Qwen2 / Llama models small enough to load and
generate on a CPU in seconds, yet shaped like the real thing (head_dim 64, GQA, chat template),
so vLLM and lm-eval treat them as real models.

A *family* is (pre, post, target): post = pre + a "reasoning" delta, target = pre + a different
"language" delta; exactly the setting a reasoning vector lives in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

_CORPUS = [
    "Question: Natalia sold clips to 48 of her friends in April. The answer is 72.",
    "問題: りんごが3個あります。2個もらいました。答えは5です。",
    "Let's think step by step. 12 + 30 = 42. The final answer is \\boxed{42}.",
    "ステップごとに考えましょう。よって、答えは \\boxed{18} です。",
    "def add(a, b):\n    return a + b\n",
    "The quick brown fox jumps over the lazy dog. 0123456789 +-*/=()[]{}",
    "日本語の文章と English text が混ざっています。計算、数学、推論、答え、円、個、人。",
    "Answer: (A) True False yes no valid invalid",
]


@dataclass(frozen=True)
class TinySpec:
    """Shape of a tiny model. head_dim = hidden_size / num_attention_heads (64 here, as vLLM needs ≥ 32)."""

    arch: str = "qwen2"  # "qwen2" or "llama"
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    intermediate_size: int = 256
    vocab_size: int = 512
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 2048


def build_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer (PreTrainedTokenizerFast) with a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _config(spec: TinySpec, vocab_size: int):
    from transformers import LlamaConfig, Qwen2Config

    common = dict(
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        intermediate_size=spec.intermediate_size,
        vocab_size=vocab_size,
        tie_word_embeddings=spec.tie_word_embeddings,
        max_position_embeddings=spec.max_position_embeddings,
        torch_dtype="bfloat16",
    )
    if spec.arch == "qwen2":
        return Qwen2Config(**common)
    if spec.arch == "llama":
        return LlamaConfig(**common)
    raise ValueError(f"unknown tiny arch {spec.arch!r} (qwen2 or llama)")


def build_model(
    out_dir: str | Path,
    spec: TinySpec = TinySpec(),
    seed: int = 0,
    base_dir: str | Path | None = None,
    delta_scale: float = 0.0,
    dtype: str = "bfloat16",
    max_shard_size: str | None = None,
    tokenizer=None,
) -> Path:
    """Write a tiny model folder (safetensors + config + tokenizer + generation config).

    With `base_dir`, the weights are those of the model at `base_dir` plus Gaussian noise of
    standard deviation `delta_scale` (drawn from `seed`): that is how a family is derived.
    `max_shard_size` (e.g. "40KB") writes a sharded checkpoint with an index file.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out_dir = Path(out_dir)
    tokenizer = tokenizer or build_tokenizer(spec.vocab_size)
    torch.manual_seed(seed)
    if base_dir is None:
        model = AutoModelForCausalLM.from_config(_config(spec, len(tokenizer)), dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * delta_scale)
    model = model.to(getattr(torch, dtype))
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
    model.save_pretrained(out_dir, safe_serialization=True, **kwargs)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_family(
    root: str | Path,
    spec: TinySpec = TinySpec(),
    seed: int = 0,
    shard_sizes: tuple[str | None, str | None, str | None] = (None, None, None),
) -> dict[str, Path]:
    """Build pre, post and target tiny models under `root`; return their folders by role."""
    root = Path(root)
    tok = build_tokenizer(spec.vocab_size)
    pre = build_model(root / "pre", spec, seed=seed, max_shard_size=shard_sizes[0], tokenizer=tok)
    post = build_model(root / "post", spec, seed=seed + 1, base_dir=pre, delta_scale=0.02,
                       max_shard_size=shard_sizes[1], tokenizer=tok)
    target = build_model(root / "target", spec, seed=seed + 2, base_dir=pre, delta_scale=0.02,
                         max_shard_size=shard_sizes[2], tokenizer=tok)
    (root / "family.json").write_text(json.dumps({"spec": spec.__dict__, "seed": seed}, indent=2))
    return {"pre": pre, "post": post, "target": target}
