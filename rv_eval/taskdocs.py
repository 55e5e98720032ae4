"""Documents of the benchmark tasks: read the benchmark files, apply the split manifests, render prompts.

Every doc has `task`, `id` (stable question id), `gold` (answer as a string), `fold`
(cross-fitting fold, -1 where the task has a dev pool), `subtask` ("" unless BBH) and `query`
(the rendered user prompt, chat-template ready); plus what its grader needs (`options` for
choice, `prompt`/`test`/`entry_point` for code). A task's metadata (its YAML) names the
`source` builder and the `prompt` style used here.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rv_eval.benchdata import benchmark_file
from rv_eval.errors import UserError
from rv_eval.paths import DATA_DIR
from rv_eval.splits import SEED, aime_csv_rows, load_split, read_jsonl

AIME24_JA_ENV = "RV_EVAL_AIME24_JA"
LETTERS = "ABCD"

MATH_SUFFIX = {
    "en": "Please reason step by step, and put your final answer within \\boxed{}.",
    "ja": "段階的に推論し、最終的な答えを \\boxed{} の中に書いてください。",
}
CHOICE_SUFFIX = {
    "en": "Please reason step by step, and put the letter of the correct option (A, B, C or D) within \\boxed{}.",
    "ja": "段階的に推論し、正しい選択肢の記号（A、B、C、D のいずれか）を \\boxed{} の中に書いてください。",
}
CODE_PREFIX = {
    "en": "Complete the following Python function. Give the complete function, including its signature "
    "and imports, in a single ```python fenced code block.",
    "ja": "次の Python 関数を完成させてください。シグネチャと import を含む関数全体を、"
    "```python で始まるコードブロック1つで示してください。",
}
COT_CUE = {"en": "Let's think step by step.", "ja": "順を追って考える。"}

Doc = dict[str, Any]


def aime24_ja_file() -> Path:
    """The project's Japanese AIME 2024 translation (data/aime24_ja.jsonl, or $RV_EVAL_AIME24_JA)."""
    return Path(os.environ.get(AIME24_JA_ENV) or DATA_DIR / "aime24_ja.jsonl")


def render(style: str, lang: str, doc: Doc) -> str:
    """The user prompt of a doc for a prompt style: boxed | plain | choice | code | zeroshot | cot3."""
    if style == "plain":
        return doc["problem"]
    if style in ("boxed", "zeroshot"):
        return f"{doc['problem']}\n\n{MATH_SUFFIX[lang]}"
    if style == "choice":
        opts = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(doc["options"]))
        return f"{doc['problem']}\n\n{opts}\n\n{CHOICE_SUFFIX[lang]}"
    if style == "code":
        return f"{CODE_PREFIX[lang]}\n\n```python\n{doc['prompt']}```"
    if style == "cot3":
        return f"{doc['shots']}\n\nQ: {doc['problem']}\nA: {COT_CUE[lang]}"
    raise UserError(f"unknown prompt style {style!r} in a task's metadata. Fix: one of boxed, plain, choice, code, zeroshot, cot3.")


def _doc(id_: str, gold: Any, problem: str, fold: int = -1, **extra: Any) -> Doc:
    return {"id": str(id_), "gold": str(gold).strip(), "fold": int(fold), "subtask": "", "problem": problem, **extra}


def int_answer(a: Any) -> str:
    """'025' → '25' for integer answers; anything else unchanged (stripped)."""
    s = str(a).strip()
    return str(int(s)) if s.isdigit() else s


def aime24_docs(lang: str, data_dir: str | None = None, **_: Any) -> list[Doc]:
    """AIME 2024 (30): EN from the benchmark file, JA from the project's translation (same ids and answers)."""
    if lang == "en":
        rows = read_jsonl(benchmark_file("aime24/test.jsonl", data_dir))
    else:
        path = aime24_ja_file()
        if not path.is_file():
            raise UserError(
                f"the Japanese AIME 2024 translation {path} is missing. Fix: merge the branch that adds "
                f"data/aime24_ja.jsonl, or set {AIME24_JA_ENV} to a JSONL file with fields id, problem, answer."
            )
        rows = read_jsonl(path)
    return [_doc(r["id"], int_answer(r["answer"]), r["problem"]) for r in rows]


def aime_dev_docs(lang: str, data_dir: str | None = None, **_: Any) -> list[Doc]:
    """AIME dev pools: EN = AIME 2022+2023 (CSV); JA = PolyMath ja high minus AIME 2024 copies."""
    ids = load_split("aime_dev")[lang]
    if lang == "en":
        rows = {r["ID"]: r for r in aime_csv_rows(data_dir)}
        return [_doc(i, int_answer(rows[i]["Answer"]), rows[i]["Question"].strip()) for i in ids]
    rows = {r["id"]: r for r in read_jsonl(benchmark_file("polymath/ja/high.jsonl", data_dir))}
    return [_doc(i, int_answer(rows[i]["answer"]), rows[i]["question"]) for i in ids]


def gsm8k_answer(solution: str) -> str:
    """The number after '####' in a GSM8K solution, without thousands separators."""
    return solution.split("####")[-1].strip().replace(",", "")


def gsm8k_docs(part: str, data_dir: str | None = None, **_: Any) -> list[Doc]:
    """GSM8K test (all 1319, ids test-<n>) or the fixed 500 dev problems of train (ids train-<n>)."""
    if part == "test":
        rows = read_jsonl(benchmark_file("gsm8k/test.jsonl", data_dir))
        return [_doc(f"test-{n}", gsm8k_answer(r["answer"]), r["question"]) for n, r in enumerate(rows)]
    rows = read_jsonl(benchmark_file("gsm8k/train.jsonl", data_dir))
    picked = [int(i.split("-")[1]) for i in load_split("gsm8k_dev")["ids"]]
    return [_doc(f"train-{n}", gsm8k_answer(rows[n]["answer"]), rows[n]["question"]) for n in picked]


