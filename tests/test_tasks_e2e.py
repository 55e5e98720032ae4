"""End to end: lm_eval.simple_evaluate (HF backend, tiny model) on the tasks, 3 docs each, graded samples."""

from __future__ import annotations

import pytest

from rv_eval import tasks

pytest.importorskip("rv_eval.grading", reason="rv_eval.grading lands on main with the grading issue")

GRADED_FIELDS = {"correct", "extracted", "answer", "reason", "response_lang"}


def _e2e_tasks() -> list[str]:
    """Every plain task, plus the first subtask of each BBH group (27 per group would add minutes)."""
    plain = [t for t in tasks.list_tasks() if not tasks.task_meta(t).get("group") and not tasks.task_info(t).is_group]
    bbh = [f"{g}_boolean_expressions" for g in tasks.list_tasks(include_subtasks=False) if tasks.task_info(g).is_group]
    return plain + bbh


def _samples_of(results: dict, name: str) -> list[dict]:
    return results["samples"][name]


@pytest.mark.slow
@pytest.mark.integration
def test_simple_evaluate_hf_tiny_model_grades_every_sample(tiny_family, shared_data):
    import lm_eval

    names = _e2e_tasks()
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={tiny_family['target']},dtype=float32,max_length=1024",
        tasks=tasks.lm_eval_tasks(names) + tasks.lm_eval_tasks(["demo_dev_ja"], repeats=3),
        limit=3,
        gen_kwargs="max_gen_toks=4",
        apply_chat_template=True,
        confirm_run_unsafe_code=True,
        log_samples=True,
        device="cpu",
        batch_size=8,
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0,
    )
    for name in names + ["demo_dev_ja"]:
        samples = _samples_of(out, name)
        assert len(samples) == 3, name
        k = 3 if name == "demo_dev_ja" else 1
        for s in samples:
            assert len(s["filtered_resps"][0]) == k, name  # every repeat reached the grader
            assert len(s["samples"]) == k
            for g in s["samples"]:
                assert set(g) == GRADED_FIELDS and isinstance(g["correct"], bool) and g["reason"], (name, g)
            assert 0.0 <= s["acc"] <= s["pass_at_k"] <= 1.0
            assert s["doc"]["id"] and s["doc"]["gold"] and "fold" in s["doc"]
        res = out["results"][name]
        assert res["samples,all_samples"] == 3 * k
        assert "acc,all_samples" in res and "maj_at_k,all_samples" in res
    chat = _samples_of(out, "demo_ja")[0]["arguments"][0][0]
    assert chat.startswith("<|im_start|>user\n") and "\\boxed{}" in chat
