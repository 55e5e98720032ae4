"""The pinned source manifest, checksum verification, and `rv-eval data download|verify`."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

from rv_eval import benchdata
from rv_eval.cli import main
from rv_eval.errors import UserError


@pytest.fixture(scope="module")
def mirror(shared_data):
    """A local http.server on 127.0.0.1 serving the shared data folder."""
    handler = functools.partial(_QuietHandler, directory=str(shared_data))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_manifest_matches_shared_data_manifest_md(shared_data):
    sources = benchdata.load_sources()
    text = (shared_data / "MANIFEST.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", text, flags=re.M))
    assert {s.path: s.sha256 for s in sources} == table
    for s in sources:
        assert s.url.startswith(f"https://raw.githubusercontent.com/{s.repo}/{s.commit}/")
        assert s.license


def test_shared_data_verifies(shared_data, capsys):
    assert benchdata.verify_dir(shared_data) == []
    assert main(["data", "verify", "--data-dir", str(shared_data)]) == 0
    assert "all 141 benchmark files" in capsys.readouterr().out


def test_download_from_local_mirror_then_verify(mirror, tmp_path, capsys):
    dest = tmp_path / "data"
    rc = main(["data", "download", "--data-dir", str(dest), "--base-url", mirror, "--only", "mgsm", "sciq/extracted/valid.json"])
    assert rc == 0
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "mgsm/LICENSE", "mgsm/mgsm_en.tsv", "mgsm/mgsm_ja.tsv", "sciq/extracted/valid.json",
    ]
    assert benchdata.verify_dir(dest, ["mgsm", "sciq/extracted/valid.json"]) == []
    assert benchdata.download(dest, base_url=mirror, paths=["mgsm"]) == []  # already there: skipped
    assert main(["data", "verify", "--data-dir", str(dest), "--only", "mgsm"]) == 0


def test_download_rejects_a_corrupt_mirror_and_writes_nothing(shared_data, tmp_path):
    bad = tmp_path / "mirror"
    shutil.copytree(shared_data / "mgsm", bad / "mgsm")
    (bad / "mgsm" / "mgsm_ja.tsv").write_text("tampered\t1\n", encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(bad))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "dest"
        with pytest.raises(UserError, match=r"mgsm/mgsm_ja.tsv .* has sha256 .*pinned"):
            benchdata.download(dest, base_url=f"http://127.0.0.1:{server.server_address[1]}", paths=["mgsm/mgsm_ja.tsv"])
        assert not (dest / "mgsm" / "mgsm_ja.tsv").exists()
        assert not any(p.is_file() for p in dest.rglob("*")) if dest.exists() else True
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_mirror_is_a_user_error(tmp_path, capsys):
    rc = main(["data", "download", "--data-dir", str(tmp_path), "--base-url", "http://127.0.0.1:9", "--only", "gsm8k/LICENSE"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "cannot download http://127.0.0.1:9/gsm8k/LICENSE" in err and "Fix:" in err


def test_verify_reports_missing_and_mismatching_files(shared_data, tmp_path, capsys):
    shutil.copytree(shared_data / "mgsm", tmp_path / "mgsm")
    target = tmp_path / "mgsm" / "mgsm_en.tsv"
    target.write_bytes(target.read_bytes().replace(b"Janet", b"Jenny"))
    problems = {p.path: p.kind for p in benchdata.verify_dir(tmp_path, ["mgsm", "gsm8k/test.jsonl"])}
    assert problems == {"mgsm/mgsm_en.tsv": "sha256", "gsm8k/test.jsonl": "missing"}
    assert main(["data", "verify", "--data-dir", str(tmp_path), "--only", "mgsm"]) == 1
    assert "sha256: mgsm/mgsm_en.tsv" in capsys.readouterr().err


def test_task_loader_names_the_bad_file_and_the_fix(shared_data, tmp_path, monkeypatch):
    from rv_eval.tasks import load_docs

    shutil.copytree(shared_data / "mgsm", tmp_path / "mgsm")
    (tmp_path / "mgsm" / "mgsm_ja.tsv").write_bytes(b"x\t1\n")
    monkeypatch.setenv("RV_EVAL_DATA_DIR", str(tmp_path))
    with pytest.raises(UserError, match=r"benchmark file mgsm/mgsm_ja.tsv: .* bytes, pinned .*Fix: run `rv-eval data download"):
        load_docs("mgsm_ja")
    with pytest.raises(UserError, match=r"benchmark file gsm8k/test.jsonl: .* does not exist"):
        load_docs("gsm8k_en")


def test_unknown_path_is_a_user_error():
    with pytest.raises(UserError, match="not in the source manifest: nope/x.json"):
        benchdata.verify_dir(Path("."), ["nope/x.json"])


def test_download_extracts_zip_members_from_the_pinned_zip(mirror, tmp_path, monkeypatch):
    """Without --base-url, SciQ's extracted files come out of the pinned SciQ.zip (served locally here)."""
    sources = benchdata.load_sources()
    local = [
        dataclasses.replace(s, url=f"{mirror}/sciq/SciQ.zip") if s.member else s
        for s in sources
    ]
    monkeypatch.setattr(benchdata, "load_sources", lambda path=None: local)
    written = benchdata.download(tmp_path, paths=["sciq/extracted"])
    assert sorted(written) == sorted(s.path for s in sources if s.path.startswith("sciq/extracted/"))
    assert benchdata.verify_dir(tmp_path, ["sciq/extracted"]) == []
