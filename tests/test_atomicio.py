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


def test_file_output_that_is_a_folder_is_a_user_error(tmp_path):
    """A folder where a file belongs: one UserError naming the folder, the folder untouched."""
    from rv_eval.errors import UserError

    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep").write_text("x")
    for write in (lambda p: atomicio.write_text(p, "t"), lambda p: atomicio.write_bytes(p, b"b"),
                  lambda p: atomicio.write_json(p, {"a": 1})):
        with pytest.raises(UserError, match=r"results is a folder, not a file\..*Fix:"):
            write(folder)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keep", "results"]


def test_output_under_a_plain_file_is_a_user_error(tmp_path):
    """A parent (or ancestor) that is a plain file: UserError naming that file; nothing created."""
    from rv_eval.errors import UserError

    plain = tmp_path / "plain.txt"
    plain.write_text("hello")
    for target in (plain / "r.html", plain / "deeper" / "r.html"):
        with pytest.raises(UserError, match=r"plain\.txt is a file, so .* cannot be created under it\..*Fix:"):
            atomicio.write_text(target, "x")
    with pytest.raises(UserError, match="plain.txt is a file"):
        with atomicio.atomic_path(plain / "model"):
            pytest.fail("the body must not run")
    with pytest.raises(UserError, match="plain.txt is a file"):
        atomicio.make_tempdir(plain, "models")
    assert [p.name for p in tmp_path.iterdir()] == ["plain.txt"]
    assert plain.read_text() == "hello"


def test_folder_output_that_is_a_file_is_a_user_error(tmp_path):
    """A file where a folder belongs (kind='folder', or a folder published over a file): UserError, file kept."""
    from rv_eval.errors import UserError

    plain = tmp_path / "model"
    plain.write_text("hello")
    with pytest.raises(UserError, match="model is a file, not a folder"):
        with atomicio.atomic_path(plain, "folder"):
            pytest.fail("the body must not run")
    with pytest.raises(UserError, match="model is a file, not a folder"):
        with atomicio.atomic_path(plain) as tmp:
            tmp.mkdir()
            (tmp / "w").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert plain.read_text() == "hello"


def test_failed_write_removes_the_parents_it_created(tmp_path):
    """Parents created for an output that then fails are removed again; existing ones stay."""
    with pytest.raises(RuntimeError):
        with atomicio.atomic_path(tmp_path / "a" / "b" / "f.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_check_output_files_checks_every_given_output(tmp_path):
    """Every output is checked (None skipped) and nothing is created, so a later bad one fails first."""
    from rv_eval.errors import UserError

    (tmp_path / "dir").mkdir()
    atomicio.check_output_files(None, tmp_path / "new" / "a.json")
    with pytest.raises(UserError, match="dir is a folder, not a file"):
        atomicio.check_output_files(tmp_path / "a.json", None, tmp_path / "dir")
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]
