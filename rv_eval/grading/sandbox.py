"""Run untrusted Python (model-written code + its tests) in a contained subprocess.

Containment: a fresh temporary working directory (HOME and TMPDIR point into it), a minimal
environment (no inherited secrets), no network (a private network namespace, where permitted), a wall-clock limit with the whole process group killed,
RLIMIT_AS (memory), RLIMIT_NPROC (fork bombs), RLIMIT_FSIZE (huge outputs go to files that cannot
grow past the limit), no core dumps, an unprivileged user when started as root, a guard that
disables destructive os/shutil/subprocess calls, and cleanup of the directory and of any process
left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

NOBODY_UID = 65534
TOKEN_ENV = "RV_EVAL_SANDBOX"

_GUARD = """\
import builtins as _b, os as _os, shutil as _sh, subprocess as _sp, faulthandler as _fh
_fh.disable()
_os.unlink(__file__)
for _m, _names in ((_os, "kill killpg system putenv remove removedirs rmdir fchdir setuid fork forkpty "
                   "execv execve execl execvp spawnv spawnl posix_spawn unlink truncate replace "
                   "rename renames chmod chown lchown setsid"),
                  (_sh, "rmtree move chown"), (_sp, "Popen run call check_call check_output getoutput")):
    for _n in _names.split():
        if hasattr(_m, _n):
            setattr(_m, _n, None)
_b.exit = _b.quit = None
del _b, _os, _sh, _sp, _fh, _m, _names, _n
"""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed run."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 16
    max_output_bytes: int = 1_000_000
    guard: bool = True  # disable destructive os/shutil/subprocess functions before running
    network: bool = False  # False: a private network namespace with no interfaces up (when root)


@dataclass(frozen=True)
class RunResult:
    """How a sandboxed run ended. status: passed, test_failed, syntax_error, runtime_error,
    timeout, memory, output_limit, crashed, exited_early (left before its tests finished)."""

    status: str
    returncode: int | None
    seconds: float
    stderr_tail: str


def run_python(program: str, limits: SandboxLimits | None = None) -> RunResult:
    """Run `program` with the current interpreter in a sandbox; never raises for what it does."""
    limits = limits or SandboxLimits()
    workdir = Path(tempfile.mkdtemp(prefix="rv-eval-code-"))
    token = secrets.token_hex(8)
    try:
        # The run passes only if it reaches the end and prints this token (sys.exit(0) early is no pass).
        source = (_GUARD if limits.guard else "") + program + f"\nprint({token!r}, flush=True)\n"
        (workdir / "program.py").write_text(source, encoding="utf-8")
        _hand_over(workdir)
        return _execute(workdir, token, limits)
    finally:
        _kill_leftovers(token)
        shutil.rmtree(workdir, ignore_errors=True)


def process_limit_enforced() -> bool:
    """Whether RLIMIT_NPROC binds sandboxed programs (not for root; runs as root switch to nobody)."""
    return os.geteuid() != 0 or _drop_privileges()


def _drop_privileges() -> bool:
    """Whether runs switch to the unprivileged user (only when root and it can run Python)."""
    return os.geteuid() == 0 and _interpreter() is not None


@functools.cache
def _interpreter() -> str | None:
    """An interpreter the sandbox user can execute: ours when reachable, else the system's."""
    if os.geteuid() != 0:
        return sys.executable
    for cand in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        if Path(cand).exists() and _world_executable(Path(cand)):
            return cand
    return None


def _world_executable(path: Path) -> bool:
    real = path.resolve()
    dirs_ok = all(p.stat().st_mode & 0o001 for p in real.parents)
    return dirs_ok and bool(real.stat().st_mode & 0o001)


def _hand_over(workdir: Path) -> None:
    if _drop_privileges():
        for p in (workdir, *workdir.iterdir()):
            os.chown(p, NOBODY_UID, NOBODY_UID)
    workdir.chmod(0o700)


def _execute(workdir: Path, token: str, limits: SandboxLimits) -> RunResult:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        TOKEN_ENV: token,
    }
    start = time.monotonic()
    with tempfile.TemporaryFile() as out:  # outside the work dir: the program cannot delete it
        proc = subprocess.Popen(
            [_interpreter() or sys.executable, "-I", "-X", "utf8", "program.py"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_limiter(limits),  # noqa: PLW1509 (single-threaded use in graders)
        )
        timed_out = False
        try:
            proc.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        seconds = time.monotonic() - start
        size, tail = _tail(out)
    status = _status(proc.returncode, timed_out, tail)
    if status != "timeout" and size >= limits.max_output_bytes:
        status = "output_limit"
    if status == "passed" and token not in tail:
        status = "exited_early"
    return RunResult(status, proc.returncode, seconds, tail.replace(token, ""))


def _limiter(limits: SandboxLimits):
    mem = limits.memory_mb * 1024 * 1024
    cpu = int(limits.timeout_s) + 2
    as_root = _drop_privileges()
    nproc = limits.max_processes if as_root else limits.max_processes + _user_process_count()

    def apply() -> None:
        if not limits.network:
            _leave_network()
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_output_bytes, limits.max_output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if as_root:
            os.setgroups([])
            os.setgid(NOBODY_UID)
            os.setuid(NOBODY_UID)
        _die_with_parent()

    return apply


CLONE_NEWNET = 0x40000000


def _leave_network() -> None:
    """Move into a new, empty network namespace (needs root; elsewhere the call fails and is ignored)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)


@functools.cache
def network_isolated() -> bool:
    """Whether sandboxed programs run without network (a private network namespace)."""
    probe = "import socket; raise SystemExit(len(socket.if_nameindex()) != 1)"
    try:
        done = subprocess.run([sys.executable, "-I", "-c", probe], preexec_fn=_leave_network, timeout=30)  # noqa: PLW1509
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when the grader that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _user_process_count() -> int:
    uid = os.getuid()
    return sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid)


def _tail(f, n: int = 4000) -> tuple[int, str]:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - n))
    return size, f.read().decode("utf-8", "replace")


def _status(returncode: int | None, timed_out: bool, tail: str) -> str:
    if timed_out or returncode in (-signal.SIGXCPU,):
        return "timeout"
    if returncode == 0:
        return "passed"
    if returncode == -signal.SIGXFSZ:
        return "output_limit"
    if returncode is not None and returncode < 0:
        return "crashed"
    for marker, status in (
        ("File too large", "output_limit"),
        ("MemoryError", "memory"),
        ("SyntaxError", "syntax_error"),
        ("IndentationError", "syntax_error"),
        ("AssertionError", "test_failed"),
    ):
        if marker in tail:
            return status
    return "runtime_error"


def _kill_leftovers(token: str) -> None:
    """Kill processes that escaped the process group (e.g. via setsid), found by the run's token."""
    for p in psutil.process_iter(["uids"]):
        uids = p.info["uids"]
        if not uids or uids.real not in (NOBODY_UID, os.getuid()) or p.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            if p.environ().get(TOKEN_ENV) == token:
                p.kill()
