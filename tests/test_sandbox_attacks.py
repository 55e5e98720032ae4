"""Hostile answers against the code grader (issue 15): no false pass, no escape, nothing left behind.

Every attack is a HumanEval/0 answer. "Probe" attacks return the right answer only when the probe
works (a file is visible, a socket connects, ...): a pass would mean the sandbox leaked, and the
same answer run without isolation must pass, which shows each probe is live.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from rv_eval.errors import UserError
from rv_eval.grading import GradeItem, SandboxLimits, grade_code, grade_many
from rv_eval.grading import sandbox as sandbox_mod
from rv_eval.paths import PROJECT_ROOT

FAST = SandboxLimits(timeout_s=4)
RIGHT = "any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])"


@pytest.fixture(scope="module")
def problem(shared_data) -> dict:
    with gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        return json.loads(f.readline())  # has_close_elements


def body(code: str) -> str:
    """A function body (indented four spaces) from unindented code."""
    return textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", "    ")


def probe(condition: str) -> str:
    """An answer that is right only when `condition` (an expression) is true inside the sandbox."""
    return body(f"""
        try:
            ok = bool({condition})
        except BaseException:
            ok = False
        return {RIGHT} if ok else None
    """)


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/comm").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmd:
            found.append(pid)
    return found


@pytest.fixture
def without_isolation(monkeypatch):
    """Grade as if bwrap could not run, with --unsafe-code-execution (the probes' control)."""
    monkeypatch.setattr(sandbox_mod, "sandbox_problem", lambda: "disabled in this test")
    monkeypatch.setenv(sandbox_mod.UNSAFE_ENV, "1")


# ---- false passes ------------------------------------------------------------------------------


FALSE_PASSES = {
    "token from the environment, then os._exit(0)": body("""
        import os
        print(os.environ.get("RV_EVAL_SANDBOX", ""), flush=True)
        os._exit(0)
    """),
    "token from the frames' co_consts, then os._exit(0)": body("""
        import os, sys
        f = sys._getframe()
        while f.f_back:
            f = f.f_back
        print(*[c for c in f.f_code.co_consts if isinstance(c, str)], flush=True)
        os._exit(0)
    """),
    "sys.excepthook prints a token": body("""
        import sys
        sys.excepthook = lambda *a: print("passed", flush=True)
        return 1 / 0
    """),
    "an object whose __eq__ is always True": body("""
        class Yes:
            def __eq__(self, other):
                return True
            __ne__ = lambda self, other: False
            __bool__ = lambda self: True
        return Yes()
    """),
    "an int subclass whose __eq__ is always True": body("""
        class Yes(int):
            __eq__ = lambda self, other: True
            __hash__ = int.__hash__
        return Yes(7)
    """),
    "a list subclass whose __eq__ is always True": body("""
        class Yes(list):
            __eq__ = lambda self, other: True
        return Yes([7])
    """),
    "forged reply frames written to every inherited descriptor": body("""
        import os, json, struct
        frame = json.dumps(["ok", ["B", True]]).encode()
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack(">I", len(frame)) + frame)
            except OSError:
                pass
        return True
    """),
    "SystemExit(0) from the function": body("raise SystemExit(0)"),
    "raises AssertionError subclass that compares equal": body("""
        class Weird(AssertionError):
            __eq__ = lambda self, other: True
        raise Weird()
    """),
}


@pytest.mark.parametrize("name", list(FALSE_PASSES))
def test_false_pass_attacks_fail(problem, name):
    g = grade_code(FALSE_PASSES[name], problem, FAST)
    assert not g.correct, (name, g.reason)


def test_an_object_cannot_pass_a_truth_test(shared_data):
    """HumanEval/56 asserts `candidate(s)` and `not candidate(s)`: no object answers both."""
    with gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        brackets = next(p for p in map(json.loads, f) if p["task_id"] == "HumanEval/56")
    flipper = body("""
        class Flip:
            n = 0
            def __bool__(self):
                Flip.n += 1
                return Flip.n % 2 == 1
        return Flip()
    """)
    assert grade_code(flipper, brackets, FAST).reason == "runtime_error"
    assert grade_code(body("return (i for i in [])"), brackets, FAST).reason == "runtime_error"
    assert grade_code(brackets["canonical_solution"], brackets, FAST).correct


def test_the_right_answer_still_passes_and_a_constant_fails(problem):
    assert grade_code(body(f"return {RIGHT}"), problem, FAST).correct
    assert grade_code(body("return True"), problem, FAST).reason == "test_failed"


def test_plain_values_cross_faithfully():
    """Tuples stay tuples, floats exact (inf, nan, -0.0), ints any size, dict keys of any plain type."""
    from rv_eval.grading import wire

    values = [
        (1, 2), [1, (2, 3)], 0.1, float("inf"), -0.0, 10**5000, -(2**70), True, None, "日本語\ud800",
        {5: "banana", "p": (1.5,), (1, 2): None}, {1, 2}, frozenset({"a"}), b"\x00\xff", 3 + 4j, [],
    ]
    for v in values:
        back = wire.decode(wire.loads(wire.dumps(wire.encode(v))[4:]))
        assert back == v and type(back) is type(v), v  # == tells [1, (2, 3)] from [1, [2, 3]]
    assert repr(wire.decode(wire.encode(-0.0))) == "-0.0"
    nan = wire.decode(wire.encode(float("nan")))
    assert nan != nan
    assert wire.decode(wire.encode(object())) != wire.decode(wire.encode(object()))
    for bad in (["I", 5], ["L", 5], ["Q"], "x", [], ["D", [[["L", []], ["N"]]]]):
        with pytest.raises((ValueError, TypeError)):
            wire.decode(bad)


# ---- what the candidate can see ------------------------------------------------------------------


def _visible_paths(shared_data: Path) -> dict[str, str]:
    gz = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    return {
        "benchmark data (canonical solutions)": f"open({str(gz)!r}, 'rb').read(2)",
        "the project checkout": f"open({str(PROJECT_ROOT / 'pyproject.toml')!r}).read(1)",
        "the grader's home": f"__import__('os').listdir({os.path.expanduser('~')!r}) is not None",
        "/etc/passwd": "open('/etc/passwd').read(1)",
    }


def test_the_sandbox_sees_no_data_project_or_home(problem, shared_data):
    for name, condition in _visible_paths(shared_data).items():
        g = grade_code(probe(condition), problem, FAST)
        assert not g.correct, name


def test_reading_the_canonical_solution_from_the_data_dir_fails(problem, shared_data):
    gz = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    cheat = body(f"""
        import gzip, json
        for p in map(json.loads, gzip.open({str(gz)!r}, "rt")):
            if p["entry_point"] == "has_close_elements":
                ns = {{}}
                exec(p["prompt"] + p["canonical_solution"], ns)
                return ns["has_close_elements"](numbers, threshold)
    """)
    assert grade_code(cheat, problem, FAST).reason == "runtime_error"


def test_probes_are_live_without_isolation(problem, shared_data, without_isolation):
    """The same probes pass when the code runs unisolated: the tests above can fail."""
    gz = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    assert grade_code(probe(f"open({str(gz)!r}, 'rb').read(2)"), problem, FAST).correct
    assert grade_code(probe(f"open({str(PROJECT_ROOT / 'pyproject.toml')!r}).read(1)"), problem, FAST).correct


def test_unix_sockets_and_tcp_on_the_host_are_unreachable(problem, monkeypatch):
    path = Path("/tmp") / f"rv-eval-test-{uuid.uuid4().hex[:8]}.sock"
    abstract_name = f"\0rv-eval-test-{uuid.uuid4().hex[:8]}"
    servers = [socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX), socket.create_server(("127.0.0.1", 0))]
    servers[0].bind(str(path))
    os.chmod(path, 0o777)
    servers[1].bind(abstract_name)
    for s in servers[:2]:
        s.listen()
    try:
        port = servers[2].getsockname()[1]
        unix = "__import__('socket').socket(__import__('socket').AF_UNIX).connect({!r}) is None"
        probes = [unix.format(str(path)), unix.format(abstract_name),
                  f"__import__('socket').create_connection(('127.0.0.1', {port}), timeout=1) is not None"]
        for condition in probes:
            assert not grade_code(probe(condition), problem, FAST).correct, condition
        monkeypatch.setattr(sandbox_mod, "sandbox_problem", lambda: "disabled in this test")
        monkeypatch.setenv(sandbox_mod.UNSAFE_ENV, "1")
        for condition in probes:  # the control: without isolation every probe connects
            assert grade_code(probe(condition), problem, FAST).correct, condition
    finally:
        for s in servers:
            s.close()
        path.unlink()


