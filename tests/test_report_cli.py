"""`rv-eval report` on the command line."""

from __future__ import annotations

from rv_eval.cli import build_parser, main


def test_help_has_examples():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["report"]
    text = sub.format_help()
    assert "examples:" in text and "--baseline" in text and "#m=<model>&t=<task>&q=" in text


def test_missing_run_folder_is_exit_2(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "nope"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Fix:" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_budget_is_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--response-budget", "0"]) == 2
    assert "--response-budget" in capsys.readouterr().err


def _write_run(out, df, meta):
    from rv_eval.store import Store

    store = Store(out)
    cells = []
    for (model, task, seed), g in df.groupby(["model", "task", "seed"], sort=False):
        key = f"{model}__{task}__s{seed}".replace("@", "_a")
        cells.append([key, "fp"])
        store.write_cell(key, {"model": model, "task": task, "seed": int(seed), "fingerprint": "fp"}, g)
    meta.extra["cells"] = cells
    store.write_run_meta(meta)


def test_report_from_a_run_folder(tmp_path, capsys):
    from rv_eval.report.encode import unpack
    from tests.report_fixtures import small_run

    df, meta = small_run()
    _write_run(tmp_path / "run", df, meta)
    html = tmp_path / "out" / "r.html"
    assert main(["report", str(tmp_path / "run"), "-o", str(html)]) == 0
    assert str(html) in capsys.readouterr().out
    text = html.read_text(encoding="utf-8")
    summary = text.split('id="rv-summary">', 1)[1].split("<", 1)[0]
    data = unpack(summary)
    assert data["baseline"] == "target" and len(data["rows"]) == df["model"].nunique()
    assert main(["report", str(tmp_path / "run"), "--baseline", "nope", "-o", str(tmp_path / "b.html")]) == 2
    assert not (tmp_path / "b.html").exists()
    assert "baseline 'nope'" in capsys.readouterr().err
