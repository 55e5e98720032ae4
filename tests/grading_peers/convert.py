"""Rebuild the peer-suite data files of this folder from the peers' own test files.

Reads the parametrized cases (gold, prediction, expected verdict) out of each peer's test
source with `ast` (nothing of the peers is imported or run) and writes one JSON file per suite.
The verdicts are copied unchanged. Every bare case whose prediction is a bare expression also
yields two full responses carrying the same answer (boxed, and in a closing sentence), with the
same verdict. Usage (the repository snapshots are plain git directories):

    python tests/grading_peers/convert.py MATH_VERIFY_GIT NEMO_SKILLS_GIT HENDRYCKS_MATH_GIT LIGHTEVAL_GIT LM_EVAL_GIT
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def _show(git_dir: str, path: str) -> str:
    return subprocess.run(["git", "-C", git_dir, "show", f"HEAD:{path}"], check=True, capture_output=True, text=True).stdout


def _commit(git_dir: str) -> str:
    return subprocess.run(["git", "-C", git_dir, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def _literal(node: ast.AST):
    """literal_eval that reads `Language.FRENCH` as "french" and `5 / 2` as 2.5."""
    if isinstance(node, ast.Attribute):
        return node.attr.lower()
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _literal(node.left) / _literal(node.right)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_literal(e) for e in node.elts]
    return ast.literal_eval(node)


def parametrized(source: str, path: str) -> list[dict]:
    """Every parametrize row of every test function, as {"test": name, "args": {...}}."""
    rows = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                continue
            names = [n.strip() for n in ast.literal_eval(dec.args[0]).split(",")]
            for row in dec.args[1].elts:
                try:
                    values = _literal(row)
                except ValueError:
                    continue  # a row built at run time (f-string): not a literal case
                values = values if len(names) > 1 else [values]
                rows.append({"test": f"{path}::{fn.name}", "args": dict(zip(names, values, strict=True))})
    return rows


_BARE_RE = re.compile(r"^\$?[^$\n]{1,80}\$?$")


def is_bare(pred: str) -> bool:
    """A prediction that is one expression (no prose), so it can be put into a response."""
    if not _BARE_RE.match(pred) or "boxed" in pred or pred.count("$") not in (0, 2):
        return False
    letters = re.sub(r"\\[a-zA-Z]+|\\text\{[^}]*\}", "", pred)
    return not re.search(r"[A-Za-z]{4,}", letters) and not re.search(r"[^\x00-\x7f]", pred)


def with_responses(cases: list[dict]) -> list[dict]:
    """Each case, plus its boxed and sentence responses where the prediction is bare."""
    out = []
    for case in cases:
        out.append({**case, "form": "bare"})
        pred = case["pred"]
        if not is_bare(pred):
            continue
        inner = pred.strip().strip("$").strip()
        out.append({**case, "form": "boxed", "pred": f"We work through the problem step by step.\n\nThe final answer is $\\boxed{{{inner}}}$."})
        out.append({**case, "form": "sentence", "pred": f"We work through the problem step by step.\n\nTherefore, the answer is ${inner}$."})
    return out


def math_verify(git_dir: str) -> list[dict]:
    """Math-Verify tests/: every (gold, pred, expected) row, with the extraction it was run under."""
    cases = []
    for path in ["tests/test_all.py", "tests/test_boxed.py", "tests/test_numina_cases.py", "tests/test_open_thoughts.py", "tests/test_yujianll.py"]:
        src = _show(git_dir, path)
        for row in parametrized(src, path):
            a = row["args"]
            if "allow_set_relation_comp" in a or "strict" in a or a.get("precision", 6) != 6:
                continue  # these rows test a non-default verify() option (strictness, rounding), not a verdict
            expected = a.get("expected", a.get("result"))
            cases.append({"gold": str(a["gold"]), "pred": str(a["pred"]), "correct": bool(expected), "origin": row["test"]})
    return cases


def nemo_skills(git_dir: str) -> list[dict]:
    """NeMo-Skills tests/test_math_equal.py: math_equal is checked in both directions."""
    cases = []
    for row in parametrized(_show(git_dir, "tests/test_math_equal.py"), "tests/test_math_equal.py"):
        a, b = row["args"]["output_pair"]
        correct = row["test"].endswith("test_correct_examples")
        for gold, pred in ((a, b), (b, a)):
            cases.append({"gold": "" if gold is None else str(gold), "pred": "" if pred is None else str(pred), "correct": correct, "origin": row["test"]})
    return [c for c in cases if c["gold"]]  # a missing gold is not a gradable case


def hendrycks(git_dir: str) -> list[dict]:
    """hendrycks/math modeling/math_equivalence_test.py: is_equiv(test_in, test_out)."""
    src = _show(git_dir, "modeling/math_equivalence_test.py")
    cases = []
    for m in re.finditer(r"def (test_\w+)\(self\):\s*test_in = (\".*?\")\s*test_out = (\".*?\")\s*self\.assert(True|False)", src, re.S):
        cases.append({"gold": ast.literal_eval(m.group(2)), "pred": ast.literal_eval(m.group(3)), "correct": m.group(4) == "True", "origin": f"modeling/math_equivalence_test.py::{m.group(1)}"})
    return cases


def lighteval(git_dir: str) -> list[dict]:
    """lighteval's multilingual math extraction tests (the letter-choice tests are not math)."""
    path = "tests/unit/metrics/test_extractive_match.py"
    cases = []
    for row in parametrized(_show(git_dir, path), path):
        if not row["test"].endswith(("test_multilingual_extraction_math", "test_multilingual_extraction_math_latex_numbers")):
            continue
        a = row["args"]
        cases.append({"gold": str(a["gold"]), "pred": str(a["pred"]), "correct": bool(a["expected"]), "lang": a["language"], "origin": row["test"]})
    return cases


