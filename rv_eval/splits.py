"""Fixed held-out splits: the manifests in data/splits/ and the rules (with seeds) that made them.

α must never be chosen on test data. Where a dev pool exists (AIME 2022/23 and PolyMath ja for
AIME 2024, 500 GSM8K train problems, SciQ valid, the demo dev half) the test tasks carry fold -1.
Where none exists (MGSM, HumanEval, BBH) the manifest assigns fixed cross-fitting folds; BBH also
gets a fixed dev/test split per subtask. `build_manifests` regenerates every manifest from the
benchmark files; the committed JSON is what tasks read (`load_split`), and a test checks the two
agree.
"""

from __future__ import annotations

import csv
import difflib
import json
import random
import re
from functools import cache
from pathlib import Path
from typing import Any

from rv_eval import atomicio
from rv_eval.benchdata import benchmark_file
from rv_eval.errors import UserError
from rv_eval.paths import DATA_DIR

SPLITS_DIR = DATA_DIR / "splits"
SEED = 20241122
N_FOLDS = 5
GSM8K_DEV_SIZE = 500
BBH_DEV_FRACTION = 0.2
AIME_DEV_YEARS = ("2022", "2023")
# difflib ratio over word/number tokens at or above which two statements count as the same problem.
# On the shared data, reworded PolyMath copies of AIME 2024 score >= 0.54, distinct problems <= 0.41.
SIMILARITY_CUTOFF = 0.5

BBH_SUBTASKS = (
    "boolean_expressions causal_judgement date_understanding disambiguation_qa dyck_languages "
    "formal_fallacies geometric_shapes hyperbaton logical_deduction_five_objects "
    "logical_deduction_seven_objects logical_deduction_three_objects movie_recommendation "
    "multistep_arithmetic_two navigate object_counting penguins_in_a_table "
    "reasoning_about_colored_objects ruin_names salient_translation_error_detection snarks "
    "sports_understanding temporal_sequences tracking_shuffled_objects_five_objects "
    "tracking_shuffled_objects_seven_objects tracking_shuffled_objects_three_objects web_of_lies word_sorting"
).split()


@cache
def load_split(name: str) -> dict[str, Any]:
    """The committed split manifest `data/splits/<name>.json`."""
    path = SPLITS_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read split manifest {path}: {e}. Fix: restore it from git.") from e


