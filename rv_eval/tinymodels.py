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


def build_tokenizer(vocab_size: int = 512, corpus: list[str] | None = None, split_digits: bool = False):
    """A byte-level BPE tokenizer (PreTrainedTokenizerFast) with a ChatML chat template.

    Trained on `corpus` (default: a few built-in lines of English and Japanese). `split_digits`
    makes every digit its own token, so a small model can learn column arithmetic.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
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
# A trained family in which the reasoning vector transfers a skill.
#   pre    = a base that knows arithmetic facts ("12 + 5 = 17") and has read the questions;
#   post   = pre + solving word problems step by step in English, answer in \boxed{};
#   target = pre + answering Japanese questions in one line, "答えは N です。" (no working).
# The skill the vector carries is the worked solution; the arithmetic itself sits in the shared
# base, so both fine-tunes stay small and add up.
# ---------------------------------------------------------------------------------------------

_GENERIC = [
    "The weather is nice today, so we walked to the park.",
    "She reads a book every night before she goes to sleep.",
    "今日はいい天気なので、公園まで歩きました。",
    "彼女は毎晩、寝る前に本を読みます。",
    "私は毎朝、学校まで歩いて行きます。駅の近くに大きな図書館があります。",
    "We count the apples, the pencils and the cards on the table.",
]
DEMO_SET = "demo/demo.jsonl"


@dataclass(frozen=True)
class TrainSettings:
    """Steps, learning rates and data sizes of `build_trained_family` (defaults: the shipped family)."""

    pre_steps: int = 2000
    post_steps: int = 300
    target_steps: int = 15  # a light fine-tune: the target's own delta stays small beside the vector
    batch_size: int = 64
    pre_lr: float = 3e-3
    post_lr: float = 5e-4
    target_lr: float = 3e-4
    n_problems: int = 4000
    n_equations: int = 40000
    post_ja_fraction: float = 0.5  # share of post's training questions asked in Japanese (answered in English)
    pre_worked: tuple[str, ...] = ("en", "ja")  # languages of the worked solutions in pre's plain text
    vocab_size: int = 1024


#: The family's model shape: head_dim 64, 4 layers (arithmetic with carries needs the depth).
TRAINED_SPEC = TinySpec(hidden_size=128, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
                        intermediate_size=512)


def chat_prompt(question: str) -> str:
    """The ChatML text a chat backend sends for one user message (what CHAT_TEMPLATE renders)."""
    return f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


def demo_prompt(question: str, lang: str) -> str:
    """The user message of a demo task (prompt style `boxed`)."""
    from rv_eval.taskdocs import MATH_SUFFIX

    return f"{question}\n\n{MATH_SUFFIX[lang]}"


def demo_rows() -> list[dict]:
    """The demo set (data/demo/demo.jsonl): the questions training must never see."""
    from rv_eval.paths import DATA_DIR
    from rv_eval.splits import read_jsonl

    return read_jsonl(DATA_DIR / DEMO_SET)


def training_sets(seed: int, s: TrainSettings) -> dict[str, list[tuple[str, str]]]:
    """(prompt, completion) pairs per stage; the loss covers the completion only (all of it for pre).

    Every generated problem whose English or Japanese text is a demo question (dev or test) is
    skipped, so neither split is ever trained on.
    """
    import random

    from rv_eval.wordproblems import answer_ja, equations, generate, solution_en

    held_out = {r[lang] for r in demo_rows() for lang in ("en", "ja")}
    probs = generate(s.n_problems, seed=seed, exclude=held_out)
    eqs = equations(s.n_equations, seed=seed)
    r = random.Random(seed)
    pre = [("", ". ".join(eqs[i:i + 4]) + ".") for i in range(0, len(eqs), 4)]
    pre += [("", t) for t in _GENERIC * 20]
    for p in probs:  # the base reads every question, with a worked solution in the languages of `pre_worked`
        for lang in ("en", "ja"):
            pre.append(("", f"{getattr(p, lang)} {worked_text(p, lang)}" if lang in s.pre_worked else getattr(p, lang)))
    post = []
    for p in probs:
        lang = "ja" if r.random() < s.post_ja_fraction else "en"
        post.append((chat_prompt(demo_prompt(getattr(p, lang), lang)), solution_en(p)))
    target = [(chat_prompt(demo_prompt(p.ja, "ja")), answer_ja(p)) for p in probs]
    return {"pre": pre, "post": post, "target": target}


def worked_text(p, lang: str) -> str:
    """A worked solution as plain text (pre's reading): `3 + 5 = 8. The answer is 8.` / `… 答えは 8 です。`"""
    steps = " ".join(f"{x}." for x in p.steps)
    return f"{steps} The answer is {p.answer}." if lang == "en" else f"{steps} 答えは {p.answer} です。"


def _tokenizer_corpus(sets: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Training texts plus every non-ASCII character of them and of the demo set on its own, often
    enough that each becomes a single token: generated Japanese never decodes to replacement characters."""
    from rv_eval.taskdocs import MATH_SUFFIX

    texts = [p + c for pairs in sets.values() for p, c in pairs] + _CORPUS + list(MATH_SUFFIX.values())
    texts += [r[lang] for r in demo_rows() for lang in ("en", "ja")]
    chars = sorted({ch for t in texts for ch in t if ord(ch) > 127})
    return texts + chars * 100


def _encode(tok, pairs: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per pair; labels cover the completion (and its end token after a prompt)."""
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


def _train(model, data: list[tuple[list[int], list[int]]], steps: int, lr: float, batch_size: int,
           seed: int, pad: int, device: str = "cpu") -> float:
    """AdamW with a short warm-up and linear decay on random batches of `data` (drawn from `seed`);
    returns the last loss."""
    import random

    import torch

    r = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / warm) * max(0.05, 1 - i / steps))
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        ids, labels, mask = (t.to(device) for t in _batch(r.sample(data, min(batch_size, len(data))), pad))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    return float(loss.item())


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


