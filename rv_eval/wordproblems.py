"""Seeded generator of simple arithmetic word problems in parallel English and Japanese.

The templates follow the demo set (data/demo/demo.jsonl): buying, giving away, boxes, sharing,
totals and two-step problems with small integer answers. `rv_eval.tinymodels` trains its tiny
models on them, so the demo's test questions are not memorised.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

NAMES = [("Tom", "トム"), ("Mia", "ミア"), ("Ken", "ケン"), ("Anna", "アンナ"), ("Sam", "サム"),
         ("Lisa", "リサ"), ("Ben", "ベン"), ("Emma", "エマ"), ("Jack", "ジャック"), ("Kate", "ケイト"),
         ("Nina", "ニーナ"), ("Jim", "ジム"), ("Yuki", "ユキ"), ("Leo", "レオ")]
# (English plural, Japanese noun, Japanese counter)
ITEMS = [("apples", "りんご", "個"), ("pencils", "鉛筆", "本"), ("stickers", "シール", "枚"),
         ("cookies", "クッキー", "枚"), ("books", "本", "冊"), ("marbles", "ビー玉", "個"),
         ("cards", "カード", "枚"), ("eggs", "卵", "個"), ("flowers", "花", "本"),
         ("oranges", "オレンジ", "個"), ("beads", "ビーズ", "個"), ("candies", "あめ", "個")]


@dataclass(frozen=True)
class Problem:
    """One generated problem: the question in both languages, a calculation and its integer answer."""

    en: str
    ja: str
    calc: str
    answer: int


def _add(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    a, b = r.randint(2, 40), r.randint(2, 30)
    return Problem(f"{n[0]} has {a} {it[0]} and buys {b} more. How many {it[0]} does {n[0]} have now?",
                   f"{n[1]}は{it[1]}を{a}{it[2]}持っていて、さらに{b}{it[2]}買いました。"
                   f"{n[1]}は今{it[1]}を何{it[2]}持っていますか？", f"{a} + {b}", a + b)


def _sub(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    b = r.randint(2, 30)
    a = b + r.randint(1, 40)
    return Problem(f"{n[0]} had {a} {it[0]} and gave {b} to a friend. How many {it[0]} are left?",
                   f"{n[1]}は{it[1]}を{a}{it[2]}持っていて、友だちに{b}{it[2]}あげました。残りは何{it[2]}ですか？",
                   f"{a} - {b}", a - b)


def _mul(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    a, b = r.randint(2, 15), r.randint(2, 12)
    return Problem(f"A box holds {a} {it[0]}. How many {it[0]} are in {b} boxes?",
                   f"1箱に{it[1]}が{a}{it[2]}入っています。{b}箱では{it[1]}は何{it[2]}ですか？",
                   f"{a} * {b}", a * b)


def _div(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    b, q = r.randint(2, 9), r.randint(2, 12)
    return Problem(f"{b * q} {it[0]} are shared equally among {b} children. How many {it[0]} does each child get?",
                   f"{it[1]}{b * q}{it[2]}を{b}人の子どもで同じ数ずつ分けます。1人何{it[2]}もらえますか？",
                   f"{b * q} / {b}", q)


def _total(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    a, b = r.randint(2, 30), r.randint(2, 30)
    return Problem(f"{n[0]} has {a} red {it[0]} and {b} blue {it[0]}. How many {it[0]} are there in total?",
                   f"{n[1]}は赤い{it[1]}を{a}{it[2]}、青い{it[1]}を{b}{it[2]}持っています。全部で何{it[2]}ですか？",
                   f"{a} + {b}", a + b)


def _two_step(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    b, c = r.randint(2, 20), r.randint(2, 20)
    a = b + c + r.randint(1, 30)
    return Problem(f"{n[0]} had {a} {it[0]}. {n[0]} used {b} on Monday and {c} on Tuesday. "
                   f"How many {it[0]} are left?",
                   f"{n[1]}は{it[1]}を{a}{it[2]}持っていました。月曜日に{b}{it[2]}、火曜日に{c}{it[2]}使いました。"
                   f"残りは何{it[2]}ですか？", f"{a} - {b} - {c}", a - b - c)


def _bags(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    a, b = r.randint(2, 9), r.randint(2, 9)
    c = r.randint(1, a * b - 1)
    return Problem(f"Each bag has {a} {it[0]}. {n[0]} buys {b} bags and gives away {c}. How many {it[0]} are left?",
                   f"1袋に{it[1]}が{a}{it[2]}入っています。{n[1]}は{b}袋買って{c}{it[2]}あげました。"
                   f"残りは何{it[2]}ですか？", f"{a} * {b} - {c}", a * b - c)


def _per_day(r: random.Random, n: tuple[str, str], it: tuple[str, str, str]) -> Problem:
    a, b = r.randint(2, 20), r.randint(2, 12)
    return Problem(f"{n[0]} reads {a} pages a day. How many pages does {n[0]} read in {b} days?",
                   f"{n[1]}は1日に{a}ページ読みます。{b}日間で何ページ読みますか？", f"{a} * {b}", a * b)


TEMPLATES: list[Callable[[random.Random, tuple[str, str], tuple[str, str, str]], Problem]] = [
    _add, _sub, _mul, _div, _total, _two_step, _bags, _per_day]


def generate(n: int, seed: int = 0, exclude: set[str] | None = None) -> list[Problem]:
    """`n` problems drawn deterministically from `seed`; questions whose English text is in `exclude` are skipped."""
    r = random.Random(seed)
    exclude = exclude or set()
    out: list[Problem] = []
    while len(out) < n:
        p = r.choice(TEMPLATES)(r, r.choice(NAMES), r.choice(ITEMS))
        if p.en not in exclude:
            out.append(p)
    return out
