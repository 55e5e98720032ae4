"""Building the CLI parser (what `rv-eval --help` does) loads no heavy library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["torch", "pandas", "pyarrow", "numpy", "scipy", "statsmodels", "lm_eval", "vllm", "transformers"]


def test_building_the_parser_imports_no_heavy_library():
    code = (
        "import sys; from rv_eval.cli import build_parser; build_parser(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
