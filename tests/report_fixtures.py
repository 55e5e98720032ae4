"""Shared inputs of the report tests: a small synthetic run with hostile responses."""

from __future__ import annotations

from rv_eval.report.synthetic import SyntheticSpec, synthetic_meta, synthetic_samples

SCRIPT_RESPONSE = "<script>window.__pwned = 1</script></textarea></script><img src=x onerror=\"window.__pwned=2\"><b>bold</b>"
TEXTAREA_RESPONSE = "</textarea><script>window.__pwned = 3</script>"
N_QUESTIONS = 40
HOSTILE_MODEL, HOSTILE_TASK, HOSTILE_DOC = "s1vec@0.5", "gsm8k_ja", "gsm8k-0003"


def small_spec() -> SyntheticSpec:
    """Five models, four test tasks, two dev pools, two seeds, 40 questions; two hostile responses."""
    return SyntheticSpec(n_questions=N_QUESTIONS, special={
        f"{HOSTILE_MODEL}|{HOSTILE_TASK}|{HOSTILE_DOC}": SCRIPT_RESPONSE,
        f"{HOSTILE_MODEL}|aime24_en|aime24-0001": TEXTAREA_RESPONSE,
    })


CODE_ANSWER = "def f(x):\n    return '</pre><script>window.__pwned = 4</script>'\n"


def small_run():
    """(samples DataFrame, RunMeta) of the small synthetic run; one extracted answer is multi-line code."""
    df = synthetic_samples(small_spec())
    hit = (df["model"] == HOSTILE_MODEL) & (df["task"] == HOSTILE_TASK) & (df["doc_id"] == HOSTILE_DOC) & (df["seed"] == 0)
    df.loc[hit, "extracted"] = CODE_ANSWER
    return df, synthetic_meta(df)
