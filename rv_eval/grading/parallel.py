"""grade_many: grade many items across worker processes, with a hard per-item timeout.

math-verify's own timeouts use SIGALRM, which only works in a main thread; here every item runs
in the main thread of a worker process, and the parent kills and replaces a worker whose item
runs past its deadline (or that crashes), so one pathological response can neither hang nor end
a grading run: it is scored `timeout` (or `error`) and the run goes on.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from tqdm import tqdm

from rv_eval.grading.items import GradeItem, check_item, grade_item
from rv_eval.paths import PROJECT_ROOT
from rv_eval.schema import Grade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolConfig:
    """Options of grade_many."""

    item_timeout_s: float = 10.0  # hard limit per math/choice/bbh item
    code_margin_s: float = 10.0  # code items: their sandbox timeout plus this
    memory_mb: int | None = 4096  # RLIMIT_AS of each worker (None: no limit)
    progress: bool = True


def grade_many(
    items: Iterable[GradeItem],
    workers: int | None = None,
    config: PoolConfig | None = None,
    timings: dict[int, float] | None = None,
) -> list[Grade]:
    """Grade `items` in parallel (default: one worker per core); results in input order.

    workers=0 grades in this process without hard timeouts (for debugging). `timings`, when
    given, receives each item's grading seconds by index (the benchmark reports the slowest).
    """
    config = config or PoolConfig()
    items = list(items)
    for item in items:
        check_item(item)
    if workers == 0:
        return [grade_item(it) for it in items]
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    if not items:
        return []
    pool = _Pool(n_workers, config)
    try:
        grades = pool.run(items)
    finally:
        pool.shutdown()
    if timings is not None:
        timings.update(pool.seconds)
    return grades


class GradingPool:
    """Grading worker processes kept across many `grade` calls (the runner grades cell after cell).

    Each item gets the same hard time limit as in `grade_many`; workers start on the first call
    and stop on `close()` (or at the end of a `with` block).
    """

    def __init__(self, workers: int | None = None, config: PoolConfig | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.config = config or PoolConfig(progress=False)
        self._pool: _Pool | None = None

    def grade(self, items: Iterable[GradeItem]) -> list[Grade]:
        """Grade `items` in the workers; results in input order."""
        items = list(items)
        for item in items:
            check_item(item)
        if not items:
            return []
        want = min(self.workers, len(items))
        if self._pool is None:
            self._pool = _Pool(want, self.config)
        while len(self._pool.workers) < want:  # a first small batch started fewer workers
            self._pool.workers.append(_Worker(self.config.memory_mb))
        return self._pool.run(items)

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _item_timeout(item: GradeItem, config: PoolConfig) -> float:
    if "timeout_s" in item.extra:
        return float(item.extra["timeout_s"])
    if item.kind == "code":
        limits = item.extra.get("limits")
        return (limits.timeout_s if limits else 10.0) + config.code_margin_s
    return config.item_timeout_s


def serve(read_fd: int, write_fd: int, memory_mb: int | None) -> None:
    """Worker loop: receive (index, GradeItem) until None, send back (index, Grade).

    Ctrl-C reaches the whole process group; the parent stops its workers, so a worker ignores it
    (no KeyboardInterrupt traceback from every worker on the user's terminal)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    _warm_up()
    outbox.send(READY)  # the parent starts an item's clock only now, not during our start-up
    while True:
        try:
            msg = inbox.recv()
        except EOFError:
            return
        if msg is None:
            return
        idx, item = msg
        try:
            grade = grade_item(item)
        except MemoryError:
            grade = Grade(False, None, "error")
        except Exception as e:  # a grader bug must not end the run; the sample says so
            log.warning("grading item %d failed: %r", idx, e)
            grade = Grade(False, None, "error")
        outbox.send((idx, grade))


READY = "ready"
STARTUP_TIMEOUT_S = 120.0  # a worker's start-up (interpreter, sympy, math-verify) on a busy machine


def _warm_up() -> None:
    """Import the graders' heavy libraries once, so that no item's time limit pays for them."""
    try:
        from rv_eval.grading.math_grade import grade_math

        grade_math("The answer is $\\frac{1}{2}$.", "1/2")
    except Exception as e:  # the items themselves will report what is broken
        log.warning("grading worker warm-up failed: %r", e)


class _Worker:
    """A grading process started with this interpreter (works from any __main__, even stdin)."""

    def __init__(self, memory_mb: int | None) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        code = "import sys; from rv_eval.grading.parallel import serve; serve(*map(int, sys.argv[1:3]), int(sys.argv[3]) or None)"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(to_child_r), str(from_child_w), str(memory_mb or 0)],
            pass_fds=(to_child_r, from_child_w),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.conn = Connection(from_child_r, writable=False)
        self.job: int | None = None
        self.deadline = 0.0
        self.ready = False

    def wait_ready(self) -> None:
        """Wait (bounded) until the worker has finished starting up; a dead worker is noticed later."""
        if self.ready:
            return
        self.ready = True
        try:
            if self.conn.poll(STARTUP_TIMEOUT_S):
                self.conn.recv()
        except (EOFError, OSError):
            pass  # it died while starting: _collect sees its closed pipe and replaces it

    def send(self, msg: object) -> None:
        """Send one message (an item or the stop signal None) to the worker."""
        self.outbox.send(msg)

    def kill(self) -> None:
        """Kill the worker process and close its pipes."""
        self.proc.kill()
        self.proc.wait()
        self.conn.close()
        self.outbox.close()


