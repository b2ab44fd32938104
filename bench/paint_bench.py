"""Benchmark: click-to-paint of "Train one step" in a real Chromium, with where the milliseconds go.

Starts ``streamlit run app.py`` (tests/browser_support.py), opens the full Train page in headless
Chromium (Playwright, /usr/bin/chromium), warms up, then clicks "Train one step" N times. Each click is
timed inside the page, from the click to the first paint after the rerun has finished AND the new
step's numbers (heading, "Steps taken"), W3's change (the picture's new source loaded and decoded;
with ``--chart``, the interactive chart's canvas shows new pixels) and the most-moved table (its
canvas changed) are on screen: a rAF callback that sees all of that, then a
``setTimeout(0)`` that runs once that frame has been painted.

The breakdown per click comes from the page itself: a wrapped ``WebSocket`` stamps the rerun BackMsg
leaving and every ForwardMsg arriving (``performance.now()``), a MutationObserver stamps the app's
``data-test-script-state``, and a PerformanceObserver collects long tasks. ``--profile`` adds a V8 CPU
profile (CDP) of a few more clicks, summed by script bundle (React, Vega, the data grid, protobuf...);
``--trace`` adds a Chrome trace of the renderer's main thread (script vs style/layout vs paint vs GC).

Run from the project root::

    python bench/paint_bench.py                    # 30 clicks, the summary block
    python bench/paint_bench.py --chart            # the same with the interactive 4,096-mark chart switched on
    python bench/paint_bench.py --ripple           # the same with the ripple on 200 probe images opened
    python bench/paint_bench.py --baseline 1f9040b # an older commit's app and this one, rounds alternating
    python bench/paint_bench.py --profile --trace  # plus where the browser's time goes
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import tempfile
from pathlib import Path

from benchenv import ROOT
from classroom import machine_line

from browser_support import StreamlitServer, chromium, wait_for_app

TARGET_MS = 80.0
HEATMAP = "[data-testid=stVegaLiteChart][aria-label^='Heatmap of the change']"  # the interactive chart (switch on)
PICTURE = "img[alt^='Picture of the change of all 4,096 entries']"  # the default picture of W3's change

# Installed before the app's own scripts: stamps every websocket message and long task.
INIT_SCRIPT = """
window.__fnl = {ws: [], sent: [], longtasks: []};
(() => {
  const Orig = window.WebSocket;
  class Stamped extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', e => {
        const d = e.data;
        window.__fnl.ws.push([performance.now(), d.byteLength ?? d.size ?? d.length ?? 0]);
      });
    }
    send(d) { window.__fnl.sent.push([performance.now(), d.byteLength ?? d.length ?? 0]); return super.send(d); }
  }
  window.WebSocket = Stamped;
  // Drawing on a canvas (Vega clears and fills; the data grid copies its buffers in with drawImage) bumps a
  // counter on it, so the measurement reads a canvas's pixels only when it may have changed.
  for (const name of ['clearRect', 'fillRect', 'drawImage', 'putImageData']) {
    const original = CanvasRenderingContext2D.prototype[name];
    CanvasRenderingContext2D.prototype[name] = function (...args) {
      this.canvas.__fnlDraws = (this.canvas.__fnlDraws || 0) + 1;
      return original.apply(this, args);
    };
  }
  try {
    new PerformanceObserver(list => { for (const e of list.getEntries()) window.__fnl.longtasks.push([e.startTime, e.duration]); })
      .observe({type: 'longtask', buffered: true});
  } catch (e) {}
})();
"""

# One click, timed in the page. Resolves with the marks (ms, performance.now()).
MEASURE_CLICK = """
async ({n, heatSel, picSel, mode}) => {
  const q = s => document.querySelector(s);
  const noHeat = mode === 'none';
  const pic0 = q(picSel)?.getAttribute('src');
  const pictureShown = () => {  // the picture's new source is loaded and decoded
    const img = q(picSel);
    return !!img && img.getAttribute('src') !== pic0 && img.complete && img.naturalWidth > 0;
  };
  const app = q('[data-testid=stApp]');
  const heatCanvas = () => q(heatSel + ' canvas');
  const tableCanvas = () => {
    const cols = [...document.querySelectorAll('[data-testid=stColumn]')].filter(c => c.textContent.includes('Most-moved entries'));
    return cols.length ? cols[cols.length - 1].querySelector('[data-testid=stDataFrame] canvas') : null;
  };
  const look = c => {  // a checksum of the middle of a canvas, and how many colours it has
    if (!c || !c.width || !c.height) return {sum: 'none', colours: 0};
    const w = c.width, h = c.height, x0 = Math.floor(w * 0.15), y0 = Math.floor(h * 0.1);
    const d = c.getContext('2d').getImageData(x0, y0, Math.max(1, Math.floor(w * 0.5)), Math.max(1, Math.floor(h * 0.6))).data;
    let s = 0; const seen = new Set();
    for (let i = 0; i < d.length; i += 12) {
      const v = d[i] | d[i + 1] << 8 | d[i + 2] << 16;
      s = (Math.imul(s, 31) + v) >>> 0;
      if (seen.size < 64) seen.add(v);
    }
    return {sum: `${s}:${w}x${h}`, colours: seen.size};
  };
  const textsShown = () => {
    const main = q('[data-testid=stMain]');
    if (!main) return false;
    // textContent, not innerText: innerText makes the browser lay the page out again on every frame it is read
    const heading = [...main.querySelectorAll('h3')].some(h => h.textContent.startsWith(`Step ${n}: what changed`));
    const caption = [...main.querySelectorAll('[data-testid=stCaptionContainer], [data-testid=stMarkdownContainer]')]
      .some(c => c.textContent.includes(`Steps taken: ${n} `));
    return heading && caption;
  };
  const heatEl = heatCanvas(), heat0 = look(heatEl).sum, table0 = look(tableCanvas()).sum;
  const seenDraws = new Map();  // canvas -> its draw count when we last looked at its pixels
  const redrawn = c => {
    if (!c) return false;
    const draws = c.__fnlDraws || 0;
    if (seenDraws.has(c) && seenDraws.get(c) === draws) return false;
    seenDraws.set(c, draws);
    return true;
  };
  redrawn(heatEl);
  redrawn(tableCanvas());
  const nSent = window.__fnl.sent.length, nWs = window.__fnl.ws.length, nLong = window.__fnl.longtasks.length;
  const marks = {};
  const mo = new MutationObserver(records => {
    // A fast rerun can flip running -> notRunning within one batch of records: the value after each change
    // is the next record's old value (the last one's is the attribute now).
    const now = performance.now();
    records.forEach((r, i) => {
      const st = i + 1 < records.length ? records[i + 1].oldValue : app.getAttribute('data-test-script-state');
      if (st === 'running' && marks.running === undefined) marks.running = now;
      if (st === 'notRunning' && marks.running !== undefined && marks.notRunning === undefined) marks.notRunning = now;
    });
  });
  mo.observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state']});
  const button = q('.st-key-train_step button');
  marks.click = performance.now();
  button.click();
  return await new Promise(resolve => {
    const finish = extra => {
      mo.disconnect();
      resolve({...marks, ...extra,
               sent: window.__fnl.sent.slice(nSent), ws: window.__fnl.ws.slice(nWs), longtasks: window.__fnl.longtasks.slice(nLong)});
    };
    const frame = () => {
      const now = performance.now();
      if (marks.text === undefined && textsShown()) marks.text = now;
      if (marks.heat === undefined && noHeat) marks.heat = now;
      if (marks.heat === undefined && mode === 'picture' && pictureShown()) marks.heat = now;
      if (marks.heat === undefined && mode === 'chart' && redrawn(heatCanvas())) {
        const l = look(heatCanvas());
        if (l.sum !== heat0 && l.colours > 20) marks.heat = now;
      }
      // (bench/variant_bench.py's prototypes draw the table as HTML, in the same element as the texts)
      if (marks.table === undefined && !tableCanvas() && marks.text !== undefined && q('[data-testid=stHtml] table')) marks.table = now;
      if (marks.table === undefined && redrawn(tableCanvas()) && look(tableCanvas()).sum !== table0) marks.table = now;
      // Fallback when the observer saw no "running" at all (a rerun fast enough to leave no record): the new
      // step's texts can only come from the new run, so once they are shown and the app is not running, it finished.
      if (marks.notRunning === undefined && marks.text !== undefined && app.getAttribute('data-test-script-state') === 'notRunning') {
        marks.notRunning = now;
        marks.running = marks.running ?? marks.click;
      }
      const stale = q('[data-stale=true]');
      if (marks.notRunning !== undefined && marks.text !== undefined && marks.heat !== undefined && marks.table !== undefined && !stale) {
        marks.frame = now;
        marks.heatRebuilt = mode === 'chart' && heatCanvas() !== heatEl ? 1 : 0;
        setTimeout(() => { marks.paint = performance.now(); finish({}); }, 0);  // runs once this frame is painted
        return;
      }
      if (now - marks.click > 20000) { finish({timeout: true}); return; }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}
"""


def breakdown(m: dict) -> dict[str, float]:
    """Milliseconds of one click, split into consecutive phases."""
    click = m["click"]
    sent = m["sent"][0][0] if m["sent"] else click
    msgs = [t for t, _ in m["ws"] if t >= sent]
    first = msgs[0] if msgs else sent
    last = max((t for t in msgs if t <= m.get("notRunning", float("inf"))), default=first)
    return {
        "total": m["paint"] - click,
        "click->BackMsg sent": sent - click,
        "sent->first ForwardMsg": first - sent,
        "first->last ForwardMsg (script runs, deltas stream)": last - first,
        "last ForwardMsg->script-state notRunning": m["notRunning"] - last,
        "notRunning->all drawn, painted": m["paint"] - m["notRunning"],
        "click->numbers shown": m["text"] - click,
        "click->heatmap drawn": m["heat"] - click,
        "click->table drawn": m["table"] - click,
        "long tasks (sum)": sum(d for s, d in m["longtasks"] if click <= s <= m["paint"]),
        "heatmap view rebuilt (share)": m.get("heatRebuilt", 0),
        "ForwardMsgs (count)": len(msgs),
        "ForwardMsgs (kB)": sum(b for t, b in m["ws"] if t >= sent) / 1e3,
    }


def bundle(url: str) -> str:
    if not url:
        return "(native/other)"
    name = url.rsplit("/", 1)[-1]
    name = re.sub(r"\.[A-Za-z0-9_-]{8}\.js$", "", name)
    return name or url


def summarize_profile(profile: dict, clicks: int) -> list[str]:
    """Self time per script bundle and the top functions, per click, from a V8 CPU profile."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_us: collections.Counter = collections.Counter()
    for node_id, dt in zip(profile["samples"], profile["timeDeltas"], strict=True):
        self_us[node_id] += dt
    by_bundle: collections.Counter = collections.Counter()
    by_function: collections.Counter = collections.Counter()
    for node_id, us in self_us.items():
        frame = nodes[node_id]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        if name in ("(idle)", "(program)", "(garbage collector)", "(root)"):
            by_bundle[name] += us
            continue
        by_bundle[bundle(frame["url"])] += us
        by_function[f"{name} [{bundle(frame['url'])}:{frame['lineNumber']}]"] += us
    busy = sum(us for b, us in by_bundle.items() if b not in ("(idle)",))
    lines = [f"V8 CPU profile of {clicks} clicks: busy {busy / 1e3 / clicks:.1f} ms per click (main thread, JS + native + GC)"]
    for name, us in by_bundle.most_common(14):
        if name == "(idle)":
            continue
        lines.append(f"  {us / 1e3 / clicks:6.1f} ms  {name}")
    lines.append("  top functions (self time per click):")
    for name, us in by_function.most_common(12):
        lines.append(f"  {us / 1e3 / clicks:6.1f} ms  {name}")
    return lines


def summarize_trace(path: Path, clicks: int) -> list[str]:
    """Renderer main-thread time per click by kind: tasks, script, style, layout, paint, GC."""
    events = json.loads(path.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"}
    kinds = {
        "RunTask": "tasks (all)",
        "FunctionCall": "script: function calls",
        "EvaluateScript": "script: evaluate",
        "v8.callFunction": "script: function calls",
        "TimerFire": "timers",
        "FireAnimationFrame": "requestAnimationFrame callbacks",
        "UpdateLayoutTree": "style recalculation",
        "Layout": "layout",
        "PrePaint": "pre-paint",
        "Paint": "paint",
        "Layerize": "layerize",
        "Commit": "commit to compositor",
        "MinorGC": "GC (minor)",
        "MajorGC": "GC (major)",
        "V8.GC_SCAVENGER": "GC (minor)",
        "V8.GC_MARK_COMPACTOR": "GC (major)",
    }
    totals: collections.Counter = collections.Counter()
    for e in events:
        if (e.get("pid"), e.get("tid")) not in main or e.get("ph") != "X":
            continue
        kind = kinds.get(e.get("name"))
        if kind:
            totals[kind] += e.get("dur", 0)
    lines = [f"Chrome trace of {clicks} clicks, renderer main thread, ms per click (nested kinds overlap):"]
    for kind, us in totals.most_common():
        lines.append(f"  {us / 1e3 / clicks:6.1f} ms  {kind}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--profile", action="store_true", help="V8 CPU profile of 10 more clicks, by bundle and function")
    parser.add_argument("--trace", action="store_true", help="Chrome trace of 10 more clicks, main-thread time by kind")
    parser.add_argument("--chart", action="store_true", help="switch on the interactive W3 chart (4,096 Vega marks) instead of the picture")
    parser.add_argument(
        "--ripple", action="store_true", help="open 'What this step did to 200 other images' (closed by default) before measuring"
    )
    parser.add_argument("--no-heatmap", action="store_true", help=argparse.SUPPRESS)  # for experiments on a page without it
    parser.add_argument("--target-ms", type=float, default=TARGET_MS)
    parser.add_argument(
        "--baseline", action="append", default=[], metavar="REV", help="also time the app of git commit REV, rounds alternating"
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --baseline: rounds per tree (clicks are split over them)")
    args = parser.parse_args(argv)

    print(f"machine: {machine_line()}", flush=True)
    mode = "none" if args.no_heatmap else "chart" if args.chart else "picture"
    if args.baseline:
        return side_by_side(args, mode)
    results, extra_lines = session(args, mode, ROOT, args.clicks, args.profile, args.trace)
    print("\n".join(summary_lines(args, mode, results) + extra_lines), flush=True)
    return 0


def session(args, mode: str, root: Path, clicks: int, profile: bool = False, trace: bool = False) -> tuple[list[dict], list[str]]:
    """One server (the app in ``root``) and one Chromium page: warm up, then time ``clicks`` clicks."""
    results, extra_lines = [], []
    with StreamlitServer(cache_dir=os.environ["FASHIONNET_CACHE_DIR"], root=root) as server, chromium() as browser:
        context = browser.new_context(viewport={"width": args.width, "height": args.height})
        context.add_init_script(INIT_SCRIPT)
        page = context.new_page()
        page.goto(server.url("/train"))
        wait_for_app(page)
        step, chart_on = 0, False

        def click() -> dict:
            nonlocal step, chart_on
            step += 1
            shown = "picture" if mode == "chart" and not chart_on else mode  # the switch appears after the first step
            m = page.evaluate(MEASURE_CLICK, {"n": step, "heatSel": HEATMAP, "picSel": PICTURE, "mode": shown})
            if m.get("timeout"):
                raise RuntimeError(f"click {step}: not everything was drawn within 20 s: {sorted(k for k in m if isinstance(m[k], float))}")
            page.wait_for_timeout(150)  # let the page settle (late tasks) before the next click
            return m

        for n in range(args.warmup):
            click()
            if n == 0 and mode == "chart":  # the switch appears with the first step's results
                page.locator(".st-key-w3_interactive label").click()
                page.locator(HEATMAP + " canvas").wait_for()
                page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")
                chart_on = True
            if n == 0 and args.ripple:  # the ripple's expander appears with the first step's results
                summary = page.locator("[data-testid=stExpander] summary", has_text="What this step did to 200 other images")
                if summary.count():  # (before the fourth session the ripple was always shown)
                    summary.click()
                    page.locator("[data-testid=stVegaLiteChart][aria-label^='Bars: how each class']").wait_for()
                    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")
        for _ in range(clicks):
            results.append(breakdown(click()))
        if profile:
            cdp = context.new_cdp_session(page)
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 100})
            cdp.send("Profiler.start")
            for _ in range(10):
                click()
            extra_lines += summarize_profile(cdp.send("Profiler.stop")["profile"], 10)
        if trace:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "trace.json"
                browser.start_tracing(page=page, path=str(path), categories=["devtools.timeline", "v8", "disabled-by-default-v8.gc"])
                for _ in range(10):
                    click()
                browser.stop_tracing()
                extra_lines += summarize_trace(path, 10)
        context.close()
    return results, extra_lines


def alternating(args, mode: str, trees: dict[str, Path], rounds: int, clicks: int) -> dict[str, list[dict]]:
    """``clicks`` clicks on each tree's app per round, rounds alternating (one server at a time), so that the
    trees share the machine's changing load; every click's marks, by tree."""
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, root in trees.items():
            results[name] += session(args, mode, root, clicks)[0]
    return results


def side_by_side(args, mode: str) -> int:
    """``--baseline REV``: the same clicks on REV's app and on this tree's, in alternating rounds (one server at a time)."""
    from startup_bench import baseline_tree

    trees = {rev: baseline_tree(rev) for rev in args.baseline} | {"this tree": ROOT}
    results = alternating(args, mode, trees, args.rounds, max(1, args.clicks // args.rounds))
    for name in trees:
        print("\n".join([f"-- {name}", *summary_lines(args, mode, results[name])]), flush=True)
    med = {name: statistics.median(r["total"] for r in rows) for name, rows in results.items()}
    for rev in args.baseline:
        ratio = med["this tree"] / med[rev]
        print(f"click -> painted, median: {rev} {med[rev]:.0f} ms, this tree {med['this tree']:.0f} ms: ratio {ratio:.2f}")
    return 0


def summary_lines(args, mode: str, results: list[dict]) -> list[str]:
    keys = list(results[0])
    med = {k: statistics.median(r[k] for r in results) for k in keys}
    totals = sorted(r["total"] for r in results)
    p90 = totals[max(0, round(0.9 * len(totals)) - 1)]
    shown = {"picture": "W3's change as a picture (the default)", "chart": "the interactive W3 chart", "none": "no W3 heatmap"}[mode]
    size = f"Chromium {args.width}x{args.height}" + (", the ripple open" if args.ripple else "")
    lines = [f"== click-to-paint: 'Train one step' on the full Train page, {shown}, {size}, {len(results)} clicks =="]
    lines.append(
        f"click -> painted: median {med['total']:.0f} ms, p90 {p90:.0f} ms, min {totals[0]:.0f}, max {totals[-1]:.0f} "
        f"(target median <= {args.target_ms:.0f} ms: {'MET' if med['total'] <= args.target_ms else 'NOT MET'})"
    )
    lines.append("median of each phase (ms; the phases add up to the total):")
    for k in keys[1:6]:
        lines.append(f"  {med[k]:6.1f}  {k}")
    lines.append("milestones (median ms from the click):")
    for k in keys[6:9]:
        lines.append(f"  {med[k]:6.1f}  {k}")
    if mode == "chart":
        rebuilt = sum(r["heatmap view rebuilt (share)"] for r in results)
        lines.append(f"  heatmap: Vega view rebuilt (new canvas) on {rebuilt} of {len(results)} clicks, else only its data was swapped")
    lines.append(
        f"  long tasks between click and paint: {med['long tasks (sum)']:.0f} ms; "
        f"{med['ForwardMsgs (count)']:.0f} ForwardMsgs, {med['ForwardMsgs (kB)']:.0f} kB per click"
    )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
