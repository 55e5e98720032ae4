"""`--executor ray` on a real two-node Ray cluster started here (127.0.0.1, CPU only).

- the tiny grid gives exactly the local executor's samples, and runs on both nodes;
- the workers run in another working directory without write permission and never see the
  results folder: the driver publishes every cell;
- killing the worker node mid-run loses only its in-flight cell: Ray restarts its engine on the
  head node, and every cell is published exactly once, with the local run's samples.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

pytest.importorskip("ray")

from rv_eval.executors.ray import RayExecutor  # noqa: E402
from rv_eval.grid import load_grid  # noqa: E402
from rv_eval.runner import run_grid  # noqa: E402
from rv_eval.store import load_samples  # noqa: E402
from tests.raycluster import LocalRayCluster, slow_grader  # noqa: E402
from tests.test_runner import toy_grader, write_grid  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

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


def test_ray_equals_local_and_driver_publishes(cluster, tiny_family, tmp_path):
    f = tiny_family
    models = (f"  - vector: {{name: tiny, pre: {f['pre']}, post: {f['post']}, target: {f['target']}, "
              "alphas: [0, 1]}\n"
              f"  - {{name: post, path: {f['post']}}}\n")
    local_grid, ray_grid = (write_grid(tmp_path, f, tmp_path / name, seeds=(0, 1), models=models)
                            for name in ("local", "viaray"))
    for g in (local_grid, ray_grid):
        g.write_text(g.read_text().replace("baseline: target", "baseline: post"))
    local = run_grid(load_grid(local_grid), grader=toy_grader, progress=False)
    s = run_grid(load_grid(ray_grid), grader=toy_grader, progress=False,
                 executor=RayExecutor(address=cluster.address))
    assert sorted(s.ran) == sorted(local.ran) and len(s.ran) == 6
    assert len(set(s.workers.values())) == 2, s.workers  # both nodes ran cells
    assert "local" not in s.workers.values()
    assert _samples(tmp_path / "viaray").equals(_samples(tmp_path / "local"))
    assert os.listdir(cluster.cwd) == []  # nothing written where the workers run
    # resuming the Ray run finds everything done
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
