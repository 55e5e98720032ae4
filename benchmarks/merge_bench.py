"""Speed and memory of `rv-eval merge` against the I/O floor and mergekit 0.1.5 (prints JSON).

Builds synthetic sharded bf16 Qwen2-shaped checkpoints (pre, post, target; each sharded
differently), then in one run measures:
  floor     read the three inputs once and write N outputs as plain file copies (page cache warm)
  rv-eval   `python -m rv_eval merge` for N α in one process (peak RSS of that process)
  mergekit  `mergekit-yaml` task_arithmetic (base_model = target, post weight α, pre weight −α,
            normalize false, dtype float32, out_dtype bfloat16), one run per α
and the agreement of the two (max abs difference, fraction of equal elements; dyadic α must be
bit-identical).

  python benchmarks/merge_bench.py --size-gb 0.2                         # quick, rv-eval only
  python benchmarks/merge_bench.py --mergekit-python /work/mk-venv/bin/python   # default 1.5 GB
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch
from safetensors import safe_open

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rv_eval.merge.io.writer import OutTensor, ShardedWriter  # noqa: E402

H, HEADS, KV_HEADS, INTER = 2048, 16, 2, 5504


def qwen2_layout(size_gb: float) -> tuple[dict, list[OutTensor]]:
    """A Qwen2 config and its tensor list, with the layer count chosen to reach about `size_gb`."""
    vocab = 32000 if size_gb >= 1 else 8000
    kv = H // HEADS * KV_HEADS
    layer = [("self_attn.q_proj.weight", (H, H)), ("self_attn.q_proj.bias", (H,)),
             ("self_attn.k_proj.weight", (kv, H)), ("self_attn.k_proj.bias", (kv,)),
             ("self_attn.v_proj.weight", (kv, H)), ("self_attn.v_proj.bias", (kv,)),
             ("self_attn.o_proj.weight", (H, H)), ("mlp.gate_proj.weight", (INTER, H)),
             ("mlp.up_proj.weight", (INTER, H)), ("mlp.down_proj.weight", (H, INTER)),
             ("input_layernorm.weight", (H,)), ("post_attention_layernorm.weight", (H,))]
    layer_bytes = 2 * sum(math.prod(s) for _, s in layer)
    n_layers = max(1, round((size_gb * 1e9 - 2 * 2 * vocab * H) / layer_bytes))
    tensors = [OutTensor("model.embed_tokens.weight", (vocab, H), torch.bfloat16)]
    for i in range(n_layers):
        tensors += [OutTensor(f"model.layers.{i}.{n}", s, torch.bfloat16) for n, s in layer]
    tensors += [OutTensor("model.norm.weight", (H,), torch.bfloat16),
                OutTensor("lm_head.weight", (vocab, H), torch.bfloat16)]
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": H,
              "intermediate_size": INTER, "num_hidden_layers": n_layers, "num_attention_heads": HEADS,
              "num_key_value_heads": KV_HEADS, "vocab_size": vocab, "max_position_embeddings": 4096,
              "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
              "torch_dtype": "bfloat16", "hidden_act": "silu"}
    return config, tensors


def build_checkpoints(root: Path, size_gb: float) -> dict[str, Path]:
    """pre ~ N(0, 0.02); post, target = pre + N(0, 0.002) (different seeds); shard sizes differ."""
    config, tensors = qwen2_layout(size_gb)
    shard_bytes = {"pre": int(0.30e9), "post": int(0.45e9), "target": int(0.20e9)}
    writers = {}
    for role, shard in shard_bytes.items():
        folder = root / role
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        writers[role] = ShardedWriter(folder, tensors, shard)
    gens = {r: torch.Generator().manual_seed(s) for r, s in (("pre", 0), ("post", 1), ("target", 2))}
    for t in tensors:
        n = math.prod(t.shape)
        for start in range(0, n, 1 << 24):
            m = min(1 << 24, n - start)
            pre = torch.randn(m, generator=gens["pre"]) * 0.02
            writers["pre"].write(pre.to(torch.bfloat16))
            for role in ("post", "target"):
                writers[role].write((pre + torch.randn(m, generator=gens[role]) * 0.002).to(torch.bfloat16))
    for w in writers.values():
        w.close()
    return {r: root / r for r in shard_bytes}


def files_of(folder: Path) -> list[Path]:
    """The safetensors files of a model folder."""
    return sorted(folder.glob("*.safetensors"))


def warm(paths: list[Path]) -> None:
    """Read files once so the page cache holds them."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def io_floor(models: dict[str, Path], out: Path, n: int) -> float:
    """Read every input byte once; write the target's bytes to N output folders (plain copies)."""
    buf = bytearray(1 << 24)
    view = memoryview(buf)
    t0 = time.perf_counter()
    for role, folder in models.items():
        for f in files_of(folder):
            outs = []
            if role == "target":
                for i in range(n):
                    (out / f"copy{i}").mkdir(parents=True, exist_ok=True)
                    outs.append(open(out / f"copy{i}" / f.name, "wb"))  # noqa: SIM115
            with open(f, "rb") as src:
                while k := src.readinto(buf):
                    for o in outs:
                        o.write(view[:k])
            for o in outs:
                o.close()
    seconds = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in MB of that process tree's largest process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def mergekit_config(models: dict[str, Path], alpha: float) -> str:
    """The mergekit task_arithmetic YAML for one α."""
    return (f"merge_method: task_arithmetic\nbase_model: {models['target']}\nmodels:\n"
            f"  - model: {models['post']}\n    parameters:\n      weight: {alpha!r}\n"
            f"  - model: {models['pre']}\n    parameters:\n      weight: {-alpha!r}\n"
            "parameters:\n  normalize: false\ndtype: float32\nout_dtype: bfloat16\n")


