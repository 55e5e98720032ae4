"""parse_yaml: user YAML errors are one line that names the source and the place."""

from __future__ import annotations

import pytest

from rv_eval.errors import UserError
from rv_eval.yamlio import parse_yaml


def test_parse_yaml_returns_the_data():
    assert parse_yaml("a: [1, 2]\n", "x.yaml") == {"a": [1, 2]}


def test_syntax_error_is_one_line_with_source_and_location():
    with pytest.raises(UserError) as err:
        parse_yaml("pre: a\n  post: b: c\n", "recipe r.yaml")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("recipe r.yaml: not valid YAML (")
    assert "line 2, column 7" in msg
    assert msg.endswith("Fix: correct the syntax.")
