"""Parsing YAML written by users (grid files, merge recipes) into a one-line UserError on bad syntax.

User YAML is bounded before it is built: at most `MAX_YAML_CHARS` characters, and at most
`MAX_YAML_NODES` values once every alias (`*name`) is expanded, so a few hundred bytes of nested
aliases (a "billion laughs" document) are refused instead of taking gigabytes. Recursive aliases
are refused too. `brief` writes a user value into a message with a bounded length.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

from rv_eval.errors import UserError

#: Largest YAML document accepted (characters); grid files and recipes are a few KB.
MAX_YAML_CHARS = 4 * 1024 * 1024
#: Most values (scalars, lists, mappings) a document may hold with its aliases expanded.
MAX_YAML_NODES = 100_000

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def brief(value: Any, limit: int = 80) -> str:
    """repr(value) for a message, bounded in length and in the work done (nested values are cut)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Bomb(yaml.YAMLError):
    """The document expands to more than MAX_YAML_NODES values, or an alias refers to itself."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that measures the composed document (aliases expanded) before building it."""

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _expanded_size(node, {}, set())
        return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """Values under `node` with aliases expanded (memoised per node; raises _Bomb past the limit)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _Bomb("a recursive alias (an anchor used inside itself)")
    open_.add(key)
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded_size(child, sizes, open_) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(_expanded_size(k, sizes, open_) + _expanded_size(v, sizes, open_) for k, v in node.value)
    open_.discard(key)
    if n > MAX_YAML_NODES:
        raise _Bomb(f"more than {MAX_YAML_NODES} values once its aliases (*name) are expanded")
    sizes[key] = n
    return n


def parse_yaml(text: str, source: str) -> Any:
    """`yaml.safe_load(text)`, bounded in size and alias expansion; a problem becomes a UserError naming
    `source`, the problem and where."""
    if len(text) > MAX_YAML_CHARS:
        raise UserError(f"{source}: {len(text)} characters, more than the {MAX_YAML_CHARS} a YAML input may have. "
                        "Fix: pass the grid or recipe file itself (a few KB), not a data file.")
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader subclass)
    except _Bomb as e:
        raise UserError(f"{source}: refused: the YAML holds {e}. "
                        "Fix: write the values out, or use only a few small aliases.") from None
    except yaml.YAMLError as e:
        raise UserError(f"{source}: not valid YAML ({_describe(e)}). Fix: correct the syntax.") from None
    except RecursionError:
        raise UserError(f"{source}: the YAML is nested too deeply. Fix: flatten it.") from None


def _describe(e: yaml.YAMLError) -> str:
    """The problem and its line/column, on one line (PyYAML's own message spans several)."""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    mark = getattr(e, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem
