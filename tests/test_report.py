"""The report's data assembly and HTML (no browser; see test_report_browser.py for the page itself)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rv_eval.errors import UserError
from rv_eval.report import ReportOptions, build_report
from rv_eval.report.assemble import clip_text, response_cap, task_base
from rv_eval.report.encode import pack, unpack
from tests.report_fixtures import HOSTILE_DOC, HOSTILE_MODEL, HOSTILE_TASK, SCRIPT_RESPONSE, small_run


@pytest.fixture(scope="module")
def run():
    return small_run()


@pytest.fixture(scope="module")
def html(run):
    df, meta = run
    return build_report(df, meta)


def _blocks(html: str) -> dict[str, str]:
    return dict(re.findall(r'<script type="application/x-rv-gz" id="([^"]+)">([^<]*)</script>', html))


def test_page_is_self_contained(html):
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert "@import" not in html and "url(" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace string, never fetched


def test_model_output_never_reaches_html_raw(html):
    assert "__pwned" not in html
    assert html.count("<script") == html.count("</script>")
    blocks = _blocks(html)
    assert all(re.fullmatch(r"[A-Za-z0-9+/=]*", b) for b in blocks.values())


def test_summary_matches_question_clustered_means(run, html):
    df, _ = run
    summary = unpack(_blocks(html)["rv-summary"])
    row = next(r for r in summary["rows"] if r["model"] == "post")
    expected = df[(df.model == "post") & (df.task == "aime24_ja")].groupby("doc_id")["correct"].mean().mean()
    cell = row["cells"]["aime24_ja"]
    assert cell["m"] == pytest.approx(expected, abs=1e-4)
    assert cell["lo"] <= cell["m"] <= cell["hi"]
    assert {t["task"] for t in summary["tasks"] if t["split"] == "test"} == {"aime24_ja", "aime24_en", "gsm8k_ja", "gsm8k_en"}
    assert summary["baseline"] == "target"
    assert "d" in row["cells"]["aime24_ja"] and "sig" in row["cells"]["aime24_ja"]
    assert "d" not in next(r for r in summary["rows"] if r["model"] == "target")["cells"]["aime24_ja"]


def test_sweeps_hold_dev_and_test_and_a_chosen_alpha(html):
    summary = unpack(_blocks(html)["rv-summary"])
    gsm = next(s for s in summary["sweeps"] if s["base"] == "gsm8k")
    assert {(s["lang"], s["split"]) for s in gsm["series"]} == {("ja", "dev"), ("en", "dev"), ("ja", "test"), ("en", "test")}
    assert [p[0] for p in gsm["series"][0]["pts"]] == [0.0, 0.5, 1.0]
    assert set(gsm["chosen"]) == {"ja", "en"} and gsm["chosen"]["ja"]["alpha"] in (0.0, 0.5, 1.0)
    assert {"ja/test", "en/test"} <= set(gsm["baseline"])


def test_drilldown_chunk_holds_every_sample(run, html):
    df, _ = run
    blocks = _blocks(html)
    summary = unpack(blocks["rv-summary"])
    chunk = unpack(blocks[summary["mchunks"][HOSTILE_MODEL][HOSTILE_TASK]])
    task = unpack(blocks[summary["tchunks"][HOSTILE_TASK]])
    cell = df[(df.model == HOSTILE_MODEL) & (df.task == HOSTILE_TASK)]
    assert len(chunk["q"]) == len(cell)
    i = next(i for i, q in enumerate(chunk["q"]) if task["doc"][q] == HOSTILE_DOC)
    assert chunk["resp"][i] == SCRIPT_RESPONSE
    assert sum(chunk["c"]) == int(cell["correct"].sum())
    assert len(task["base"]) == len(task["doc"])


def test_unknown_baseline_is_a_user_error(run):
    df, meta = run
    with pytest.raises(UserError, match="baseline 'nope'.*Fix"):
        build_report(df, meta, baseline="nope")


def test_empty_table_is_a_user_error(run):
    df, meta = run
    with pytest.raises(UserError, match="empty"):
        build_report(df.iloc[:0], meta)


def test_response_cap_fits_budget():
    lengths = np.array([100, 5000, 20000, 300] * 50)
    opts = ReportOptions(max_response_chars=6000, response_budget_chars=100_000, min_response_chars=50)
    cap = response_cap(lengths, opts)
    assert np.minimum(lengths, cap).sum() <= 100_000 < np.minimum(lengths, cap + 1).sum()
    assert response_cap(lengths, ReportOptions(response_budget_chars=10**9)) == 6000


def test_clip_keeps_head_and_tail():
    text = "HEAD" + "x" * 5000 + "The answer is 42."
    out = clip_text(text, 1000)
    assert out.startswith("HEAD") and out.endswith("The answer is 42.")
    assert "characters omitted" in out and len(out) < 1100
    assert clip_text("short", 1000) == "short"
    bare = clip_text(text, 1000, marker=False)
    assert len(bare) == 1000 and bare.startswith("HEAD") and bare.endswith("The answer is 42.")


def test_task_base_strips_language():
    assert task_base("gsm8k_dev_ja", "gsm8k_ja", "ja") == "gsm8k"
    assert task_base("aime24_en", "aime24_en", "en") == "aime24"


def test_pack_roundtrip_is_deterministic():
    obj = {"a": ["</script>", "日本語", None, 1.5]}
    assert unpack(pack(obj)) == obj and pack(obj) == pack(obj)


def test_without_baseline_or_metadata(run):
    df, _ = run
    blocks = _blocks(build_report(df, None))
    summary = unpack(blocks["rv-summary"])
    assert summary["baseline"] is None and summary["meta"] is None
    assert all("d" not in c for r in summary["rows"] for c in r["cells"].values())
    assert all(s["baseline"] == {} for s in summary["sweeps"])
    assert unpack(blocks[summary["tchunks"]["gsm8k_ja"]])["base"] is None


def test_grid_name_is_escaped_in_the_page(run):
    df, meta = run
    from dataclasses import replace

    html = build_report(df, replace(meta, grid="<script>alert(1)</script>"))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_average_ci_resamples_questions_and_matches_a_single_task():
    """One task's average has that task's width (the old normal approximation over task SEs gave
    ±5.4 for a task showing ±7.8); two tasks narrow it by about √2; bounded data stays asymmetric."""
    from rv_eval.stats.macro import macro_interval

    def macro_average(per_task):
        m, _se, lo, hi = macro_interval(per_task, None, 4000, 0, 0.95)
        return {"m": m, "lo": lo, "hi": hi}

    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 60).astype(float)
    one = macro_average([a])
    half = 1.959963984540054 * a.std(ddof=1) / np.sqrt(a.size)
    assert one["m"] == pytest.approx(a.mean(), abs=1e-4)
    assert (one["hi"] - one["lo"]) / 2 == pytest.approx(half, rel=0.15)
    two = macro_average([a, rng.integers(0, 2, 60).astype(float)])
    assert (two["hi"] - two["lo"]) == pytest.approx((one["hi"] - one["lo"]) / np.sqrt(2), rel=0.2)
    low = macro_average([np.r_[np.ones(1), np.zeros(29)]])
    assert low["lo"] >= 0.0 and low["hi"] - low["m"] > low["m"] - low["lo"]
