"""The audit list: samples of a run that a person should look at, and the marks they make.

A sample is listed when
- rv-eval and plain math-verify (`verify(parse(gold), parse(response))`) disagree (math tasks);
- its reason is `fallback` (or `last_number`, the name older runs used), `truncated` or `hedged`;
- the answer equals the gold but was found only by the fallback (no answer marker: credited by luck?).

`audit_table` builds the list, `write_audit` writes it as one HTML page (every text escaped) or as
CSV; `marks_from_csv` reads a CSV back after a person filled its `mark` column, and
`rv_eval.overrides.add_marks` records marks in OUT/overrides.jsonl.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

import pandas as pd

from rv_eval import atomicio
from rv_eval.errors import UserError
from rv_eval.overrides import KEY_FIELDS, Mark, read_marks, response_hash, sample_id

FALLBACK_REASONS = ("fallback", "last_number")
AUDIT_REASONS = (*FALLBACK_REASONS, "truncated", "hedged")
#: Characters of a response kept in the page and CSV (its end: the final answer is there).
RESPONSE_TAIL_CHARS = 4000
CSV_COLUMNS = ["id", *KEY_FIELDS, "gold", "extracted", "correct", "reason", "stop_reason", "math_verify", "why",
               "mark", "note", "response_sha256", "response"]
_MARK_WORDS = {"correct": True, "right": True, "true": True, "yes": True, "1": True, "✓": True,
               "wrong": False, "incorrect": False, "false": False, "no": False, "0": False, "✗": False}


def parse_mark_word(word: str) -> bool | None:
    """True/False for a mark such as "correct"/"wrong" (also true/false, yes/no, 1/0); None if blank."""
    w = str(word or "").strip().lower()
    if not w:
        return None
    if w not in _MARK_WORDS:
        raise UserError(f"mark {word!r} is neither correct nor wrong. Fix: write `correct` or `wrong`.")
    return _MARK_WORDS[w]


def _kinds(tasks: list[str]) -> dict[str, str | None]:
    from rv_eval.tasks import task_info

    kinds: dict[str, str | None] = {}
    for t in tasks:
        try:
            kinds[t] = task_info(t).kind
        except UserError:  # e.g. a task imported from an lm-eval log: no math-verify opinion
            kinds[t] = None
    return kinds


def math_verify_verdicts(df: pd.DataFrame, timeout_s: float = 10.0, workers: int | None = None) -> pd.Series:
    """Plain math-verify's verdict on each math-task sample (NA elsewhere), in grading workers under
    a hard per-item limit (a timed-out item is NA)."""
    from rv_eval.grading import GradeItem, GradingPool, PoolConfig

    kinds = _kinds(sorted(df["task"].astype(str).unique()))
    is_math = df["task"].astype(str).map(kinds).eq("math").to_numpy()
    out = pd.Series(pd.array([None] * len(df), dtype="boolean"), index=df.index)
    idx = df.index[is_math]
    if len(idx):
        items = [GradeItem("math_verify", str(r), str(g)) for r, g in zip(df.loc[idx, "response"], df.loc[idx, "gold"],
                                                                          strict=True)]
        with GradingPool(workers, PoolConfig(item_timeout_s=timeout_s, progress=len(items) >= 200)) as pool:
            grades = pool.grade(items)
        out.loc[idx] = [g.correct if g.reason in ("ok", "mismatch") else None for g in grades]
    return out


def audit_table(out: str | Path, timeout_s: float = 10.0, workers: int | None = None) -> pd.DataFrame:
    """The samples of run `out` a person should look at (columns `CSV_COLUMNS`), with existing marks."""
    from rv_eval.store import load_samples, results_folder

    df = load_samples(results_folder(out), overrides=False)
    if df.empty:
        return pd.DataFrame(columns=CSV_COLUMNS)
    mv = math_verify_verdicts(df, timeout_s, workers)
    reason = df["reason"].astype(str)
    correct = df["correct"].astype(bool)
    why = pd.Series([[] for _ in range(len(df))], index=df.index, dtype=object)
    for i in df.index[mv.notna() & (mv.fillna(False) != correct)]:
        why[i].append(f"math-verify says {'correct' if mv[i] else 'wrong'}")
    for i in df.index[reason.isin(AUDIT_REASONS)]:
        why[i].append(f"reason {reason[i]}")
    for i in df.index[reason.isin(FALLBACK_REASONS) & correct]:
        why[i].append("gold found only by the fallback")
    keep = why.map(bool).astype(bool)
    rows = df[keep].copy()
    rows["math_verify"] = mv[keep].map(lambda v: "" if pd.isna(v) else ("correct" if v else "wrong"))
    rows["why"] = why[keep].map("; ".join)
    rows["id"] = [sample_id(*k) for k in zip(*(rows[f] for f in KEY_FIELDS), strict=True)]
    marks = {m.key: m for m in read_marks(out)}
    keys = list(zip(rows["model"].astype(str), rows["task"].astype(str), rows["seed"].astype(int),
                    rows["doc_id"].astype(str), rows["sample_idx"].astype(int), strict=True))
    rows["mark"] = [("correct" if marks[k].correct else "wrong") if k in marks else "" for k in keys]
    rows["note"] = [marks[k].note if k in marks else "" for k in keys]
    rows["response_sha256"] = rows["response"].astype(str).map(response_hash)
    rows["correct"] = rows["correct"].map(lambda v: "correct" if v else "wrong")
    return rows[CSV_COLUMNS].reset_index(drop=True)


def _tail(text: str) -> str:
    text = str(text)
    if len(text) <= RESPONSE_TAIL_CHARS:
        return text
    return f"[… {len(text) - RESPONSE_TAIL_CHARS:,} characters before this …]\n" + text[-RESPONSE_TAIL_CHARS:]


def to_csv(rows: pd.DataFrame) -> str:
    """The audit list as CSV (responses shortened to their end); fill `mark` and `note`, then `--apply` it."""
    buf = io.StringIO()
    out = rows.copy()
    out["response"] = out["response"].map(_tail)
    out.to_csv(buf, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return buf.getvalue()


_CSS = """body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35em .5em;vertical-align:top;text-align:left}
code,pre{font:12px ui-monospace,monospace}pre{white-space:pre-wrap;max-height:24em;overflow:auto;background:#f6f6f6;
padding:.5em}.wrong{color:#b00}.correct{color:#070}.why{color:#850}.cmd{user-select:all;background:#eef}"""


def to_html(rows: pd.DataFrame, out: str | Path) -> str:
    """The audit list as one self-contained HTML page; every text from the run is escaped."""
    e = html.escape
    run = e(str(out))
    head = (f"<!doctype html><html><head><meta charset='utf-8'><title>rv-eval audit: {run}</title>"
            f"<style>{_CSS}</style></head><body><h1>Audit: {run}</h1>"
            f"<p>{len(rows)} samples to look at. Mark each one with "
            f"<code class='cmd'>rv-eval audit {run} --mark ID correct|wrong \"NOTE\"</code>, or write the list as "
            f"CSV (<code>--format csv</code>), fill its <code>mark</code> column and run "
            f"<code class='cmd'>rv-eval audit {run} --apply FILE.csv</code>. Marks are kept in "
            f"<code>overrides.jsonl</code>; statistics and the report use them.</p>"
            "<table><thead><tr><th>id</th><th>sample</th><th>gold</th><th>extracted</th><th>rv-eval</th>"
            "<th>math-verify</th><th>why</th><th>mark</th></tr></thead><tbody>")
    body = []
    for r in rows.itertuples(index=False):
        sample = f"{r.model} · {r.task} · seed {r.seed} · question {r.doc_id} · sample {r.sample_idx}"
        mark = f"<b class='{e(r.mark)}'>{e(r.mark)}</b> {e(r.note)}" if r.mark else "—"
        extracted = "" if pd.isna(r.extracted) else str(r.extracted)
        stop = "" if pd.isna(r.stop_reason) else f" · stop {r.stop_reason}"
        body.append(
            f"<tr><td><code>{e(r.id)}</code></td><td>{e(sample)}</td><td><code>{e(str(r.gold))}</code></td>"
            f"<td><code>{e(extracted)}</code></td><td class='{e(r.correct)}'>{e(r.correct)} ({e(str(r.reason))}{e(stop)})"
            f"</td><td class='{e(r.math_verify)}'>{e(r.math_verify)}</td><td class='why'>{e(r.why)}</td>"
            f"<td>{mark}</td></tr><tr><td></td><td colspan='7'><details><summary>response</summary>"
            f"<pre>{e(_tail(r.response))}</pre></details></td></tr>")
    return head + "".join(body) + "</tbody></table></body></html>\n"


def write_audit(out: str | Path, path: str | Path, fmt: str, timeout_s: float = 10.0) -> tuple[Path, int]:
    """Write the audit list of run `out` to `path` ("html" or "csv"); (path, number of samples listed)."""
    rows = audit_table(out, timeout_s)
    text = to_csv(rows) if fmt == "csv" else to_html(rows, out)
    atomicio.write_text(path, text)
    return Path(path), len(rows)


def marks_from_ids(out: str | Path, marks: list[tuple[str, bool, str, str | None]]) -> list[Mark]:
    """Marks for (sample id, correct, note, sha256 of the response judged or None for the stored one);
    UserError naming an id the run does not hold."""
    from rv_eval.store import load_samples

    df = load_samples(out, overrides=False)
    by_id = {sample_id(*k): k for k in zip(*(df[f] for f in KEY_FIELDS), strict=True)}
    responses = dict(zip(by_id, df["response"].astype(str), strict=True))
    result = []
    for sid, ok, note, digest in marks:
        if sid not in by_id:
            raise UserError(f"no sample with id {sid!r} in {out}. Fix: copy an id from the audit page "
                            f"(rv-eval audit {out}).")
        model, task, seed, doc_id, idx = by_id[sid]
        result.append(Mark(str(model), str(task), int(seed), str(doc_id), int(idx), ok, note,
                           digest or response_hash(responses[sid])))
    return result


def marks_from_csv(out: str | Path, csv_path: str | Path) -> list[Mark]:
    """The marks of an audit CSV whose `mark` column a person filled (rows left blank are skipped)."""
    path = Path(csv_path)
    if not path.is_file():
        raise UserError(f"{path} not found. Fix: write it with `rv-eval audit {out} --format csv -o {path}`.")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise UserError(f"{path} is not a readable CSV ({e}). Fix: save it as CSV (UTF-8).") from None
    missing = [c for c in ("id", "mark") if c not in table.columns]
    if missing:
        raise UserError(f"{path} lacks the column(s) {', '.join(missing)}. Fix: start from the CSV `rv-eval audit "
                        "--format csv` writes and fill its `mark` column.")
    wanted = []
    for n, r in enumerate(table.itertuples(index=False), 2):
        try:
            ok = parse_mark_word(r.mark)
        except UserError as err:
            raise UserError(f"{path}, line {n}: {err}") from None
        if ok is not None:
            wanted.append((str(r.id), ok, str(getattr(r, "note", "") or ""), getattr(r, "response_sha256", "") or None))
    return marks_from_ids(out, wanted)
