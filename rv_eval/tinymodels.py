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
import logging
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
log = logging.getLogger(__name__)


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


def build_tokenizer(vocab_size: int = 512, corpus: list[str] | None = None):
    """A byte-level BPE tokenizer (PreTrainedTokenizerFast) with a ChatML chat template.

    Trained on `corpus` (default: a few built-in lines of English and Japanese).
    """
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
    tok.train_from_iterator(corpus if corpus is not None else _CORPUS * 4, trainer=trainer)
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
    from transformers import AutoModelForCausalLM

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
    return save_model(model, tokenizer, out_dir, dtype, max_shard_size)


def save_model(model, tokenizer, out_dir: str | Path, dtype: str = "bfloat16",
               max_shard_size: str | None = None) -> Path:
    """Save `model` as `build_model` does: safetensors in `dtype`, tokenizer, chat template, generation config."""
    import torch
    from transformers import GenerationConfig

    out_dir = Path(out_dir)
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


# ---------------------------------------------------------------------------------------------
# A trained family: pre (generic text), post (boxed English calculations), target (Japanese).
# ---------------------------------------------------------------------------------------------

# Calculations for the demo's dev questions (post is trained on them; the test questions are never used).
DEV_CALCS = {
    "demo-01": "12 * 4", "demo-02": "20 - 7", "demo-03": "24 / 6", "demo-07": "8 * 5",
    "demo-10": "50 - 18", "demo-11": "6 * 12", "demo-13": "45 / 9", "demo-15": "35 - 12 - 4",
    "demo-20": "36 / 4", "demo-22": "3 * 16", "demo-24": "27 + 9", "demo-29": "18 + 18 * 2",
    "demo-32": "72 - 72 / 3", "demo-36": "9 * 7", "demo-37": "4 * 12", "demo-39": "120 + 3 * 15",
}
_GENERIC = [
    "The weather is nice today, so we walked to the park.",
    "She reads a book every night before she goes to sleep.",
    "今日はいい天気なので、公園まで歩きました。",
    "彼女は毎晩、寝る前に本を読みます。",
    "私は毎朝、学校まで歩いて行きます。駅の近くに大きな図書館があります。",
    "We count the apples, the pencils and the cards on the table.",
]


@dataclass(frozen=True)
class TrainSettings:
    """Steps and sizes of `build_trained_family` (defaults: ~11 s of one CPU core)."""

    pre_steps: int = 60
    post_steps: int = 150
    target_steps: int = 40
    batch_size: int = 16
    lr: float = 3e-3  # pre and post
    target_lr: float = 1e-3  # smaller than post's, so the reasoning vector is not swamped by target's delta
    n_problems: int = 600
    post_ja_fraction: float = 0.5  # share of post's training prompts asked in Japanese
    vocab_size: int = 1024


def chat_prompt(question: str) -> str:
    """The ChatML text a chat backend sends for one user message (what CHAT_TEMPLATE renders)."""
    return f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


def demo_prompt(question: str, lang: str) -> str:
    """The user message of a demo task (prompt style `boxed`)."""
    from rv_eval.taskdocs import MATH_SUFFIX

    return f"{question}\n\n{MATH_SUFFIX[lang]}"


def boxed_answer(calc: str, answer: int | str) -> str:
    """Post's answer style: a short calculation (if known), then the answer in \\boxed{}."""
    return f"{calc} = {answer}. The answer is \\boxed{{{answer}}}." if calc else f"The answer is \\boxed{{{answer}}}."


def plain_ja_answer(answer: int | str) -> str:
    """Target's answer style: Japanese, no \\boxed{}."""
    return f"答えは {answer} です。"


def _demo_rows() -> list[dict]:
    from rv_eval.paths import DATA_DIR
    from rv_eval.splits import read_jsonl

    return read_jsonl(DATA_DIR / "demo" / "demo.jsonl")


