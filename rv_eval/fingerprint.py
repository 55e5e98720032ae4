"""Fingerprints of everything that alters a cell's results.

A cell's fingerprint hashes the model (content hash of its folder, or the merge provenance of an
α-variant), the task (its resolved lm-eval config, the source of the modules its hooks live in,
and the hash of every question it serves), the sampling settings, the backend settings that change
generations, and the seed. Equal fingerprint ⇒ the stored cell is reused; different ⇒ re-run.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

from rv_eval import atomicio
from rv_eval.hashing import canonical_json, sha256_file, sha256_json, sha256_text

#: Bump when the runner changes what it stores for the same inputs.
FORMAT_VERSION = 1


def doc_hash(doc: Any) -> str:
    """sha256 of a question's content (canonical JSON)."""
    return sha256_json(doc)


def doc_json_and_hash(doc: Any) -> tuple[str, str]:
    """A question's canonical JSON (stored with its samples) and its `doc_hash`, serialised once."""
    text = canonical_json(doc)
    return text, sha256_text(text)


class FolderHasher:
    """Content hashes of model folders, cached per file by (size, mtime) in a JSON file."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file
        self._cache: dict[str, dict[str, Any]] = {}
        if cache_file and cache_file.is_file():
            try:
                self._cache = json.loads(cache_file.read_text())
            except (json.JSONDecodeError, OSError):
                self._cache = {}
        self._dirty = False

    def file_hash(self, path: Path) -> str:
        """sha256 of one file's bytes (cached while size and mtime stay the same)."""
        st = path.stat()
        key = str(path.resolve())
        hit = self._cache.get(key)
        if hit and hit["size"] == st.st_size and hit["mtime_ns"] == st.st_mtime_ns:
            return hit["sha256"]
        digest = sha256_file(path, block_bytes=1 << 22)
        self._cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self._dirty = True
        return digest

    def model_hash(self, model: str) -> str:
        """Hash of every file in a model folder (weights, config, tokenizer); hub ids hash by name."""
        folder = Path(model)
        if not folder.is_dir():
            return sha256_json({"hub": model})
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        return sha256_json([[str(p.relative_to(folder)), self.file_hash(p)] for p in files])

    def save(self) -> None:
        """Persist the cache (atomically) if anything new was hashed."""
        if self.cache_file and self._dirty:
            atomicio.write_json(self.cache_file, self._cache)
            self._dirty = False


def _callable_id(fn: Any) -> Any:
    """A stable description of a config hook: its qualified name and its module's source hash."""
    mod = inspect.getmodule(fn)
    src = ""
    try:
        src_file = inspect.getsourcefile(fn) if mod is None else inspect.getsourcefile(mod)
        if src_file and os.path.isfile(src_file):
            src = sha256_file(src_file)
    except TypeError:
        pass
    return {"fn": getattr(fn, "__qualname__", type(fn).__name__), "module_sha256": src}


def _stable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _stable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_stable(v) for v in obj]
    if callable(obj):
        return _callable_id(obj)
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return type(obj).__name__


def task_fingerprint(config: dict[str, Any], doc_hashes: list[str], limit: int | None) -> str:
    """Fingerprint of a task as served: resolved config (hooks by module source) + question hashes + limit."""
    return sha256_json({"config": _stable(config), "docs": doc_hashes, "limit": limit})


def cell_fingerprint(model_fp: str, task_fp: str, sampling: dict[str, Any], backend: dict[str, Any], seed: int) -> str:
    """Fingerprint of one model × task × seed cell."""
    return sha256_json({"v": FORMAT_VERSION, "model": model_fp, "task": task_fp, "sampling": sampling,
                        "backend": backend, "seed": seed})
