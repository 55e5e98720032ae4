"""`rv-eval tasks`: lists the task names a grid can use."""

from __future__ import annotations

from rv_eval.cli import main


def test_lists_top_level_tasks_and_groups(capsys):
    assert main(["tasks"]) == 0
    rows = [ln.split("\t") for ln in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["task", "lang", "split", "kind", "subtasks"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["demo_ja"][1:4] == ["ja", "test", "math"]
    assert by_name["bbh_en"][4] == "27"
    assert "bbh_en_snarks" not in by_name


def test_group_lists_its_subtasks(capsys):
    assert main(["tasks", "bbh_en"]) == 0
    names = [ln.split("\t")[0] for ln in capsys.readouterr().out.splitlines()[1:]]
    assert len(names) == 27 and "bbh_en_snarks" in names


def test_unknown_group_is_a_user_error(capsys):
    assert main(["tasks", "no_such_group"]) == 2
    err = capsys.readouterr().err
    assert "no_such_group" in err and "Fix:" in err and "Traceback" not in err
