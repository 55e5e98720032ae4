"""Embedding data in the page: JSON, gzip, base64.

Base64 text holds only `A-Z a-z 0-9 + / =`, so no model output embedded this way can close the
`<script>` element it sits in or otherwise reach the HTML parser; the page decodes it with
`DecompressionStream("gzip")` and `JSON.parse`.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any


def to_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON (NaN is not valid JSON: callers pass None instead)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def pack(obj: Any, level: int = 6) -> str:
    """`obj` as base64 of gzipped JSON (deterministic: no timestamp in the gzip header)."""
    return base64.b64encode(gzip.compress(to_json(obj), compresslevel=level, mtime=0)).decode("ascii")


def unpack(text: str) -> Any:
    """The inverse of `pack` (used by tests and tools that read a report back)."""
    return json.loads(gzip.decompress(base64.b64decode(text)).decode("utf-8"))
