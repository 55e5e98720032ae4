"""Size and speed of the HTML report on a large synthetic run; prints JSON.

Default shape: 20 models (target, post, 18 α-variants) × 10 tasks (5 benchmarks × JA/EN) × 8 seeds ×
1,000 questions = 1.6M samples, responses drawn from a pool of distinct texts (median length
--response-chars). Anchor, measured in the same run: dumping the same samples (responses clipped to
the report's cap) as a gzipped CSV, the plainest compressed copy of the data; the ratios compare the
report's size and build time with it. With --browser, also the time chromium takes to show the leaderboard
and to open one drill-down.

    python benchmarks/report_size.py --small           # quick: 5 models × 4 tasks × 2 seeds × 100
    python benchmarks/report_size.py --browser         # the full 1.6M-sample report
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rv_eval.report import ReportOptions, build_report  # noqa: E402
from rv_eval.report.assemble import clip_text, response_cap  # noqa: E402
from rv_eval.report.synthetic import SyntheticSpec, synthetic_meta, synthetic_samples  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def spec_from(args: argparse.Namespace) -> SyntheticSpec:
    """The synthetic run's shape."""
    if args.small:
        return SyntheticSpec(bases=("aime24", "gsm8k"), dev_bases=(), alphas=(0.0, 0.5, 1.0), seeds=(0, 1),
                             n_questions=100, response_chars=args.response_chars, answer_suffix=False)
    n_alpha = args.models - 2
    return SyntheticSpec(
        bases=("aime24", "gsm8k", "humaneval", "sciq", "bbh")[: args.tasks // 2], dev_bases=(),
        alphas=tuple(round(0.1 * i, 2) for i in range(n_alpha)), seeds=tuple(range(args.seeds)),
        n_questions=args.questions, response_chars=args.response_chars, pool_size=5000, answer_suffix=False,
    )


def anchor_csv_gz(df, cap: int, path: Path) -> tuple[float, int]:
    """Seconds and bytes to dump the same samples (responses clipped to `cap`) as gzipped CSV."""
    t = time.perf_counter()
    clipped = df.assign(response=[clip_text(r, cap) for r in df["response"]])
    clipped.to_csv(path, index=False, compression={"method": "gzip", "compresslevel": 6, "mtime": 0})
    return time.perf_counter() - t, path.stat().st_size


def browser_times(path: Path, model: str, task: str) -> dict[str, float]:
    """Seconds until the leaderboard is shown and until one drill-down is open; JS heap in MB."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = b.new_page(viewport={"width": 1400, "height": 900})
        t = time.perf_counter()
        page.goto(path.as_uri(), timeout=600_000)
        page.wait_for_selector("body[data-ready='1']", timeout=600_000)
        ready = time.perf_counter() - t
        t = time.perf_counter()
        page.click(f"#lb tr[data-model='{model}'] td[data-col='t:{task}']")
        page.wait_for_function(f"document.getElementById('dm').value === '{model}' && "
                               "document.querySelectorAll('#dq tr.q').length > 0", timeout=600_000)
        drill = time.perf_counter() - t
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0") / 1e6
        b.close()
    return {"open_to_leaderboard_s": round(ready, 2), "open_drilldown_s": round(drill, 2), "js_heap_mb": round(heap, 1)}


def main() -> None:
    """Build the synthetic report, print the measurements as JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--response-chars", type=int, default=1200, help="median synthetic response length")
    ap.add_argument("--response-budget", type=int, default=ReportOptions().response_budget_chars)
    ap.add_argument("--small", action="store_true", help="a quick small run")
    ap.add_argument("--browser", action="store_true", help="also time opening it in chromium")
    ap.add_argument("--keep", metavar="PATH", help="keep the HTML file here")
    args = ap.parse_args()

    t = time.perf_counter()
    df = synthetic_samples(spec_from(args))
    make_s = time.perf_counter() - t
    opts = ReportOptions(response_budget_chars=args.response_budget)
    t = time.perf_counter()
    html = build_report(df, synthetic_meta(df), options=opts)
    build_s = time.perf_counter() - t
    cap = response_cap(df["response"].str.len().to_numpy(), opts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "report.html"
        path.write_text(html, encoding="utf-8")
        anchor_s, anchor_bytes = anchor_csv_gz(df, cap, Path(tmp) / "anchor.csv.gz")
        size = path.stat().st_size
        result = {
            "samples": len(df), "models": int(df["model"].nunique()), "tasks": int(df["task"].nunique()),
            "seeds": int(df["seed"].nunique()), "questions_per_task": int(df.groupby("task")["doc_id"].nunique().max()),
            "response_chars_total": int(df["response"].str.len().sum()), "response_cap_chars": cap,
            "html_mb": round(size / 1e6, 2), "build_s": round(build_s, 1), "synthesize_s": round(make_s, 1),
            "anchor_csv_gz_mb": round(anchor_bytes / 1e6, 2), "anchor_csv_gz_s": round(anchor_s, 1),
            "size_ratio_vs_anchor": round(size / anchor_bytes, 2), "build_ratio_vs_anchor": round(build_s / anchor_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        }
        del html
        if args.browser and os.path.exists(CHROMIUM):
            first = df["model"].iloc[-1]
            result.update(browser_times(path, first, str(df["task"].iloc[0])))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
