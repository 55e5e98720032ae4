"""Lazy safetensors checkpoint reader: single-file or sharded HF folders.

Only headers are parsed when a checkpoint is opened (and checked like `safetensors.safe_open`
would: offsets inside the file, sizes matching shapes); tensor data is read on demand.
`Checkpoint.flat(info, start, end)` reads one flat element range, so callers can stream large
tensors in row chunks with bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rv_eval.errors import UserError
from rv_eval.merge.spec import HUB_ID
from rv_eval.yamlio import brief

log = logging.getLogger(__name__)

INDEX_NAME = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100 * 1024 * 1024

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}
DTYPE_NAMES: dict[torch.dtype, str] = {v: k for k, v in DTYPES.items()}

#: Tensors holding one row per vocabulary entry (checked by the vocabulary policy).
EMBEDDING_RE = re.compile(r"(^|\.)(embed_tokens|lm_head|wte|embed_in|embed_out|word_embeddings)\.weight$")
LM_HEAD = "lm_head.weight"
EMBED_CANDIDATES = ("model.embed_tokens.weight", "transformer.wte.weight", "gpt_neox.embed_in.weight")


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: its file, dtype, shape and byte offset inside the file."""

    name: str
    file: Path
    dtype: torch.dtype
    shape: tuple[int, ...]
    offset: int  # absolute byte offset of the data in the file
    nbytes: int

    @property
    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


class SafetensorsFile:
    """One .safetensors file: parsed header plus a lazily created private memory map."""

    def __init__(self, path: Path):
        self.path = path
        self.header_bytes, self.tensors, self.metadata = _parse_header(path)
        self._fd: int | None = None

    def read(self, info: TensorInfo, start: int, end: int) -> torch.Tensor:
        """Flat elements [start, end) of a tensor of this file, read into a new tensor.

        Uses positional reads (`os.preadv`, thread-safe, releases the GIL) rather than a memory map,
        so the process holds only the chunks in flight: peak RSS does not grow with the model.
        """
        out = torch.empty(max(end - start, 0), dtype=info.dtype)
        if end <= start:
            return out
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        buf = memoryview(out.view(torch.uint8).numpy())
        pos = info.offset + start * out.element_size()
        while len(buf):
            n = os.preadv(self._fd, [buf], pos)
            if n <= 0:
                raise UserError(f"{self.path}: unexpected end of file while reading tensor {info.name}. "
                                "Fix: re-download the checkpoint (it is truncated).")
            buf, pos = buf[n:], pos + n
        return out

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def fingerprint(self) -> str:
        """sha256 of the header, the file size and the first and last MiB of data (cheap identity)."""
        h = hashlib.sha256(self.header_bytes)
        size = self.path.stat().st_size
        h.update(str(size).encode())
        with open(self.path, "rb") as f:
            f.seek(8 + len(self.header_bytes))
            h.update(f.read(1 << 20))
            f.seek(max(8 + len(self.header_bytes), size - (1 << 20)))
            h.update(f.read(1 << 20))
        return h.hexdigest()