def mgsm_docs(lang: str, data_dir: str | None = None, **_: Any) -> list[Doc]:
    """MGSM ja or its parallel English (250 each, ids mgsm-<n> shared), with folds; "2,125" → "2125"."""
    folds = load_split("folds")["mgsm"]
    with open(benchmark_file(f"mgsm/mgsm_{lang}.tsv", data_dir), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [_doc(f"mgsm-{n}", q[1].replace(",", ""), q[0], folds[f"mgsm-{n}"]) for n, q in enumerate(rows)]


def humaneval_docs(lang: str, data_dir: str | None = None, **_: Any) -> list[Doc]:
    """HumanEval (en) or JHumanEval (ja, Japanese docstrings); ids HumanEval/<n> in both, with folds."""
    rel = "humaneval/HumanEval.jsonl.gz" if lang == "en" else "jhumaneval/jhuman-eval.jsonl.gz"
    with gzip.open(benchmark_file(rel, data_dir), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    folds = load_split("folds")["humaneval"]
    docs = []
    for r in rows:
        id_ = "HumanEval/" + r["task_id"].split("/")[1]
        doc = _doc(id_, "", "", folds[id_], task_id=r["task_id"], prompt=r["prompt"],
                   test=r["test"], entry_point=r["entry_point"])
        docs.append({**doc, "gold": r["canonical_solution"]})  # unstripped: indentation matters
    return docs


def sciq_docs(part: str, data_dir: str | None = None, **_: Any) -> list[Doc]:
    """SciQ test or valid: the 4 options in a fixed shuffled order (Random(f"{SEED}:{id}")), gold = letter."""
    rows = json.loads(benchmark_file(f"sciq/extracted/{part}.json", data_dir).read_text(encoding="utf-8"))
    docs = []
    for n, r in enumerate(rows):
        id_ = f"{part}-{n}"
        options = [r["correct_answer"], r["distractor1"], r["distractor2"], r["distractor3"]]
        random.Random(f"{SEED}:{id_}").shuffle(options)
        gold = LETTERS[options.index(r["correct_answer"])]
        docs.append(_doc(id_, gold, r["question"], options=options))
    return docs


def bbh_shots(lang: str, subtask: str, data_dir: str | None = None) -> str:
    """The published 3-shot CoT prompt of a subtask (BBH: task description + Q/A; BBH-ja: Q/A pairs)."""
    if lang == "en":
        text = benchmark_file(f"bbh/cot-prompts/{subtask}.txt", data_dir).read_text(encoding="utf-8")
        return text.split("-----\n", 1)[1].strip()
    shots = yaml.safe_load(benchmark_file(f"bbh_ja/cot-prompts/{subtask}.yaml", data_dir).read_text(encoding="utf-8"))
    return "\n\n".join(f"Q: {s['input']}\nA: {s['target']}" for s in shots)


def bbh_docs(lang: str, subtask: str, part: str, data_dir: str | None = None, **kw: Any) -> list[Doc]:
    """One BBH(-ja) subtask, its dev or test part from the split manifest; test docs carry folds."""
    if lang == "en":
        rows = json.loads(benchmark_file(f"bbh/bbh/{subtask}.json", data_dir).read_text(encoding="utf-8"))["examples"]
    else:
        rows = read_jsonl(benchmark_file(f"bbh_ja/bbh-ja/{subtask}.jsonl", data_dir))
    split = load_split("bbh")["subtasks"][subtask]
    dev = set(split["dev"])
    shots = bbh_shots(lang, subtask, data_dir) if kw.get("prompt") == "cot3" else ""
    docs = []
    for n, r in enumerate(rows):
        id_ = f"{subtask}-{n}"
        if (id_ in dev) != (part == "dev"):
            continue
        fold = -1 if part == "dev" else split["test_folds"][id_]
        docs.append({**_doc(id_, r["target"], r["input"], fold, shots=shots), "subtask": subtask})
    return docs


def demo_docs(lang: str, part: str, **_: Any) -> list[Doc]:
    """The project's demo set (data/demo/demo.jsonl): parallel EN/JA arithmetic word problems."""
    rows = read_jsonl(DATA_DIR / "demo" / "demo.jsonl")
    return [_doc(r["id"], r["answer"], r[lang]) for r in rows if r["split"] == part]


SOURCES: dict[str, Callable[..., list[Doc]]] = {
    "aime24": aime24_docs,
    "aime_dev": aime_dev_docs,
    "gsm8k": gsm8k_docs,
    "mgsm": mgsm_docs,
    "humaneval": humaneval_docs,
    "sciq": sciq_docs,
    "bbh": bbh_docs,
    "demo": demo_docs,
}


def build_docs(task: str, meta: dict[str, Any], data_dir: str | None = None) -> list[Doc]:
    """The docs of a task from its metadata (source, lang, part, subtask, prompt)."""
    source = meta.get("source")
    if source not in SOURCES:
        raise UserError(f"task {task}: unknown source {source!r} in its metadata. Fix: one of {sorted(SOURCES)}.")
    args = {k: meta[k] for k in ("lang", "part", "subtask", "prompt") if meta.get(k) not in (None, "")}
    docs = SOURCES[source](data_dir=data_dir, **args)
    for d in docs:
        d["task"] = task
        d["query"] = render(meta["prompt"], meta["lang"], d)
        d.pop("shots", None)
    return docs