def assign_folds(ids: list[str], seed: int = SEED, k: int = N_FOLDS) -> dict[str, int]:
    """Fold of each id: sort, shuffle with Random(seed), deal round-robin into k folds."""
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    return {i: n % k for n, i in enumerate(order)}


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers of a statement (TeX markup and punctuation dropped)."""
    return re.findall(r"[a-z]+|\d+", text.lower())


def similar(a: str, b: str, cutoff: float = SIMILARITY_CUTOFF) -> bool:
    """True when two problem statements are near-duplicates (token-level difflib ratio ≥ cutoff)."""
    m = difflib.SequenceMatcher(None, tokens(a), tokens(b), autojunk=False)
    return m.real_quick_ratio() >= cutoff and m.quick_ratio() >= cutoff and m.ratio() >= cutoff


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def aime24_rows(data_dir: str | None = None) -> list[dict[str, Any]]:
    """The 30 English AIME 2024 rows (the test set every AIME dev pool must avoid)."""
    return read_jsonl(benchmark_file("aime24/test.jsonl", data_dir))


def copy_of(question: str, test: list[dict[str, Any]]) -> int | None:
    """Index of the AIME 2024 problem that `question` is a (possibly reworded) copy of, else None."""
    return next((n for n, row in enumerate(test) if similar(question, row["problem"])), None)


def aime_csv_rows(data_dir: str | None = None) -> list[dict[str, str]]:
    """Rows of the AIME 1983-2024 CSV."""
    with open(benchmark_file("aime_1983_2024/AIME_Dataset_1983_2024.csv", data_dir), encoding="utf-8") as f:
        return list(csv.DictReader(f))


def build_aime_dev(data_dir: str | None = None) -> dict[str, Any]:
    """AIME dev pools: EN = AIME 2022+2023; JA = PolyMath ja high minus copies of AIME 2024."""
    test = aime24_rows(data_dir)
    years = [r for r in aime_csv_rows(data_dir) if r["Year"] in AIME_DEV_YEARS]
    en_ids = [r["ID"] for r in years if r["Answer"].strip().isdigit()]
    excluded_en = {r["ID"]: f"answer is not one integer: {r['Answer']!r}" for r in years if r["ID"] not in en_ids}
    poly_en = read_jsonl(benchmark_file("polymath/en/high.jsonl", data_dir))
    excluded = {}
    for row in poly_en:
        hit = copy_of(row["question"], test)
        if hit is not None:
            excluded[row["id"].replace("-en-", "-ja-")] = f"copy of AIME 2024 problem (aime24 row {hit})"
    ja_ids = [r["id"] for r in read_jsonl(benchmark_file("polymath/ja/high.jsonl", data_dir)) if r["id"] not in excluded]
    return {
        "rule": (
            f"en: every row of aime_1983_2024/AIME_Dataset_1983_2024.csv with Year in {list(AIME_DEV_YEARS)} "
            "and a single integer Answer; "
            "ja: every row of polymath/ja/high.jsonl whose English parallel (polymath/en/high.jsonl, same index) "
            f"is not a copy of an aime24/test.jsonl problem (difflib ratio >= {SIMILARITY_CUTOFF} over "
            "lower-case word/number tokens)"
        ),
        "seed": None,
        "en": en_ids,
        "excluded_en": excluded_en,
        "ja": ja_ids,
        "excluded_ja": excluded,
    }


def build_gsm8k_dev(data_dir: str | None = None) -> dict[str, Any]:
    """A fixed 500 of GSM8K train (ids train-<line index>)."""
    n = len(read_jsonl(benchmark_file("gsm8k/train.jsonl", data_dir)))
    picked = sorted(random.Random(SEED).sample(range(n), GSM8K_DEV_SIZE))
    return {
        "rule": f"sorted(random.Random(seed).sample(range({n}), {GSM8K_DEV_SIZE})) over gsm8k/train.jsonl lines",
        "seed": SEED,
        "ids": [f"train-{i}" for i in picked],
    }


def build_folds(data_dir: str | None = None) -> dict[str, Any]:
    """Cross-fitting folds for the tasks without a dev pool (MGSM ja/en pairs, HumanEval/JHumanEval)."""
    mgsm = [f"mgsm-{i}" for i in range(250)]
    humaneval = [f"HumanEval/{i}" for i in range(164)]
    return {
        "rule": f"ids sorted, shuffled with random.Random(seed), dealt round-robin into {N_FOLDS} folds",
        "seed": SEED,
        "k": N_FOLDS,
        "mgsm": assign_folds(mgsm),
        "humaneval": assign_folds(humaneval),
    }


def bbh_inputs(sub: str, data_dir: str | None = None) -> tuple[list[str], list[str]]:
    """The EN and JA inputs of one BBH subtask (parallel lists)."""
    en = json.loads(benchmark_file(f"bbh/bbh/{sub}.json", data_dir).read_text(encoding="utf-8"))["examples"]
    ja = read_jsonl(benchmark_file(f"bbh_ja/bbh-ja/{sub}.jsonl", data_dir))
    return [r["input"] for r in en], [r["input"] for r in ja]


def duplicate_groups(*texts: list[str]) -> list[list[int]]:
    """Indices grouped so that items with the same text in any of the parallel lists share a group."""
    parent = list(range(len(texts[0])))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for column in texts:
        first: dict[str, int] = {}
        for i, t in enumerate(column):
            parent[find(i)] = find(first.setdefault(t, i))
    groups: dict[int, list[int]] = {}
    for i in range(len(parent)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values())


def build_bbh(data_dir: str | None = None) -> dict[str, Any]:
    """Per BBH subtask: a fixed dev part and cross-fitting folds over the test part (shared by en and ja)."""
    subtasks = {}
    for k, sub in enumerate(BBH_SUBTASKS):
        en, ja = bbh_inputs(sub, data_dir)
        groups = duplicate_groups(en, ja)
        random.Random(SEED + k).shuffle(groups)
        target, dev = round(len(en) * BBH_DEV_FRACTION), []
        for g in groups:
            if len(dev) >= target:
                break
            dev += g
        dev_ids = [f"{sub}-{i}" for i in sorted(dev)]
        test_ids = [f"{sub}-{i}" for i in range(len(en)) if i not in set(dev)]
        subtasks[sub] = {"n": len(en), "dev": dev_ids, "test_folds": assign_folds(test_ids, SEED + k)}
    return {
        "rule": (
            "per subtask (index k in the list): group items whose EN or JA input text is identical "
            "(duplicates stay on one side), shuffle the groups with random.Random(seed + k), take groups "
            f"into dev until it holds >= round(n * {BBH_DEV_FRACTION}) items; the rest is test, with folds "
            "as in folds.json using seed + k. BBH-ja has the same examples in the same order, so en and ja "
            "share ids and splits."
        ),
        "seed": SEED,
        "k": N_FOLDS,
        "subtasks": subtasks,
    }


def build_demo(data_dir: str | None = None) -> dict[str, Any]:
    """The demo set's fixed dev/test split (recorded in data/demo/demo.jsonl)."""
    from rv_eval.wordproblems import DEMO_SEED

    rows = read_jsonl(DATA_DIR / "demo" / "demo.jsonl")
    return {
        "rule": f"rv_eval.wordproblems.demo_set(): random.Random({DEMO_SEED}).sample(ids, 24) are dev, the rest test "
        "(field `split` of data/demo/demo.jsonl)",
        "seed": DEMO_SEED,
        "dev": [r["id"] for r in rows if r["split"] == "dev"],
        "test": [r["id"] for r in rows if r["split"] == "test"],
    }


BUILDERS = {
    "aime_dev": build_aime_dev,
    "gsm8k_dev": build_gsm8k_dev,
    "folds": build_folds,
    "bbh": build_bbh,
    "demo": build_demo,
}


def build_manifests(data_dir: str | None = None) -> dict[str, dict[str, Any]]:
    """Every split manifest, regenerated from the benchmark files."""
    return {name: fn(data_dir) for name, fn in BUILDERS.items()}


def write_manifests(data_dir: str | None = None, out: Path = SPLITS_DIR) -> list[Path]:
    """Regenerate and write data/splits/*.json; return the paths."""
    paths = []
    for name, manifest in build_manifests(data_dir).items():
        atomicio.write_json(out / f"{name}.json", manifest)
        paths.append(out / f"{name}.json")
    return paths


if __name__ == "__main__":
    for p in write_manifests():
        print(p)
