"""sha256 of files, texts and JSON-able values: the one place every stage hashes with."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON text of `obj` with sorted keys and unescaped non-ASCII (`str()` for other types)."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Hex sha256 of the UTF-8 bytes of `text`."""
    return sha256_bytes(text.encode("utf-8"))


def sha256_json(obj: Any) -> str:
    """Hex sha256 of the canonical JSON of `obj`."""
    return sha256_text(canonical_json(obj))


def sha256_file(path: str | os.PathLike, block_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(block_bytes):
            h.update(block)
    return h.hexdigest()
