"""Run a candidate's code in an OS sandbox (bubblewrap) and call its function over a pipe.

The candidate runs in `bwrap` with new user, pid, mount, ipc, net, uts and cgroup namespaces:
read-only /usr and the Python installation, a private size-limited tmpfs /tmp and /dev/shm, no view
of the project, the data or any home directory, no network, a fresh unprivileged uid per run when
started as root, rlimits on memory, CPU time, processes and file size, and a wall-clock limit
after which the whole pid namespace is killed. The verdict is never decided in there: the grader
sends arguments and receives results as plain data (`rv_eval.grading.wire`). See docs/security.md.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rv_eval.errors import UserError
from rv_eval.grading import wire

log = logging.getLogger(__name__)

UNSAFE_ENV = "RV_EVAL_UNSAFE_CODE_EXECUTION"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_UID_RANGE = (1_900_000_000, 2_000_000_000)  # fresh uids for runs started as root
_ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed candidate (the whole grading of one answer)."""

    timeout_s: float = 10.0  # wall clock: loading the code and every test call together
    memory_mb: int = 1024  # address space of each sandboxed process
    max_processes: int = 16
    max_output_bytes: int = 1_000_000  # stdout + stderr, and the size of any one file it writes
    tmp_mb: int = 32  # size of the private /tmp and of the private /dev/shm (tmpfs, each)
    network: bool = False  # True keeps the host network (only for tests of the sandbox itself)


class SandboxFailure(BaseException):
    """The sandboxed process ended or misbehaved; `status` says how (timeout, memory, crashed, ...).

    A BaseException, so that test code's `except Exception` cannot hide it."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def allow_unsafe_code_execution() -> None:
    """Let code grading run without OS isolation in this process and its children
    (`--unsafe-code-execution`); verdicts are still decided outside the candidate."""
    os.environ[UNSAFE_ENV] = "1"


def unsafe_allowed() -> bool:
    """Whether `--unsafe-code-execution` (or RV_EVAL_UNSAFE_CODE_EXECUTION=1) is in effect."""
    return os.environ.get(UNSAFE_ENV, "") not in ("", "0")


def require_sandbox() -> None:
    """Raise UserError (one line, with the fix) when code cannot be run in the sandbox."""
    problem = sandbox_problem()
    if problem and not unsafe_allowed():
        raise UserError(
            f"code grading needs the bubblewrap sandbox, which cannot run here: {problem}. Fix: install "
            "bubblewrap (apt-get install bubblewrap) on a kernel that allows user namespaces, or pass "
            "--unsafe-code-execution to run model code without isolation (docs/security.md)."
        )


@functools.cache
def sandbox_problem() -> str | None:
    """Why bwrap cannot run here (None when it can): tried once per process."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed"
    if shutil.which("prlimit") is None:
        return "prlimit (util-linux) is not installed"
    if _interpreter() is None:
        return "no Python interpreter readable by an unprivileged user (e.g. /usr/bin/python3)"
    python, _ = _interpreter()
    argv = _bwrap_argv(SandboxLimits(), None) + [python, "-I", "-S", "-c", "pass"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, **_user_kwargs())
    except (OSError, subprocess.SubprocessError) as e:
        return f"bwrap failed to start ({e})"
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit code {done.returncode}"]
        return lines[-1][:300]
    return None


@functools.cache
def _interpreter() -> tuple[str, str] | None:
    """(python executable, installation prefix) the sandbox can run: ours, else the system's."""
    ours = (str(Path(sys.executable).resolve()), str(Path(sys.base_prefix).resolve()))
    if os.geteuid() != 0:
        return ours
    for exe, prefix in (ours, ("/usr/bin/python3", "/usr"), ("/usr/local/bin/python3", "/usr/local")):
        real = Path(exe).resolve() if Path(exe).exists() else None
        if real and real.is_relative_to(prefix) and _world_readable(real) and _world_readable(Path(prefix)):
            return str(real), prefix
    return None


def _world_readable(path: Path) -> bool:
    """Whether an unprivileged uid can reach `path` (every parent folder world-searchable)."""
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))


def _user_kwargs() -> dict[str, Any]:
    """As root: run as a fresh uid/gid that owns no file and no other process."""
    if os.geteuid() != 0:
        return {}
    uid = _fresh_uid()
    return {"user": uid, "group": uid, "extra_groups": []}


def _fresh_uid() -> int:
    in_use = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    in_use.add(entry.stat().st_uid)
    while True:
        uid = secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0]) + _UID_RANGE[0]
        if uid not in in_use:
            return uid