def test_parent_processes_are_invisible(problem):
    """No /proc entry, environment, signal or ptrace reaches the grader (a private pid namespace)."""
    me = os.getpid()
    for condition in (
        f"__import__('os').path.exists('/proc/{me}/environ') and b'PATH' in open('/proc/{me}/environ', 'rb').read()",
        f"__import__('os').kill({me}, 0) is None",
        f"__import__('ctypes').CDLL(None).ptrace(16, {me}, 0, 0) == 0",  # PTRACE_ATTACH
        "len([p for p in __import__('os').listdir('/proc') if p.isdigit()]) > 5",
    ):
        assert not grade_code(probe(condition), problem, FAST).correct, condition


# ---- escapes and leftovers -----------------------------------------------------------------------


def test_posix_functions_cannot_touch_the_host(problem, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("still here")
    os.chmod(tmp_path, 0o777)
    os.chmod(canary, 0o666)
    attack = body(f"""
        import posix
        for f in (lambda: posix.unlink({str(canary)!r}), lambda: posix.kill({os.getpid()}, 9),
                  lambda: posix.kill(-1, 9), posix.setsid):
            try:
                f()
            except OSError:
                pass
        if posix.fork() == 0:
            posix.execv("/bin/sh", ["/bin/sh", "-c", "rm -f {canary}"])
        return True
    """)
    g = grade_code(attack, problem, FAST)
    assert (g.correct, g.reason) == (False, "test_failed")  # it ran to the end, then failed the test
    assert canary.read_text() == "still here"


def _grade_in_subprocess(items: list[tuple[str, dict]], limits: SandboxLimits, workers: int) -> subprocess.CompletedProcess:
    """grade_many in a separate process (an attack that could kill its grader cannot kill pytest)."""
    code = (
        "import json, sys\n"
        "from rv_eval.grading import GradeItem, PoolConfig, SandboxLimits, grade_many\n"
        "spec = json.load(sys.stdin)\n"
        "items = [GradeItem('code', b, '', 'en', {'problem': p, 'limits': SandboxLimits(**spec['limits'])})"
        " for b, p in spec['items']]\n"
        "print(json.dumps([[g.correct, g.reason] for g in grade_many(items, workers=spec['workers'],"
        " config=PoolConfig(progress=False))]))\n"
    )
    spec = {"items": items, "limits": {"timeout_s": limits.timeout_s}, "workers": workers}
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-c", code], input=json.dumps(spec), capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.slow
def test_a_double_forked_killer_neither_outlives_grading_nor_harms_other_answers(problem):
    """A grandchild in its own session, exec'd, looping kill(-1, 9): gone when grading ends;
    correct answers graded beside it (in parallel) and after it still pass."""
    marker = f"rvkiller{uuid.uuid4().hex[:8]}"
    killer = body(f"""
        import posix, sys
        if posix.fork() == 0:
            posix.setsid()
            if posix.fork() == 0:
                loop = "import os\\nwhile True:\\n    try: os.kill(-1, 9)\\n    except OSError: pass"
                posix.execv(sys.executable, [sys.executable, "-c", loop, "{marker}"])
            posix._exit(0)
        import time
        time.sleep(1.5)
        return True
    """)
    right = body(f"import time\ntime.sleep(0.3)\nreturn {RIGHT}")
    items = [(killer, problem)] * 2 + [(right, problem)] * 6 + [(killer, problem)] + [(right, problem)] * 4
    done = _grade_in_subprocess(items, FAST, workers=2)
    assert done.returncode == 0, done.stderr[-2000:]
    grades = json.loads(done.stdout.strip().splitlines()[-1])
    assert [g[0] for g in grades] == [False, False] + [True] * 6 + [False] + [True] * 4, grades
    time.sleep(0.5)
    assert _processes_with(marker) == []


def test_files_in_tmp_and_dev_shm_do_not_persist(problem):
    name = f"rv-eval-leftover-{uuid.uuid4().hex[:8]}"
    attack = body(f"""
        for d in ("/tmp", "/dev/shm"):
            with open(d + "/{name}", "wb") as f:
                f.write(b"x" * 100_000)
        try:
            with open("/dev/shm/{name}.big", "wb") as f:
                for _ in range(400):
                    f.write(b"x" * 500_000)
        except OSError:
            pass
        return True
    """)
    g = grade_code(attack, problem, FAST)
    assert (g.correct, g.reason) == (False, "test_failed")  # the files were written, inside
    assert not any(Path(d, name).exists() or Path(d, name + ".big").exists() for d in ("/tmp", "/dev/shm"))
    reader = probe(f"open('/tmp/{name}', 'rb').read(1) == b'x'")
    assert not grade_code(reader, problem, FAST).correct  # not carried to the next answer either


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (body("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"), "timeout"),
        (body("x = bytearray(8 * 1024 ** 3)\nreturn True"), "memory"),
        (body("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)"), "output_limit"),
        (body("return 'x' * (40 * 1024 * 1024)"), "output_limit"),
        (body("a = []\nfor _ in range(100000):\n    a = [a]\nreturn a"), "runtime_error"),
        (body("import os\nos.setuid(0)\nreturn True"), "runtime_error"),
    ],
    ids=["fork bomb", "memory bomb", "huge output", "huge result", "deeply nested result", "setuid"],
)
def test_resource_attacks_end_with_their_reason(problem, attack, reason):
    start = time.monotonic()
    g = grade_code(attack, problem, SandboxLimits(timeout_s=3))
    assert (g.correct, g.reason) == (False, reason)
    assert time.monotonic() - start < 15


