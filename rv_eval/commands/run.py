"""`rv-eval run`: evaluate every model × task × seed of a grid (a YAML file or flags), resumably."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rv-eval run --model-grid examples/tiny_cpu.yaml
  rv-eval run --model-grid grid.yaml --out runs/s1 --shard 0/4      # one job of a 4-way array
  rv-eval run --model-grid grid.yaml --materialize                  # write α-variants, load each
  rv-eval run --model-grid grid.yaml --executor ray --ray-address auto   # engines on a Ray cluster
  rv-eval run --model Qwen/Qwen2.5-7B-Instruct --tasks gsm8k_test_en,mgsm_test_ja --limit 50 \\
      --backend vllm --model_args dtype=bfloat16,max_model_len=8192 --out runs/qwen7b
  rv-eval run --vector s1=pre:models/base,post:models/s1,target:models/ezo --alpha 0,0.5,1 \\
      --tasks aime24_test_ja --seeds 0,1,2 --samples 4 --gen_kwargs temperature=0.6,top_p=0.95,max_gen_toks=32768 \\
      --backend vllm --out runs/s1_ezo
  rv-eval run --model models/m --tasks demo_en --print-grid > grid.yaml   # the equivalent grid file
  rv-eval run --model-grid examples/s1_ezo_ja.yaml --dry-run --tokens-per-s 250   # size and GPU-hours

Without --model-grid the flags build the grid (lm-eval's names: --tasks, --limit, --model_args,
--gen_kwargs, --include_path, --system_instruction, --output_path); the grid is written to
OUT/grid.yaml, so `rv-eval run --model-grid OUT/grid.yaml` repeats the run.
Re-running the same grid skips finished cells; cells whose configuration changed
(sampling, task/prompt/data, model weights, seed) are re-run. Shards write into the
same folder safely; their union is the full grid.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` sub-command."""
    p = subparsers.add_parser(
        "run", help="run a model grid (resumable)", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model-grid", metavar="GRID.yaml", help="grid file (or build the grid with the flags below)")
    p.add_argument("--out", "--output_path", dest="out", help="results folder (default: the grid's `out`)")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (0-based), e.g. 0/4")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--materialize", action="store_true", default=None,
                   help="write α-variant checkpoints and load each (default: α applied in place)")
    g.add_argument("--in-place", dest="materialize", action="store_false",
                   help="apply α in the live engine (the default unless the grid says otherwise)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    d = p.add_argument_group("estimate without running (docs/scale.md)")
    d.add_argument("--dry-run", action="store_true",
                   help="print the grid's size, token budget, GPU-hours and wall time on 1, 8, 64 GPUs; run nothing")
    d.add_argument("--tokens-per-s", metavar="N",
                   help="generated tokens/s per GPU for --dry-run (default: a published figure, where one exists)")
    d.add_argument("--gpu", metavar="NAME", help="GPU model for --dry-run's published-figure lookup, e.g. H100")
    p.add_argument("--unsafe-code-execution", action="store_true",
                   help="grade code answers WITHOUT the bubblewrap sandbox when it cannot run (docs/security.md)")
    p.add_argument("--grade-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="hard grading time limit per response (reason `timeout` past it; default 10)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="where cells run: this process (default) or a Ray cluster (one actor per engine)")
    p.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="Ray cluster to use with --executor ray (default: auto, the cluster of this node)")
    f = p.add_argument_group("a grid from flags (instead of --model-grid)")
    f.add_argument("--model", action="append", default=[], metavar="PATH_OR_HUB_ID",
                   help="a model folder or hub id, optionally NAME=PATH (repeatable)")
    f.add_argument("--vector", action="append", default=[], metavar="NAME=pre:P,post:Q,target:T",
                   help="a reasoning vector post − pre added to target at each --alpha (repeatable)")
    f.add_argument("--alpha", metavar="A,B,...", help="α values of every --vector, e.g. 0,0.5,1")
    f.add_argument("--tasks", metavar="A,B,...", help="task names (`rv-eval tasks` lists them)")
    f.add_argument("--limit", type=int, metavar="N", help="first N questions of each task")
    f.add_argument("--seeds", metavar="S,T,...", help="sampling seeds (default 0)")
    f.add_argument("--samples", type=int, metavar="K", help="samples per question (needs temperature > 0)")
    f.add_argument("--backend", choices=("hf", "vllm"), default="hf", help="generation engine (default hf)")
    f.add_argument("--model_args", metavar="K=V,...", help="backend options, e.g. dtype=bfloat16,threads=2")
    f.add_argument("--gen_kwargs", metavar="K=V,...",
                   help="temperature, top_p, max_gen_toks (or max_new_tokens), do_sample")
    f.add_argument("--include_path", action="append", default=[], metavar="DIR", help="extra task folder")
    f.add_argument("--system_instruction", metavar="TEXT", help="system message of the chat template")
    f.add_argument("--no-chat-template", dest="chat_template", action="store_false",
                   help="send plain prompts (default: the model's chat template)")
    f.add_argument("--name", help="grid name (default: run)")
    f.add_argument("--baseline", metavar="MODEL", help="baseline model name for stats/report (e.g. s1@0)")
    f.add_argument("--print-grid", action="store_true", help="print the grid as YAML and exit (nothing runs)")
    p.set_defaults(func=run)