class _Pool:
    def __init__(self, n_workers: int, config: PoolConfig) -> None:
        self.config = config
        self.workers = [_Worker(config.memory_mb) for _ in range(n_workers)]
        self.seconds: dict[int, float] = {}

    def run(self, items: list[GradeItem]) -> list[Grade]:
        """Grade all items, keeping every worker busy; results in input order."""
        results: list[Grade | None] = [None] * len(items)
        todo = list(range(len(items) - 1, -1, -1))
        bar = tqdm(total=len(items), desc="grading", disable=not self.config.progress or len(items) < 200)
        try:
            while todo or any(w.job is not None for w in self.workers):
                for i, w in enumerate(self.workers):
                    if w.job is None and todo:
                        self._start(i, todo.pop(), items)
                done = self._collect(results, items)
                bar.update(done)
        finally:
            bar.close()
        return [r if r is not None else Grade(False, None, "error") for r in results]

    def _start(self, i: int, idx: int, items: list[GradeItem]) -> None:
        if self.workers[i].proc.poll() is not None:  # died while idle (e.g. between two batches)
            self.workers[i].kill()
            self.workers[i] = _Worker(self.config.memory_mb)
        w = self.workers[i]
        w.wait_ready()
        w.job, w.deadline = idx, time.monotonic() + _item_timeout(items[idx], self.config)
        self.seconds[idx] = time.monotonic()
        try:
            w.send((idx, items[idx]))
        except (BrokenPipeError, OSError):
            pass  # the worker died; _collect notices through its sentinel

    def _collect(self, results: list[Grade | None], items: list[GradeItem]) -> int:
        busy = [w for w in self.workers if w.job is not None]
        next_deadline = min(w.deadline for w in busy)
        ready = wait([w.conn for w in busy], max(0.0, next_deadline - time.monotonic()))
        done = 0
        for i, w in enumerate(self.workers):
            if w.job is None:
                continue
            if w.conn in ready:
                try:
                    idx, grade = w.conn.recv()
                except (EOFError, OSError):
                    idx, grade = w.job, None
                if grade is not None:
                    results[idx] = grade
                    self._finish(w, idx)
                    done += 1
                    continue
            if w.conn in ready or w.proc.poll() is not None:
                done += self._replace(i, Grade(False, None, "error"), results, "crashed")
            elif time.monotonic() >= w.deadline:
                done += self._replace(i, Grade(False, None, "timeout"), results, "timed out")
        return done

    def _finish(self, w: _Worker, idx: int) -> None:
        self.seconds[idx] = time.monotonic() - self.seconds[idx]
        w.job = None

    def _replace(self, i: int, grade: Grade, results: list[Grade | None], what: str) -> int:
        w = self.workers[i]
        idx = w.job
        log.warning("grading item %d %s; its worker is replaced", idx, what)
        results[idx] = grade
        self._finish(w, idx)
        w.kill()
        self.workers[i] = _Worker(self.config.memory_mb)
        return 1

    def shutdown(self) -> None:
        """Stop every worker (politely, then by force)."""
        for w in self.workers:
            try:
                w.send(None)
            except (BrokenPipeError, OSError):
                pass
        for w in self.workers:
            try:
                w.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            w.kill()
