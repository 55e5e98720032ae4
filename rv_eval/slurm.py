"""Slurm batch scripts for a grid: an array job over `--shard`, or a Ray cluster inside one job.

- **array**: `--array=0-(S-1)`; task i runs `rv-eval run --shard i/S` on one engine's GPUs
  (S = nodes × GPUs per node / GPUs per engine unless given). Shards write into the same results
  folder safely, so the results folder must be on a filesystem every node sees.
- **ray**: one job over N nodes; the batch step starts the Ray head on the first node and a Ray
  worker on each other node (`srun … ray start --block`), waits for the head, then
  runs the driver there: `rv-eval run --executor ray --ray-address HEAD:PORT` (engines are placed
  on workers as they join). Only the driver writes results, so the results folder needs to be
  visible on the first node only.

Everything is written with absolute paths (grid, results folder, Python interpreter) so the
script runs from any directory.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rv_eval import atomicio
from rv_eval.errors import UserError

MODES = ("array", "ray")
RAY_PORT = 6379


@dataclass(frozen=True)
class SlurmJob:
    """What to submit: the grid, where results go, and the resources."""

    grid: Path  # absolute
    out: Path  # absolute results folder
    name: str  # job name
    mode: str  # "array" | "ray"
    nodes: int
    gpus_per_node: int
    gpus_per_engine: int = 1  # the grid's tensor-parallel size
    shards: int | None = None  # array mode; default nodes × gpus_per_node / gpus_per_engine
    cpus_per_task: int | None = None
    mem: str | None = None
    time: str | None = None
    partition: str | None = None
    account: str | None = None
    setup: tuple[str, ...] = ()  # shell lines run first (module load, venv activation, ...)
    run_args: tuple[str, ...] = ()  # extra `rv-eval run` arguments (e.g. --materialize)
    python: str = sys.executable

    def n_shards(self) -> int:
        """Array tasks: `shards`, else one per engine slot (nodes × GPUs per node / GPUs per engine; CPU: nodes)."""
        if self.shards:
            return self.shards
        if not self.gpus_per_node:  # CPU only: one task per node
            return self.nodes
        return max(1, self.nodes * self.gpus_per_node // max(self.gpus_per_engine, 1))


def check_job(job: SlurmJob) -> None:
    """UserError naming the first bad setting (before anything is written)."""
    if job.mode not in MODES:
        raise UserError(f"--mode {job.mode!r}: expected one of {list(MODES)}. Fix: pass --mode array or --mode ray.")
    if job.nodes < 1:
        raise UserError(f"--nodes {job.nodes}: needs at least 1 node. Fix: pass --nodes 1 or more.")
    if job.gpus_per_node < 0:
        raise UserError(f"--gpus-per-node {job.gpus_per_node}: cannot be negative. Fix: pass 0 (CPU) or more.")
    if job.gpus_per_node and job.gpus_per_engine > job.gpus_per_node:
        raise UserError(f"one engine needs {job.gpus_per_engine} GPUs (tensor_parallel_size) but a node has "
                        f"{job.gpus_per_node}. Fix: pass --gpus-per-node {job.gpus_per_engine} or more.")
    if job.shards is not None and job.shards < 1:
        raise UserError(f"--shards {job.shards}: needs at least 1. Fix: pass --shards 1 or more.")
    if job.time is not None and not re.fullmatch(r"(\d+-)?\d+(:\d{2}){0,2}", job.time):
        raise UserError(f"--time {job.time!r}: not a Slurm time. Fix: use e.g. 12:00:00 or 2-00:00:00.")


def _header(job: SlurmJob, log: Path) -> list[str]:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={job.name}"]
    for flag, value in (("partition", job.partition), ("account", job.account), ("time", job.time),
                        ("mem", job.mem), ("cpus-per-task", job.cpus_per_task)):
        if value:
            lines.append(f"#SBATCH --{flag}={value}")
    lines.append(f"#SBATCH --output={log}")
    return lines


def _rv_eval(job: SlurmJob, *extra: str) -> str:
    args = [job.python, "-m", "rv_eval", "run", "--model-grid", str(job.grid), "--out", str(job.out),
            "--no-progress", *job.run_args, *extra]
    return " ".join(shlex.quote(a) if not a.startswith('"$') else a for a in args)


def array_script(job: SlurmJob) -> str:
    """An array job: task i of S runs shard i/S of the grid on one engine's GPUs."""
    n = job.n_shards()
    lines = _header(job, job.out / "slurm" / "%x-%A_%a.log")
    lines += ["#SBATCH --nodes=1", "#SBATCH --ntasks=1", f"#SBATCH --array=0-{n - 1}"]
    if job.gpus_per_node:
        lines.append(f"#SBATCH --gres=gpu:{job.gpus_per_engine}")
    lines += ["set -euo pipefail", *job.setup,
              f'echo "rv-eval shard ${{SLURM_ARRAY_TASK_ID}}/{n} on $(hostname)"',
              _rv_eval(job, "--shard", f'"${{SLURM_ARRAY_TASK_ID}}/{n}"'), ""]
    return "\n".join(lines)