def lm_eval(git_dir: str) -> list[dict]:
    """lm-eval's worked examples (gsm8k-cot, gsm8k-cot-llama, minerva_math few-shot solutions).

    Each solution is graded against its own answer (correct) and against the next example's
    answer (wrong, unless the two answers are equal)."""
    import yaml

    worked = []
    for path in ["lm_eval/tasks/gsm8k/gsm8k-cot.yaml", "lm_eval/tasks/gsm8k/gsm8k-cot-llama.yaml"]:
        for s in yaml.safe_load(_show(git_dir, path))["fewshot_config"]["samples"]:
            gold = re.search(r"answer is (-?[0-9.,]+?)\.?$", s["target"].strip()).group(1)
            worked.append((s["target"], gold, path))
    path = "lm_eval/tasks/minerva_math/utils.py"
    tree = ast.parse(_show(git_dir, path))
    fn = next(f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == "list_fewshot_samples")
    for s in ast.literal_eval(fn.body[0].value):
        gold = re.search(r"The final answer is \$(.*)\$\. I hope", s["solution"]).group(1)
        worked.append((s["solution"], gold, path))
    cases = []
    for i, (solution, gold, path) in enumerate(worked):
        other = worked[(i + 1) % len(worked)][1]
        cases.append({"gold": gold, "pred": solution, "correct": True, "origin": path, "form": "worked"})
        if other != gold:
            cases.append({"gold": other, "pred": solution, "correct": False, "origin": path, "form": "worked, other answer"})
    return cases


def write(name: str, source: dict, cases: list[dict]) -> None:
    (HERE / f"{name}.json").write_text(json.dumps({"source": source, "cases": cases}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    mv, nemo, hm, le, lme = sys.argv[1:6]
    write("math_verify", {"repo": "huggingface/Math-Verify", "commit": _commit(mv), "licence": "Apache-2.0", "files": "tests/"}, with_responses(math_verify(mv)))
    write("nemo_skills", {"repo": "NVIDIA/NeMo-Skills", "commit": _commit(nemo), "licence": "Apache-2.0", "files": "tests/test_math_equal.py"}, with_responses(nemo_skills(nemo)))
    write("hendrycks_math", {"repo": "hendrycks/math", "commit": _commit(hm), "licence": "MIT", "files": "modeling/math_equivalence_test.py"}, with_responses(hendrycks(hm)))
    write("lighteval", {"repo": "huggingface/lighteval", "commit": _commit(le), "licence": "MIT", "files": "tests/unit/metrics/test_extractive_match.py"}, with_responses(lighteval(le)))
    write("lm_eval", {"repo": "EleutherAI/lm-evaluation-harness", "commit": _commit(lme), "licence": "MIT", "files": "lm_eval/tasks/{gsm8k,minerva_math}"}, lm_eval(lme))


if __name__ == "__main__":
    main()
