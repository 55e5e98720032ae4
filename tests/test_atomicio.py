import pytest

from rv_eval import atomicio


def test_write_text_replaces_atomically(tmp_path):
    p = tmp_path / "a" / "f.txt"
    atomicio.write_text(p, "one")
    atomicio.write_text(p, "two")
    assert p.read_text() == "two"
    assert [x.name for x in p.parent.iterdir()] == ["f.txt"]


def test_failed_write_leaves_nothing(tmp_path):
    p = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomicio.atomic_path(p) as tmp:
            tmp.mkdir()
            (tmp / "half").write_text("x")
            raise RuntimeError("killed")
    assert not p.exists()
    assert list(tmp_path.iterdir()) == []


def test_folder_replaced_whole(tmp_path):
    p = tmp_path / "model"
    for content in ("v1", "v2"):
        with atomicio.atomic_path(p) as tmp:
            tmp.mkdir()
            (tmp / "w").write_text(content)
    assert (p / "w").read_text() == "v2"
