"""Building the CLI parser (what `rv-eval --help` does) loads no heavy library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["torch", "pandas", "pyarrow", "numpy", "scipy", "statsmodels", "lm_eval", "vllm", "transformers"]


def test_building_the_parser_imports_no_heavy_library():
    code = (
        "import sys; from rv_eval.cli import build_parser; build_parser(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# A bad argument is refused with exit 2 before torch is imported (torch alone takes seconds to load).
_BAD_ARGS = [
    ["merge", "--pre", "/nonexistent/pre", "--post", "/nonexistent/post", "--target", "/nonexistent/t",
     "--alpha", "1", "--out", "OUT"],
    ["merge", "--pre", "org/pre", "--post", "org/post", "--target", "org/t", "--alpha", "0.5,x", "--out", "OUT"],
    ["merge", "--pre", "org/pre", "--post", "org/post", "--no-such-option"],
    ["merge", "RECIPE"],
    ["merge", "--pre", "org/pre", "--post", "org/post", "--save-vector", "V", "--exclude", "(unclosed"],
    ["vector", "stats", "--pre", "/nonexistent/pre", "--post", "org/post"],
    ["vector", "stats", "--pre", "org/pre", "--post", "org/post", "--target", "org/t", "--alpha", "inf"],
    ["vector", "stats", "--pre", "org/pre", "--post", "org/post", "--vs", "only-one"],
]


@pytest.mark.parametrize("argv", _BAD_ARGS, ids=lambda a: " ".join(a[:3]))
def test_bad_merge_and_vector_arguments_exit_2_before_torch_loads(argv, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("pre: org/pre\npost: org/post\ntarget: org/t\nalphas: [1]\nout: o\nbogus_key: 1\n")
    argv = [str(recipe) if a == "RECIPE" else str(tmp_path / a) if a in ("OUT", "V") else a for a in argv]
    code = (
        "import sys\nfrom rv_eval.cli import main\n"
        "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.stdout.split()[-2:] == ["NO-TORCH", "2"], out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "Fix" in out.stderr or "usage" in out.stderr, out.stderr
    assert not list(tmp_path.glob("OUT*")) and not (tmp_path / "V").exists()
