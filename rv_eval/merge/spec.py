"""`MergeSpec`: what to merge, built from CLI arguments or a recipe YAML (`merge/*.yaml`)."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rv_eval.errors import UserError
from rv_eval.grid import MAX_ABS_ALPHA
from rv_eval.yamlio import brief, parse_yaml

VOCAB_POLICIES = ("error", "common-rows")
#: output dtypes by name (torch is imported only by `torch_dtype`: arguments are checked without it)
OUT_DTYPES = ("bfloat16", "float16", "float32")
#: a hub id (org/name); anything else that does not exist locally is a missing path
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
MAX_CHUNK_ELEMS = 2**30  # elements per streamed chunk (4 GiB of float32 per input)
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


@dataclass
class MergeSpec:
    """Everything one merge needs. θ_α = target + α·(post − pre), or target + α·vector.

    `pre`/`post`/`target`/`vector` are local folders (or hub ids); `alphas` may be empty when only
    `save_vector` is wanted. Paths are kept as given; `rv_eval.merge` resolves them.
    """

    target: str | None = None
    pre: str | None = None
    post: str | None = None
    vector: str | None = None
    alphas: tuple[float, ...] = ()
    out: Path | None = None
    dtype: str | None = None  # None: each tensor keeps the target's dtype
    vocab: str = "error"
    skip_embeddings: bool = False
    include: str | None = None
    exclude: str | None = None
    save_vector: Path | None = None
    vector_dtype: str = "float32"
    force: bool = False
    max_shard_size: int = 5 * 1024**3
    chunk_elems: int = 1 << 18  # 1 MiB of float32: the per-chunk math stays in cache
    revisions: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    analysis_only: bool = False  # True for `rv-eval vector stats`: no outputs are written

    def __post_init__(self) -> None:
        self.alphas = tuple(parse_alphas(self.alphas))
        self.out = Path(self.out) if self.out is not None else None
        self.save_vector = Path(self.save_vector) if self.save_vector is not None else None
        if isinstance(self.max_shard_size, str):
            self.max_shard_size = parse_size(self.max_shard_size)
        self.validate()

    def validate(self) -> None:
        """Raise UserError for an inconsistent spec (before anything is read or written)."""
        if self.vector and (self.pre or self.post):
            raise UserError("give either --vector or --pre/--post, not both. Fix: drop one of them.")
        if not self.vector and not (self.pre and self.post):
            raise UserError("a merge needs --pre and --post (or a saved --vector). Fix: pass both checkpoints.")
        if self.alphas and not self.target:
            raise UserError("α-variants need a --target checkpoint. Fix: pass --target T.")
        if self.alphas and self.out is None and not self.analysis_only:
            raise UserError("α-variants need an output folder. Fix: pass --out OUT (or `out:` in the recipe).")
        if not self.alphas and self.save_vector is None and not self.analysis_only:
            raise UserError("nothing to do: no --alpha and no --save-vector. Fix: pass --alpha 0.5,1 or --save-vector V.")
        if self.vocab not in VOCAB_POLICIES:
            raise UserError(f"unknown vocab policy {brief(self.vocab)}. Fix: use one of {', '.join(VOCAB_POLICIES)}.")
        for key, value in (("dtype", self.dtype), ("vector_dtype", self.vector_dtype)):
            if value is not None and value not in OUT_DTYPES:
                raise UserError(f"unknown {key} {brief(value)}. Fix: use one of {', '.join(OUT_DTYPES)}.")
        for key, rx in (("include", self.include), ("exclude", self.exclude)):
            if rx is not None:
                try:
                    re.compile(rx)
                except re.error as e:
                    raise UserError(f"--{key} {brief(rx)} is not a valid regular expression: {e}. Fix: correct it.") from e
        if isinstance(self.chunk_elems, bool) or not isinstance(self.chunk_elems, int) \
                or not 1 <= self.chunk_elems <= MAX_CHUNK_ELEMS:
            raise UserError(f"chunk_elems {brief(self.chunk_elems)} is not an integer from 1 to {MAX_CHUNK_ELEMS}. "
                            "Fix: pass e.g. 262144.")

    def selects(self, name: str) -> bool:
        """Whether the vector applies to tensor `name` (--include/--exclude)."""
        if self.include and not re.search(self.include, name):
            return False
        return not (self.exclude and re.search(self.exclude, name))

    def settings(self) -> dict[str, Any]:
        """The settings that define the output (recorded in provenance; a change forces a redo)."""
        return {"dtype": self.dtype, "vocab": self.vocab, "skip_embeddings": self.skip_embeddings,
                "include": self.include, "exclude": self.exclude}


def torch_dtype(name: str) -> Any:
    """The torch dtype called `name` (one of OUT_DTYPES)."""
    import torch

    return getattr(torch, name)


def check_refs(role_refs: dict[str, str | None]) -> None:
    """Refuse a checkpoint that is neither an existing local path nor a hub id (before torch loads)."""
    for role, ref in role_refs.items():
        if ref is None or Path(ref).expanduser().exists():
            continue
        if not (HUB_ID.fullmatch(str(ref)) and not str(ref).startswith((".", "/"))):
            raise UserError(f"{role} checkpoint {str(ref)!r} does not exist. Fix: pass an HF model folder, "
                            "a .safetensors file, or a hub id like Qwen/Qwen2.5-32B.")


def alpha_dirname(alpha: float) -> str:
    """The folder name of one α-variant: `alpha_<format(float(α), "g")>` (alpha_0.5, alpha_1, alpha_-1)."""
    return f"alpha_{format(float(alpha), 'g')}"


def parse_alphas(value: Any) -> list[float]:
    """α values from "0.25,0.5,1", a list, or a single number; finite, without duplicates, in order."""
    items = value.split(",") if isinstance(value, str) else ([value] if isinstance(value, int | float) else value)
    out: list[float] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        try:
            a = float(item)
        except (TypeError, ValueError) as e:
            raise UserError(f"α value {brief(item)} is not a number. Fix: pass e.g. --alpha 0.25,0.5,1,-1.") from e
        if not math.isfinite(a) or abs(a) > MAX_ABS_ALPHA:
            raise UserError(f"α value {brief(item)} is not finite in float32 (|α| ≤ {MAX_ABS_ALPHA:.4g}), the "
                            "precision of the merge math. Fix: pass finite numbers such as 0.5.")
        a += 0.0  # -0.0 -> 0.0 (one folder alpha_0)
        if a not in out:
            out.append(a)
    return out


def parse_size(text: str | int) -> int:
    """Bytes from 5GB, 100KB, 2GiB or a plain integer."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?I?B?)\s*", str(text).upper())
    if not m or m.group(2) not in _UNITS:
        raise UserError(f"size {brief(text)} is not understood. Fix: write e.g. 5GB, 500MB or 2GiB.")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


