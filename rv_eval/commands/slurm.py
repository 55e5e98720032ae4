"""`rv-eval slurm`: write (and with --submit, submit) a Slurm job that runs a grid on many nodes."""

from __future__ import annotations

import argparse

EPILOG = """\
modes:
  array  an array job over --shard: task i runs `rv-eval run --shard i/S` on one engine's GPUs
         (S = nodes x gpus-per-node / tensor_parallel_size, or --shards); the results folder
         must be on a filesystem every node sees
  ray    one job over N nodes: Ray head on the first node, workers on the others, the driver
         `rv-eval run --executor ray` on the first node (only it writes results)

examples:
  rv-eval slurm grid.yaml --nodes 8 --gpus-per-node 8 --time 24:00:00 --partition gpu
  rv-eval slurm grid.yaml --mode ray --nodes 8 --gpus-per-node 8 --setup "module load cuda" --submit

The script goes to OUT/slurm/rv-eval-MODE.sbatch (or --script); Slurm logs to OUT/slurm/.
Re-submitting the same script resumes: finished cells are skipped.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `slurm` sub-command."""
    p = subparsers.add_parser(
        "slurm", help="write/submit a Slurm job for a grid (array over shards, or Ray cluster)",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("grid", metavar="GRID.yaml", help="grid file")
    p.add_argument("--nodes", type=int, required=True, help="nodes to use")
    p.add_argument("--gpus-per-node", type=int, required=True, help="GPUs per node (0: CPU only)")
    p.add_argument("--mode", choices=["array", "ray"], default="array", help="array job over shards (default) "
                   "or a Ray cluster in one job")
    p.add_argument("--shards", type=int, help="array tasks (default: one per engine slot)")
    p.add_argument("--out", help="results folder (default: the grid's `out`)")
    p.add_argument("--script", help="where to write the batch script (default: OUT/slurm/rv-eval-MODE.sbatch)")
    p.add_argument("--time", help="wall-time limit, e.g. 24:00:00")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--account", help="Slurm account")
    p.add_argument("--cpus-per-task", type=int, help="CPUs per task")
    p.add_argument("--mem", help="memory per node, e.g. 200G")
    p.add_argument("--setup", action="append", default=[], metavar="LINE",
                   help="shell line run before rv-eval (repeatable), e.g. 'source .venv/bin/activate'")
    p.add_argument("--materialize", action="store_true", help="pass --materialize to rv-eval run")
    p.add_argument("--submit", action="store_true", help="submit the script with sbatch")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the script, optionally submit it, print what was done."""
    from pathlib import Path

    from rv_eval.grid import load_grid
    from rv_eval.slurm import SlurmJob, submit, write_script

    grid = load_grid(args.grid, out=args.out)
    opts = grid.backend.options
    job = SlurmJob(
        grid=Path(args.grid).resolve(), out=Path(grid.out).resolve(), name=f"rv-eval-{grid.name}", mode=args.mode,
        nodes=args.nodes, gpus_per_node=args.gpus_per_node,
        gpus_per_engine=int(opts.get("tensor_parallel_size", 1)) * int(opts.get("pipeline_parallel_size", 1)),
        shards=args.shards, cpus_per_task=args.cpus_per_task, mem=args.mem, time=args.time,
        partition=args.partition, account=args.account, setup=tuple(args.setup),
        run_args=("--materialize",) if args.materialize else (),
    )
    script = Path(args.script) if args.script else job.out / "slurm" / f"rv-eval-{args.mode}.sbatch"
    write_script(job, script)
    what = f"{job.n_shards()} array tasks" if args.mode == "array" else f"a Ray cluster on {job.nodes} nodes"
    print(f"{script}: {what}")
    if args.submit:
        print(submit(script))
    return 0