# ---- no silently weaker mode ---------------------------------------------------------------------


def test_without_bwrap_code_grading_refuses_in_one_line(problem, monkeypatch):
    monkeypatch.setattr(sandbox_mod, "sandbox_problem", lambda: "bwrap is not installed")
    monkeypatch.delenv(sandbox_mod.UNSAFE_ENV, raising=False)
    with pytest.raises(UserError, match="unsafe-code-execution") as e:
        grade_code(body(f"return {RIGHT}"), problem, FAST)
    assert "\n" not in str(e.value)
    monkeypatch.setenv(sandbox_mod.UNSAFE_ENV, "1")
    assert grade_code(body(f"return {RIGHT}"), problem, FAST).correct


def test_a_missing_bwrap_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert sandbox_mod.sandbox_problem.__wrapped__() == "bwrap is not installed"


def test_grade_many_refuses_before_grading(problem, monkeypatch):
    monkeypatch.setattr(sandbox_mod, "sandbox_problem", lambda: "bwrap is not installed")
    monkeypatch.delenv(sandbox_mod.UNSAFE_ENV, raising=False)
    with pytest.raises(UserError, match="bubblewrap"):
        grade_many([GradeItem("code", body("return True"), "", "en", {"problem": problem})], workers=1)


def test_cli_accepts_unsafe_code_execution():
    from rv_eval.cli import build_parser

    parser = build_parser()
    for argv in (["run", "--model-grid", "g.yaml", "--unsafe-code-execution"],
                 ["regrade", "runs/x", "--unsafe-code-execution"]):
        assert parser.parse_args(argv).unsafe_code_execution is True