def _flags(args: argparse.Namespace):
    from rv_eval.grid_flags import RunFlags

    return RunFlags(models=args.model, vectors=args.vector, alpha=args.alpha, tasks=args.tasks, limit=args.limit,
                    seeds=args.seeds, samples=args.samples, backend=args.backend, model_args=args.model_args,
                    gen_kwargs=args.gen_kwargs, include_path=args.include_path,
                    system_instruction=args.system_instruction, chat_template=args.chat_template,
                    name=args.name, baseline=args.baseline, out=args.out)


def run(args: argparse.Namespace) -> int:
    """Check the grid (file or flags) completely, then run it and print what was done."""
    from rv_eval.errors import UserError
    from rv_eval.grid import load_grid, parse_shard
    from rv_eval.grid_flags import grid_from_flags

    flags = _flags(args)
    if args.model_grid and flags.given():
        raise UserError("--model-grid and grid flags (--model, --vector, --tasks, ...) were both given. "
                        "Fix: use one of them (`--print-grid` turns flags into a grid file).")
    if not args.model_grid and not flags.given():
        raise UserError("no grid given. Fix: pass --model-grid GRID.yaml, or --model PATH --tasks a,b "
                        "(see `rv-eval run --help`).")
    shard = parse_shard(args.shard) if args.shard else None
    if (args.tokens_per_s is not None or args.gpu) and not args.dry_run:
        raise UserError("--tokens-per-s and --gpu only apply to an estimate. Fix: add --dry-run or drop them.")
    if args.model_grid:
        if args.print_grid:
            print(load_grid(args.model_grid).text, end="")
            return 0
        grid = load_grid(args.model_grid, out=args.out)
        text = None
    else:
        grid = grid_from_flags(flags)  # every flag and grid problem in one error, before any heavy import
        text = grid.text
        if args.print_grid:
            print(text, end="")
            return 0
    if args.dry_run:
        return _dry_run(grid, args)
    if args.unsafe_code_execution:
        from rv_eval.grading.sandbox import allow_unsafe_code_execution

        allow_unsafe_code_execution()
    _check_code_sandbox(grid)
    from rv_eval.backends.hub import check_hub_models

    check_hub_models(grid)  # a mistyped hub id fails here, before anything is written
    from rv_eval.executors import get_executor
    from rv_eval.report.console import end_of_run_table
    from rv_eval.runner import run_grid

    executor = get_executor(args.executor, args.ray_address)
    try:
        s = run_grid(grid, shard=shard, materialize=args.materialize, progress=not args.no_progress,
                     grade_timeout_s=args.grade_timeout, executor=executor)
    finally:
        if text is not None and (grid.out / "run.json").is_file():
            from rv_eval import atomicio

            atomicio.write_text(grid.out / "grid.yaml", text)
    print(f"{grid.out}: ran {len(s.ran)} cells, skipped {s.skipped} finished, "
          f"{s.selected} in this shard of {s.total} ({s.seconds:.1f} s)")
    print(end_of_run_table(grid.out), end="")
    return 0


def _dry_run(grid, args: argparse.Namespace) -> int:
    """Print the grid's size and cost (rv_eval.estimate); load no model, write nothing."""
    from rv_eval.estimate import format_estimate, grid_size, parse_tokens_per_s

    tokens_per_s = parse_tokens_per_s(args.tokens_per_s)
    if args.shard:
        print("(the whole grid; --shard is not applied to the estimate)")
    print(format_estimate(grid, grid_size(grid), tokens_per_s, args.gpu), end="")
    return 0


def _check_code_sandbox(grid) -> None:
    """Refuse before any model loads when a code task's answers could not be graded in the sandbox."""
    from rv_eval.grading.sandbox import require_sandbox
    from rv_eval.tasks import task_info

    if any(task_info(t.name).kind == "code" for t in grid.tasks):
        require_sandbox()
