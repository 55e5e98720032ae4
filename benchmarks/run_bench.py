"""Runner speed against its anchors, measured in the same process run; prints JSON.

1. harness overhead: `rv-eval run` (grid runner: fingerprints, store, grading) vs plain
   `lm_eval.simple_evaluate` on the same tiny model, task, limit and greedy settings
   (goal: ratio <= 1.1).
2. per-α switch (HF backend): setting θ_target + α·v in place (`load_weights(stream_variant(...))`)
   vs (a) loading an already materialized variant into a fresh HFLM and (b) writing the variant
   with `merge_variants` and then loading it (goal: reload / in-place >= 10). Model size for this
   part: --hidden / --layers (the overhead part always uses the 2-layer tiny model).

    python benchmarks/run_bench.py [--limit 8] [--max-gen-toks 32] [--repeat 3] [--hidden 512 --layers 8]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TASK = "demo_en"


def _timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_overhead(family: dict[str, Path], root: Path, limit: int, max_gen: int, repeat: int) -> dict:
    """Median wall time of plain lm-eval vs the grid runner for one model × task × seed."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from rv_eval.grid import parse_grid
    from rv_eval.paths import TASKS_DIR
    from rv_eval.runner import run_grid

    def plain() -> None:
        simple_evaluate(model="hf", model_args=f"pretrained={family['target']},dtype=float32,device=cpu,batch_size=16",
                        tasks=[TASK], limit=limit, apply_chat_template=True, log_samples=True,
                        gen_kwargs=f"max_gen_toks={max_gen},do_sample=False,temperature=0",
                        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False))

    runs = iter(range(1000))

    def ours() -> None:
        text = (f"name: bench\nmodels: [{{name: t, path: {family['target']}}}]\n"
                f"tasks: [{{name: {TASK}, limit: {limit}}}]\nseeds: [0]\n"
                f"sampling: {{temperature: 0, max_gen_toks: {max_gen}, samples: 1}}\n"
                "backend: {name: hf, dtype: float32, batch_size: 16}\n")
        run_grid(parse_grid(text, out=root / f"out{next(runs)}"), progress=False)

    plain()  # warm-up: imports, dataset cache
    ours()
    pairs = [(_timed(plain, 1), _timed(ours, 1)) for _ in range(repeat)]  # interleaved: shared-CPU noise hits both
    t_plain, t_ours = statistics.median(p for p, _ in pairs), statistics.median(o for _, o in pairs)
    return {"plain_lm_eval_s": round(t_plain, 3), "rv_eval_run_s": round(t_ours, 3),
            "ratio": round(t_ours / t_plain, 3),
            "ratio_per_pair": [round(o / p, 3) for p, o in pairs], "goal": "<= 1.1"}


def bench_alpha_switch(family: dict[str, Path], root: Path, repeat: int) -> dict:
    """Median time to switch α: in place vs loading a materialized variant (and vs merge + load)."""
    from rv_eval.backends.hf import RVHFLM
    from rv_eval.executors.engine import set_variant_weights
    from rv_eval.merge import MergeSpec, merge_variants

    runs = iter(range(1000))

    def spec(out: Path) -> MergeSpec:
        return MergeSpec(pre=str(family["pre"]), post=str(family["post"]), target=str(family["target"]),
                         alphas=(0.5,), out=out)

    path = merge_variants(spec(root / "variants"))[0.5]
    lm = RVHFLM(pretrained=str(family["target"]), dtype="float32")
    t_in_place = _timed(lambda: set_variant_weights(lm, spec(root / "variants"), 0.5), repeat)
    t_reload = _timed(lambda: RVHFLM(pretrained=str(path), dtype="float32"), repeat)
    t_merge_reload = _timed(lambda: RVHFLM(pretrained=str(merge_variants(spec(root / f"v{next(runs)}"))[0.5]),
                                           dtype="float32"), repeat)
    n_params = sum(p.numel() for p in lm.model.parameters())
    return {"n_params": n_params, "in_place_s": round(t_in_place, 4), "reload_s": round(t_reload, 4),
            "merge_and_reload_s": round(t_merge_reload, 4),
            "speedup_vs_reload": round(t_reload / t_in_place, 2),
            "speedup_vs_merge_and_reload": round(t_merge_reload / t_in_place, 2), "goal": ">= 10"}


def main() -> None:
    """Build a tiny family, run both measurements, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--max-gen-toks", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=128, help="hidden size of the α-switch model (multiple of 64)")
    ap.add_argument("--layers", type=int, default=2, help="layers of the α-switch model")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    from rv_eval.tinymodels import TinySpec, build_family

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        family = build_family(root / "family")
        big = TinySpec(hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.hidden // 64,
                       num_key_value_heads=max(1, args.hidden // 128), intermediate_size=2 * args.hidden)
        switch_family = family if big == TinySpec() else build_family(root / "big", spec=big)
        out = {"task": TASK, "limit": args.limit, "max_gen_toks": args.max_gen_toks, "repeat": args.repeat,
               "overhead": bench_overhead(family, root, args.limit, args.max_gen_toks, args.repeat),
               "alpha_switch_hf": bench_alpha_switch(switch_family, root, args.repeat)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
