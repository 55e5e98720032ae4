"""Pull runnable code out of a chat answer (fenced blocks) or a plain completion."""

from __future__ import annotations

import ast
import re

_FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(completion: str, prompt: str, entry_point: str) -> str | None:
    """The program body to test: a full definition of `entry_point` (with the prompt's imports
    prepended), or the prompt followed by the completion when the model only continued it.
    None when the response holds no code."""
    text = completion.replace("\r\n", "\n").replace("\x00", "")
    prompt = repair_prompt(prompt, entry_point)
    blocks = [(lang.lower(), body) for lang, body in _FENCE_RE.findall(text)]
    if blocks:
        code = _pick_block(blocks, entry_point)
        return _as_program(code, prompt, entry_point) if code.strip() else None
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", text, re.MULTILINE):
        return _as_program(_trim_to_code(text, entry_point), prompt, entry_point)
    if not text.strip() or _is_prose(text):
        return None
    return prompt + text


def _pick_block(blocks: list[tuple[str, str]], entry_point: str) -> str:
    defining = [b for _, b in blocks if re.search(rf"def\s+{re.escape(entry_point)}\s*\(", b)]
    if defining:
        return defining[-1]
    python = [b for lang, b in blocks if lang in ("python", "py", "python3", "")]
    return (python or [b for _, b in blocks])[-1]


def _as_program(code: str, prompt: str, entry_point: str) -> str:
    if not re.search(rf"def\s+{re.escape(entry_point)}\s*\(", code):
        return prompt + code  # a fenced function body
    code = repair_prompt(code, entry_point, suffix="")
    imports = _prompt_imports(prompt)
    helpers = _prompt_helpers(prompt, entry_point, code)
    return "\n".join([*imports, *helpers, code])


def _prompt_imports(prompt: str) -> list[str]:
    """The prompt's module-level import statements (not lines of its docstrings or function bodies)."""
    source = prompt + "\n    pass\n"
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [ln for ln in prompt.splitlines() if re.match(r"(?:import|from)\s+\w", ln)]
    nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return [ast.get_source_segment(source, n) or "" for n in nodes]


def _prompt_helpers(prompt: str, entry_point: str, code: str) -> list[str]:
    """Functions the prompt defines besides the entry point (some problems call them)."""
    try:
        tree = ast.parse(prompt + "\n    pass\n")
    except SyntaxError:
        return []
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name != entry_point and f"def {node.name}" not in code:
            out.append(ast.get_source_segment(prompt + "\n    pass\n", node) or "")
    return out


_MAX_PARSES = 8  # each parse is linear; the cuts below rarely need more than two


def _trim_to_code(text: str, entry_point: str) -> str:
    """Drop prose before the first import/def line and after the code stops parsing.

    Each failed parse cuts the text before the line the parser stopped at (prose after the code,
    or a bracket never closed), so the work is a few linear parses, never one per line."""
    lines = text.splitlines()
    start = next(
        (i for i, ln in enumerate(lines) if re.match(r"(?:import|from|def|class|@)\s*\w?", ln)), 0
    )
    lines = lines[start:]
    end = len(lines)
    for _ in range(_MAX_PARSES):
        chunk = "\n".join(lines[:end])
        try:
            ast.parse(chunk)
        except SyntaxError as e:
            end = min(end - 1, (e.lineno or end) - 1)
            if end <= 0:
                break
            continue
        except (ValueError, RecursionError, MemoryError):
            break
        return chunk
    return "\n".join(lines)


def repair_prompt(prompt: str, entry_point: str, suffix: str = "\n    pass\n") -> str:
    """Fix source whose `def` is glued to the line before it (JHumanEval/64 has FIX = ...\"\"\"def).

    `suffix` completes a prompt that ends before the function body; "" checks finished code. Source
    that parses, or that the fix does not make parse, is returned unchanged."""
    try:
        ast.parse(prompt + suffix)
        return prompt
    except SyntaxError:
        fixed = re.sub(rf"(?<=[^\s])(def\s+{re.escape(entry_point)}\s*\()", r"\n\1", prompt, count=1)
    try:
        ast.parse(fixed + suffix)
    except SyntaxError:
        return prompt
    return fixed


def _is_prose(text: str) -> bool:
    """A completion that is neither an indented body nor parseable Python (an answer in words)."""
    first = text.lstrip("\n")
    if first.startswith((" ", "\t")):
        return False
    try:
        ast.parse(text)
    except SyntaxError:
        return True
    return False