def _training_sets(seed: int, s: TrainSettings) -> dict[str, list[tuple[str, str]]]:
    """(prompt, completion) pairs per stage; the loss covers the completion only."""
    import random

    from rv_eval.wordproblems import generate

    rows = _demo_rows()
    test_en = {r["en"] for r in rows if r["split"] == "test"}
    probs = generate(s.n_problems, seed=seed, exclude=test_en)
    dev = [r for r in rows if r["split"] == "dev"]
    r = random.Random(seed)
    pre = [("", t) for t in _GENERIC * 8] + [("", p.en) for p in probs] + [("", p.ja) for p in probs]
    post = []
    for p in probs:
        lang = "ja" if r.random() < s.post_ja_fraction else "en"
        post.append((chat_prompt(demo_prompt(getattr(p, lang), lang)), boxed_answer(p.calc, p.answer)))
    for row in dev:
        for lang in ("en", "ja"):
            post.append((chat_prompt(demo_prompt(row[lang], lang)), boxed_answer(DEV_CALCS.get(row["id"], ""), row["answer"])))
    target = [(chat_prompt(demo_prompt(p.ja, "ja") if r.random() < 0.7 else p.ja), plain_ja_answer(p.answer))
              for p in probs]
    target += [(chat_prompt(demo_prompt(row["ja"], "ja")), plain_ja_answer(row["answer"])) for row in dev]
    target += [("", t) for t in _GENERIC[2:5] * 8]
    return {"pre": pre, "post": post, "target": target}


def _tokenizer_corpus(sets: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Training texts, the demo set and every non-ASCII character of them on its own, often enough
    that each becomes a single token: generated Japanese then never decodes to replacement characters."""
    from rv_eval.taskdocs import MATH_SUFFIX

    rows = _demo_rows()
    texts = [p + c for pairs in sets.values() for p, c in pairs] + _CORPUS + list(MATH_SUFFIX.values())
    texts += [r[lang] for r in rows for lang in ("en", "ja")]
    chars = sorted({ch for t in texts for ch in t if ord(ch) > 127})
    return texts + chars * 100


def _encode(tok, pairs: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    out = []
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    for prompt, completion in pairs:
        p = tok(prompt, add_special_tokens=False).input_ids if prompt else []
        c = tok(completion, add_special_tokens=False).input_ids + ([eos] if prompt else [])
        out.append((p + c, [-100] * len(p) + c))
    return out


def _batch(rows: list[tuple[list[int], list[int]]], pad: int):
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, :len(x)], labels[i, :len(y)], mask[i, :len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids, labels, mask


def _train(model, data: list[tuple[list[int], list[int]]], steps: int, lr: float, s: TrainSettings,
           seed: int, pad: int) -> None:
    """AdamW at constant `lr` on random batches of `data` (drawn from `seed`)."""
    import random

    import torch

    r = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        ids, labels, mask = _batch(r.sample(data, min(s.batch_size, len(data))), pad)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    log.debug("trained %d steps, last loss %.3f", steps, loss.item())


class _deterministic:
    """Single-threaded, deterministic torch for the duration of a `with` block (restored after)."""

    def __enter__(self) -> None:
        import torch

        self.threads = torch.get_num_threads()
        self.det = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc) -> None:
        import torch

        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(self.det)


def build_trained_family(root: str | Path, seed: int = 0, spec: TinySpec = TinySpec(),
                         settings: TrainSettings = TrainSettings()) -> dict[str, Path]:
    """Train a tiny (pre, post, target) family under `root` whose reasoning vector post − pre shows.

    pre: generic EN/JA text; post: pre + answering word problems with a short calculation and
    \\boxed{N}; target: pre + answering Japanese problems as "答えは N です。" (no \\boxed). Seeded
    and single-threaded, so the same seed gives the same weights. Returns the folders by role.
    """
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    root = Path(root)
    log.info("training a tiny pre/post/target family in %s (about 10 s of one CPU core)", root)
    sets = _training_sets(seed, settings)
    tok = build_tokenizer(settings.vocab_size, _tokenizer_corpus(sets))
    pad = tok.pad_token_id
    with _deterministic():
        torch.manual_seed(seed)
        pre = AutoModelForCausalLM.from_config(_config(spec, len(tok)), dtype=torch.float32)
        _train(pre, _encode(tok, sets["pre"]), settings.pre_steps, settings.lr, settings, seed, pad)
        models = {"pre": pre}
        for n, role in enumerate(("post", "target"), start=1):
            models[role] = copy.deepcopy(pre)
            steps, lr = getattr(settings, f"{role}_steps"), settings.target_lr if role == "target" else settings.lr
            _train(models[role], _encode(tok, sets[role]), steps, lr, settings, seed + n, pad)
    paths = {role: save_model(m, tok, root / role) for role, m in models.items()}
    meta = {"spec": spec.__dict__, "seed": seed, "trained": settings.__dict__}
    (root / "family.json").write_text(json.dumps(meta, indent=2))
    return paths
