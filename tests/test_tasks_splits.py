"""Split manifests: reproducible from their rule and seed, dev and test disjoint, no AIME 2024 in a dev pool."""

from __future__ import annotations

import collections

import pytest

from rv_eval import splits, tasks
from rv_eval.splits import copy_of, read_jsonl


def test_committed_manifests_are_reproducible(shared_data):
    for name, manifest in splits.build_manifests().items():
        assert splits.load_split(name) == manifest, f"data/splits/{name}.json differs from its rule; regenerate"
        assert manifest["rule"]


def _dev_pools() -> list[str]:
    return [t for t in tasks.list_tasks() if tasks.task_info(t).split == "dev" and not tasks.task_info(t).is_group]


@pytest.mark.parametrize("dev", _dev_pools())
def test_dev_pool_is_disjoint_from_the_test_task_it_serves(dev, shared_data):
    test = tasks.task_info(dev).serves
    dev_docs, test_docs = tasks.load_docs(dev), tasks.load_docs(test)
    assert not {d["id"] for d in dev_docs} & {d["id"] for d in test_docs}
    assert not {d["problem"] for d in dev_docs} & {d["problem"] for d in test_docs}


def test_no_aime_2024_problem_in_an_aime_dev_pool(shared_data):
    aime24 = read_jsonl(shared_data / "aime24" / "test.jsonl")
    csv_rows = {r["ID"]: r for r in splits.aime_csv_rows()}
    for d in tasks.load_docs("aime_dev_en"):
        assert not d["id"].startswith("2024"), d["id"]
        assert copy_of(csv_rows[d["id"]]["Question"], aime24) is None, d["id"]
    poly_en = {r["id"].replace("-en-", "-ja-"): r for r in read_jsonl(shared_data / "polymath" / "en" / "high.jsonl")}
    ja_ids = {d["id"] for d in tasks.load_docs("aime_dev_ja")}
    # MANIFEST.md: high-ja-14..28 are AIME 2024 I (all 15 problems of part I)
    assert not ja_ids & {f"high-ja-{i}" for i in range(14, 29)}
    for i in ja_ids:
        assert copy_of(poly_en[i]["question"], aime24) is None, i


def test_copy_detection_catches_a_reworded_copy(shared_data):
    aime24 = read_jsonl(shared_data / "aime24" / "test.jsonl")
    poly_en = read_jsonl(shared_data / "polymath" / "en" / "high.jsonl")
    assert {n: copy_of(r["question"], aime24) is not None for n, r in enumerate(poly_en)} == {
        n: 14 <= n <= 28 for n in range(len(poly_en))
    }


def test_bbh_dev_and_test_partition_each_subtask():
    manifest = splits.load_split("bbh")
    assert sorted(manifest["subtasks"]) == sorted(splits.BBH_SUBTASKS)
    for sub, part in manifest["subtasks"].items():
        dev, test = set(part["dev"]), set(part["test_folds"])
        assert not dev & test
        assert dev | test == {f"{sub}-{i}" for i in range(part["n"])}
        assert 0 <= len(dev) - round(part["n"] * splits.BBH_DEV_FRACTION) <= 10


def test_bbh_en_and_ja_share_ids_splits_and_golds():
    en = tasks.load_docs("bbh_dev_en_navigate") + tasks.load_docs("bbh_en_navigate")
    ja = tasks.load_docs("bbh_dev_ja_navigate") + tasks.load_docs("bbh_ja_navigate")
    assert [(d["id"], d["fold"], d["gold"]) for d in en] == [(d["id"], d["fold"], d["gold"]) for d in ja]


@pytest.mark.parametrize(("key", "n"), [("mgsm", 250), ("humaneval", 164)])
def test_folds_are_balanced(key, n):
    folds = splits.load_split("folds")[key]
    sizes = collections.Counter(folds.values())
    assert len(folds) == n and set(sizes) == set(range(splits.N_FOLDS))
    assert max(sizes.values()) - min(sizes.values()) <= 1


def test_demo_set_is_parallel_with_integer_answers():
    rows = read_jsonl(splits.DATA_DIR / "demo" / "demo.jsonl")
    assert len(rows) == 64 and {r["split"] for r in rows} == {"dev", "test"}
    for r in rows:
        assert r["answer"].isdigit() and r["en"] and r["ja"]
        assert any("\u3040" <= ch <= "\u30ff" for ch in r["ja"])
    dev, test = tasks.load_docs("demo_dev_ja"), tasks.load_docs("demo_ja")
    assert not {d["id"] for d in dev} & {d["id"] for d in test}
    assert [d["gold"] for d in tasks.load_docs("demo_en")] == [d["gold"] for d in test]
