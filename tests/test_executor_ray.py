"""`--executor ray` on a real two-node Ray cluster started here (127.0.0.1, CPU only).

- the tiny grid gives exactly the local executor's samples, also after its driver was killed
  mid-run and the run resumed;
- the workers run in another working directory without write permission and never see the
  results folder: the driver publishes every cell;
- killing the worker node mid-run loses only its in-flight cell: Ray restarts its engine on the
  head node, and every cell is published exactly once, with the local run's samples.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from rv_eval.executors.ray import RayExecutor  # noqa: E402
from rv_eval.grid import load_grid  # noqa: E402
from rv_eval.runner import run_grid  # noqa: E402
from rv_eval.store import load_samples  # noqa: E402
from tests.raycluster import LocalRayCluster, slow_grader  # noqa: E402
from tests.test_runner import toy_grader, write_grid  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
DRIVER = """
import sys
from rv_eval.executors.ray import RayExecutor
from rv_eval.grid import load_grid
from rv_eval.runner import run_grid
from tests.raycluster import slow_grader
run_grid(load_grid(sys.argv[1]), grader=slow_grader, progress=False, executor=RayExecutor(address=sys.argv[2]))
"""
COLS = ["model", "task", "seed", "doc_id", "sample_idx", "prompt", "response", "correct", "n_gen_tokens"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Head + one worker node; both run in a read-only working directory of their own."""
    cwd = tmp_path_factory.mktemp("ray-workers-cwd")
    cwd.chmod(0o555)
    c = LocalRayCluster(cwd)
    try:
        yield c.start(workers=1)
    finally:
        c.stop()


def _samples(out):
    return load_samples(out)[COLS].sort_values(COLS[:5]).reset_index(drop=True)


def test_ray_equals_local_driver_publishes_and_a_killed_driver_resumes(cluster, tiny_family, tmp_path):
    f = tiny_family
    models = (f"  - vector: {{name: tiny, pre: {f['pre']}, post: {f['post']}, target: {f['target']}, "
              "alphas: [0, 1]}\n"
              f"  - {{name: post, path: {f['post']}}}\n")
    local_grid, ray_grid = (write_grid(tmp_path, f, tmp_path / name, seeds=(0, 1), models=models)
                            for name in ("local", "viaray"))
    for g in (local_grid, ray_grid):
        g.write_text(g.read_text().replace("baseline: target", "baseline: post"))
    local = run_grid(load_grid(local_grid), grader=toy_grader, progress=False)
    # a Ray driver killed (SIGKILL) after its first published cell ...
    cells = tmp_path / "viaray" / "cells"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(ray_grid), cluster.address], cwd=ROOT,
                              env=cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and driver.poll() is None and not list(cells.glob("*.parquet")):
            time.sleep(0.05)
    finally:
        driver.kill()
        driver.wait()
    survived = {p.name: p.stat().st_mtime_ns for p in cells.glob("*.parquet")}
    assert 1 <= len(survived) < 6, "the driver should be killed mid-run"
    # ... resumes like a local run: finished cells kept, the rest run on the cluster
    s = run_grid(load_grid(ray_grid), grader=toy_grader, progress=False,
                 executor=RayExecutor(address=cluster.address))
    assert s.skipped == len(survived) and len(s.ran) == len(set(s.ran)) == 6 - len(survived)
    assert sorted(s.ran + [n.removesuffix(".parquet") for n in survived]) == sorted(local.ran)
    assert all(cells.joinpath(n).stat().st_mtime_ns == t for n, t in survived.items())
    assert "local" not in s.workers.values()
    assert _samples(tmp_path / "viaray").equals(_samples(tmp_path / "local"))
    assert os.listdir(cluster.cwd) == []  # nothing written where the workers run
    again = run_grid(load_grid(ray_grid), grader=toy_grader, progress=False,
                     executor=RayExecutor(address=cluster.address))
    assert again.ran == [] and again.skipped == 6


def test_killed_worker_node_loses_only_in_flight_cells(cluster, tiny_family, tmp_path):
    seeds = tuple(range(6))
    local_grid = write_grid(tmp_path, tiny_family, tmp_path / "local", seeds=seeds, max_gen=48)
    ray_grid = write_grid(tmp_path, tiny_family, tmp_path / "viaray", seeds=seeds, max_gen=48)
    cells = tmp_path / "viaray" / "cells"
    killed = threading.Event()

    def kill_worker_node_mid_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            names = [p.name for p in cells.glob("*.parquet")] if cells.is_dir() else []
            per_model = [sum(n.startswith(m) for n in names) for m in ("target--", "post--")]
            if all(1 <= n <= len(seeds) - 2 for n in per_model):
                cluster.kill_node(1)
                killed.set()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_worker_node_mid_run, daemon=True)
    killer.start()
    s = run_grid(load_grid(ray_grid), grader=slow_grader, progress=False,
                 executor=RayExecutor(address=cluster.address))
    killer.join(timeout=5)
    assert killed.is_set(), "the worker node should be killed mid-run"
    assert len(s.ran) == len(set(s.ran)) == 12  # every cell published exactly once
    # the killed node's group moved to the surviving node; the other group stayed there
    by_model = {m: [s.workers[k] for k in s.ran if k.startswith(m)] for m in ("target--", "post--")}
    moved = [w for w in by_model.values() if len(set(w)) == 2]
    stayed = [w for w in by_model.values() if len(set(w)) == 1]
    assert len(moved) == 1 and len(stayed) == 1, by_model
    first_node, survivor = moved[0][0], stayed[0][0]
    assert first_node != survivor and moved[0][-1] == survivor
    assert moved[0].index(survivor) >= 1 and first_node not in moved[0][moved[0].index(survivor):]
    run_grid(load_grid(local_grid), grader=toy_grader, progress=False)
    assert _samples(tmp_path / "viaray").equals(_samples(tmp_path / "local"))
