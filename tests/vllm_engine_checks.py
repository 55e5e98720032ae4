"""Engine-side checks for tests/test_vllm_backend.py, run as a script in a subprocess.

vLLM needs the `if __name__ == "__main__":` guard (multiprocessing spawn) and an engine start
costs ~45 s, so ONE engine runs every check here and writes what it saw to a JSON file that
the tests assert on.

Usage: python tests/vllm_engine_checks.py FAMILY_DIR ALPHA_DIR TASK_DIR OUT.json
(FAMILY_DIR holds pre/post/target; ALPHA_DIR the variant materialized by the test, α = ALPHA.)
"""

from __future__ import annotations

import glob
import json
import sys
import time
from pathlib import Path

import torch

ALPHA = 0.5
PROMPTS = ["What is 12 + 30?", "りんごが3個あります。答えは?", "Let's think step by step."]


def read_checkpoint(folder: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a (possibly sharded) safetensors checkpoint, by HF name."""
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for f in sorted(glob.glob(str(Path(folder) / "*.safetensors"))):
        tensors.update(load_file(f))
    return tensors


def variant_tensors(family: str | Path, alpha: float) -> list[tuple[str, torch.Tensor]]:
    """Reference α-variant: target + α·(post − pre) in float32, rounded to bfloat16."""
    pre, post, target = (read_checkpoint(Path(family) / r) for r in ("pre", "post", "target"))
    return [
        (k, (t.float() + alpha * (post[k].float() - pre[k].float())).to(torch.bfloat16))
        for k, t in target.items()
    ]


def _greedy(lm, contexts: list[str]) -> list[str]:
    from lm_eval.api.instance import Instance

    kw = {"until": ["<|im_end|>"], "max_gen_toks": 16, "do_sample": False}
    return lm.generate_until([Instance("generate_until", {}, (c, kw), i) for i, c in enumerate(contexts)])


def _sampled(lm, context: str, k: int, **extra) -> tuple[list[str], list]:
    from lm_eval.api.instance import Instance

    kw = {"until": ["<|im_end|>"], "max_gen_toks": 12, "do_sample": True, "temperature": 1.0, **extra}
    out = lm.generate_until([Instance("generate_until", {}, (context, kw), 0) for _ in range(k)])
    return out, list(lm.generation_log)


def _count_engine_calls(lm) -> list[list[int]]:
    """Wrap lm.llm.generate to record, per call, the `n` of each request it receives."""
    calls: list[list[int]] = []
    original = lm.llm.generate

    def generate(prompts, params, **kw):
        calls.append([p.n for p in params])
        return original(prompts, params, **kw)

    lm.llm.generate = generate
    return calls


def _lm_eval_repeats(lm, task_dir: str) -> dict:
    """Run a real lm-eval task with `repeats: 3` through the backend."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    calls = _count_engine_calls(lm)
    res = simple_evaluate(model=lm, tasks=["rv_tiny_repeats"], task_manager=TaskManager(include_path=task_dir),
                          log_samples=True, apply_chat_template=True)
    samples = res["samples"]["rv_tiny_repeats"]
    return {"calls": calls, "resps": [s["resps"][0] for s in samples],
            "prompts": [json.dumps(s["arguments"], default=str, ensure_ascii=False) for s in samples]}


def main(family: str, alpha_dir: str, task_dir: str, out_path: str) -> None:
    """Start one engine on the materialized variant and run every check."""
    from rv_eval.backends import create_lm
    from rv_eval.errors import UserError

    res: dict = {}
    t0 = time.perf_counter()
    lm = create_lm("vllm", alpha_dir, {"dtype": "bfloat16", "seed": 7, "max_model_len": 256,
                                       "enforce_eager": True})
    res["engine_start_s"] = time.perf_counter() - t0
    contexts = [lm.apply_chat_template([{"role": "user", "content": p}]) for p in PROMPTS]
    res["context0"] = contexts[0]
    res["fresh"] = _greedy(lm, contexts)

    calls = _count_engine_calls(lm)
    res["sampled_a"], log_a = _sampled(lm, contexts[0], 4)
    res["sampled_calls"] = list(calls)
    res["sample_idx"] = [r.sample_idx for r in log_a]
    res["n_gen_tokens"] = [r.n_gen_tokens for r in log_a]
    res["n_prompt_tokens"] = [r.n_prompt_tokens for r in log_a]
    res["sampled_b"], _ = _sampled(lm, contexts[0], 4)
    lm.set_seed(8)
    res["sampled_seed8"], _ = _sampled(lm, contexts[0], 4)
    lm.set_seed(7)
    res["sampled_kw_seed8"], _ = _sampled(lm, contexts[0], 4, seed=8)  # the runner's way
    lm.llm.generate = type(lm.llm).generate.__get__(lm.llm)

    res["load_target"] = lm.load_weights(read_checkpoint(Path(family) / "target").items())
    res["target"] = _greedy(lm, contexts)
    res["load_alpha"] = lm.load_weights(variant_tensors(family, ALPHA))
    res["n_checkpoint_tensors"] = len(read_checkpoint(alpha_dir))
    res["inplace"] = _greedy(lm, contexts)
    lm.load_weights(variant_tensors(family, 1.0))
    res["alpha1"] = _greedy(lm, contexts)
    lm.load_weights(variant_tensors(family, ALPHA))
    res["inplace_again"] = _greedy(lm, contexts)

    res["loglik"] = lm.loglikelihood(
        [__import__("lm_eval.api.instance", fromlist=["Instance"]).Instance(
            "loglikelihood", {}, (contexts[0], res["fresh"][0]), 0)])

    res["repeats"] = _lm_eval_repeats(lm, task_dir)

    partial = variant_tensors(family, ALPHA)[:-1]
    try:
        lm.load_weights(partial)
        res["partial_error"] = None
    except UserError as e:
        res["partial_error"] = str(e)
    lm.close()
    res["closed"] = lm.llm is None
    Path(out_path).write_text(json.dumps(res, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:5])
