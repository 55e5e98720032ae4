"""Shared fixtures: the benchmark data folder and a tiny (pre, post, target) model family."""

from __future__ import annotations

from pathlib import Path

import pytest

from rv_eval.paths import benchmark_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The official benchmark files (../shared/data or $RV_EVAL_DATA_DIR)."""
    return benchmark_data_dir()


@pytest.fixture(scope="session")
def tiny_family(tmp_path_factory) -> dict[str, Path]:
    """A tiny Qwen2 pre/post/target family; post is sharded, the others single-file."""
    from rv_eval.tinymodels import build_family

    root = tmp_path_factory.mktemp("family")
    return build_family(root, shard_sizes=(None, "100KB", None))