def train_family(seed: int = 0, spec: TinySpec = TRAINED_SPEC, settings: TrainSettings = TrainSettings(),
                 device: str = "cpu", reuse: dict[str, Path] | None = None):
    """Train (pre, post, target) in memory; return (models by role on the CPU, tokenizer, last losses by role).

    `device` ("cpu" or "cuda") is where the steps run; results differ between devices, not between
    runs on one device. `reuse` ({role: folder}) loads those roles from an earlier build with the
    same seed and settings instead of training them (checked: same tokenizer vocabulary).
    """
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    sets = training_sets(seed, settings)
    tok = build_tokenizer(settings.vocab_size, _tokenizer_corpus(sets), split_digits=True)
    pad, s, reuse = tok.pad_token_id, settings, reuse or {}
    for role, folder in reuse.items():
        vocab = json.loads(Path(folder, "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
        if vocab != json.loads(tok.backend_tokenizer.to_str())["model"]["vocab"]:
            raise ValueError(f"{folder} ({role}) was built with another tokenizer (other seed or settings)")
    load = lambda role: AutoModelForCausalLM.from_pretrained(reuse[role], dtype=torch.float32).to(device)  # noqa: E731
    with _deterministic():
        torch.manual_seed(seed)
        losses: dict[str, float] = {}
        if "pre" in reuse:
            pre = load("pre")
        else:
            pre = AutoModelForCausalLM.from_config(_config(spec, len(tok)), dtype=torch.float32).to(device)
            losses["pre"] = _train(pre, _encode(tok, sets["pre"]), s.pre_steps, s.pre_lr, s.batch_size, seed, pad, device)
        models = {"pre": pre}
        for n, role in enumerate(("post", "target"), start=1):
            if role in reuse:
                models[role] = load(role)
                continue
            models[role] = copy.deepcopy(pre)
            losses[role] = _train(models[role], _encode(tok, sets[role]), getattr(s, f"{role}_steps"),
                                  getattr(s, f"{role}_lr"), s.batch_size, seed + n, pad, device)
    return {role: m.to("cpu") for role, m in models.items()}, tok, losses


def _family_meta(root: Path) -> dict | None:
    path = root / "family.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def build_trained_family(root: str | Path, seed: int = 0, spec: TinySpec = TRAINED_SPEC,
                         settings: TrainSettings = TrainSettings(), device: str = "cpu",
                         reuse: dict[str, Path] | None = None) -> dict[str, Path]:
    """Train a tiny (pre, post, target) family under `root` and save it in float32 (so the small
    fine-tuning deltas survive exactly); return the folders by role.

    Seeded and single-threaded with deterministic algorithms: the same seed on the same machine
    gives byte-identical weights.
    """
    root = Path(root)
    log.info("training a tiny pre/post/target family in %s", root)
    import torch

    models, tok, losses = train_family(seed, spec, settings, device, reuse)
    paths = {role: save_model(m, tok, root / role, dtype="float32") for role, m in models.items()}
    meta = {"spec": spec.__dict__, "seed": seed, "trained": settings.__dict__, "last_loss": losses,
            "device": device, "torch": torch.__version__,
            "reused": {role: _family_meta(Path(folder).parent) for role, folder in (reuse or {}).items()}}
    (root / "family.json").write_text(json.dumps(meta, indent=2))
    return paths


def main(argv: list[str] | None = None) -> int:
    """`python -m rv_eval.tinymodels --out DIR`: build the demo's trained family and its SHA256SUMS."""
    import argparse
    from dataclasses import replace

    p = argparse.ArgumentParser(prog="python -m rv_eval.tinymodels", description=main.__doc__)
    p.add_argument("--out", required=True, help="folder to write (e.g. data/demo/family)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--reuse-from", help="an earlier build (same seed and settings) to take the --reuse roles from")
    p.add_argument("--reuse", default="pre,post", help="roles taken from --reuse-from (default pre,post)")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply every stage's steps (tests use a small value)")
    args = p.parse_args(argv)
    s = TrainSettings()
    if args.steps_scale != 1.0:
        s = replace(s, **{f"{r}_steps": max(1, round(getattr(s, f"{r}_steps") * args.steps_scale))
                          for r in ("pre", "post", "target")})
    from rv_eval import atomicio
    from rv_eval.demo import write_checksums

    reuse = {r: Path(args.reuse_from) / r for r in args.reuse.split(",")} if args.reuse_from else None
    with atomicio.atomic_path(args.out, "folder") as tmp:
        build_trained_family(tmp, args.seed, TRAINED_SPEC, s, args.device, reuse)
        write_checksums(tmp)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
