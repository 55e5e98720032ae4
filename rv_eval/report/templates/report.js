"use strict";
// rv-eval report viewer. Every piece of run data reaches the page through textContent or SVG
// attributes set with setAttribute: never through innerHTML. Data is decoded on demand.
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const LANG_COLOR = { ja: "#c0392b", en: "#1f5f99" };
  const PAGE = 200;
  const cache = new Map();
  let S = null; // the summary payload
  const state = { sortKey: null, sortDir: -1, model: null, task: null, shown: PAGE, target: null };

  // ---------- helpers ----------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k === "cls") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = String(v); else e.setAttribute(k, String(v));
    }
    return e;
  }
  const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1));
  // An interval is shown as its two ends: [0.0, 32.4] must never read as "0.0 ± 16.2".
  const interval = (c) => (c.hi === null || c.lo === null ? null : `[${pct(c.lo)}, ${pct(c.hi)}]`);
  const fmtAlpha = (a) => (a === null || a === undefined ? "" : String(a));

  async function decode(id) {
    if (cache.has(id)) return cache.get(id);
    const node = document.getElementById(id);
    if (!node) throw new Error("missing data block " + id);
    const b64 = node.textContent.trim();
    let bytes;
    if (typeof Uint8Array.fromBase64 === "function") bytes = Uint8Array.fromBase64(b64);
    else {
      const bin = atob(b64);
      bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const obj = JSON.parse(await new Response(stream).text());
    cache.set(id, obj);
    return obj;
  }

  // ---------- leaderboard ----------
  function columns() {
    const test = S.tasks.filter((t) => t.split === "test");
    const cols = [{ key: "model", label: "Model", group: "", kind: "text" }];
    if (S.rows.some((r) => r.alpha !== null)) cols.push({ key: "alpha", label: "α", group: "", kind: "alpha" });
    for (const t of test) cols.push({ key: "t:" + t.task, task: t.task, label: t.lang.toUpperCase(), group: t.base, lang: t.lang, kind: "task" });
    for (const l of ["ja", "en", "all"]) {
      if (l !== "all" && !test.some((t) => t.lang === l)) continue;
      cols.push({ key: "a:" + l, avg: l, label: l === "all" ? "All" : l.toUpperCase(), group: "Average", lang: l, kind: "avg" });
    }
    for (const l of ["ja", "en"]) {
      if (test.some((t) => t.lang === l))
        cols.push({ key: "f:" + l, label: l.toUpperCase(), group: "Lang. fidelity", lang: l, kind: "fid" });
    }
    return cols;
  }
  function cellOf(row, col) {
    if (col.kind === "task") return row.cells[col.task] || null;
    if (col.kind === "avg") return row.avg[col.avg] || null;
    return null;
  }
  const fidOf = (row, col) => (row.fid && row.fid[col.lang] !== undefined ? row.fid[col.lang] : null);
  function sortValue(row, col) {
    if (col.kind === "text") return row.model;
    if (col.kind === "alpha") return row.alpha === null ? -Infinity : row.alpha;
    if (col.kind === "fid") return fidOf(row, col) === null ? -Infinity : fidOf(row, col);
    const c = cellOf(row, col);
    return c && c.m !== null ? c.m : -Infinity;
  }
  function renderLeaderboard() {
    const cols = columns();
    const table = document.getElementById("lb");
    table.replaceChildren();
    const thead = el("thead");
    const groups = el("tr", { cls: "groups" });
    let i = 0;
    while (i < cols.length) {
      let j = i;
      while (j + 1 < cols.length && cols[j + 1].group === cols[i].group && cols[i].group !== "") j++;
      groups.append(el("th", { colspan: j - i + 1, text: cols[i].group }));
      i = j + 1;
    }
    const head = el("tr", { cls: "cols" });
    for (const col of cols) {
      const th = el("th", { "data-key": col.key, title: "Sort by " + (col.group ? col.group + " " : "") + col.label, text: col.label });
      if (col.lang) th.classList.add("lang-" + col.lang);
      if (state.sortKey === col.key) th.classList.add(state.sortDir > 0 ? "sorted-asc" : "sorted-desc");
      const sort = () => {
        if (state.sortKey === col.key) state.sortDir = -state.sortDir;
        else { state.sortKey = col.key; state.sortDir = col.kind === "text" ? 1 : -1; }
        renderLeaderboard();
        document.querySelector(`#lb th[data-key="${CSS.escape(col.key)}"]`).focus();
      };
      th.tabIndex = 0;
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
      head.append(th);
    }
    thead.append(groups, head);
    const best = {};
    for (const col of cols) {
      if (!["task", "avg", "fid"].includes(col.kind)) continue;
      const vals = S.rows.map((r) => sortValue(r, col)).filter((v) => v !== -Infinity);
      // No highlight when every row ties: nothing stands out.
      if (vals.length > 1 && Math.max(...vals) > Math.min(...vals)) best[col.key] = Math.max(...vals);
    }
    let rows = S.rows.slice();
    if (state.sortKey) {
      const col = cols.find((c) => c.key === state.sortKey);
      if (col) rows.sort((a, b) => {
        const x = sortValue(a, col), y = sortValue(b, col);
        return (x < y ? -1 : x > y ? 1 : 0) * state.sortDir;
      });
    }
    const tbody = el("tbody");
    for (const row of rows) {
      const tr = el("tr", { cls: row.role, "data-model": row.model });
      let prevGroup = null;
      for (const col of cols) {
        tr.append(renderCell(row, col, best, col.group !== prevGroup && col.group !== ""));
        prevGroup = col.group;
      }
      tbody.append(tr);
    }
    table.append(thead, tbody);
  }
  function renderCell(row, col, best, first) {
    if (col.kind === "text") {
      const td = el("td", { cls: "model", text: row.model });
      if (row.role !== "model") td.append(el("span", { cls: "role", text: row.role }));
      return td;
    }
    if (col.kind === "alpha") return el("td", { cls: "num", text: fmtAlpha(row.alpha) });
    if (col.kind === "fid") {
      const f = fidOf(row, col);
      const td = el("td", { cls: "num fid" + (first ? " first-lang" : ""), "data-col": col.key, text: f === null ? "–" : pct(f) + "%",
        title: `${row.model} · share of responses in ${col.label} on the ${col.label} test tasks` });
      if (best[col.key] !== undefined && f === best[col.key]) td.classList.add("best");
      return td;
    }
    const c = cellOf(row, col);
    const td = el("td", { cls: "num" + (first ? " first-lang" : ""), "data-col": col.key });
    if (!c) { td.textContent = "–"; return td; }
    td.append(document.createTextNode(pct(c.m)));
    const iv = interval(c);
    if (iv !== null) td.append(el("span", { cls: "ci", text: " " + iv }));
    if (c.sig) td.append(el("span", { cls: c.d > 0 ? "up" : "down", text: c.d > 0 ? " ▲" : " ▼" }));
    let tip = `${row.model} · ${col.kind === "task" ? col.task : "average " + col.label}\n` +
      `mean ${pct(c.m)}%  95% CI [${pct(c.lo)}, ${pct(c.hi)}]`;
    if (col.kind === "task") {
      tip += `\n${c.nq} questions × ${c.ns} seeds, ${c.n} samples`;
      if (c.fid !== null && c.fid !== undefined) tip += `\nlanguage fidelity ${pct(c.fid)}%`;
      if (c.d !== undefined && c.d !== null) {
        tip += `\nvs baseline ${c.d > 0 ? "+" : ""}${pct(c.d)} pts [${pct(c.dlo)}, ${pct(c.dhi)}], p(Holm)=${c.p}`;
        if (c.mde !== null && c.mde !== undefined) tip += `\nminimum detectable effect ${pct(c.mde)} pts`;
      }
      td.addEventListener("click", () => openDrill(row.model, col.task, null, true));
    }
    td.title = tip;
    if (best[col.key] !== undefined && c.m === best[col.key]) td.classList.add("best");
    return td;
  }

  // ---------- α-sweeps ----------
  function renderSweeps() {
    const grid = document.getElementById("sweepgrid");
    grid.replaceChildren();
    if (!S.sweeps.length) { grid.append(el("p", { cls: "legend", text: "No α-variants in this run." })); return; }
    for (const sw of S.sweeps) grid.append(sweepCard(sw));
  }
  function sweepCard(sw) {
    const card = el("div", { cls: "sweep", "data-vector": sw.vector, "data-base": sw.base });
    card.append(el("h3", { text: `${sw.base} · vector ${sw.vector}` }));
    const all = [];
    for (const s of sw.series) for (const p of s.pts) all.push(p);
    for (const b of Object.values(sw.baseline)) all.push([null, b[0], b[1], b[2]]);
    const alphas = all.map((p) => p[0]).filter((a) => a !== null);
    const ys = all.flatMap((p) => [p[2] ?? p[1], p[3] ?? p[1]]).filter((v) => v !== null);
    const x0 = Math.min(...alphas), x1 = Math.max(...alphas);
    const y0 = Math.max(0, Math.floor(Math.min(...ys) * 10) / 10);
    const y1 = Math.min(1, Math.max(y0 + 0.1, Math.ceil(Math.max(...ys) * 10) / 10));
    card.append(sweepLegend(sw));
    // Each accuracy panel has its language-fidelity panel beside it: the trade-off a researcher chooses on.
    for (const split of ["test", "dev"]) {
      const row = el("div", { cls: "panelrow", "data-split": split });
      row.append(sweepPanel(sw, split, "acc", x0, x1, y0, y1), sweepPanel(sw, split, "fid", x0, x1, 0, 1));
      card.append(row);
    }
    for (const [lang, ch] of Object.entries(sw.chosen)) {
      let txt = ch.alpha === null ? `${lang.toUpperCase()}: no α chosen` :
        `${lang.toUpperCase()}: α* = ${ch.alpha} (${ch.method}): test ${pct(ch.test_mean)}% [${pct(ch.test_ci_low)}, ${pct(ch.test_ci_high)}]`;
      if (ch.alpha !== null && ch.method !== "dev" && ch.honest_mean !== null)
        txt += `; honest (cross-fitted) ${pct(ch.honest_mean)}% [${pct(ch.honest_ci_low)}, ${pct(ch.honest_ci_high)}]`;
      if (ch.method === "test-only") txt += " (no held-out data: chosen on the test set itself, so optimistic)";
      if (ch.naive_alpha !== null && ch.naive_alpha !== ch.alpha)
        txt += `; best on test would be α = ${ch.naive_alpha} at ${pct(ch.naive_mean)}%`;
      card.append(el("p", { cls: "chosen lang-" + lang, text: txt }));
    }
    if (sw.note) card.append(el("p", { cls: "chosen", text: "No α chosen: " + sw.note }));
    return card;
  }
  function sample(draw) {
    const g = svg("svg", { width: 30, height: 12, viewBox: "0 0 30 12", "aria-hidden": "true" });
    draw(g);
    return g;
  }
  function sweepLegend(sw) {
    const box = el("div", { cls: "sweep-legend" });
    const langs = [...new Set(sw.series.map((s) => s.lang))];
    for (const l of langs) {
      const color = LANG_COLOR[l] || "#555";
      box.append(el("span", { cls: "item", "data-lang": l }, sample((g) => {
        g.append(svg("line", { x1: 1, x2: 29, y1: 6, y2: 6, stroke: color, "stroke-width": 2.5 }));
        g.append(svg("circle", { cx: 15, cy: 6, r: 3.5, fill: color }));
      }), document.createTextNode(l === "ja" ? "Japanese task" : l === "en" ? "English task" : l)));
    }
    box.append(el("span", { cls: "item" }, sample((g) => {
      g.append(svg("line", { x1: 15, x2: 15, y1: 1, y2: 11, stroke: "#555", "stroke-width": 1.5 }));
      g.append(svg("line", { x1: 11, x2: 19, y1: 1, y2: 1, stroke: "#555", "stroke-width": 1.5 }));
      g.append(svg("line", { x1: 11, x2: 19, y1: 11, y2: 11, stroke: "#555", "stroke-width": 1.5 }));
    }), document.createTextNode("95% CI")));
    if (Object.keys(sw.baseline).length) box.append(el("span", { cls: "item" }, sample((g) => {
      g.append(svg("line", { x1: 1, x2: 29, y1: 6, y2: 6, stroke: "#555", "stroke-width": 1.5, "stroke-dasharray": "2 3" }));
    }), document.createTextNode("baseline")));
    if (Object.values(sw.chosen).some((c) => c.alpha !== null)) box.append(el("span", { cls: "item" }, sample((g) => {
      g.append(svg("line", { x1: 15, x2: 15, y1: 0, y2: 12, stroke: "#555", "stroke-dasharray": "3 2" }));
      g.append(svg("polygon", { points: "15,1 20,6 15,11 10,6", fill: "#fff", stroke: "#555", "stroke-width": 1.5 }));
    }), document.createTextNode("α chosen on dev")));
    return box;
  }
  function sweepPanel(sw, split, metric, x0, x1, y0, y1) {
    const W = 300, H = 215, L = 40, R = 10, T = 20, B = 32;
    const sx = (a) => L + (x1 === x0 ? (W - L - R) / 2 : ((a - x0) / (x1 - x0)) * (W - L - R));
    const sy = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    const acc = metric === "acc";
    const g = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "data-split": split, "data-metric": metric });
    const title = (acc ? "accuracy %" : "language fidelity %") + " · " + (split === "dev" ? "dev (selection)" : "test (reported)");
    g.append(svg("text", { x: L, y: 13, text: title, "font-weight": "600" }));
    g.append(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fbfcfd", stroke: "#d9dde3" }));
    const step = y1 - y0 > 0.5 ? 0.2 : 0.1;
    for (let v = y0; v <= y1 + 1e-9; v += step) {
      g.append(svg("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), stroke: "#eceff3" }));
      g.append(svg("text", { x: L - 5, y: sy(v) + 4, "text-anchor": "end", text: (100 * v).toFixed(0) }));
    }
    const ticks = [...new Set(sw.series.flatMap((s) => s.pts.map((p) => p[0])))].sort((a, b) => a - b);
    const every = Math.ceil(ticks.length / 7);
    ticks.forEach((a, i) => {
      if (i % every === 0 || i === ticks.length - 1 && (ticks.length - 1) % every >= every / 2)
        g.append(svg("text", { x: sx(a), y: H - B + 15, "text-anchor": "middle", text: a }));
    });
    g.append(svg("text", { x: (L + W - R) / 2, y: H - 3, "text-anchor": "middle", text: "α" }));
    for (const [lang, b] of Object.entries(sw.baseline)) {
      if (!lang.endsWith("/" + split)) continue;
      const l = lang.split("/")[0];
      const v = acc ? b[0] : b[3];
      if (v === null || v === undefined) continue;
      const line = svg("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), stroke: LANG_COLOR[l] || "#555", "stroke-dasharray": "2 3", "stroke-width": 1.5 });
      line.append(svg("title", { text: `baseline ${l.toUpperCase()} ${pct(v)}%` }));
      g.append(line);
    }
    const series = sw.series.filter((s) => s.split === split);
    series.forEach((s, k) => {
      const color = LANG_COLOR[s.lang] || "#555";
      const dx = (k - (series.length - 1) / 2) * 5; // whiskers side by side, never one blurred band
      const val = (p) => (acc ? p[1] : p[4]);
      const pts = s.pts.filter((p) => val(p) !== null && val(p) !== undefined);
      if (!pts.length) return;
      if (acc) for (const p of pts) {
        if (p[2] === null || p[3] === null) continue;
        const x = sx(p[0]) + dx;
        const w = svg("g", { class: "whisker", "data-lang": s.lang });
        w.append(svg("line", { x1: x, x2: x, y1: sy(p[2]), y2: sy(p[3]), stroke: color, "stroke-width": 1.5, "stroke-opacity": 0.75 }));
        w.append(svg("line", { x1: x - 3, x2: x + 3, y1: sy(p[2]), y2: sy(p[2]), stroke: color, "stroke-width": 1.5, "stroke-opacity": 0.75 }));
        w.append(svg("line", { x1: x - 3, x2: x + 3, y1: sy(p[3]), y2: sy(p[3]), stroke: color, "stroke-width": 1.5, "stroke-opacity": 0.75 }));
        g.append(w);
      }
      g.append(svg("polyline", { points: pts.map((p) => `${sx(p[0]) + dx},${sy(val(p))}`).join(" "), fill: "none", stroke: color,
        "stroke-width": 2.5, "data-lang": s.lang, "stroke-dasharray": acc ? "none" : "6 3" }));
      for (const p of pts) {
        const c = svg("circle", { cx: sx(p[0]) + dx, cy: sy(val(p)), r: 3.5, fill: color });
        c.append(svg("title", { text: acc ? `${s.lang.toUpperCase()} ${split} α=${p[0]}: accuracy ${pct(p[1])}% [${pct(p[2])}, ${pct(p[3])}]` :
          `${s.lang.toUpperCase()} ${split} α=${p[0]}: ${pct(p[4])}% of responses in ${s.lang.toUpperCase()}` }));
        g.append(c);
      }
    });
    for (const [lang, ch] of Object.entries(sw.chosen)) {
      if (ch.alpha === null) continue;
      const color = LANG_COLOR[lang] || "#555";
      g.append(svg("line", { x1: sx(ch.alpha), x2: sx(ch.alpha), y1: T, y2: H - B, stroke: color, "stroke-dasharray": "5 3", "stroke-opacity": 0.7, "data-chosen": lang }));
      if (acc && split === "test" && ch.test_mean !== null) {
        const x = sx(ch.alpha), y = sy(ch.test_mean);
        const d = svg("polygon", { points: `${x},${y - 6} ${x + 6},${y} ${x},${y + 6} ${x - 6},${y}`, fill: "#fff", stroke: color, "stroke-width": 2 });
        d.append(svg("title", { text: `chosen α=${ch.alpha} (${lang.toUpperCase()}): test ${pct(ch.test_mean)}%` }));
        g.append(d);
      }
    }
    if (!series.length) g.append(svg("text", { x: (L + W - R) / 2, y: (T + H - B) / 2, "text-anchor": "middle", text: "no " + split + " data" }));
    return g;
  }

  // ---------- drill-down ----------
  function fillSelectors() {
    const dm = document.getElementById("dm"), dt = document.getElementById("dt");
    dm.replaceChildren(...S.models.map((m) => el("option", { value: m.model, text: m.model })));
    dt.replaceChildren(...S.tasks.map((t) => el("option", { value: t.task, text: `${t.task} (${t.split})` })));
    dm.addEventListener("change", () => openDrill(dm.value, dt.value, null, true));
    dt.addEventListener("change", () => openDrill(dm.value, dt.value, null, true));
    for (const id of ["f-wrong", "f-unparsed", "f-lang", "f-flip", "f-q"]) {
      document.getElementById(id).addEventListener("input", () => { state.shown = PAGE; renderQuestions(); });
    }
    document.getElementById("dmore").addEventListener("click", () => { state.shown += PAGE; renderQuestions(); });
  }
  let drill = null; // {model, task, questions, taskChunk, chunk}
  async function openDrill(model, task, q, pushHash) {
    const ids = (S.mchunks[model] || {})[task];
    document.getElementById("dm").value = model;
    document.getElementById("dt").value = task;
    const info = document.getElementById("dinfo");
    if (pushHash) setHash(model, task, q);
    if (!ids) { drill = null; info.textContent = `${model} was not evaluated on ${task}.`; document.getElementById("dq").replaceChildren(); return; }
    info.textContent = "Loading…";
    const [tc, mc] = await Promise.all([decode(S.tchunks[task]), decode(ids)]);
    drill = { model, task, tc, mc, questions: buildQuestions(model, task, tc, mc) };
    state.target = q;
    state.shown = PAGE;
    if (q !== null) {
      const idx = drill.questions.findIndex((x) => x.doc === q);
      if (idx >= PAGE) state.shown = idx + 1;
      if (idx < 0) drill.missing = q;
    }
    renderQuestions();
    if (q !== null || pushHash) document.getElementById("drill").scrollIntoView();
  }
  function buildQuestions(model, task, tc, mc) {
    const tinfo = S.tasks.find((t) => t.task === task);
    const byQ = new Map();
    for (let i = 0; i < mc.q.length; i++) {
      const qi = mc.q[i];
      if (!byQ.has(qi)) byQ.set(qi, []);
      byQ.get(qi).push(i);
    }
    const out = [];
    for (const [qi, idx] of byQ) {
      const nOk = idx.reduce((s, i) => s + mc.c[i], 0);
      const acc = nOk / idx.length;
      const base = tc.base ? tc.base[qi] : null;
      const langs = idx.map((i) => S.vocab.lang[mc.l[i]]);
      const reasons = idx.map((i) => S.vocab.reason[mc.r[i]]);
      let flip = 0;
      if (base !== null && base !== undefined && model !== S.baseline) {
        if (acc > 0.5 && base <= 0.5) flip = 1; else if (acc <= 0.5 && base > 0.5) flip = -1;
      }
      out.push({
        qi, idx, doc: tc.doc[qi], gold: tc.gold[qi], acc, nOk, base, flip,
        wrong: nOk < idx.length,
        unparsed: idx.some((i) => mc.x[i] === null),
        wronglang: langs.some((l) => l !== tinfo.lang),
        answers: tally(idx.map((i) => (mc.x[i] === null ? "∅" : mc.x[i]))),
        reasons: tally(reasons.filter((r) => r !== "ok")),
        langs: tally(langs),
      });
    }
    return out;
  }
  function tally(arr) {
    const m = new Map();
    for (const a of arr) m.set(a, (m.get(a) || 0) + 1);
    return [...m.entries()].sort((a, b) => b[1] - a[1]);
  }
  const tallyText = (t) => t.map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(", ");
  function filtered() {
    const f = (id) => document.getElementById(id).checked;
    const text = document.getElementById("f-q").value.trim().toLowerCase();
    return drill.questions.filter((q) =>
      (!f("f-wrong") || q.wrong) && (!f("f-unparsed") || q.unparsed) && (!f("f-lang") || q.wronglang) &&
      (!f("f-flip") || q.flip !== 0) && (!text || q.doc.toLowerCase().includes(text)));
  }
  function renderQuestions() {
    const table = document.getElementById("dq");
    table.replaceChildren();
    if (!drill) return;
    const tinfo = S.tasks.find((t) => t.task === drill.task);
    const list = filtered();
    const nq = drill.questions.length;
    const acc = drill.questions.reduce((s, q) => s + q.acc, 0) / Math.max(1, nq);
    document.getElementById("dinfo").textContent =
      `${drill.model} on ${drill.task} (${tinfo.lang.toUpperCase()}, ${tinfo.split}): ${nq} questions, ` +
      `${drill.mc.q.length} samples, mean accuracy ${pct(acc)}%. Showing ${Math.min(list.length, state.shown)} of ${list.length} matching questions` +
      (drill.mc.len.some((n) => n > 0) ? `; responses longer than ${S.cap.toLocaleString()} characters are shortened in this report.` : ".") +
      (drill.missing ? ` Question ${drill.missing} (from the link) is not in this task.` : "");
    const head = el("tr", {}, ...["#", "question", "gold", "correct", "answers", "non-ok reasons", "language",
      S.baseline ? "baseline" : null, S.baseline ? "flip" : null].filter((x) => x !== null).map((h) => el("th", { text: h })));
    const tbody = el("tbody");
    list.slice(0, state.shown).forEach((q, n) => {
      const tr = el("tr", { cls: "q", "data-doc": q.doc, tabindex: 0 });
      const bar = el("span", { cls: "bar" }, el("span", { style: `width:${(100 * q.acc).toFixed(0)}%` }));
      const lang = el("td", {});
      for (const [l, k] of q.langs) lang.append(el("span", { cls: "tag" + (l !== tinfo.lang ? " warn" : ""), text: k > 1 ? `${l} ×${k}` : l }));
      tr.append(el("td", { text: n + 1 }), el("td", { cls: "mono", text: q.doc }), el("td", { cls: "ans", text: q.gold, title: q.gold }),
        el("td", {}, bar, document.createTextNode(`${q.nOk}/${q.idx.length}`)),
        el("td", { cls: "ans", text: tallyText(q.answers), title: tallyText(q.answers) }),
        el("td", { text: tallyText(q.reasons) }), lang);
      if (S.baseline) {
        tr.append(el("td", { text: q.base === null || q.base === undefined ? "–" : pct(q.base) + "%" }));
        tr.append(el("td", { cls: q.flip > 0 ? "up" : q.flip < 0 ? "down" : "", text: q.flip > 0 ? "▲ gained" : q.flip < 0 ? "▼ lost" : "" }));
      }
      const toggle = () => toggleDetail(tr, q, true);
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
      tbody.append(tr);
      if (state.target !== null && q.doc === state.target) {
        tr.classList.add("target");
        toggleDetail(tr, q, false);
      }
    });
    table.append(el("thead", {}, head), tbody);
    const more = document.getElementById("dmore");
    more.hidden = list.length <= state.shown;
    if (state.target !== null) {
      const t = tbody.querySelector("tr.target");
      if (t) t.scrollIntoView({ block: "center" });
      state.target = null;
    }
  }
  function toggleDetail(tr, q, pushHash) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) {
      next.remove(); tr.classList.remove("open");
      if (pushHash) setHash(drill.model, drill.task, null);
      return;
    }
    tr.classList.add("open");
    if (pushHash) setHash(drill.model, drill.task, q.doc);
    const mc = drill.mc, tc = drill.tc;
    const box = el("td", { colspan: tr.children.length });
    const prompt = (mc.prompt_over && mc.prompt_over[String(q.qi)]) || tc.prompt[q.qi];
    box.append(el("h4", { text: `Question ${q.doc} · gold ${q.gold}` }));
    const det = el("details", {}, el("summary", { text: "prompt" }), el("pre", { cls: "text", text: prompt }));
    box.append(det);
    for (const i of q.idx) {
      const ok = mc.c[i] === 1;
      const lang = S.vocab.lang[mc.l[i]];
      const head = el("div", { cls: "sh" });
      head.append(el("b", { cls: ok ? "up" : "down", text: ok ? "✓ correct" : "✗ wrong" }),
        document.createTextNode(` · seed ${mc.seed[i]} · sample ${mc.k[i]} · extracted `),
        longAnswer(mc.x[i]) ? el("i", { text: "(below)" }) : el("code", { text: mc.x[i] === null ? "(none)" : mc.x[i] }),
        document.createTextNode(` · reason ${S.vocab.reason[mc.r[i]]} · `),
        el("span", { cls: "tag" + (lang !== S.tasks.find((t) => t.task === drill.task).lang ? " warn" : ""), text: lang }),
        document.createTextNode(` · ${mc.tok[i]} tokens` + (mc.len[i] > 0 ? ` · ${mc.len[i].toLocaleString()} characters (shortened)` : "")));
      const extracted = longAnswer(mc.x[i]) ? el("pre", { cls: "text extracted", text: mc.x[i] }) : null;
      const mark = mc.ov && mc.ov[String(i)];  // [person's verdict, note, grader's verdict, grader's reason]
      const marked = mark ? el("div", { cls: "mark", text: `✎ marked ${mark[0] ? "correct" : "wrong"} by a person`
        + (mark[1] ? `: ${mark[1]}` : "") + ` (the grader said ${mark[2] ? "correct" : "wrong"}, reason ${mark[3]})` }) : null;
      box.append(el("div", { cls: "sample " + (ok ? "ok" : "bad"), "data-sample": i }, head, marked, extracted, responseText(mc.resp[i], mc.len[i])));
    }
    tr.after(el("tr", { cls: "detail" }, box));
  }

  const longAnswer = (x) => x !== null && (x.length > 120 || x.includes("\n"));
  function responseText(text, fullLength) {
    // A shortened response holds its head (S.head characters) and tail; show the gap between them.
    const pre = el("pre", { cls: "text response" });
    if (!fullLength) { pre.textContent = text; return pre; }
    const gap = el("span", { cls: "gap", text: `\n[… ${(fullLength - text.length).toLocaleString()} characters left out of this report …]\n` });
    pre.append(document.createTextNode(text.slice(0, S.head)), gap, document.createTextNode(text.slice(S.head)));
    return pre;
  }

  // ---------- URL hash (#m=<model>&t=<task>&q=<doc_id>) ----------
  let ownHash = null;
  function setHash(m, t, q) {
    const p = new URLSearchParams();
    p.set("m", m); p.set("t", t);
    if (q !== null && q !== undefined) p.set("q", q);
    ownHash = "#" + p.toString();
    history.replaceState(null, "", ownHash);
  }
  function followHash() {
    if (location.hash === ownHash) return;
    const p = new URLSearchParams(location.hash.slice(1));
    const m = p.get("m"), t = p.get("t");
    if (m && t) openDrill(m, t, p.get("q"), false).catch(fail);
  }

  // ---------- run metadata ----------
  function renderMeta() {
    const body = document.getElementById("metabody");
    const meta = S.meta;
    if (!meta) { body.append(el("p", { cls: "legend", text: "No run metadata (run.json) was given." })); return; }
    const dl = el("dl");
    const add = (k, v) => {
      const text = typeof v === "string" ? v : JSON.stringify(v);
      if (Array.isArray(v) && v.length > 8) {
        const det = el("details", {}, el("summary", { text: `${v.length} entries` }), el("pre", { text: JSON.stringify(v, null, 1) }));
        dl.append(el("dt", { text: k }), el("dd", {}, det));
      } else dl.append(el("dt", { text: k }), el("dd", { text }));
    };
    add("grid", meta.grid);
    add("seeds", (meta.seeds || []).join(", "));
    add("baseline", meta.baseline ?? "–");
    for (const [k, v] of Object.entries(meta.sampling || {})) add("sampling." + k, v);
    for (const [k, v] of Object.entries(meta.backend || {})) add("backend." + k, v);
    for (const [k, v] of Object.entries(meta.versions || {})) add("version " + k, v);
    for (const [k, v] of Object.entries(meta.extra || {})) add(k, v);
    add("report", `responses shortened above ${S.cap.toLocaleString()} characters (head + tail kept)`);
    body.append(dl);
    body.append(el("h3", { text: "Models and merge provenance" }));
    const t = el("table");
    t.append(el("tr", {}, ...["name", "path", "vector", "α", "provenance"].map((h) => el("th", { text: h }))));
    for (const m of meta.models || []) {
      const prov = m.provenance === undefined || m.provenance === null ? null : JSON.stringify(m.provenance, null, 1);
      t.append(el("tr", {}, el("td", { text: m.name ?? "" }), el("td", { text: m.path ?? "" }), el("td", { text: m.vector ?? "" }),
        el("td", { text: m.alpha ?? "" }), el("td", {}, prov === null ? document.createTextNode("–") : el("pre", { text: prov }))));
    }
    body.append(t);
    body.append(el("h3", { text: "Grid file" }), el("pre", { text: meta.grid_file_text || "" }));
  }

  function fail(err) {
    const s = document.getElementById("status");
    s.hidden = false;
    s.textContent = "Could not show the report data: " + err;
  }
  async function init() {
    S = await decode("rv-summary");
    renderLeaderboard();
    renderSweeps();
    fillSelectors();
    renderMeta();
    document.getElementById("status").hidden = true;
    window.addEventListener("hashchange", followHash);
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.get("m") && p.get("t")) await openDrill(p.get("m"), p.get("t"), p.get("q"), false);
    else if (S.models.length && S.tasks.length) {
      const first = S.rows.find((r) => r.role !== "baseline") || S.rows[0];
      await openDrill(first.model, S.tasks[0].task, null, false);
    }
    document.body.dataset.ready = "1";
  }
  init().catch(fail);
})();
