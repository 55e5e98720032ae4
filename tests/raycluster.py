"""A real two-node Ray cluster on 127.0.0.1 for tests (CPU only, small memory), started with `ray start`.

Each node is one `ray start --block` process in its own process group, so a test can kill one
node (every process of it) with SIGKILL, and the cluster is stopped by ending exactly the
process groups started here (`ray stop` would end every Ray process on the machine).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAY = shutil.which("ray") or str(Path(os.sys.executable).parent / "ray")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GRADE_SECONDS = 0.4  # per response: each cell of the tiny grid then takes seconds


def slow_grader(task: str, doc: dict, response: str):
    """The runner tests' toy grader, slowed down so that a node can be killed while its cells run.

    Lives here (imported as `tests.raycluster` on the Ray workers too, where it is unpickled).
    """
    from tests.test_runner import toy_grader

    time.sleep(GRADE_SECONDS)
    return toy_grader(task, doc, response)


class LocalRayCluster:
    """Head node plus worker nodes, each `ray start --block` with 1 CPU and a 100 MB object store."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = Path(cwd)
        self.temp = Path(tempfile.mkdtemp(prefix="rvray", dir="/tmp"))  # short: Ray's socket paths
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0",
                    # notice a dead node within ~2 s (default ~15 s)
                    "RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
                    "RAY_health_check_timeout_ms": "500", **(env or {})}
        self.nodes: list[subprocess.Popen] = []

    def _start(self, args: list[str]) -> subprocess.Popen:
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0",
                  "--object-store-memory", str(100 * 1024 * 1024), "--block", "--disable-usage-stats",
                  "--dashboard-agent-listen-port", str(free_port()),
                  "--dashboard-agent-grpc-port", str(free_port()),
                  "--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port())]
        log = open(self.temp / f"node{len(self.nodes)}.log", "wb")  # noqa: SIM115 (kept for the node's life)
        proc = subprocess.Popen([RAY, "start", *args, *common], cwd=self.cwd, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(proc)
        return proc

    def start(self, workers: int = 1, timeout: float = 60) -> LocalRayCluster:
        """Start the head and `workers` worker nodes; wait until all are alive."""
        self._start(["--head", "--port", str(self.port), "--temp-dir", str(self.temp),
                     "--include-dashboard", "false", "--dashboard-port", str(free_port()),
                     "--ray-client-server-port", str(free_port())])
        self._wait_started(0, timeout)
        for _ in range(workers):
            self._start(["--address", self.address])
            self._wait_started(len(self.nodes) - 1, timeout)
        self.wait_nodes(1 + workers, timeout)
        return self

    def _wait_started(self, i: int, timeout: float) -> None:
        """Wait for node `i`'s `ray start` to report the runtime started (cheap: reads its log)."""
        log, deadline = self.temp / f"node{i}.log", time.monotonic() + timeout
        while time.monotonic() < deadline and self.nodes[i].poll() is None:
            if b"Ray runtime started" in log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"Ray node {i} did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def alive_nodes(self) -> int:
        """Nodes the cluster reports alive (asked by a short `ray status`-free client call)."""
        code = ("import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False); "
                "print(sum(n['Alive'] for n in ray.nodes()))")
        r = subprocess.run([os.sys.executable, "-c", code, self.address], env=self.env, capture_output=True,
                           text=True, timeout=60, cwd=self.cwd)
        return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 and r.stdout.strip() else 0

    def wait_nodes(self, n: int, timeout: float) -> None:
        """Wait until `n` nodes are alive (RuntimeError with the node logs after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.nodes):
                break
            if self.alive_nodes() >= n:
                return
            time.sleep(1)
        logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.temp.glob("node*.log")))
        raise RuntimeError(f"Ray cluster did not reach {n} nodes:\n{logs}")

    def kill_node(self, i: int) -> None:
        """SIGKILL every process of node `i` (its raylet, object store and workers)."""
        proc = self.nodes[i]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, timeout: float = 5) -> None:
        """End the nodes started here: SIGTERM to each process group, SIGKILL what remains."""
        for proc in reversed(self.nodes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.nodes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.nodes:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, if any
            except ProcessLookupError:
                pass
        shutil.rmtree(self.temp, ignore_errors=True)
