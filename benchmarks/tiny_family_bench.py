"""Cost and effect of the trained tiny family (`rv_eval.tinymodels.build_trained_family`).

Anchor (same run): `build_family` (random weights + noise, no training). Candidate: the trained
family, CPU seconds and wall seconds, and the ratio to the anchor. Goal: ≤ 30 s of CPU.
Effect: share of greedy answers with \\boxed{} on held-out generated Japanese problems for
target, post and θ = target + α·(post − pre) at each α (computed in memory, rounded to bf16).

Usage:
    python benchmarks/tiny_family_bench.py --out /tmp/famb [--questions 24 --alphas 0,0.5,1]
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn, *args, **kw) -> tuple[object, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args, **kw)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _load(folder: Path):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)


def _variant(fam: dict[str, Path], alpha: float):
    import torch

    model, pre, post = _load(fam["target"]), _load(fam["pre"]).state_dict(), _load(fam["post"]).state_dict()
    with torch.no_grad():
        for k, t in model.state_dict().items():
            t.copy_((t + alpha * (post[k] - pre[k])).to(torch.bfloat16).float())
    return model


def _boxed_rate(model, tok, questions: list[str]) -> float:
    import torch

    from rv_eval.tinymodels import chat_prompt, demo_prompt

    enc = tok([chat_prompt(demo_prompt(q, "ja")) for q in questions], return_tensors="pt", padding=True,
              add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=40, do_sample=False, pad_token_id=tok.pad_token_id)
    answers = tok.batch_decode(out[:, enc.input_ids.shape[1]:], skip_special_tokens=True)
    return sum("\\boxed{" in a for a in answers) / len(answers)


def main() -> None:
    """Measure and print the JSON report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=24)
    ap.add_argument("--alphas", default="0,0.5,1,1.5")
    a = ap.parse_args()
    from transformers import AutoTokenizer

    from rv_eval.tinymodels import build_family, build_trained_family
    from rv_eval.wordproblems import generate

    _, anchor_cpu, anchor_wall = _timed(build_family, a.out / "random")
    fam, cpu, wall = _timed(build_trained_family, a.out / "trained")
    tok = AutoTokenizer.from_pretrained(fam["target"], padding_side="left")
    questions = [p.ja for p in generate(a.questions, seed=10_000)]
    alphas = [float(x) for x in a.alphas.split(",")]
    rates = {f"alpha={x:g}": _boxed_rate(_variant(fam, x), tok, questions) for x in alphas}
    rates["post"] = _boxed_rate(_load(fam["post"]), tok, questions)
    print(json.dumps({
        "anchor_build_family_cpu_s": round(anchor_cpu, 2), "anchor_build_family_wall_s": round(anchor_wall, 2),
        "trained_cpu_s": round(cpu, 2), "trained_wall_s": round(wall, 2),
        "trained_over_anchor_cpu": round(cpu / anchor_cpu, 1), "goal_cpu_s": 30, "meets_goal": cpu <= 30,
        "boxed_rate_ja_heldout": rates, "questions": a.questions,
    }, indent=2))


if __name__ == "__main__":
    main()
