"""A full disk (ENOSPC) in merge, report and regrade: exit 2 with "no space left on DEVICE ... while
writing PATH", nothing half-published. Injected in-process everywhere; on a real, full tmpfs where
the tests run as root and may mount one."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from rv_eval.cli import main
from rv_eval.merge.io import writer
from rv_eval.schema import Grade
from tests.test_store_inputs import _one_error_line, _run_folder


def _family(root: Path) -> dict[str, Path]:
    out = {}
    for role, v in (("pre", 0.0), ("post", 1.0), ("target", 2.0)):
        (root / role).mkdir(parents=True)
        save_file({"w": torch.full((256, 256), v)}, root / role / "model.safetensors")  # 256 KiB
        (root / role / "config.json").write_text('{"model_type": "llama"}')
        out[role] = root / role
    return out


def _merge_args(fam: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["merge", "--pre", str(fam["pre"]), "--post", str(fam["post"]), "--target", str(fam["target"]),
            "--alpha", "0.5,1", "--out", str(out), *extra]


class _FullFile(io.FileIO):
    """A file on a disk that fills up after 100 KB."""

    written = 0

    def write(self, b):
        if _FullFile.written + len(b) > 100_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        _FullFile.written += len(b)
        return super().write(b)


def test_merge_on_full_disk_injected(tmp_path, capsys, monkeypatch):
    fam = _family(tmp_path / "in")
    out = tmp_path / "out"
    _FullFile.written = 0
    monkeypatch.setattr(writer, "open", lambda path, mode="r": _FullFile(path, mode.replace("b", "")), raising=False)
    assert main(_merge_args(fam, out)) == 2
    err = capsys.readouterr().err
    assert _one_error_line(err) and "no space left on" in err and "model.safetensors" in err
    assert sorted(os.listdir(out)) == []  # no variant, no temporary folder


# ---------------------------------------------------------------- a real full tmpfs
@pytest.fixture()
def full_disk(tmp_path):
    """A 4 MiB tmpfs mounted at tmp_path/disk, and a function that fills it to the last byte."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")

    def fill() -> None:
        with contextlib.suppress(OSError), open(disk / ".filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 512)

    try:
        yield disk, fill
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_merge_report_and_regrade_on_a_real_full_disk(tmp_path, capsys, monkeypatch, full_disk):
    disk, fill = full_disk
    fam = _family(tmp_path / "in")
    s = _run_folder(tmp_path, ["a", "b"])
    run = disk / "run"
    shutil.copytree(s.out, run)  # keeps mtimes: the index still matches the files
    cells_before = {p.name: p.read_bytes() for p in (run / "cells").iterdir()}
    fill()

    assert main(_merge_args(fam, disk / "variants")) == 2
    err = capsys.readouterr().err
    assert _one_error_line(err) and "no space left on tmpfs (mounted at " in err and f"{disk}/variants" in err
    assert not (disk / "variants").exists() or os.listdir(disk / "variants") == []

    assert main(["report", str(run), "-o", str(disk / "r.html"), "--baseline", "b"]) == 2
    err = capsys.readouterr().err
    assert _one_error_line(err) and f"no space left on tmpfs (mounted at {disk}) while writing {disk}/r.html" in err
    assert not [p for p in disk.iterdir() if "r.html" in p.name]

    _fixed_grader(monkeypatch, Grade(False, "0", "mismatch"))
    assert main(["regrade", str(run)]) == 2
    err = capsys.readouterr().err
    assert _one_error_line(err) and "no space left on tmpfs" in err and "a--t--s0.parquet" in err
    assert {p.name: p.read_bytes() for p in (run / "cells").iterdir()} == cells_before  # nothing half-written


def _fixed_grader(monkeypatch, grade):
    """regrade grades every response as `grade` (in this process: the tests need no grading workers)."""
    from rv_eval.sample_grading import SampleGrader

    monkeypatch.setattr("rv_eval.regrade.SampleGrader",
                        lambda grader=None, timeout_s=10.0: SampleGrader(lambda task, doc, resp: grade, timeout_s))