def _rlimits(limits: SandboxLimits) -> list[str]:
    """prlimit's command line: the limits every sandboxed process inherits."""
    mem = limits.memory_mb * 1024 * 1024
    cpu = max(1, int(limits.timeout_s + 0.999))
    nproc = limits.max_processes + 4  # bwrap's two processes and the driver
    if os.geteuid() != 0:  # RLIMIT_NPROC counts every process of the uid: leave room for the rest
        nproc += _own_process_count()
    out = limits.max_output_bytes
    return ["prlimit", f"--as={mem}:{mem}", f"--cpu={cpu}:{cpu + 1}", f"--nproc={nproc}:{nproc}",
            f"--fsize={out}:{out}", "--core=0:0", "--"]


def _own_process_count() -> int:
    uid, n = os.getuid(), 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    n += entry.stat().st_uid == uid
    return n


def _bwrap_argv(limits: SandboxLimits, info_fd: int | None) -> list[str]:
    python, prefix = _interpreter() or (sys.executable, sys.base_prefix)
    tmp = str(limits.tmp_mb * 1024 * 1024)
    argv = [*_rlimits(limits), "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
    for name in _ROOT_DIRS:
        path = Path("/", name)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    if not Path(prefix).is_relative_to("/usr"):
        argv += ["--ro-bind", prefix, prefix]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--proc", "/proc", "--dev", "/dev",
             "--size", tmp, "--tmpfs", "/tmp", "--size", tmp, "--tmpfs", "/dev/shm", "--chdir", "/tmp",
             "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
             "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8"]
    if limits.network:
        argv.insert(argv.index("--unshare-all") + 1, "--share-net")
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    return argv


