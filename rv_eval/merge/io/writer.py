"""Streaming, atomic output: safetensors shards written chunk by chunk, then a folder rename.

The layout (which tensor goes to which shard, every header) is fixed before the first byte is
written, so tensors can be appended in chunks and never need to be held in memory. A variant folder
is built under a hidden temporary name and renamed onto its final name only when complete.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from rv_eval import atomicio
from rv_eval.merge.io.reader import DTYPE_NAMES, INDEX_NAME

DEFAULT_MAX_SHARD_BYTES = 5 * 1024**3
#: Files of a model folder that are weights (never copied from the target).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")
WEIGHT_INDEXES = (INDEX_NAME, "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class OutTensor:
    """One tensor of the output: name, shape, dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        """Size of the tensor's data in bytes."""
        n = torch.empty(0, dtype=self.dtype).element_size()
        for d in self.shape:
            n *= d
        return n


def plan_shards(tensors: list[OutTensor], max_shard_bytes: int) -> list[list[OutTensor]]:
    """Split tensors (in order) into shards of at most `max_shard_bytes` (a larger tensor gets its own)."""
    shards: list[list[OutTensor]] = [[]]
    size = 0
    for t in tensors:
        if shards[-1] and size + t.nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += t.nbytes
    return shards


def _header(shard: list[OutTensor], metadata: dict[str, str]) -> bytes:
    entries: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for t in shard:
        entries[t.name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                           "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    raw = json.dumps(entries, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # align the data section to 8 bytes, as safetensors does
    return len(raw).to_bytes(8, "little") + raw


class ShardedWriter:
    """Writes a fixed list of tensors as safetensors shards (+ index), appending data chunk by chunk.

    Call `write(chunk)` with consecutive flat pieces of the tensors in layout order, then `close()`.
    """

    def __init__(self, folder: Path, tensors: list[OutTensor], max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
                 prefix: str = "model", metadata: dict[str, str] | None = None):
        self.folder = folder
        self.shards = plan_shards(tensors, max_shard_bytes)
        n = len(self.shards)
        self.names = [f"{prefix}.safetensors"] if n == 1 else [
            f"{prefix}-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
        self.metadata = {"format": "pt", **(metadata or {})}
        self._shard = -1
        self._left = 0  # bytes still expected in the current shard
        self._file: BinaryIO | None = None
        self._next_shard()

    @contextlib.contextmanager
    def _full_disk_named(self) -> Iterator[None]:
        """A full disk while writing becomes `atomicio.no_space` naming the shard being written."""
        try:
            yield
        except OSError as e:
            if atomicio.is_no_space(e):
                shard = self.names[min(max(self._shard, 0), len(self.names) - 1)]
                raise atomicio.no_space(self.folder / shard) from None
            raise

    def _next_shard(self) -> None:
        with self._full_disk_named():
            self._next_shard_unchecked()

    def _next_shard_unchecked(self) -> None:
        if self._file is not None:
            self._file.close()
        self._shard += 1
        if self._shard >= len(self.shards):
            self._file = None
            return
        self._file = open(self.folder / self.names[self._shard], "wb")  # noqa: SIM115 (closed in _next_shard/close)
        self._file.write(_header(self.shards[self._shard], self.metadata))
        self._left = sum(t.nbytes for t in self.shards[self._shard])
        if self._left == 0:
            self._next_shard()

    def write(self, chunk: torch.Tensor) -> None:
        """Append the bytes of `chunk` (contiguous) to the output, moving to the next shard as needed."""
        data = memoryview(chunk.contiguous().view(-1).view(torch.uint8).numpy())
        while len(data):
            if self._file is None:
                raise RuntimeError(f"more data written than the layout of {self.folder} holds")
            n = min(len(data), self._left)
            with self._full_disk_named():
                self._file.write(data[:n])
            data = data[n:]
            self._left -= n
            if self._left == 0:
                self._next_shard()

    def close(self) -> None:
        """Check completeness, close the last shard and write the index (when sharded)."""
        if self._file is not None:
            self._file.close()
            raise RuntimeError(f"output {self.folder} is incomplete: shard {self.names[self._shard]} "
                               f"misses {self._left} bytes")
        if len(self.shards) > 1:
            weight_map = {t.name: name for name, shard in zip(self.names, self.shards, strict=True) for t in shard}
            total = sum(t.nbytes for shard in self.shards for t in shard)
            with self._full_disk_named():
                (self.folder / INDEX_NAME).write_text(json.dumps(
                    {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")

    def abort(self) -> None:
        """Close any open file (the caller removes the folder)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def copy_model_files(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> list[str]:
    """Copy the non-weight top-level files of a model folder (config, tokenizer, chat template...)."""
    copied = []
    if not src.is_dir():
        return copied
    for p in sorted(src.iterdir()):
        if (not p.is_file() or p.name.startswith(".") or p.name.endswith(WEIGHT_SUFFIXES)
                or p.name in WEIGHT_INDEXES or p.name in skip):
            continue
        shutil.copy2(p, dst / p.name)
        copied.append(p.name)
    return copied


def new_temp_folder(final: Path) -> Path:
    """A hidden temporary folder next to `final` (same filesystem, so the final rename is atomic)."""
    return atomicio.make_tempdir(final.parent, final.name)


def stale_temp_folders(final: Path) -> list[Path]:
    """Temporary folders a killed earlier run left for `final`."""
    return sorted(final.parent.glob(f".{final.name}.tmp-*"))


def publish(tmp: Path, final: Path) -> None:
    """Rename a completed temporary folder onto its final name (replacing an older one)."""
    atomicio.publish_folder(tmp, final)
