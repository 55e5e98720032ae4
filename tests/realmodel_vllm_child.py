"""Child process of tests/test_realmodel_vllm.py (vLLM needs a `__main__` guard): HF and vLLM on the
real model, one engine of each. Prints one line `RESULT {json}` on stdout; vLLM logs go to stderr.

usage: python tests/realmodel_vllm_child.py PRE POST WORK
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PARITY_TASKS = (("gsm8k_en", 8), ("demo_ja", 4), ("demo_en", 4))
MAX_GEN_TOKS = 48


def grid(pre: Path, post: Path, out: Path):
    from rv_eval.grid import parse_grid

    tasks = "\n".join(f"  - {{name: {t}, limit: {n}}}" for t, n in PARITY_TASKS)
    return parse_grid(f"name: parity\nout: {out}\nmodels:\n  - vector: {{name: v, pre: {pre}, post: {post}, "
                      f"target: {pre}, alphas: [0, 1]}}\ntasks:\n{tasks}\nseeds: [0]\n"
                      f"sampling: {{temperature: 0, max_gen_toks: {MAX_GEN_TOKS}}}\n"
                      "backend: {name: hf, dtype: float32}\n")


def prompt_ids(lm, g, catalog, names: list[str], hf: bool) -> dict[str, list[int]]:
    """Token ids each backend sends for the first question of every task (its own chat template)."""
    from rv_eval.runner import _build_requests

    out = {}
    for name in names:
        reqs = _build_requests(lm, g, catalog.get(name, 1))
        ctx = reqs[0].args[0]
        if hf:
            ids, mask = lm.tok_batch_encode([ctx])
            assert bool(mask.all()), "one string needs no padding"
            out[name] = ids[0].tolist()
        else:
            out[name] = lm.tok_encode(ctx)
    return out


def generate(lm, g, catalog) -> list[str]:
    """Greedy responses to the parity questions, in task and question order (`catalog` holds the
    parity tasks at their limits, not the one-question tasks of `prompt_ids`)."""
    from rv_eval.runner import _build_requests

    reqs = [r for t, n in PARITY_TASKS for r in _build_requests(lm, g, catalog.get(t, n))]
    return lm.generate_until(reqs, disable_tqdm=True)


def tie_report(lm) -> dict:
    """The engine's output layer: one tensor with the input embedding? and both float64 sums."""
    report = lm.llm.collective_rpc("rv_weight_report")[0]
    emb, head = "model.embed_tokens.weight", "lm_head.weight"
    return {"tied": any(emb in g and head in g for g in report["tied"]), "embed_sum": report["sums"][emb],
            "head_sum": report["sums"][head]}


def main(pre: Path, post: Path, work: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    from rv_eval.backends import create_lm
    from rv_eval.executors.engine import close_lm as _close
    from rv_eval.executors.engine import merge_spec, set_variant_weights
    from rv_eval.merge import merge_variants
    from rv_eval.runner import TaskCatalog
    from rv_eval.tasks import list_tasks, task_info

    torch.set_num_threads(1)
    g = grid(pre, post, work / "out")
    catalog, questions = TaskCatalog(), TaskCatalog()
    names = [n for n in list_tasks() if not task_info(n).is_group]
    spec = merge_spec(g.vectors[0], [1.0], work / "variants")
    embed1 = load_file(merge_variants(spec)[1.0] / "model.safetensors")["model.embed_tokens.weight"]

    hf = create_lm("hf", str(pre), {"dtype": "float32", "threads": 1, "device": "cpu", "batch_size": 16})
    hf_ids = prompt_ids(hf, g, catalog, names, hf=True)
    hf0 = generate(hf, g, questions)
    set_variant_weights(hf, spec, 1.0)
    hf1 = generate(hf, g, questions)
    del hf

    vl = create_lm("vllm", str(pre), {"dtype": "float32", "max_model_len": 1024, "enforce_eager": True,
                                      "gpu_memory_utilization": 0.3})
    try:
        vl_ids = prompt_ids(vl, g, catalog, names, hf=False)
        fresh = generate(vl, g, questions)
        set_variant_weights(vl, spec, 1.0)
        tie = tie_report(vl)
        vl1 = generate(vl, g, questions)
        set_variant_weights(vl, spec, 0.0)
        vl0 = generate(vl, g, questions)
    finally:
        _close(vl)
    return {
        "n_tasks": len(names),
        "prompt_id_mismatches": sorted(n for n in names if hf_ids[n] != vl_ids[n]),
        "tie": tie, "variant_embed_sum": float(embed1.double().sum()),
        "restored_equals_fresh": vl0 == fresh,
        "vector_changes_vllm": vl1 != fresh,
        "n_questions": len(fresh),
        "identical_alpha0": sum(a == b for a, b in zip(hf0, fresh, strict=True)),
        "identical_alpha1": sum(a == b for a, b in zip(hf1, vl1, strict=True)),
        "differing": [{"alpha": 0 if i < len(hf0) else 1, "common_prefix_chars": _common(a, b), "hf": a, "vllm": b}
                      for i, (a, b) in enumerate(zip(hf0 + hf1, fresh + vl1, strict=True)) if a != b],
    }


def _common(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
