"""Seeded generator of arithmetic word problems in parallel English and Japanese.

Seven templates (buying, giving away, boxes, sharing, two-step spending, bags, buy-then-give),
each with its worked solution: one or two calculation steps such as `3 + 5 = 8` and the integer
answer. `rv_eval.tinymodels` trains its tiny models on these, and the demo set
(`data/demo/demo.jsonl`) is drawn from the same templates with its own seed; training skips every
demo question, so the demo measures questions the models never saw. `equations` writes the plain
arithmetic facts the tiny base model is pre-trained on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

NAMES = [("Tom", "トム"), ("Mia", "ミア"), ("Ken", "ケン"), ("Anna", "アンナ"), ("Sam", "サム"),
         ("Lisa", "リサ"), ("Ben", "ベン"), ("Emma", "エマ"), ("Jack", "ジャック"), ("Kate", "ケイト"),
         ("Nina", "ニーナ"), ("Jim", "ジム"), ("Yuki", "ユキ"), ("Leo", "レオ")]
# (English plural, Japanese noun, Japanese counter)
ITEMS = [("apples", "りんご", "個"), ("pencils", "鉛筆", "本"), ("stickers", "シール", "枚"),
         ("cookies", "クッキー", "枚"), ("books", "本", "冊"), ("marbles", "ビー玉", "個"),
         ("cards", "カード", "枚"), ("eggs", "卵", "個"), ("flowers", "花", "本"),
         ("oranges", "オレンジ", "個"), ("beads", "ビーズ", "個"), ("candies", "あめ", "個")]
Name = tuple[str, str]
Item = tuple[str, str, str]


@dataclass(frozen=True)
class Problem:
    """One problem: the question in both languages, its calculation steps and integer answer."""

    en: str
    ja: str
    steps: tuple[str, ...]  # e.g. ("20 - 7 = 13", "13 - 4 = 9")
    answer: int


def _add(r: random.Random, n: Name, it: Item) -> Problem:
    a, b = r.randint(2, 40), r.randint(2, 30)
    return Problem(f"{n[0]} has {a} {it[0]} and buys {b} more. How many {it[0]} does {n[0]} have now?",
                   f"{n[1]}は{it[1]}を{a}{it[2]}持っていて、さらに{b}{it[2]}買いました。"
                   f"{n[1]}は今{it[1]}を何{it[2]}持っていますか？", (f"{a} + {b} = {a + b}",), a + b)


def _sub(r: random.Random, n: Name, it: Item) -> Problem:
    b = r.randint(2, 30)
    a = b + r.randint(1, 40)
    return Problem(f"{n[0]} had {a} {it[0]} and gave {b} to a friend. How many {it[0]} are left?",
                   f"{n[1]}は{it[1]}を{a}{it[2]}持っていて、友だちに{b}{it[2]}あげました。残りは何{it[2]}ですか？",
                   (f"{a} - {b} = {a - b}",), a - b)


def _mul(r: random.Random, n: Name, it: Item) -> Problem:
    a, b = r.randint(2, 12), r.randint(2, 9)
    return Problem(f"A box holds {a} {it[0]}. How many {it[0]} are in {b} boxes?",
                   f"1箱に{it[1]}が{a}{it[2]}入っています。{b}箱では{it[1]}は何{it[2]}ですか？",
                   (f"{a} * {b} = {a * b}",), a * b)


def _div(r: random.Random, n: Name, it: Item) -> Problem:
    b, q = r.randint(2, 9), r.randint(2, 9)
    return Problem(f"{b * q} {it[0]} are shared equally among {b} children. How many {it[0]} does each child get?",
                   f"{it[1]}{b * q}{it[2]}を{b}人の子どもで同じ数ずつ分けます。1人何{it[2]}もらえますか？",
                   (f"{b * q} / {b} = {q}",), q)


def _two_step(r: random.Random, n: Name, it: Item) -> Problem:
    b, c = r.randint(2, 20), r.randint(2, 20)
    a = b + c + r.randint(1, 30)
    return Problem(f"{n[0]} had {a} {it[0]}. {n[0]} used {b} on Monday and {c} on Tuesday. "
                   f"How many {it[0]} are left?",
                   f"{n[1]}は{it[1]}を{a}{it[2]}持っていました。月曜日に{b}{it[2]}、火曜日に{c}{it[2]}使いました。"
                   f"残りは何{it[2]}ですか？", (f"{a} - {b} = {a - b}", f"{a - b} - {c} = {a - b - c}"), a - b - c)


def _bags(r: random.Random, n: Name, it: Item) -> Problem:
    a, b = r.randint(2, 9), r.randint(2, 9)
    c = r.randint(1, a * b - 1)
    return Problem(f"Each bag has {a} {it[0]}. {n[0]} buys {b} bags and gives away {c}. How many {it[0]} are left?",
                   f"1袋に{it[1]}が{a}{it[2]}入っています。{n[1]}は{b}袋買って{c}{it[2]}あげました。"
                   f"残りは何{it[2]}ですか？", (f"{a} * {b} = {a * b}", f"{a * b} - {c} = {a * b - c}"), a * b - c)


def _buy_give(r: random.Random, n: Name, it: Item) -> Problem:
    a, b = r.randint(2, 30), r.randint(2, 30)
    c = r.randint(1, a + b - 1)
    return Problem(f"{n[0]} has {a} {it[0]}, buys {b} more and gives {c} to a friend. "
                   f"How many {it[0]} does {n[0]} have now?",
                   f"{n[1]}は{it[1]}を{a}{it[2]}持っていて、{b}{it[2]}買って、友だちに{c}{it[2]}あげました。"
                   f"{n[1]}は今{it[1]}を何{it[2]}持っていますか？",
                   (f"{a} + {b} = {a + b}", f"{a + b} - {c} = {a + b - c}"), a + b - c)


TEMPLATES: list[Callable[[random.Random, Name, Item], Problem]] = [
    _add, _sub, _mul, _div, _two_step, _bags, _buy_give]


def generate(n: int, seed: int = 0, exclude: Iterable[str] = ()) -> list[Problem]:
    """`n` distinct problems drawn deterministically from `seed`, skipping any whose English or
    Japanese text is in `exclude` (so a held-out set never leaks into training)."""
    r = random.Random(seed)
    seen = set(exclude)
    out: list[Problem] = []
    while len(out) < n:
        p = r.choice(TEMPLATES)(r, r.choice(NAMES), r.choice(ITEMS))
        if p.en not in seen and p.ja not in seen:
            seen.update((p.en, p.ja))
            out.append(p)
    return out


def equations(n: int, seed: int = 0) -> list[str]:
    """`n` arithmetic facts (`a + b = c`, `a - b = c`, `a * b = c`, `a / b = c`) in the number
    ranges of the templates, drawn from `seed`: what the tiny base model learns to compute."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        op = r.randrange(4)
        if op == 0:
            a, b = r.randint(0, 70), r.randint(0, 70)
            out.append(f"{a} + {b} = {a + b}")
        elif op == 1:
            a = r.randint(0, 99)
            b = r.randint(0, a)
            out.append(f"{a} - {b} = {a - b}")
        elif op == 2:
            a, b = r.randint(1, 12), r.randint(1, 12)
            out.append(f"{a} * {b} = {a * b}")
        else:
            b, q = r.randint(1, 9), r.randint(1, 12)
            out.append(f"{b * q} / {b} = {q}")
    return out


