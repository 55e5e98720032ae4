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
