"""Benchmark: what each kind of element on the Train page costs a click in Chromium, on throwaway pages.

Where do the Train page's ~190 ms of click-to-paint go, when a bare page (a button and a line of text)
paints in ~25 ms? Each throwaway page here is that bare page plus one thing the Train page has, inside
the fragment the button reruns (as the Train page's panel is), with values that change on every click:

- ``keyed rerun``: the button's callback names the fragments to rerun (``st.rerun(["F", "S"])``, as
  Train one step does, with a sidebar fragment ``S``), which makes a second script run;
- ``30 markdown outside``: 30 lines of text drawn by full runs only (a click does not resend them);
- ``30 markdown inside``: the same 30 lines inside the fragment, resent on every click;
- ``data grid``: ``st.dataframe`` of 12 rows x 5 columns with single-row selection (the most-moved table), with a
  new key on every click (as the Train page's: a new step starts with no row selected) and with the same key;
- ``static table``: ``st.table`` of 13 rows x 3 columns of text (the entry's story);
- ``3 metrics``: three ``st.metric`` in one horizontal container (loss, probability, share moved);
- ``picture``: ``st.image`` of a 384 x 384 PNG data URL with a caption (W3's change);
- ``info + markdown``: an ``st.info`` and a paragraph of markdown (the callout and *Why*).

Each click is timed in the page exactly as ``anchor_bench.py`` times the bare page (``paint_bench``'s
probe: from the click to the frame painted after the run finished with the new count in the DOM). The
pages run in alternating rounds, each round a fresh server and Chromium per page. Run from the project
root::

    python bench/element_bench.py              # 3 rounds x 10 clicks per page, about 3 minutes
    python bench/element_bench.py --quick      # 1 round x 5 clicks, about 1 minute
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from anchor_bench import CONFIG, bare_page_session
from benchenv import ROOT  # noqa: F401  (sets up the paths and the data folder, as every benchmark does)
from classroom import machine_line

from browser_support import StreamlitServer

PAGE = """\
import base64
import io

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

st.session_state.setdefault("clicks", 0)


def count() -> None:
    st.session_state.clicks += 1
    {callback}


@st.fragment(key="S")
def side() -> None:
    st.markdown(f"side {{st.session_state.clicks}}")


with st.sidebar:
    side()
{outside}


@st.fragment(key="F")
def body() -> None:
    n = st.session_state.clicks
    rng = np.random.default_rng(n)
    st.button("Click me", key="train_step", on_click=count)  # the probe clicks the button keyed train_step
    st.markdown(f"Clicks: {{n}}")
    {inside}


body()
"""
PICTURE = (
    "png = io.BytesIO()\n"
    '    noise = Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8"))\n'
    '    noise.resize((384, 384), Image.NEAREST).save(png, "PNG")\n'
    '    st.image("data:image/png;base64," + base64.b64encode(png.getvalue()).decode(), caption="W3: a caption of some words")'
)
VARIANTS = {  # name -> (callback line, code drawn by full runs only, code inside the fragment)
    "bare (button + text in a fragment)": ("", "", ""),
    "keyed rerun (two script runs)": ('st.rerun(["F", "S"])', "", ""),
    "30 markdown outside the fragment": ("", 'for i in range(30):\n    st.markdown(f"static line {i}")', ""),
    "30 markdown inside the fragment": ("", "", 'for i in range(30):\n        st.markdown(f"line {i}: {n}")'),
    "data grid, 12 x 5, row selection": (
        "",
        "",
        'st.dataframe(pd.DataFrame(rng.normal(size=(12, 5)), columns=list("abcde")), hide_index=True, key=f"grid{n}",\n'
        '                 on_select="rerun", selection_mode="single-row", height=35 * 13 + 3)',
    ),
    "data grid, the same key every click": (
        "",
        "",
        'st.dataframe(pd.DataFrame(rng.normal(size=(12, 5)), columns=list("abcde")), hide_index=True, key="grid",\n'
        '                 on_select="rerun", selection_mode="single-row", height=35 * 13 + 3)',
    ),
    "static table, 13 x 3": (
        "",
        "",
        'st.table(pd.DataFrame({"quantity": [f"q{i}" for i in range(13)], "how": ["words of explanation"] * 13,\n'
        '                           "value": [f"{v:.9g}" for v in rng.normal(size=13)]}))',
    ),
    "3 metrics": (
        "",
        "",
        "row = st.container(horizontal=True)\n    for i, v in enumerate(rng.normal(size=3)):\n"
        '        row.metric(f"m{i}", f"{v:.4f}", f"{v / 10:+.4f}")',
    ),
    "picture (384 x 384 PNG data URL)": ("", "", PICTURE),
    "info + markdown paragraph": (
        "",
        "",
        'st.info(f"The first number was updated from {rng.normal():.4f}.", icon=":material/arrow_forward:")\n'
        '    st.markdown(f":small[:gray[{rng.normal()}]]\\n\\n**Why:** " + "words " * 60)',
    ),
}


def write_pages(folder: Path, variants: dict[str, tuple[str, str, str]]) -> dict[str, Path]:
    roots = {}
    for k, (name, (callback, outside, inside)) in enumerate(variants.items()):
        root = folder / f"page{k}"
        (root / ".streamlit").mkdir(parents=True)
        (root / ".streamlit" / "config.toml").write_text(CONFIG.format(gc="false"))
        (root / "app.py").write_text(PAGE.format(callback=callback, outside=outside, inside=inside))
        roots[name] = root
    return roots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of 5 clicks per page")
    parser.add_argument("--rounds", type=int, help="rounds (each times every page once); default 3, --quick 1")
    parser.add_argument("--clicks", type=int, help="timed clicks per page and round; default 10, --quick 5")
    parser.add_argument("--only", nargs="+", metavar="WORD", help="only the pages whose names hold one of these words (and the bare page)")
    args = parser.parse_args(argv)
    bare = next(iter(VARIANTS))
    variants = {n: v for n, v in VARIANTS.items() if n == bare or not args.only or any(word in n for word in args.only)}
    rounds, clicks = args.rounds or (1 if args.quick else 3), args.clicks or (5 if args.quick else 10)
    print(f"machine: {machine_line()}", flush=True)
    started = time.perf_counter()
    page_args = argparse.Namespace(width=1280, height=800, warmup=3)
    totals: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="element-bench-") as tmp:
        roots = write_pages(Path(tmp), variants)
        for _ in range(rounds):
            for name, root in roots.items():
                with StreamlitServer(root=root) as server:
                    totals[name] += [r["total"] for r in bare_page_session(page_args, server, clicks)]
    base = statistics.median(totals[bare])
    heading = f"the bare page plus one element kind, {rounds} rounds x {clicks} clicks, medians"
    print(f"== click-to-paint in Chromium, throwaway pages: {heading} ==")
    for name, values in totals.items():
        median = statistics.median(values)
        extra = "" if median == base else f"{median - base:+7.1f} ms against the bare page"
        print(f"{median:7.1f} ms  {name:38s} {extra}".rstrip())
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
