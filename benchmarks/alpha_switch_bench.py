"""Per-α switch time on vLLM: in-place weight update vs starting an engine on a materialized variant.

Anchor (measured in the same run): the time until a fresh vLLM engine on a materialized
α-variant folder is ready to generate (what `--materialize` costs per α). Candidate: the
in-place switch in a live engine (`VLLMBackend.load_weights`), both with the variant tensors
already computed ("load only") and including computing target + α·(post − pre) from the three
checkpoints ("compute + load"). Every in-place switch is checked to give the same greedy
generations as the fresh engine on the materialized folder. Goal: in-place ≥ 10× faster.

Usage (CPU; keeps the KV cache small):
    VLLM_CPU_KVCACHE_SPACE=1 python benchmarks/alpha_switch_bench.py --out /tmp/bench \\
        [--hidden-size 512 --layers 4 --alphas 0.25,0.5,1.0]
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PROMPTS = ["What is 12 + 30?", "りんごが3個あります。答えは?"]
ENGINE = {"dtype": "bfloat16", "max_model_len": 256, "gpu_memory_utilization": 0.3}


def _greedy(lm) -> list[str]:
    from lm_eval.api.instance import Instance

    kw = {"until": ["<|im_end|>"], "max_gen_toks": 16, "do_sample": False}
    ctxs = [lm.apply_chat_template([{"role": "user", "content": p}]) for p in PROMPTS]
    return lm.generate_until([Instance("generate_until", {}, (c, kw), i) for i, c in enumerate(ctxs)],
                             disable_tqdm=True)


def child_fresh_engine(folder: str) -> None:
    """Child process: start an engine on `folder`, print ready time and greedy outputs as JSON."""
    from rv_eval.backends.vllm import VLLMBackend

    t0 = time.perf_counter()
    lm = VLLMBackend(folder, **ENGINE)
    ready = time.perf_counter() - t0
    print("RESULT " + json.dumps({"ready_s": ready, "greedy": _greedy(lm)}, ensure_ascii=False), flush=True)


def _fresh_engine(folder: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(folder)], capture_output=True, text=True,
                          cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return {**json.loads(line[len("RESULT "):]), "process_wall_s": wall}


def _build(out: Path, hidden: int, layers: int, alphas: list[float]) -> tuple[Path, dict[float, Path]]:
    from safetensors.torch import save_file
    from vllm_engine_checks import variant_tensors

    from rv_eval.tinymodels import TinySpec, build_family

    spec = TinySpec(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // 64,
                    num_key_value_heads=max(1, hidden // 256), intermediate_size=3 * hidden)
    fam = build_family(out / "family", spec)
    folders = {}
    for a in alphas:
        d = out / f"alpha_{a:g}"
        d.mkdir(parents=True, exist_ok=True)
        save_file(dict(variant_tensors(out / "family", a)), d / "model.safetensors", metadata={"format": "pt"})
        for f in fam["target"].iterdir():
            if not f.name.endswith(".safetensors"):
                (d / f.name).write_bytes(f.read_bytes())
        folders[a] = d
    return out / "family", folders


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/rv_alpha_switch_bench"))
    ap.add_argument("--hidden-size", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--alphas", default="0.25,0.5,1.0")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_fresh_engine(args.child)

    from vllm_engine_checks import variant_tensors

    from rv_eval.backends.vllm import VLLMBackend

    alphas = [float(a) for a in args.alphas.split(",")]
    family, folders = _build(args.out, args.hidden_size, args.layers, alphas)
    fresh = {a: _fresh_engine(folders[a]) for a in alphas[:1]}  # anchor: one fresh start
    lm = VLLMBackend(str(family / "target"), **ENGINE)
    inplace = []
    for a in alphas:
        t0 = time.perf_counter()
        tensors = variant_tensors(family, a)
        compute = time.perf_counter() - t0
        stats = lm.load_weights(tensors)
        row = {"alpha": a, "compute_s": compute, "load_s": stats["seconds"],
               "worker_load_s": stats["worker_load_seconds"], "bytes": stats["bytes"],
               "compute_plus_load_s": compute + stats["seconds"]}
        if a in fresh:
            row["greedy_equal_to_fresh"] = _greedy(lm) == fresh[a]["greedy"]
        inplace.append(row)
    anchor = fresh[alphas[0]]["ready_s"]
    worst = max(r["compute_plus_load_s"] for r in inplace)
    print(json.dumps({
        "backend": "vllm",
        "model": {"hidden_size": args.hidden_size, "layers": args.layers, "bytes": inplace[0]["bytes"]},
        "anchor_fresh_engine_ready_s": anchor,
        "anchor_process_wall_s": fresh[alphas[0]]["process_wall_s"],
        "inplace": inplace,
        "speedup_load_only": anchor / max(r["load_s"] for r in inplace),
        "speedup_compute_plus_load": anchor / worst,
        "goal": ">= 10x",
        "goal_met": anchor / worst >= 10,
    }, indent=1))


if __name__ == "__main__":
    main()