_RECIPE_KEYS = {f.name for f in dataclasses.fields(MergeSpec)} | {"alpha", "revision"}


def load_recipe(path: str | Path, **overrides: Any) -> MergeSpec:
    """A MergeSpec from a recipe YAML; relative local paths resolve against the recipe's folder.

    Recipe keys: name, pre, post, target (or vector), alphas, out, dtype, vocab, skip_embeddings,
    include, exclude, save_vector, vector_dtype, max_shard_size, revisions ({role: revision}).
    `overrides` (non-None values) win over the file, e.g. out= from the command line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"recipe {path} cannot be read: {e}. Fix: check the path.") from e
    data = parse_yaml(text, f"recipe {path}")
    if not isinstance(data, dict):
        raise UserError(f"recipe {path} must be a mapping of keys (pre, post, target, alphas, out...). "
                        "Fix: write `key: value` lines, e.g. as in merge/*.yaml.")
    unknown = sorted((set(data) - _RECIPE_KEYS), key=str)
    if unknown:
        listed = ", ".join(map(str, unknown))
        listed = listed if len(listed) <= 200 else listed[:197] + "..."
        raise UserError(f"recipe {path}: unknown keys {listed}. "
                        f"Fix: use {', '.join(sorted(_RECIPE_KEYS))}.")
    if "alpha" in data:
        data["alphas"] = data.pop("alpha")
    data.pop("revision", None)
    for key in ("pre", "post", "target", "vector"):  # inputs: relative to the recipe; outputs: to the cwd
        if data.get(key) is not None:
            data[key] = _resolve(path.parent, str(data[key]))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return MergeSpec(**data)
    except TypeError as e:
        raise UserError(f"recipe {path}: {e}. Fix: correct the recipe's keys.") from e


def _resolve(base: Path, ref: str) -> str:
    """A relative local path in a recipe is relative to the recipe; a hub id (org/name) stays as is."""
    p = Path(ref).expanduser()
    if p.is_absolute() or ref.startswith("."):
        return str((base / p).resolve()) if not p.is_absolute() else ref
    if (base / p).exists():
        return str((base / p).resolve())
    return ref
