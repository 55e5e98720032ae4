"""grade_choice (SciQ-style) and grade_bbh (per-subtask formats, EN and JA)."""

from __future__ import annotations

import json

import pytest

from rv_eval.grading import grade_bbh, grade_choice
from rv_eval.grading.bbh import SUBTASK_FORMATS, canonical, subtask_format

OPTIONS = ["nucleus", "mitochondria", "ribosome", "cell wall"]
OPTIONS_JA = ["核", "ミトコンドリア", "リボソーム", "細胞壁"]


@pytest.mark.parametrize(
    ("response", "gold", "options", "correct", "reason"),
    [
        ("The answer is (B) mitochondria.", "B", OPTIONS, True, "ok"),
        ("Answer: mitochondria", "mitochondria", OPTIONS, True, "ok"),
        ("The nucleus stores DNA, but energy comes from the mitochondria.\nAnswer: B", "B", OPTIONS, True, "ok"),
        ("The answer is A or B.", "B", OPTIONS, False, "hedged"),
        ("The answer is (C).", "B", OPTIONS, False, "mismatch"),
        ("答えは「ミトコンドリア」です。", "B", OPTIONS_JA, True, "ok"),
        ("正解は(B)です。", "(B)", OPTIONS_JA, True, "ok"),
        ("I cannot decide.", "B", OPTIONS, False, "no_answer"),
    ],
)
def test_grade_choice(response, gold, options, correct, reason):
    g = grade_choice(response, gold, options)
    assert (g.correct, g.reason) == (correct, reason), g


@pytest.mark.parametrize(
    ("response", "gold", "subtask", "correct"),
    [
        ("Let's think step by step. So the answer is (B).", "(B)", "date_understanding", True),
        ("順を追って考える。…答えは(C)", "(B)", "date_understanding", False),
        ("答えは「はい」", "Yes", "web_of_lies", True),
        ("So the answer is No.", "No", "navigate", True),
        ("So the answer is no.", "yes", "sports_understanding", False),
        ("答えは「妥当でない」", "invalid", "formal_fallacies", True),
        ("So the answer is valid.", "invalid", "formal_fallacies", False),
        ("答えは「偽」", "False", "boolean_expressions", True),
        ("So the answer is 11.", "11", "object_counting", True),
        ("答えは「十一」", "11", "object_counting", True),
        ("So the answer is -219.", "-219", "multistep_arithmetic_two", True),
        ("So the answer is ] ) ).", "] ) )", "dyck_languages", True),
        ("So the answer is ] ).", "] ) )", "dyck_languages", False),
        ("So the answer is apple banana cherry.", "apple banana cherry", "word_sorting", True),
        ("So the answer is banana apple cherry.", "apple banana cherry", "word_sorting", False),
        ("So the answer is Monsters, Inc.", "Monsters, Inc", "movie_recommendation", True),
    ],
)
def test_grade_bbh(response, gold, subtask, correct):
    assert grade_bbh(response, gold, subtask).correct is correct


def test_every_bbh_gold_is_in_its_subtask_format(shared_data):
    """Each gold of BBH (en) and BBH-ja reads back as itself in its subtask's format."""
    for path in sorted((shared_data / "bbh" / "bbh").glob("*.json")):
        name = path.stem
        golds = [e["target"] for e in json.loads(path.read_text())["examples"]]
        ja = shared_data / "bbh_ja" / "bbh-ja" / f"{name}.jsonl"
        golds += [json.loads(line)["target"] for line in ja.read_text().splitlines() if line.strip()]
        fmt = subtask_format(name)
        odd = [g for g in golds if canonical(fmt, g) is None]
        assert len(set(odd)) <= 2, (name, odd[:5])  # ruin_names/movie_recommendation hold 1-2 text golds
        for g in golds[:50]:
            assert grade_bbh(f"So the answer is {g}.", g, name).correct, (name, g)
    assert set(SUBTASK_FORMATS) <= {p.stem for p in (shared_data / "bbh" / "bbh").glob("*.json")}


def _cot_exemplars(shared_data) -> list[tuple[str, str, str, str]]:
    """(lang, subtask, CoT response, answer) of the 3-shot exemplars of BBH and BBH-ja."""
    import re

    import yaml

    out = []
    for path in sorted((shared_data / "bbh_ja" / "cot-prompts").glob("*.yaml")):
        out += [("ja", path.stem, ex["target"], str(ex["answer"])) for ex in yaml.safe_load(path.read_text())]
    for path in sorted((shared_data / "bbh" / "cot-prompts").glob("*.txt")):
        for block in re.split(r"\n\nQ: ", path.read_text())[1:]:
            answer = block.split("\nA: ", 1)[1].strip()
            out.append(("en", path.stem, answer, re.search(r"So the answer is (.*)\.$", answer).group(1)))
    return out


def test_bbh_cot_exemplars_are_graded_right_and_against_other_answers_wrong(shared_data):
    """The official CoT exemplars (27 subtasks x 3, EN and JA; JA answers are given separately)."""
    exemplars = _cot_exemplars(shared_data)
    assert len(exemplars) == 162
    wrong = [(lang, sub, ans) for lang, sub, resp, ans in exemplars if not grade_bbh(resp, ans, sub, lang).correct]
    assert wrong == []
    pairs = [
        (lang, sub, resp, other)
        for (lang, sub, resp, ans), (_, sub2, _, other) in zip(exemplars, exemplars[1:], strict=False)
        if sub == sub2 and canonical(subtask_format(sub), ans) != canonical(subtask_format(sub), other)
    ]
    assert len(pairs) > 60
    assert [p for p in pairs if grade_bbh(p[2], p[3], p[1], p[0]).correct] == []


def test_sciq_option_texts(shared_data):
    """All 1,000 SciQ test items: answering by the correct option's text (or letter + text) is right,
    by a distractor's text wrong (items whose distractor repeats the answer are skipped)."""
    import random

    rows = json.loads((shared_data / "sciq" / "extracted" / "test.json").read_text())
    rng = random.Random(0)
    bad = []
    for r in rows:
        opts = [r["distractor1"], r["distractor2"], r["distractor3"], r["correct_answer"]]
        if len({o.strip().lower() for o in opts}) < 4:
            continue
        rng.shuffle(opts)
        gold = "ABCD"[opts.index(r["correct_answer"])]
        for response, expected in [
            (f"The answer is {r['correct_answer']}.", True),
            (f"Answer: ({gold}) {r['correct_answer']}", True),
            (f"Based on the passage, {r['correct_answer']} is correct.", True),
            (f"The answer is {r['distractor1']}.", False),
        ]:
            if grade_choice(response, gold, opts).correct is not expected:
                bad.append((response, opts))
    assert bad == []


def _sciq_items(shared_data, n=200):
    import random

    rows = json.loads((shared_data / "sciq" / "extracted" / "test.json").read_text())[:n]
    rng = random.Random(1)
    out = []
    for r in rows:
        opts = [r["distractor1"], r["distractor2"], r["distractor3"], r["correct_answer"]]
        rng.shuffle(opts)
        out.append((opts, "ABCD"[opts.index(r["correct_answer"])]))
    return out


def test_an_option_list_is_not_an_answer(shared_data):
    """Real SciQ options: a response that lists every option after "The correct answer is:", or repeats
    the option list until its token budget ends, commits to no letter (on any gold, A included)."""
    credited = []
    for opts, gold in _sciq_items(shared_data):
        listing = "\n".join(f"({L}) {o}" for L, o in zip("ABCD", opts, strict=True))
        for response, stop in [
            (f"Let me look at the options.\n\nThe correct answer is:\n{listing}", "stop"),
            (f"The correct answer is: {listing.replace(chr(10), ' ')}", "stop"),
            (f"{listing}\n{listing}\n{listing}\n(A) {opts[0][:3]}", None),
            (f"{listing}\n{listing}\n(A) {opts[0][:3]}", "length"),
        ]:
            g = grade_choice(response, gold, opts, stop_reason=stop)
            if g.correct or g.extracted is not None:
                credited.append((response, gold, g))
    assert credited == []
    opts, gold = _sciq_items(shared_data, 1)[0]
    cut = grade_choice("\n".join(f"({L}) {o}" for L, o in zip("ABCD", opts, strict=True)) + "\n(A", gold, opts,
                       stop_reason="length")
    assert cut.reason == "truncated"


@pytest.mark.parametrize(
    ("response", "gold", "correct", "reason"),
    [
        # the options restated, then a committed answer after them
        ("Options:\n(A) nucleus\n(B) mitochondria\n(C) ribosome\n(D) cell wall\nSo the answer is (B).", "B", True, "ok"),
        ("The correct answer is:\n(B) mitochondria", "B", True, "ok"),
        ("The correct answer is:\n(A) nucleus\n(B) mitochondria\n(C) ribosome\n(D) cell wall", "A", False, "no_answer"),
        # a complete answer before the cut counts; the unfinished sentence after it does not
        ("The answer is (B) mitochondria. To double-check, (A) nuc", "B", True, "ok"),
        ("Mitochondria make ATP, so the answer is (", "B", False, "truncated"),
    ],
)
def test_grade_choice_commitment(response, gold, correct, reason):
    stop = "length" if response.endswith(("nuc", "(")) else "stop"
    g = grade_choice(response, gold, OPTIONS, stop_reason=stop)
    assert (g.correct, g.reason) == (correct, reason), g


def _cot_shots(shared_data) -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """(lang, subtask, [(question, CoT answer, answer)]) of the official 3-shot prompts."""
    import re

    import yaml

    out = []
    for path in sorted((shared_data / "bbh" / "cot-prompts").glob("*.txt")):
        shots = []
        for block in re.split(r"\n\nQ: ", path.read_text())[1:]:
            q, a = block.split("\nA: ", 1)
            shots.append((q, a.strip(), re.search(r"So the answer is (.*)\.$", a.strip()).group(1)))
        out.append(("en", path.stem, shots))
    for path in sorted((shared_data / "bbh_ja" / "cot-prompts").glob("*.yaml")):
        out.append(("ja", path.stem, [(s["input"], s["target"], str(s["answer"])) for s in yaml.safe_load(path.read_text())]))
    return out


def test_bbh_ignores_the_next_question_a_model_invents(shared_data):
    """Official CoT exemplars: the model answers shot 1, then writes shot 2 as its own next "Q: … A: …"
    (a full-width "Q：" in Japanese too). Only the answer to the question asked counts."""
    wrong, n_diff = [], 0
    for lang, sub, shots in _cot_shots(shared_data):
        (_, first, ans1), (q2, second, ans2) = shots[0], shots[1]
        label = "Q：" if lang == "ja" else "Q:"
        response = f"{first}\n\n{label} {q2}\nA: {second}"
        if not grade_bbh(response, ans1, sub, lang).correct:
            wrong.append((lang, sub, "own answer not credited"))
        if canonical(subtask_format(sub), ans1) != canonical(subtask_format(sub), ans2):
            n_diff += 1
            if grade_bbh(response, ans2, sub, lang).correct:
                wrong.append((lang, sub, "invented question's answer credited"))
    assert n_diff > 30
    assert wrong == []


def test_bbh_cot_tasks_stop_at_the_next_question():
    """The 3-shot CoT tasks (EN and JA) end generation where the next "Q:" block would start;
    zero-shot tasks have no such block and no such stop."""
    import yaml

    from rv_eval.tasks import list_tasks, task_meta

    checked = 0
    for name in list_tasks():
        meta = task_meta(name)
        if meta["kind"] != "bbh" or meta["is_group"]:
            continue
        cfg = yaml.safe_load(open(meta["yaml"], encoding="utf-8").read().replace("!function", ""))
        until = cfg["generation_kwargs"]["until"]
        if meta["prompt"] == "cot3":
            assert "\n\nQ:" in until, name
            if meta["lang"] == "ja":
                assert "\n\nQ：" in until, name
        else:
            assert until == [], name
        checked += 1
    assert checked == 8 * 27
