"""Runner speed against its anchors, measured in the same process run; prints JSON.

1. harness overhead: `rv-eval run` (grid runner: fingerprints, store, grading) vs plain
   `lm_eval.simple_evaluate` on the same tiny model, task, limit and greedy settings
   (goal: ratio <= 1.1).
2. per-α switch (HF backend): setting θ_target + α·v in place (`load_weights(stream_variant(...))`)
   vs loading a materialized variant from disk into a fresh HFLM (goal: reload / in-place >= 10).

    python benchmarks/run_bench.py [--limit 8] [--max-gen-toks 32] [--repeat 3]
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
    t_plain, t_ours = _timed(plain, repeat), _timed(ours, repeat)
    return {"plain_lm_eval_s": round(t_plain, 3), "rv_eval_run_s": round(t_ours, 3),
            "ratio": round(t_ours / t_plain, 3), "goal": "<= 1.1"}


def bench_alpha_switch(family: dict[str, Path], root: Path, repeat: int) -> dict:
    """Median time to switch α: in place vs loading a materialized variant."""
    from rv_eval.backends.hf import RVHFLM
    from rv_eval.merge import MergeSpec, merge_variants, stream_variant

    spec = MergeSpec(pre=str(family["pre"]), post=str(family["post"]), target=str(family["target"]),
                     alphas=(0.5,), out=root / "variants")
    path = merge_variants(spec)[0.5]
    lm = RVHFLM(pretrained=str(family["target"]), dtype="float32")
    t_in_place = _timed(lambda: lm.load_weights(stream_variant(spec, 0.5)), repeat)
    t_reload = _timed(lambda: RVHFLM(pretrained=str(path), dtype="float32"), repeat)
    return {"in_place_s": round(t_in_place, 4), "reload_s": round(t_reload, 4),
            "speedup": round(t_reload / t_in_place, 2), "goal": ">= 10"}


def main() -> None:
    """Build a tiny family, run both measurements, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--max-gen-toks", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    from rv_eval.tinymodels import build_family

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        family = build_family(root / "family")
        out = {"task": TASK, "limit": args.limit, "max_gen_toks": args.max_gen_toks, "repeat": args.repeat,
               "overhead": bench_overhead(family, root, args.limit, args.max_gen_toks, args.repeat),
               "alpha_switch_hf": bench_alpha_switch(family, root, args.repeat)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
