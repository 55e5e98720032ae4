"""Atomic file and folder output: write to a temporary name in the same folder, then rename.

A killed process therefore never leaves a file or folder that looks finished. An output path
that cannot be written (a folder where a file belongs, a parent that is a plain file) is a
`UserError` raised before anything is created.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from rv_eval.errors import UserError

Kind = Literal["file", "folder"]


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, kind: Kind | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it onto `path`.

    Works for files and for folders (the caller creates whichever it needs at the yielded path);
    `kind` says which one up front, so a folder where a file belongs is refused before any work.
    An existing folder at `path` is replaced by a folder. On error the temporary and any parent
    folders created here are removed and `path` is untouched. A parent that is a plain file, or a
    file/folder mismatch with what exists at `path`, raises UserError naming the path.
    """
    path = Path(path)
    check_output_path(path, kind)
    created = _make_parents(path.parent)
    tmp = _tmp_name(path)
    _remove(tmp)
    try:
        yield tmp
        check_output_path(path, "folder" if tmp.is_dir() else "file")
        if path.is_dir() and tmp.is_dir():
            publish_folder(tmp, path)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        _remove(tmp)
        _remove_empty(created)
        raise
    finally:
        _remove(tmp)


def publish_folder(tmp: Path, final: Path) -> None:
    """Rename the finished folder `tmp` onto `final`, replacing an older `final`.

    The old folder is moved aside first and removed only after the rename, so at every moment
    `final` is either the old or the new complete folder.
    """
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def check_output_path(path: str | os.PathLike, kind: Kind | None = None) -> None:
    """Raise UserError if `path` cannot become an output of `kind` ("file", "folder" or either).

    Refused: a parent (or ancestor) that is a plain file, a folder where a file belongs, a file
    where a folder belongs. Nothing is created.
    """
    path = Path(path)
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise UserError(f"{parent} is a file, so {path} cannot be created under it. "
                                f"Fix: choose an output path outside {parent} (or move that file away).")
            break
    if kind == "file" and path.is_dir():
        raise UserError(f"{path} is a folder, not a file. "
                        f"Fix: pass a file path for this output (e.g. {path / 'out'}{path.suffix or '.ext'}) "
                        "or remove the folder.")
    if kind == "folder" and (path.is_file() or (path.is_symlink() and not path.is_dir())):
        raise UserError(f"{path} is a file, not a folder. Fix: pass a folder path for this output "
                        "(or move the file away).")


def check_output_files(*paths: str | os.PathLike | None) -> None:
    """`check_output_path(p, "file")` for every given output (None skipped): call before the work,
    so a bad second output never leaves the first one written."""
    for p in paths:
        if p is not None:
            check_output_path(p, "file")


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p `folder`; return the folders created, deepest first (to undo on failure)."""
    missing = []
    for d in [folder, *folder.parents]:
        if d.exists():
            break
        missing.append(d)
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove `folders` (deepest first) where they are still empty."""
    for d in folders:
        with contextlib.suppress(OSError):
            d.rmdir()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8); UserError if `path` is a folder or lies under a file."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically; UserError if `path` is a folder or lies under a file."""
    with atomic_path(path, "file") as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_json(path: str | os.PathLike, obj: Any, **kwargs: Any) -> None:
    """Write `obj` as pretty, key-sorted JSON atomically."""
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("sort_keys", True)
    kwargs.setdefault("ensure_ascii", False)
    write_text(path, json.dumps(obj, **kwargs) + "\n")


def make_tempdir(parent: str | os.PathLike, prefix: str) -> Path:
    """Create a hidden temporary folder inside `parent` (same filesystem, so a later rename is atomic)."""
    check_output_path(Path(parent) / prefix, "folder")
    Path(parent).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{prefix}.tmp-", dir=parent))


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