class Candidate:
    """One sandboxed candidate process: `load` its code, `call` its function, `close` (kills all).

    Every wait is bounded by one deadline (limits.timeout_s from the start); when anything goes
    wrong `failure` holds the status and SandboxFailure is raised."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.deadline = time.monotonic() + self.limits.timeout_s
        self.failure: str | None = None
        self.unsafe = False
        self._pidfd: int | None = None
        self._workdir: str | None = None
        self._out = tempfile.TemporaryFile()  # stdout/stderr; outside the sandbox, bounded by RLIMIT_FSIZE
        req_r, self._req = os.pipe()
        self._resp, resp_w = os.pipe()
        info_r, info_w = os.pipe()
        try:
            self.proc = self._spawn(req_r, resp_w, info_w)
        except BaseException:
            for fd in (self._req, self._resp, info_r):
                os.close(fd)
            self._out.close()
            raise
        finally:
            for fd in (req_r, resp_w, info_w):
                os.close(fd)
        for fd in (self._req, self._resp):
            os.set_blocking(fd, False)
        try:
            if not self.unsafe:
                self._pidfd = self._namespace_init(info_r)
        finally:
            os.close(info_r)

    def _spawn(self, req_r: int, resp_w: int, info_w: int) -> subprocess.Popen:
        driver = Path(wire.__file__).read_text(encoding="utf-8") + f"\nserve({req_r}, {resp_w})\n"
        if sandbox_problem() is None:
            python = (_interpreter() or (sys.executable, ""))[0]
            argv = _bwrap_argv(self.limits, info_w) + [python, "-I", "-S", "-X", "utf8", "-c", driver]
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
                                    pass_fds=(req_r, resp_w, info_w), env={}, **_user_kwargs())
        require_sandbox()
        _warn_unsafe()
        self.unsafe = True
        self._workdir = tempfile.mkdtemp(prefix="rv-eval-unsafe-")
        env = {"PATH": "/usr/bin:/bin", "HOME": self._workdir, "TMPDIR": self._workdir, "LANG": "C.UTF-8"}
        return subprocess.Popen(_rlimits(self.limits) + [sys.executable, "-I", "-S", "-X", "utf8", "-c", driver],
                                cwd=self._workdir, env=env, stdin=subprocess.DEVNULL, stdout=self._out,
                                stderr=subprocess.STDOUT, pass_fds=(req_r, resp_w), start_new_session=True)

    def _namespace_init(self, info_r: int) -> int | None:
        """A pidfd of the sandbox's pid 1 (bwrap's reaper): killing it ends every process inside."""
        data = b""
        while time.monotonic() < self.deadline + 5:
            if not select.select([info_r], [], [], 0.5)[0]:
                continue
            chunk = os.read(info_r, 4096)
            if not chunk:
                break
            data += chunk
            try:
                pid = int(json.loads(data)["child-pid"])
            except (ValueError, KeyError, TypeError):
                continue  # not all of it yet
            try:
                return os.pidfd_open(pid)
            except ProcessLookupError:
                return None  # pid 1 already ended, and its namespace with it
        self.close()
        self._out.seek(0)
        raise RuntimeError(f"the sandbox did not start: {self._out.read()[-500:].decode('utf-8', 'replace')}")

    # ---- the protocol ---------------------------------------------------------------------------

    def load(self, code: str, entry_point: str) -> str | None:
        """Run the candidate's code; None when `entry_point` is ready, else the failure status."""
        try:
            self._send(["load", code, entry_point])
            reply = self._receive()
        except SandboxFailure as e:
            return e.status
        if reply == ["ready"]:
            return None
        if isinstance(reply, list) and len(reply) == 3 and reply[0] == "error":
            return {"SyntaxError": "syntax_error", "IndentationError": "syntax_error", "TabError": "syntax_error",
                    "MemoryError": "memory"}.get(str(reply[1]), "runtime_error")
        return self._fail("runtime_error")

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Call the candidate's function: a plain-data result, or its exception re-raised as a
        builtin exception type (never its own object); SandboxFailure when the process failed."""
        if self.failure:
            raise SandboxFailure(self.failure)
        try:
            request = ["call", wire.encode(list(args), strict=True), wire.encode(kwargs, strict=True)]
        except RecursionError:
            raise TypeError("test arguments nest too deeply to send") from None
        self._send(request)
        reply = self._receive()
        if isinstance(reply, list) and len(reply) == 3 and reply[0] == "raise":
            raise wire.exception_class(reply[1])(f"{str(reply[1])[:100]}: {str(reply[2])[:2000]}")
        if isinstance(reply, list) and len(reply) == 2 and reply[0] == "ok":
            try:
                return wire.decode(reply[1])
            except (ValueError, TypeError, RecursionError, MemoryError):
                pass
        return self._fail("runtime_error")  # not a well-formed reply

    def _fail(self, status: str) -> Any:
        self.failure = self.failure or status
        self.close()
        raise SandboxFailure(self.failure)

    def _send(self, message: list) -> None:
        data = wire.dumps(message)
        while data:
            if self._left() <= 0:
                self._fail("timeout")
            try:
                if select.select([], [self._req], [], self._left())[1]:
                    data = data[os.write(self._req, data):]
            except BrokenPipeError:
                self._fail(self._ended())

    def _receive(self) -> Any:
        head = self._read(wire.HEADER.size)
        size = wire.HEADER.unpack(head)[0]
        if size > MAX_MESSAGE_BYTES:
            self._fail("output_limit")
        try:
            return wire.loads(self._read(size))
        except ValueError:
            return self._fail("runtime_error")

    def _read(self, n: int) -> bytes:
        chunks: list[bytes] = []
        while n:
            if self._left() <= 0:
                self._fail("timeout")
            if not select.select([self._resp], [], [], self._left())[0]:
                continue
            chunk = os.read(self._resp, min(n, 1 << 20))
            if not chunk:
                self._fail(self._ended())
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _left(self) -> float:
        return self.deadline - time.monotonic()

    def _ended(self) -> str:
        """Status of a process that closed its end of the pipe early."""
        try:
            code = self.proc.wait(timeout=max(0.5, min(2.0, self._left())))
        except subprocess.TimeoutExpired:
            return "timeout" if self._left() <= 0 else "crashed"
        if self.output_bytes() >= self.limits.max_output_bytes:
            return "output_limit"
        sig = -code if code < 0 else code - 128 if code > 128 else 0  # bwrap reports 128 + signal
        if code == 0:
            return "exited_early"
        if sig in (signal.SIGXCPU,):
            return "timeout"
        if sig == signal.SIGXFSZ:
            return "output_limit"
        if sig:
            return "crashed"
        return "memory" if b"MemoryError" in self._tail() else "runtime_error"

    def output_bytes(self) -> int:
        """How much the candidate wrote to stdout and stderr."""
        return os.fstat(self._out.fileno()).st_size

    def _tail(self, n: int = 4000) -> bytes:
        self._out.seek(max(0, self.output_bytes() - n))
        return self._out.read()

    def close(self) -> None:
        """End the candidate and everything it started; idempotent."""
        if self._req is not None:
            os.close(self._req)
            self._req = None  # type: ignore[assignment]
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=0.2)  # the driver ends at EOF; bwrap then tears everything down
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            select.select([self._pidfd], [], [], 10)  # readable once pid 1 and its namespace are gone
            os.close(self._pidfd)
            self._pidfd = None
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)  # outer bwrap reaps pid 1 and exits by itself
        if self.unsafe:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        if self._resp is not None:
            os.close(self._resp)
            self._resp = None  # type: ignore[assignment]
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Candidate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._out.close()


@functools.cache
def _warn_unsafe() -> None:
    log.warning("running model-written code WITHOUT OS isolation (--unsafe-code-execution): "
                "it can read, change and delete whatever this user can")