def load_all(folder: Path) -> dict[str, tuple[Path, str]]:
    """Tensor name -> (file, name) for a model folder."""
    out = {}
    for f in files_of(folder):
        with safe_open(f, "pt") as g:
            out.update({k: (f, k) for k in g.keys()})  # noqa: SIM118
    return out


def agreement(a: Path, b: Path, models: dict[str, Path], alpha: float) -> dict:
    """Max abs difference and fraction of bit-equal elements between rv-eval (a) and mergekit (b).

    Elements that differ are recomputed with mergekit's own formula, target + (α·(post − target) +
    (−α)·(pre − target)) in float32, to show where the difference comes from (its intermediate
    differences round in float32 when the values' magnitudes are far apart; rv-eval's post − pre
    does not).
    """
    ta, tb = load_all(a), load_all(b)
    if set(ta) != set(tb):
        return {"error": f"tensor names differ: {sorted(set(ta) ^ set(tb))[:5]}"}
    inputs = {r: load_all(p) for r, p in models.items()}
    max_diff, equal, total, explained = 0.0, 0, 0, 0
    for name in ta:
        x, y = get(ta[name]), get(tb[name])
        max_diff = max(max_diff, float((x.float() - y.float()).abs().max()) if x.numel() else 0.0)
        same = x.view(torch.int16) == y.view(torch.int16)
        equal += int(same.sum())
        total += x.numel()
        if not bool(same.all()):
            idx = (~same).flatten().nonzero().flatten()
            pre, post, tgt = (get(inputs[r][name]).flatten()[idx].float() for r in ("pre", "post", "target"))
            mk = (tgt + (alpha * (post - tgt) + (-alpha) * (pre - tgt))).to(torch.bfloat16)
            explained += int((mk.view(torch.int16) == y.flatten()[idx].view(torch.int16)).sum())
    return {"max_abs_diff": max_diff, "equal_frac": equal / total, "differing_elements": total - equal,
            "differences_reproduced_by_mergekit_formula": explained}


def get(where: tuple[Path, str]) -> torch.Tensor:
    """Load one tensor."""
    with safe_open(where[0], "pt") as f:
        return f.get_tensor(where[1])


