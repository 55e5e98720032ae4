"""The merge's file I/O: streaming sharded writer and lazy reader round-trip through the safetensors library."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from rv_eval.errors import UserError
from rv_eval.merge.io import Checkpoint, OutTensor, ShardedWriter


def test_writer_streams_chunks_into_shards_the_library_reads(tmp_path):
    tensors = {"a": torch.randn(30, 7).bfloat16(), "empty": torch.empty(0, 4), "scalar": torch.tensor(3.5),
               "b": torch.arange(50, dtype=torch.int64), "c": torch.randn(64).half()}
    layout = [OutTensor(n, tuple(t.shape), t.dtype) for n, t in tensors.items()]
    w = ShardedWriter(tmp_path, layout, max_shard_bytes=300)
    for t in tensors.values():
        flat = t.reshape(-1)
        for i in range(0, max(flat.numel(), 1), 17):  # odd chunk sizes cross tensor and shard borders
            w.write(flat[i:i + 17])
    w.close()
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    loaded = {}
    for f in sorted(tmp_path.glob("*.safetensors")):
        loaded.update(load_file(f))
    for name, t in tensors.items():
        assert loaded[name].dtype == t.dtype and torch.equal(loaded[name], t), name
    ckpt = Checkpoint(tmp_path, role="test")
    assert torch.equal(ckpt.flat(ckpt.tensors["a"], 5, 40), tensors["a"].reshape(-1)[5:40])


def test_writer_refuses_incomplete_output(tmp_path):
    w = ShardedWriter(tmp_path, [OutTensor("x", (10,), torch.float32)])
    w.write(torch.zeros(4))
    with pytest.raises(RuntimeError, match="incomplete"):
        w.close()


def test_reader_reports_index_naming_missing_shard(tmp_path):
    save_file({"x": torch.zeros(3)}, tmp_path / "model-00001-of-00002.safetensors")
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}))
    with pytest.raises(UserError, match="model-00002-of-00002.safetensors"):
        Checkpoint(tmp_path, role="pre")
    (tmp_path / "model.safetensors.index.json").unlink()
    (tmp_path / "model-00001-of-00002.safetensors").unlink()
    with pytest.raises(UserError, match="no \\*.safetensors"):
        Checkpoint(tmp_path, role="pre")


def test_hub_id_resolves_from_the_local_hub_cache(tiny_family, tmp_path, monkeypatch):
    import shutil

    from rv_eval.merge.io import open_checkpoint

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--tiny-org--tiny-pre"
    shutil.copytree(tiny_family["pre"], repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    ckpt = open_checkpoint("tiny-org/tiny-pre", "pre")
    assert ckpt.hub_id == "tiny-org/tiny-pre" and ckpt.revision == sha
    assert ckpt.describe()["revision"] == sha and ckpt.tensors
    with pytest.raises(UserError, match="could not be fetched"):
        open_checkpoint("tiny-org/not-cached", "post")