def ray_script(job: SlurmJob, port: int = RAY_PORT, wait_s: int = 600) -> str:
    """One job over N nodes: Ray head on the first, workers on the rest, the driver with --executor ray."""
    py = shlex.quote(job.python)
    ray = f"{py} -m ray.scripts.scripts"
    gpus = f" --num-gpus={job.gpus_per_node}" if job.gpus_per_node else " --num-gpus=0"
    cpus = ' --num-cpus="${SLURM_CPUS_PER_TASK:-1}"'
    lines = _header(job, job.out / "slurm" / "%x-%j.log")
    lines += [f"#SBATCH --nodes={job.nodes}", "#SBATCH --ntasks-per-node=1", "#SBATCH --exclusive"]
    if job.gpus_per_node:
        lines.append(f"#SBATCH --gres=gpu:{job.gpus_per_node}")
    lines += [
        "set -euo pipefail", *job.setup,
        'nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))',
        'head_node=${nodes[0]}',
        'head_ip=$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address | awk \'{print $1}\')',
        f'address="$head_ip:{port}"',
        'echo "Ray head on $head_node ($address), ${#nodes[@]} nodes"',
        f'srun --nodes=1 --ntasks=1 -w "$head_node" {ray} start --head --node-ip-address="$head_ip" '
        f'--port={port}{cpus}{gpus} --block &',
        f'for _ in $(seq {wait_s // 5}); do {ray} status --address "$address" >/dev/null 2>&1 && break; sleep 5; done',
        f'{ray} status --address "$address" >/dev/null || {{ echo "Ray head did not start" >&2; exit 1; }}',
        'for node in "${nodes[@]:1}"; do  # workers join while the driver runs; Ray places engines as they do',
        f'  srun --nodes=1 --ntasks=1 -w "$node" {ray} start --address "$address"{cpus}{gpus} --block &',
        'done',
        _rv_eval(job, "--executor", "ray", "--ray-address", '"$address"'),
        "",
    ]
    return "\n".join(lines)


def render(job: SlurmJob) -> str:
    """The batch script of `job` (after `check_job`)."""
    check_job(job)
    return array_script(job) if job.mode == "array" else ray_script(job)


def write_script(job: SlurmJob, path: Path) -> Path:
    """Write the batch script atomically (and the log folder Slurm needs); return its path."""
    text = render(job)
    (job.out / "slurm").mkdir(parents=True, exist_ok=True)
    atomicio.write_text(path, text)
    path.chmod(0o755)
    return path


def submit(script: Path, sbatch: str = "sbatch") -> str:
    """Submit with `sbatch`; return its reply (e.g. "Submitted batch job 123")."""
    exe = shutil.which(sbatch)
    if exe is None:
        raise UserError(f"{sbatch} not found on PATH. Fix: run on a Slurm login node, or submit {script} "
                        "there yourself (`sbatch SCRIPT`).")
    r = subprocess.run([exe, str(script)], capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip().splitlines()
        raise UserError(f"sbatch refused {script}: {msg[-1] if msg else f'exit code {r.returncode}'}. "
                        "Fix: adjust the resources (--partition, --time, --gpus-per-node) and retry.")
    return r.stdout.strip()
