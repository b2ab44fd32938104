"""Benchmark: what would bring the Train page's click-to-paint to 80 ms? Variants of the real app, side by side.

``bench/element_bench.py`` adds one kind of element to a throwaway page; this one changes the real app. Each
variant is a copy of this tree (the files git tracks, in ``.cache/variants/<name>``) with a few edits made
to its code, named in VARIANTS below; every edit must match the code exactly once, or the benchmark stops
and says which (the code it edits has changed: update the edit). The variants are prototypes for
measuring, not features: some leave parts of the page stale after a step (said per variant).

Each variant runs its own server and Chromium, rounds alternating between variants so they share the
machine's load, and the clicks are timed exactly as ``bench/paint_bench.py`` times them (its MEASURE_CLICK).

Run from the project root::

    python bench/variant_bench.py                 # all variants, 3 rounds of 12 clicks each
    python bench/variant_bench.py --only "as is" "one element, one run"
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
from pathlib import Path
from types import SimpleNamespace

from benchenv import ROOT
from classroom import machine_line
from paint_bench import TARGET_MS, alternating

Edit = tuple[str, str, str]  # (file, exactly this text, replaced by this)

EXTRA_TEXTS: list[Edit] = [
    (
        "ui/train_panel.py",
        '    st.markdown(f":small[:gray[{summary}]]\\n\\n**Why:** {why}")\n',
        '    st.markdown(f":small[:gray[{summary}]]\\n\\n**Why:** {why}")\n'
        "    for extra in range(20):\n"
        '        st.markdown(f":small[{extra}]")\n',
    ),
]

LEAN_PAGE: list[Edit] = [  # the sidebar, the image picker's expander and the four sections' headers not drawn
    ("ui/router.py", "    _sidebar(data)\n", "    pass  # (variant: no sidebar)\n"),
    (
        "ui/router.py",
        '    st.rerun([*page_fragments, "live_status", *(["live_share"] if share else [])])',
        "    st.rerun([*page_fragments])",
    ),
    ("ui/train_panel.py", "    for section in SECTIONS:\n", "    for section in ():\n"),
    ("pages/train.py", 'with st.expander("Choose another image"):\n    pick_image(data)\n', ""),
]

# The step's numbers, picture and most-moved table as ONE element: st.html of the same texts, the same
# picture and pandas' own HTML of the same table (Styler.to_html). What it loses: st.metric's look, the
# data grid's row click (explain an entry) and column sorting; the HTML is not checked for anything here.
ONE_ELEMENT: list[Edit] = [
    (
        "ui/train_panel.py",
        '    st.subheader(f"Step {r.number}: what changed")\n',
        "    import html\n"
        "    callout, summary, why = texts\n"
        '    table_html = top.style.format({"before": "{:.6f}", "after": "{:.6f}", "change": "{:+.7f}"}).hide(axis="index").to_html()\n'
        '    big = "font-size:2rem"\n'
        "    st.html(\n"
        "        f\"<h3>Step {r.number}: what changed</h3><div style='display:flex;gap:2rem'>\"\n"
        "        f\"<div><small>Loss</small><div style='{big}'>{r.loss_after:.4f}</div>\"\n"
        '        f"<small>{r.loss_after - r.loss_before:+.4f} (was {r.loss_before:.4f})</small></div>"\n'
        "        f\"<div><small>P({CLASSES[r.label]})</small><div style='{big}'>{report.percent(r.p_true_after)}</div></div>\"\n"
        "        f\"<div><small>W3 entries moved</small><div style='{big}'>{step.moved_share:.1%}</div></div></div>\"\n"
        '        f"<p>{html.escape(callout)}</p><p><small>{html.escape(summary)}</small></p><p><b>Why:</b> {html.escape(why)}</p>"\n'
        "        f\"<div style='display:flex;gap:1rem'><div style='flex:1'><b>Change of every W3 entry</b><br>\"\n"
        "        f\"<img src='{picture}' alt='Picture of the change of all 4,096 entries of W3' style='width:100%'>\"\n"
        '        f"<br><small>{html.escape(report.heatmap_caption(step, row, col))}</small></div>"\n'
        "        f\"<div style='flex:1'><b>Most-moved entries</b>{table_html}</div></div>\"\n"
        "    )\n"
        "    return\n",
    ),
]

# Everything a step changes in ONE fragment (the image and the buttons, the numbers, the entry's inputs, the
# story), so that a click is one script run (the click reruns the fragment its button is in), not a fragment
# run followed by a keyed rerun of four fragments. What it loses: the sidebar's "history point" and the
# address bar are not updated by a step (they are fragments of the sidebar); Undo and Redo are not wired.
ONE_RUN: list[Edit] = [
    *[("ui/train_panel.py", f'@st.fragment(key="{key}")\n', "") for key in ("train_actions", "train_panel", "train_entry", "train_story")],
    (
        "ui/train_panel.py",
        "        st.session_state.quiz_marks = marks\n    rerun_step(had_step)\n",
        "        st.session_state.quiz_marks = marks\n"
        "    if (st.session_state.learner.last_report is not None) != had_step:\n"
        "        st.rerun()  # the first step: the layout changes\n",
    ),
    (
        "ui/train_panel.py",
        "def panel() -> None:\n",
        '@st.fragment(key="train_body")\n'
        "def body(data) -> None:\n"
        "    top(data)\n"
        "    numbers()\n"
        "    if st.session_state.learner.last_report is not None:\n"
        "        entry()\n"
        "        story()\n"
        "\n\n"
        "def panel() -> None:\n",
    ),
    (
        "ui/train_panel.py",
        "    numbers()\n    if learner.last_report is None:\n        return\n    entry()\n    story()\n",
        "    body(shared_data())\n    if learner.last_report is None:\n        return\n",
    ),
    ("pages/train.py", "top(data)\npanel()\n", "panel()\n"),
]

# The least a click can send with the panel as one element: the buttons' fragment is gone, the buttons are
# drawn at the top of the panel's fragment, and a click reruns that fragment alone. What it loses besides
# ONE_RUN's: the chosen entry's story and the picture's place beside the buttons.
LEAST: list[Edit] = [
    ("ui/train_panel.py", '@st.fragment(key="train_actions")\n', ""),
    ONE_RUN[4],  # the first step reruns the whole app; later ones only the panel's fragment
    ("ui/train_panel.py", "    with right:\n        actions(data)\n", "    with right:\n        pass\n"),
    (
        "ui/train_panel.py",
        "    step = learner.last_report\n    # Everything the panel shows",
        "    actions(shared_data())\n    step = learner.last_report\n    # Everything the panel shows",
    ),
]

VARIANTS: dict[str, tuple[str, list[Edit]]] = {
    "as is": ("the app as it is", []),
    "+20 texts": ("20 more lines of text in the panel: what each message costs on this page", EXTRA_TEXTS),
    "lean page": ("no sidebar, no image picker, no sections: what the rest of the page costs a click", LEAN_PAGE),
    "one run": ("everything a step changes in one fragment: one script run per click", ONE_RUN),
    "one element": ("the numbers, picture and table as one st.html element (the same keyed rerun)", ONE_ELEMENT),
    "one element, one run": ("both", ONE_ELEMENT + ONE_RUN),
    "one element, least": ("the panel as one element and the buttons in its fragment, nothing else resent", ONE_ELEMENT + LEAST),
}


def edited(name: str, read) -> dict[str, str]:
    """The files a variant changes, edited: {path: text}. ``read(path)`` gives a file's text as it is now.
    Stops with a message if an edit does not match exactly once (the code it edits has changed)."""
    texts: dict[str, str] = {}
    for rel, old, new in VARIANTS[name][1]:
        text = texts.get(rel) if rel in texts else read(rel)
        if text.count(old) != 1:
            raise SystemExit(f"variant {name!r}: the edit of {rel} matches {text.count(old)} times, not once:\n{old}")
        texts[rel] = text.replace(old, new)
    return texts


def make_variant(name: str, under: Path | None = None) -> Path:
    """A copy of this tree's tracked files, in ``under`` (.cache/variants/), with the variant's edits made."""
    folder = (under or ROOT / ".cache" / "variants") / name.replace(" ", "-").replace(",", "").replace("+", "plus")
    shutil.rmtree(folder, ignore_errors=True)
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, folder / rel)
    for rel, text in edited(name, lambda rel: (ROOT / rel).read_text()).items():
        (folder / rel).write_text(text)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=12, help="clicks per variant per round")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME", help=f"variants to run, of: {', '.join(VARIANTS)}")
    args = parser.parse_args(argv)
    names = args.only or list(VARIANTS)
    for name in names:
        if name not in VARIANTS:
            raise SystemExit(f"no variant {name!r}; there are: {', '.join(VARIANTS)}")
    print(f"machine: {machine_line()}", flush=True)
    trees = {name: make_variant(name) for name in names}
    opts = SimpleNamespace(width=1280, height=800, warmup=5, chart=False, ripple=False)
    results = alternating(opts, "picture", trees, args.rounds, args.clicks)
    base = statistics.median(r["total"] for r in results[names[0]])
    print(
        f"== click-to-paint of 'Train one step' (Chromium 1280x800), variants of the app, {args.rounds} rounds x {args.clicks} "
        f"clicks, rounds alternating; ratio against {names[0]!r}; target median <= {TARGET_MS:.0f} ms =="
    )
    for name in names:
        rows = results[name]
        med = statistics.median(r["total"] for r in rows)
        msgs = statistics.median(r["ForwardMsgs (count)"] for r in rows)
        print(f"  {med:6.0f} ms  {med / base:4.2f}x  {msgs:3.0f} messages  {name}: {VARIANTS[name][0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
