"""The report page in a real browser: Debian's chromium, headless, driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

from rv_eval import atomicio
from rv_eval.report import ReportOptions, build_report
from tests.report_fixtures import (
    CODE_ANSWER,
    HOSTILE_DOC,
    HOSTILE_MODEL,
    HOSTILE_TASK,
    N_QUESTIONS,
    SCRIPT_RESPONSE,
    TEXTAREA_RESPONSE,
    small_run,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    df, meta = small_run()
    path = tmp_path_factory.mktemp("report") / "report.html"
    atomicio.write_text(path, build_report(df, meta))
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page that records console messages, page errors and every request."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)

    def check_clean(self, file_url: str) -> None:
        assert self.errors == []
        foreign = [u for u in self.requests if u.split("#")[0] != file_url and not u.startswith(("data:", "blob:"))]
        assert foreign == []
        assert self.page.evaluate("window.__pwned") is None


@pytest.fixture
def opened(browser, report_file):
    pages = []

    def open_(hash_: str = "") -> Page:
        p = Page(browser, report_file.as_uri() + hash_)
        pages.append(p)
        return p

    yield open_
    for p in pages:
        p.check_clean(report_file.as_uri())
        p.page.close()


def _column(page, key: str) -> list[str]:
    return page.eval_on_selector_all(f"#lb tbody td[data-col='{key}']", "tds => tds.map(t => t.closest('tr').dataset.model)")


def _values(page, key: str) -> list[float]:
    texts = page.eval_on_selector_all(f"#lb tbody td[data-col='{key}']", "tds => tds.map(t => t.firstChild.textContent)")
    return [float(t) for t in texts]


def test_leaderboard_renders_and_sorts(opened):
    p = opened().page
    assert p.locator("#lb tbody tr").count() == 5
    assert p.locator("#lb tr.baseline td.model").first.text_content().startswith("target")
    p.click("#lb th[data-key='t:gsm8k_en']")
    desc = _values(p, "t:gsm8k_en")
    assert desc == sorted(desc, reverse=True)
    p.click("#lb th[data-key='t:gsm8k_en']")
    asc = _values(p, "t:gsm8k_en")
    assert asc == sorted(asc)
    p.focus("#lb th[data-key='model']")
    p.keyboard.press("Enter")
    assert _column(p, "t:gsm8k_en") == sorted(_column(p, "t:gsm8k_en"))
    assert p.locator("#lb td.best[data-col='t:gsm8k_en']").count() >= 1
    best = p.locator("#lb td.best[data-col='t:gsm8k_en']").first.text_content()
    assert float(best.split()[0]) == max(asc)


def test_significance_markers_match_the_statistics(opened):
    p = opened().page
    ups = p.eval_on_selector_all("#lb td:has(span.up)", "tds => tds.map(t => t.closest('tr').dataset.model + '|' + t.dataset.col)")
    assert "post|t:aime24_en" in ups
    assert p.locator("#lb tr.baseline span.up, #lb tr.baseline span.down").count() == 0
    title = p.get_attribute("#lb tr[data-model='post'] td[data-col='t:aime24_en']", "title")
    assert "vs baseline +" in title and "p(Holm)=" in title


def test_cell_click_opens_drilldown_and_sets_hash(opened):
    p = opened().page
    p.click(f"#lb tr[data-model='{HOSTILE_MODEL}'] td[data-col='t:{HOSTILE_TASK}']")
    p.wait_for_function(f"document.querySelectorAll('#dq tr.q').length === {N_QUESTIONS}")
    assert p.evaluate("location.hash") == f"#m={quote(HOSTILE_MODEL)}&t={HOSTILE_TASK}"
    assert p.input_value("#dm") == HOSTILE_MODEL and p.input_value("#dt") == HOSTILE_TASK
    p.locator("#dq tr.q").nth(1).click()
    assert p.locator("#dq tr.detail .sample").count() == 2
    assert "q=" in p.evaluate("location.hash")


def test_deep_link_shows_script_response_as_text(opened):
    p = opened(f"#m={quote(HOSTILE_MODEL)}&t={HOSTILE_TASK}&q={HOSTILE_DOC}").page
    row = p.locator(f"#dq tr.q.target[data-doc='{HOSTILE_DOC}']")
    assert row.count() == 1
    responses = p.locator("#dq tr.detail pre.response")
    assert SCRIPT_RESPONSE in responses.all_text_contents()
    assert p.locator("#dq tr.detail pre.extracted").all_text_contents() == [CODE_ANSWER]
    assert p.locator("#dq tr.detail pre.response b, #dq tr.detail pre.response script, #dq img").count() == 0


def test_hash_change_follows_link_and_textarea_is_text(opened):
    page = opened()
    p = page.page
    p.evaluate(f"location.hash = '#m={quote(HOSTILE_MODEL)}&t=aime24_en&q=aime24-0001'")
    p.wait_for_selector("#dq tr.q.target[data-doc='aime24-0001']")
    assert TEXTAREA_RESPONSE in p.locator("#dq tr.detail pre.response").all_text_contents()
    assert p.locator("textarea").count() == 0
    p.evaluate(f"location.hash = '#m={quote(HOSTILE_MODEL)}&t=aime24_en&q=no-such-question'")
    p.wait_for_function("document.getElementById('dinfo').textContent.includes('no-such-question')")
    assert p.locator("#dq tr.q.target").count() == 0


def test_filters_narrow_questions(opened):
    p = opened(f"#m={quote(HOSTILE_MODEL)}&t=aime24_ja").page
    total = p.locator("#dq tr.q").count()
    p.check("#f-unparsed")
    answers = p.eval_on_selector_all("#dq tr.q td.ans:nth-child(5)", "tds => tds.map(t => t.textContent)")
    assert 0 < len(answers) < total and all("∅" in a for a in answers)
    p.uncheck("#f-unparsed")
    p.check("#f-flip")
    flips = p.eval_on_selector_all("#dq tr.q td:last-child", "tds => tds.map(t => t.textContent)")
    assert all(f in ("▲ gained", "▼ lost") for f in flips)


def test_sweep_charts_and_metadata(opened):
    p = opened().page
    assert p.locator(".sweep").count() == 2
    gsm = p.locator(".sweep[data-base='gsm8k']")
    for split in ("dev", "test"):  # a JA and an EN line in the accuracy and in the fidelity panel
        assert gsm.locator(f"svg[data-split='{split}'][data-metric='acc'] polyline").count() == 2
        assert gsm.locator(f"svg[data-split='{split}'][data-metric='fid'] polyline").count() == 2
    assert gsm.locator("svg[data-split='test'][data-metric='acc'] line[data-chosen]").count() == 2
    assert "α* =" in gsm.text_content()
    meta = p.locator("#metabody").text_content()
    assert "temperature" in meta and "merge/s1.yaml" in meta and "lm-eval" in meta


def test_cells_show_asymmetric_intervals_not_half_widths(opened, report_file):
    import re

    from rv_eval.report.assemble import task_table
    from rv_eval.stats import summarize

    p = opened().page
    texts = p.eval_on_selector_all("#lb tbody td[data-col^='t:'], #lb tbody td[data-col^='a:']",
                                   "tds => tds.map(t => t.textContent)")
    assert texts and not any("±" in t for t in texts)
    cell = re.compile(r"^(\d+\.\d) \[(\d+\.\d), (\d+\.\d)\]( [▲▼])?$")
    assert all(cell.match(t) for t in texts), [t for t in texts if not cell.match(t)]
    df, _ = small_run()
    s = summarize(df)
    test_tasks = set(task_table(df).query("split == 'test'")["task"])
    shown = {}
    for r in s[s["task"].isin(test_tasks)].itertuples(index=False):
        t = p.text_content(f"#lb tr[data-model='{r.model}'] td[data-col='t:{r.task}']")
        m, lo, hi = (float(x) for x in cell.match(t).groups()[:3])
        for shown_value, value in ((m, r.mean), (lo, r.ci_low), (hi, r.ci_high)):
            assert abs(shown_value - 100 * value) <= 0.051, (r.model, r.task, t)
        shown[(r.model, r.task)] = (m - lo, hi - m)
    # a bounded interval is shown as it is: the two sides differ (never "m ± half-width")
    assert any(abs(below - above) > 1.0 for below, above in shown.values())


def test_fidelity_per_language_columns_and_panels(opened):
    from rv_eval.stats import summarize

    p = opened().page
    heads = p.eval_on_selector_all("#lb th[data-key^='f:']", "ths => ths.map(t => t.dataset.key + '=' + t.textContent)")
    assert heads == ["f:ja=JA", "f:en=EN"]
    assert "Lang. fidelity" in p.text_content("#lb tr.groups")
    df, _ = small_run()
    s = summarize(df).merge(df[["task", "lang", "split"]].drop_duplicates("task"), on="task")
    s = s[s["split"] == "test"]
    for model, g in s.groupby("model"):
        for lang in ("ja", "en"):
            want = 100 * g[g["lang"] == lang]["lang_fidelity"].mean()
            shown = p.text_content(f"#lb tr[data-model='{model}'] td[data-col='f:{lang}']")
            assert shown.endswith("%") and abs(float(shown[:-1]) - want) <= 0.051, (model, lang, shown)
    for card in p.locator(".sweep").all():  # each accuracy panel has a fidelity panel beside it
        for split in ("test", "dev"):
            row = card.locator(f".panelrow[data-split='{split}']")
            assert row.locator("svg").evaluate_all("s => s.map(x => x.dataset.metric)") == ["acc", "fid"]
        assert card.locator(".sweep-legend .item svg line").count() >= 3  # legend with line samples
        assert card.locator("svg[data-metric='acc'] g.whisker").count() > 0  # CIs as whiskers, not bands
        assert card.locator("svg polygon[fill-opacity]").count() == 0


def test_screenshot_for_review(opened, tmp_path):
    p = opened(f"#m={quote(HOSTILE_MODEL)}&t={HOSTILE_TASK}&q={HOSTILE_DOC}").page
    shot = Path(os.environ.get("RV_REPORT_SCREENSHOT", tmp_path / "report.png"))
    p.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_shortened_response_shows_head_gap_and_tail(browser, tmp_path):
    df, meta = small_run()
    path = tmp_path / "short.html"
    atomicio.write_text(path, build_report(df, meta, options=ReportOptions(max_response_chars=100, min_response_chars=100)))
    page = Page(browser, path.as_uri() + f"#m={quote(HOSTILE_MODEL)}&t=aime24_ja&q=aime24-0002")
    p = page.page
    pre = p.locator("#dq tr.detail pre.response").first
    full = df[(df.model == HOSTILE_MODEL) & (df.task == "aime24_ja") & (df.doc_id == "aime24-0002")]["response"].iloc[0]
    assert len(full) > 100
    text = pre.text_content()
    assert text.endswith(full[-100:]) and f"{len(full) - 100:,} characters left out" in text
    assert "shortened" in p.locator("#dinfo").text_content()
    page.check_clean(path.as_uri())


def test_page_without_baseline_or_metadata(browser, tmp_path):
    df, _ = small_run()
    path = tmp_path / "plain.html"
    atomicio.write_text(path, build_report(df, None))
    page = Page(browser, path.as_uri())
    p = page.page
    assert p.locator("#lb tbody tr").count() == df["model"].nunique()
    assert p.locator("#lb span.up, #lb span.down").count() == 0
    assert "flip" not in p.locator("#dq thead").text_content()
    assert "No run metadata" in p.locator("#metabody").text_content()
    page.check_clean(path.as_uri())


def test_ties_are_not_highlighted_and_long_metadata_folds(browser, tmp_path):
    df, meta = small_run()
    df = df.assign(correct=False)
    meta.extra["cells"] = [[f"cell-{i}", "fp"] for i in range(20)]
    path = tmp_path / "ties.html"
    atomicio.write_text(path, build_report(df, meta))
    page = Page(browser, path.as_uri())
    p = page.page
    assert p.locator("#lb td.num[data-col]").count() > 0
    # every accuracy ties at 0: none highlighted (fidelity columns still differ, and may be)
    assert p.locator("#lb td.best[data-col^='t:'], #lb td.best[data-col^='a:']").count() == 0
    assert p.locator("#metabody details summary", has_text="20 entries").count() == 1
    page.check_clean(path.as_uri())


def test_demo_report_screenshot(browser, tmp_path):
    """The demo's own report (a shortened demo: 4 questions per task), saved as a PNG for review:
    into $RV_REPORT_SCREENSHOT_DIR when set (CI keeps it), else into the test's tmp_path."""
    from rv_eval.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--limit", "4", "--no-progress"]) == 0
    page = Page(browser, (out / "report.html").as_uri())
    page.check_clean((out / "report.html").as_uri())
    p = page.page
    assert p.locator(".sweep[data-base='demo'] svg[data-metric='fid']").count() == 2
    assert p.locator("#lb th[data-key='f:ja']").count() == 1 and p.locator("#lb th[data-key='f:en']").count() == 1
    folder = Path(os.environ.get("RV_REPORT_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "demo_report.png"
    p.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