def _parse_header(path: Path) -> tuple[bytes, dict[str, TensorInfo], dict[str, str]]:
    bad = f"{path} is not a readable safetensors file"
    fix = "Fix: re-download or re-save the checkpoint."
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw_len = f.read(8)
            if len(raw_len) < 8:
                raise UserError(f"{bad} (shorter than 8 bytes). {fix}")
            n = int.from_bytes(raw_len, "little")
            if n > min(MAX_HEADER_BYTES, size - 8):
                raise UserError(f"{bad} (header length {n} exceeds the file). {fix}")
            header_bytes = f.read(n)
    except OSError as e:
        raise UserError(f"{bad} ({e}). {fix}") from e
    try:
        header = json.loads(header_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{bad} (corrupt JSON header: {e}). {fix}") from e
    if not isinstance(header, dict):
        raise UserError(f"{bad} (header is not a JSON object). {fix}")
    metadata = header.pop("__metadata__", None) or {}
    data_start = 8 + n
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        tensors[name] = _tensor_info(path, name, entry, data_start, size, bad, fix)
    _check_overlaps(tensors, bad, fix)
    return header_bytes, tensors, metadata


def _tensor_info(path: Path, name: str, entry: Any, data_start: int, size: int, bad: str, fix: str) -> TensorInfo:
    """One header entry, checked as safetensors itself would: known dtype, dimensions ≥ 0, offsets
    inside the data section, and a byte size matching shape × dtype."""
    try:
        dtype = DTYPES[entry["dtype"]]
        shape = tuple(_exact_int(d) for d in entry["shape"])
        begin, end = (_exact_int(x) for x in entry["data_offsets"])
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{bad} (bad header entry for tensor {brief(name)}: {brief(e)}). {fix}") from e
    if any(d < 0 for d in shape):
        raise UserError(f"{bad} (tensor {brief(name)} has a negative dimension in its shape {brief(list(shape))}). {fix}")
    info = TensorInfo(name, path, dtype, shape, data_start + begin, end - begin)
    itemsize = torch.empty(0, dtype=dtype).element_size()
    if begin < 0 or end < begin or info.nbytes != info.numel * itemsize or data_start + end > size:
        raise UserError(f"{bad} (tensor {brief(name)}: data offsets {brief(begin)}..{brief(end)} do not match its "
                        f"shape {brief(list(shape))} × {entry['dtype']} or lie outside the file, {size} bytes: "
                        f"truncated?). {fix}")
    return info


def _exact_int(v: Any) -> int:
    """A JSON integer (a float, string or bool in a shape or offset is a corrupt header)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{brief(v)} is not an integer")
    return v


def _check_overlaps(tensors: dict[str, TensorInfo], bad: str, fix: str) -> None:
    """Refuse tensors whose data ranges overlap (safetensors requires disjoint, ordered ranges)."""
    spans = sorted((t.offset, t.offset + t.nbytes, t.name) for t in tensors.values() if t.nbytes)
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise UserError(f"{bad} (tensors {brief(a)} and {brief(b)} share bytes of the file). {fix}")


class Checkpoint:
    """A lazily read HF model folder (or a single .safetensors file): config plus tensor index."""

    def __init__(self, path: str | os.PathLike, role: str = "model", hub_id: str | None = None,
                 revision: str | None = None):
        self.path = Path(path)
        self.role = role
        self.hub_id = hub_id
        self.revision = revision
        self.config = self._read_config()
        self.files = [SafetensorsFile(p) for p in self._weight_files()]
        self.tensors: dict[str, TensorInfo] = {}
        for f in self.files:
            self.tensors.update(f.tensors)
        self._by_path = {f.path: f for f in self.files}

    def _read_config(self) -> dict[str, Any]:
        cfg = self.path / "config.json" if self.path.is_dir() else self.path.with_name("config.json")
        if not cfg.is_file():
            return {}
        try:
            return json.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"{cfg} ({self.role}) is not valid JSON: {e}. Fix: repair or re-download it.") from e

    def _weight_files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise UserError(f"{self.role} checkpoint {self.path} does not exist. "
                            "Fix: pass an HF model folder (or a hub id where a hub is reachable).")
        index = self.path / INDEX_NAME
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
                raise UserError(f"{index} ({self.role}) is not a valid safetensors index: {e!r}. "
                                "Fix: repair or re-download it.") from e
            files = sorted({self.path / f for f in weight_map.values()})
            missing = [str(f) for f in files if not f.is_file()]
            if missing:
                raise UserError(f"{self.role} checkpoint {self.path}: shards listed in {INDEX_NAME} are missing: "
                                f"{', '.join(missing)}. Fix: download the complete checkpoint.")
            return files
        files = sorted(self.path.glob("*.safetensors"))
        if not files:
            raise UserError(f"{self.role} checkpoint {self.path} holds no *.safetensors files. "
                            "Fix: convert it to safetensors (save_pretrained(..., safe_serialization=True)).")
        return files

    @property
    def model_type(self) -> str | None:
        """`model_type` from config.json (None when there is no config)."""
        return self.config.get("model_type")

    @property
    def architectures(self) -> list[str] | None:
        """`architectures` from config.json."""
        return self.config.get("architectures")

    @property
    def is_tied(self) -> bool:
        """True when lm_head is stored as the input embedding (no lm_head tensor of its own)."""
        return LM_HEAD not in self.tensors and self.embed_name() is not None

    def embed_name(self) -> str | None:
        """The name of the input embedding tensor, if a known one is present."""
        return next((n for n in EMBED_CANDIDATES if n in self.tensors), None)

    def resolve(self, name: str) -> TensorInfo | None:
        """The tensor stored under `name`; for a tied checkpoint `lm_head.weight` resolves to the embedding."""
        if name in self.tensors:
            return self.tensors[name]
        if name == LM_HEAD and self.is_tied:
            return self.tensors[self.embed_name()]  # type: ignore[index]
        return None

    def flat(self, info: TensorInfo, start: int, end: int) -> torch.Tensor:
        """Flat elements [start, end) of the tensor `info`, read into a new tensor."""
        return self._by_path[info.file].read(info, start, end)

    def fingerprint(self) -> str:
        """A cheap content identity of the checkpoint (config + every shard's fingerprint)."""
        h = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode())
        for f in self.files:
            h.update(f.path.name.encode())
            h.update(f.fingerprint().encode())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        """Provenance record: path, hub id/revision where known, fingerprint."""
        return {"path": str(self.path.resolve()), "hub_id": self.hub_id, "revision": self.revision,
                "fingerprint_sha256": self.fingerprint(), "files": [f.path.name for f in self.files]}


def open_checkpoint(ref: str | os.PathLike, role: str, revision: str | None = None) -> Checkpoint:
    """Open a local folder/file, or resolve a hub id (`org/name`) with huggingface_hub where reachable."""
    path = Path(ref).expanduser()
    if path.exists():
        return Checkpoint(path, role=role, revision=revision)
    text = str(ref)
    if HUB_ID.fullmatch(text) and not text.startswith((".", "/")):
        snapshot = _download(text, role, revision)
        # a hub snapshot folder is named after the commit it holds: record that exact revision
        return Checkpoint(snapshot, role=role, hub_id=text, revision=snapshot.name)
    raise UserError(f"{role} checkpoint {text!r} does not exist. Fix: pass an HF model folder, "
                    "a .safetensors file, or a hub id like Qwen/Qwen2.5-32B.")


def _download(repo_id: str, role: str, revision: str | None) -> Path:
    try:
        from huggingface_hub import snapshot_download

        log.info("resolving %s %s@%s on the hub", role, repo_id, revision or "main")
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=[
            "*.safetensors", "*.json", "*.txt", "*.model", "*.jinja", "*.tiktoken"]))
    except Exception as e:  # hub unreachable, unknown repo, auth...
        raise UserError(f"{role} {repo_id!r} is not a local folder and could not be fetched from the hub "
                        f"({type(e).__name__}: {e}). Fix: download it first and pass the local folder.") from e
