"""`rv-eval slurm`: the generated batch scripts, and the array job run through a fake `sbatch`.

The fake `sbatch` (the only stand-in here) executes the script once per array index, as
concurrent processes with SLURM_ARRAY_TASK_ID set and the output going to the `--output` path:
what Slurm does on one node.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rv_eval.cli import main
from rv_eval.slurm import SlurmJob, render
from rv_eval.store import Store, load_samples

ROOT = Path(__file__).resolve().parent.parent

FAKE_SBATCH = r'''#!/usr/bin/env python3
"""sbatch stand-in: run every array index of the script as a process, wait, reply like sbatch."""
import os, re, subprocess, sys
script = sys.argv[-1]
text = open(script).read()
lo, hi = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)", text, re.M).groups())
out = re.search(r"^#SBATCH --output=(.+)$", text, re.M).group(1)
job = "4242"
procs = []
for i in range(lo, hi + 1):
    env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(i), SLURM_ARRAY_JOB_ID=job, SLURM_JOB_ID=job)
    name = re.search(r"^#SBATCH --job-name=(.+)$", text, re.M).group(1)
    log = open(out.replace("%x", name).replace("%A", job).replace("%a", str(i)), "w")
    procs.append(subprocess.Popen(["bash", script], env=env, stdout=log, stderr=subprocess.STDOUT))
codes = [p.wait() for p in procs]
if any(codes):
    sys.exit(f"sbatch stand-in: array tasks failed: {codes}")
print(f"Submitted batch job {job}")
'''


def write_demo_grid(root: Path, family: dict[str, Path], out: Path) -> Path:
    """Two plain models on the demo task (its real grader), two seeds: four cells."""
    grid = root / "grid.yaml"
    grid.write_text(
        f"name: slurmtest\nout: {out}\nmodels:\n  - {{name: target, path: {family['target']}}}\n"
        f"  - {{name: post, path: {family['post']}}}\ntasks:\n  - {{name: demo_en, limit: 2}}\nseeds: [0, 1]\n"
        "sampling: {temperature: 0.7, top_p: 0.95, max_gen_toks: 8, samples: 1}\n"
        "backend: {name: hf, dtype: float32, batch_size: 8}\nbaseline: target\n")
    return grid


def test_array_script_content(tiny_family, tmp_path, capsys):
    grid = write_demo_grid(tmp_path, tiny_family, tmp_path / "out")
    assert main(["slurm", str(grid), "--nodes", "2", "--gpus-per-node", "4", "--time", "12:00:00",
                 "--partition", "gpu", "--setup", "source /opt/venv/bin/activate"]) == 0
    script = tmp_path / "out" / "slurm" / "rv-eval-array.sbatch"
    assert f"{script}: 8 array tasks" in capsys.readouterr().out
    text = script.read_text()
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for line in ("#SBATCH --array=0-7", "#SBATCH --gres=gpu:1", "#SBATCH --nodes=1", "#SBATCH --time=12:00:00",
                 "#SBATCH --partition=gpu", "#SBATCH --job-name=rv-eval-slurmtest",
                 f"#SBATCH --output={tmp_path / 'out' / 'slurm'}/%x-%A_%a.log", "source /opt/venv/bin/activate"):
        assert line in lines, line
    run = next(ln for ln in lines if " -m rv_eval run " in ln)
    assert run.startswith(sys.executable) and f"--model-grid {grid}" in run and f"--out {tmp_path / 'out'}" in run
    assert run.endswith('--shard "${SLURM_ARRAY_TASK_ID}/8"')
    assert lines.index("source /opt/venv/bin/activate") < lines.index(run)
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_ray_script_content(tiny_family, tmp_path, capsys):
    grid = write_demo_grid(tmp_path, tiny_family, tmp_path / "out")
    script = tmp_path / "job.sbatch"
    assert main(["slurm", str(grid), "--mode", "ray", "--nodes", "3", "--gpus-per-node", "8",
                 "--script", str(script), "--cpus-per-task", "32"]) == 0
    assert f"{script}: a Ray cluster on 3 nodes" in capsys.readouterr().out
    lines = script.read_text().splitlines()
    for line in ("#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=1", "#SBATCH --gres=gpu:8", "#SBATCH --exclusive",
                 "#SBATCH --cpus-per-task=32"):
        assert line in lines, line
    assert not any("--array" in ln for ln in lines)
    head = next(ln for ln in lines if "start --head" in ln)
    assert head.startswith('srun --nodes=1 --ntasks=1 -w "$head_node"') and "--num-gpus=8" in head
    assert head.endswith("--block &") and "--port=6379" in head
    worker = next(ln for ln in lines if 'start --address "$address"' in ln)
    assert worker.strip().startswith('srun --nodes=1 --ntasks=1 -w "$node"')
    assert any(ln.startswith('for node in "${nodes[@]:1}"') for ln in lines)
    driver = lines[-1]
    assert " -m rv_eval run " in driver and driver.endswith('--executor ray --ray-address "$address"')
    assert lines.index(head) < lines.index(worker) < len(lines) - 1
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_shards_follow_tensor_parallel_size(tmp_path):
    job = SlurmJob(grid=tmp_path / "g.yaml", out=tmp_path / "out", name="x", mode="array", nodes=4,
                   gpus_per_node=8, gpus_per_engine=2)
    assert job.n_shards() == 16
    assert "#SBATCH --gres=gpu:2" in render(job).splitlines()
    assert SlurmJob(**{**job.__dict__, "gpus_per_node": 0}).n_shards() == 4  # CPU: one per node


@pytest.mark.parametrize("argv, needle", [
    (["--nodes", "0", "--gpus-per-node", "1"], "--nodes 0"),
    (["--nodes", "1", "--gpus-per-node", "-1"], "--gpus-per-node -1"),
    (["--nodes", "1", "--gpus-per-node", "1", "--time", "soon"], "--time 'soon'"),
])
def test_bad_settings_are_one_clear_error(tiny_family, tmp_path, capsys, argv, needle):
    grid = write_demo_grid(tmp_path, tiny_family, tmp_path / "out")
    assert main(["slurm", str(grid), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Fix:" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing written


def test_submit_without_sbatch(tiny_family, tmp_path, capsys, monkeypatch):
    grid = write_demo_grid(tmp_path, tiny_family, tmp_path / "out")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["slurm", str(grid), "--nodes", "1", "--gpus-per-node", "0", "--submit"]) == 2
    assert "sbatch not found" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.integration
def test_array_job_through_fake_sbatch_runs_every_cell_once(tiny_family, tmp_path):
    out = tmp_path / "out"
    grid = write_demo_grid(tmp_path, tiny_family, out)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "rv_eval", "slurm", str(grid), "--nodes", "1", "--gpus-per-node", "0",
                        "--shards", "2", "--submit"], env=env, capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Submitted batch job 4242" in r.stdout
    logs = sorted((out / "slurm").glob("rv-eval-slurmtest-4242_*.log"))
    assert [p.name for p in logs] == ["rv-eval-slurmtest-4242_0.log", "rv-eval-slurmtest-4242_1.log"]
    assert "rv-eval shard 0/2" in logs[0].read_text() and "ran 2 cells" in logs[0].read_text()
    assert "rv-eval shard 1/2" in logs[1].read_text() and "ran 2 cells" in logs[1].read_text()
    done, pending, stale = Store(out).current_keys()
    assert len(done) == 4 and not pending and not stale
    df = load_samples(out)
    assert len(df) == 4 * 2 and not df.duplicated(["model", "seed", "doc_id", "sample_idx"]).any()