def solution_en(p: Problem) -> str:
    """The worked English answer post is trained on: `3 + 5 = 8. The answer is \\boxed{8}.`"""
    return " ".join(f"{s}." for s in p.steps) + f" The answer is \\boxed{{{p.answer}}}."


def answer_ja(p: Problem) -> str:
    """The plain Japanese answer target is trained on: `答えは 8 です。` (no working, no box)."""
    return f"答えは {p.answer} です。"


DEMO_SEED = 20261130


def demo_set(n: int = 64, n_dev: int = 24, seed: int = DEMO_SEED) -> list[dict]:
    """The rows of `data/demo/demo.jsonl`: `n` problems from `seed`, `n_dev` of them (a seeded
    sample) in the dev pool, the rest in the test pool.

    Written once with `python -m rv_eval.wordproblems data/demo/demo.jsonl`; training reads the
    file and skips every question in it.
    """
    probs = generate(n, seed=seed)
    ids = [f"demo-{i:02d}" for i in range(n)]
    dev = set(random.Random(seed).sample(ids, n_dev))
    return [{"id": i, "split": "dev" if i in dev else "test", "en": p.en, "ja": p.ja, "answer": str(p.answer)}
            for i, p in zip(ids, probs, strict=True)]


if __name__ == "__main__":
    import json
    import sys

    from rv_eval import atomicio

    rows = demo_set()
    atomicio.write_text(sys.argv[1], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
