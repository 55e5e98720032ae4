"""Parsing YAML written by users (grid files, merge recipes) into a one-line UserError on bad syntax."""

from __future__ import annotations

from typing import Any

import yaml

from rv_eval.errors import UserError


def parse_yaml(text: str, source: str) -> Any:
    """`yaml.safe_load(text)`; a syntax error becomes a UserError naming `source`, the problem and where."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"{source}: not valid YAML ({_describe(e)}). Fix: correct the syntax.") from None


def _describe(e: yaml.YAMLError) -> str:
    """The problem and its line/column, on one line (PyYAML's own message spans several)."""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    mark = getattr(e, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem
