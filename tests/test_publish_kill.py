"""A SIGKILL inside `atomicio.publish_folder` during `merge --force`: the variant folder is never lost
and the old copy never lingers once the merge is re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from rv_eval import atomicio
from rv_eval.cli import main

ROOT = Path(__file__).resolve().parent.parent

# Runs `rv-eval ARGS...` with a SIGKILL injected at one point of publish_folder:
#   renames  - the two-rename fallback, killed right after the old folder was moved aside
#   exchange - the atomic exchange, killed right after the swap (before the old copy is removed)
KILLER = textwrap.dedent("""
    import os, signal, sys
    from rv_eval import atomicio, cli

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    mode = sys.argv[1]
    if mode == "renames":
        atomicio._exchange = lambda a, b: False
        real_replace = os.replace
        def replace(src, dst, *a, **k):
            real_replace(src, dst, *a, **k)
            if ".old-" in os.path.basename(os.fspath(dst)):
                die()
        os.replace = replace
    else:
        real_exchange = atomicio._exchange
        def exchange(a, b):
            if not real_exchange(a, b):
                sys.exit(77)  # this filesystem cannot exchange
            die()
        atomicio._exchange = exchange
    sys.exit(cli.main(sys.argv[2:]))
""")


def _family(root: Path) -> dict[str, Path]:
    out = {}
    for role, v in (("pre", 0.0), ("post", 1.0), ("target", 2.0)):
        (root / role).mkdir(parents=True)
        save_file({"w": torch.full((64, 64), v)}, root / role / "model.safetensors")
        out[role] = root / role
    return out


def _args(fam: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["merge", "--pre", str(fam["pre"]), "--post", str(fam["post"]), "--target", str(fam["target"]),
            "--alpha", "0.5", "--out", str(out), *extra]


def _kill_during_publish(mode: str, fam: dict[str, Path], out: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLER, mode, *_args(fam, out, "--force")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode == 77:
        pytest.skip("this filesystem has no atomic exchange (renameat2)")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def _variant_ok(out: Path) -> bool:
    return torch.equal(load_file(out / "alpha_0.5" / "model.safetensors")["w"], torch.full((64, 64), 2.5))


@pytest.mark.slow
def test_kill_between_the_two_renames_is_restored_by_a_rerun(tmp_path):
    fam = _family(tmp_path / "in")
    out = tmp_path / "out"
    assert main(_args(fam, out)) == 0
    _kill_during_publish("renames", fam, out)
    assert not (out / "alpha_0.5").exists()  # the window the fallback cannot avoid
    assert [n for n in _leftovers(out) if n.startswith(".alpha_0.5.old-")]

    assert main(_args(fam, out)) == 0  # the re-run puts the old (complete) folder back
    assert _variant_ok(out) and _leftovers(out) == []
    assert main(_args(fam, out, "--force")) == 0
    assert _variant_ok(out) and _leftovers(out) == []


@pytest.mark.slow
def test_kill_after_the_atomic_exchange_leaves_a_complete_folder(tmp_path):
    fam = _family(tmp_path / "in")
    out = tmp_path / "out"
    assert main(_args(fam, out)) == 0
    _kill_during_publish("exchange", fam, out)
    assert _variant_ok(out)  # never missing: the new folder was swapped in whole
    assert _leftovers(out)  # the old copy, under a temporary name
    assert main(_args(fam, out)) == 0
    assert _variant_ok(out) and _leftovers(out) == []


def test_publish_replaces_a_folder_in_one_step(tmp_path):
    final, tmp = tmp_path / "f", tmp_path / ".f.tmp-1"
    final.mkdir()
    (final / "old").write_text("1")
    tmp.mkdir()
    (tmp / "new").write_text("2")
    atomicio.publish_folder(tmp, final)
    assert sorted(p.name for p in final.iterdir()) == ["new"] and not tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recover_folder_restores_or_removes_and_leaves_live_ones(tmp_path):
    final = tmp_path / "alpha_1"
    old = tmp_path / f".alpha_1.old-{_dead_pid()}"
    old.mkdir()
    (old / "x").write_text("old")
    atomicio.recover_folder(final)  # final missing: the old folder comes back
    assert (final / "x").read_text() == "old" and not old.exists()

    old.mkdir()
    atomicio.recover_folder(final)  # final present: the moved-aside copy goes
    assert not old.exists()

    live = tmp_path / f".alpha_1.old-{os.getppid()}"  # a publish still running elsewhere
    live.mkdir()
    atomicio.recover_folder(final)
    assert live.exists()
