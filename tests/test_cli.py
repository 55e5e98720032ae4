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