def is_dyadic(alpha: float) -> bool:
    """Whether α is a dyadic fraction (its products are exact in binary floating point)."""
    den = Fraction(alpha).limit_denominator(1 << 20).denominator
    return den & (den - 1) == 0


def main() -> None:
    """Parse options, run the benchmark, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gb", type=float, default=1.5, help="size of each input checkpoint (default 1.5)")
    ap.add_argument("--alphas", default="0.25,0.5,1,2", help="α values (default 4 dyadic ones)")
    ap.add_argument("--mergekit-python", help="python of a venv with mergekit 0.1.5 (skip mergekit if absent)")
    ap.add_argument("--workdir", help="where to build checkpoints (default: a temp folder, removed at the end)")
    ap.add_argument("--chunk-elems", type=int, default=None, help="pass --chunk-elems to rv-eval merge")
    args = ap.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="merge_bench_"))
    try:
        result = run(work, args.size_gb, alphas, args.mergekit_python, args.chunk_elems)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


def run(work: Path, size_gb: float, alphas: list[float], mk_python: str | None, chunk_elems: int | None) -> dict:
    """Build inputs, measure floor, rv-eval and (optionally) mergekit."""
    t0 = time.perf_counter()
    models = build_checkpoints(work / "inputs", size_gb)
    sizes = {r: sum(f.stat().st_size for f in files_of(p)) / 1e9 for r, p in models.items()}
    build_s = time.perf_counter() - t0
    warm([f for p in models.values() for f in files_of(p)])
    floor = io_floor(models, work / "floor", len(alphas))
    cmd = [sys.executable, "-m", "rv_eval", "merge", "--pre", str(models["pre"]), "--post", str(models["post"]),
           "--target", str(models["target"]), "--alpha", ",".join(map(str, alphas)), "--out", str(work / "rv")]
    if chunk_elems:
        cmd += ["--chunk-elems", str(chunk_elems)]
    rv_s, rv_rss = timed(cmd)
    result: dict = {"input_gb": sizes, "alphas": alphas, "build_s": round(build_s, 1),
                    "floor_s": round(floor, 2),
                    "rv_eval": {"seconds": round(rv_s, 2), "peak_rss_mb": round(rv_rss)},
                    "ratios": {"rv_eval_over_floor": round(rv_s / floor, 2)}}
    if mk_python:
        result["mergekit"] = run_mergekit(work, models, alphas, mk_python)
        result["ratios"]["mergekit_over_rv_eval"] = round(result["mergekit"]["seconds_total"] / rv_s, 2)
    result["goals"] = {"within_1.5x_floor": rv_s <= 1.5 * floor, "peak_rss_under_2gb": rv_rss < 2048}
    if mk_python:
        agree = result["mergekit"]["agreement"]
        result["goals"]["8x_faster_than_mergekit"] = result["ratios"]["mergekit_over_rv_eval"] >= 8
        result["goals"]["dyadic_alphas_bit_identical"] = all(
            a["equal_frac"] == 1.0 for k, a in agree.items() if is_dyadic(float(k)))
    return result


def run_mergekit(work: Path, models: dict[str, Path], alphas: list[float], python: str) -> dict:
    """One mergekit run per α, each compared with rv-eval's output and then removed."""
    exe = str(Path(python).parent / "mergekit-yaml")
    per_alpha, agree, peak = [], {}, 0.0
    for alpha in alphas:
        cfg = work / f"mk_{alpha:g}.yaml"
        cfg.write_text(mergekit_config(models, alpha))
        out = work / f"mk_{alpha:g}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        seconds, rss = timed([exe, str(cfg), str(out), "--quiet"], env=env)
        per_alpha.append(round(seconds, 2))
        peak = max(peak, rss)
        agree[format(alpha, "g")] = agreement(work / "rv" / f"alpha_{alpha:g}", out, models, alpha)
        shutil.rmtree(out, ignore_errors=True)
    return {"seconds_total": round(sum(per_alpha), 2), "seconds_per_alpha": per_alpha,
            "peak_rss_mb": round(peak), "agreement": agree}


if __name__ == "__main__":
    main()
