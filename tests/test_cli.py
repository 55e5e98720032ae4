import subprocess
import sys

from rv_eval.cli import build_parser, main


def test_help_lists_commands(capsys):
    parser = build_parser()
    text = parser.format_help()
    assert "rv-eval" in text
    assert "exit codes" in text


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "rv_eval", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("rv-eval ")



def test_closed_stdout_stops_quietly(monkeypatch):
    """`rv-eval tasks --all | head -1`: the reader has gone; rv-eval exits 141, no traceback."""
    import os

    r, w = os.pipe()
    os.close(r)  # nobody reads: every write raises BrokenPipeError
    with open(w, "w", buffering=1) as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(["tasks", "--all"]) == 141
