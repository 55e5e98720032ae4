"""Atomic file and folder output: write to a temporary name in the same folder, then rename.

A killed process therefore never leaves a file or folder that looks finished. An output path
that cannot be written (a folder where a file belongs, a parent that is a plain file) is a
`UserError` raised before anything is created, and so is a full disk while writing (`no_space`).

A folder replacing an older one is swapped in with one atomic `renameat2(RENAME_EXCHANGE)` where
Linux offers it; elsewhere the old folder is moved aside first (`.NAME.old-PID`), and a process
killed between the two renames leaves it there for `recover_folder` to put back or remove.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from rv_eval.errors import UserError

Kind = Literal["file", "folder"]
log = logging.getLogger(__name__)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


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
    if kind != "file":
        recover_folder(path)
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
    except BaseException as e:
        _remove(tmp)
        _remove_empty(created)
        if isinstance(e, OSError) and is_no_space(e):
            raise no_space(path) from None
        raise
    finally:
        _remove(tmp)


def is_no_space(e: BaseException) -> bool:
    """Whether `e` reports a full disk or exhausted quota (also pyarrow's errors, which carry no errno)."""
    return isinstance(e, OSError) and (e.errno in _NO_SPACE or "No space left on device" in str(e)
                                       or "Disk quota exceeded" in str(e))


def no_space(path: str | os.PathLike) -> UserError:
    """The one-line error for a full disk while writing `path` (names the device and its mount point)."""
    mount, device = _mount_of(Path(path))
    return UserError(f"no space left on {device} (mounted at {mount}) while writing {path}; nothing was "
                     f"published there. Fix: free space on {mount}, or write the output to another disk.")


def _mount_of(path: Path) -> tuple[str, str]:
    """(mount point, device) of the filesystem holding `path` (or its nearest existing parent)."""
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    device = "the device"
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 1 and fields[1] == str(p):
                device = fields[0]  # the last entry for a mount point is the visible one
    return str(p), device


def publish_folder(tmp: Path, final: Path) -> None:
    """Rename the finished folder `tmp` onto `final`, replacing an older `final`.

    Where the filesystem supports it, the two folders are exchanged in one atomic step and the old
    one (now at `tmp`) is removed: `final` is always a complete folder. Otherwise the old folder is
    moved aside to `.NAME.old-PID` first and removed after the rename; a process killed between the
    two renames leaves no `final` for a moment, which `recover_folder` (run by every later publish
    and merge of `final`) repairs by putting the old folder back.
    """
    if not final.exists():
        os.replace(tmp, final)
        return
    if _exchange(tmp, final):
        _remove(tmp)  # the old folder; a leftover is a stale temp folder
        return
    old = _old_name(final, os.getpid())
    os.replace(final, old)
    os.replace(tmp, final)
    _remove(old)


def recover_folder(final: str | os.PathLike) -> None:
    """Repair what a killed publish left next to `final`: the old folder moved aside before the
    second rename (put back when `final` is missing, else removed), and the old folder swapped out
    to `atomic_path`'s temporary name. Folders of a process still running are left alone."""
    final = Path(final)
    if not final.parent.is_dir():
        return
    for tmp in final.parent.glob(f".{final.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and tmp.is_dir():
            log.info("removing %s left by an interrupted run", tmp)
            shutil.rmtree(tmp, ignore_errors=True)
    for old in sorted(final.parent.glob(f".{final.name}.old-*")):
        pid = old.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
            continue
        if final.exists() or final.is_symlink():
            log.info("removing %s left by an interrupted publish of %s", old, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            log.warning("restoring %s from %s (a publish was interrupted between its renames)", final, old)
            os.replace(old, final)


def _old_name(final: Path, pid: int) -> Path:
    return final.with_name(f".{final.name}.old-{pid}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap the paths `a` and `b` (Linux renameat2); False where unsupported."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):  # filesystem without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


@functools.cache
def _renameat2() -> Any:
    """libc's renameat2, or None (not Linux, or an old C library)."""
    if not hasattr(os, "sched_getaffinity"):  # not Linux
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


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
    return Path(tempfile.mkdtemp(prefix=f".{prefix}.tmp-{os.getpid()}-", dir=parent))


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