# ---- as an ordinary user -------------------------------------------------------------------------

NON_ROOT_SCRIPT = r"""
import gzip, json, os, signal, socket, sys
from rv_eval.grading import SandboxLimits, grade_code
home = os.environ["HOME"]
canary = os.path.join(home, "canary.txt")
open(canary, "w").write("still here")
server = socket.create_server(("127.0.0.1", 0))
port = server.getsockname()[1]
problem = json.loads(gzip.open(sys.argv[1], "rt").readline())
right = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
me = os.getpid()
attacks = {
    "delete a file in home": f"    import os\n    os.unlink({canary!r})\n" + right,
    "tcp to 127.0.0.1": f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n" + right,
    "sigkill the grader": f"    import os\n    os.kill({me}, 9)\n" + right,
    "kill(-1, 9)": "    import os\n    os.kill(-1, 9)\n" + right,
}
out = {"uid": os.getuid(), "right": grade_code(right, problem, SandboxLimits(timeout_s=4)).correct}
for name, attack in attacks.items():
    g = grade_code(attack, problem, SandboxLimits(timeout_s=4))
    out[name] = [g.correct, g.reason]
out["canary"] = open(canary).read()
print(json.dumps(out))
"""


def _as_user_argv(uid: int, home: Path) -> list[str]:
    """Run the venv's Python as `uid`; where the interpreter sits under a private folder (pyenv in
    /root), inside a mount namespace that shows only that installation in its place."""
    python = Path(sys.executable)
    setpriv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--reset-env"]
    inner = f"cd / && HOME={home} PYTHONPATH={PROJECT_ROOT} exec {' '.join(setpriv)} env HOME={home} " \
            f"PYTHONPATH={PROJECT_ROOT} {python} -c \"$0\" \"$1\""
    prefix = Path(sys.base_prefix).resolve()
    hidden = next((p for p in prefix.parents if p != Path("/") and not p.stat().st_mode & 0o001), None)
    if hidden is None:
        return ["sh", "-c", inner]
    stash = f"/run/rv-eval-test-{uuid.uuid4().hex[:8]}"
    script = (f"mkdir -p {stash} && mount --bind {prefix} {stash} && mount -t tmpfs -o mode=755,size=1m tmpfs "
              f"{hidden} && mkdir -p {prefix} && mount --bind {stash} {prefix} && umount {stash} && rmdir {stash} && "
              + inner)
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script]


@pytest.mark.slow
def test_as_an_ordinary_user(shared_data):
    """As a non-root user: no home file deleted, no TCP to localhost, the grader survives.
    Run as root, the test creates a user (useradd) and grades as that user."""
    gz = str(shared_data / "humaneval" / "HumanEval.jsonl.gz")
    user = None
    if os.geteuid() == 0:
        if not shutil.which("useradd") or not shutil.which("setpriv"):
            pytest.skip("useradd/setpriv are missing: cannot switch to an ordinary user")
        if _as_user_argv(0, Path("/"))[0] == "unshare" and subprocess.run(["unshare", "-m", "true"]).returncode:
            pytest.skip("Python sits in a root-only folder and mount namespaces are not allowed: "
                        "an ordinary user cannot run it here")
        user = f"rvsbx{uuid.uuid4().hex[:8]}"
        home = Path(tempfile.mkdtemp(prefix="rv-eval-home-"))  # pytest's own tmp folders are root-only
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/usr/sbin/nologin", user],
                       check=True)
        try:
            uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
            os.chown(home, uid, uid)
            argv = [*_as_user_argv(uid, home), NON_ROOT_SCRIPT, gz]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
        finally:
            subprocess.run(["userdel", user], check=False)
            shutil.rmtree(home, ignore_errors=True)
    else:
        done = subprocess.run([sys.executable, "-c", NON_ROOT_SCRIPT, gz], capture_output=True, text=True,
                              timeout=240, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["uid"] != 0 and out["right"] is True
    assert out["canary"] == "still here"
    for name in ("delete a file in home", "tcp to 127.0.0.1"):
        assert out[name] == [False, "runtime_error"], (name, out[name])
    assert out["sigkill the grader"] == [False, "runtime_error"]  # no such process in its namespace
    assert out["kill(-1, 9)"][0] is False


@pytest.mark.slow
def test_run_refuses_a_code_grid_before_loading_a_model(tiny_family, tmp_path):
    """`rv-eval run` on a grid with a code task, where bwrap is missing: exit 2, one line, nothing written."""
    grid = tmp_path / "grid.yaml"
    out = tmp_path / "out"
    grid.write_text(
        f"name: code\nout: {out}\nmodels:\n  - {{name: t, path: {tiny_family['target']}}}\n"
        "tasks:\n  - {name: humaneval_en, limit: 2}\nseeds: [0]\n"
        "sampling: {temperature: 0, max_gen_toks: 8, samples: 1}\nbackend: {name: hf, dtype: float32}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(PROJECT_ROOT)}  # no bwrap on PATH
    env.pop(sandbox_mod.UNSAFE_ENV, None)
    done = subprocess.run([sys.executable, "-m", "rv_eval", "run", "--model-grid", str(grid), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bwrap is not installed" in lines[0] and "--unsafe-code-execution" in lines[0]
    assert not out.exists()
