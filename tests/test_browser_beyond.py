"""The "Beyond one step" pages in a real Chromium against ``streamlit run app.py``: a training run stopped
half-way, the confusion matrix's cells, jumps through the history, every layer, a learner's own photo, and
screenshots of these pages.

Run alone with ``python -m pytest tests/test_browser_beyond.py -m browser``. One server for the whole module;
every test is its own learner (its own browser context). Screenshots go to ``$FASHIONNET_SCREENSHOT_DIR``
(default ``<repo>/.artifacts/screenshots``); with ``FASHIONNET_DOCS_SCREENSHOTS=1`` they are also copied to
``docs/screenshots/`` (training.png, training-phone.png, history.png, layers-every.png, photo.png).
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import test_browser

from browser_support import DATA_DIR, REPO_ROOT, StreamlitServer, rerun_and_wait, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MODERN = "act=relu&scale=1&lr=0.001"  # the Modern preset as link parameters (seed 0, Adam)
MAIN = "[data-testid=stMain]"
SIDEBAR = "[data-testid=stSidebarUserContent]"
CONFUSION = "[data-testid=stVegaLiteChart][aria-label^='Heatmap of true class']"
RUN_TIMEOUT_MS = 120_000  # a whole epoch on a busy 2-core machine
_CELL_LABEL = re.compile(r"; true: (?P<true>[^;]+); predicted: (?P<predicted>[^;]+); count: (?P<count>[\d,]+)")


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    """The real Fashion-MNIST as the app reads it (to check the images the app shows, and to make a photo)."""
    if not (Path(DATA_DIR) / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {DATA_DIR} (set FASHIONNET_DATA_DIR to the folder with the four .gz files)")
    from fashionnet.data import read_gz_folder

    return read_gz_folder(DATA_DIR, tmp_path_factory.mktemp("beyond-data"))


@pytest.fixture(scope="module")
def server(browser, fashion, tmp_path_factory):  # after `browser` and `fashion`: a missing one skips before a server starts
    with StreamlitServer(cache_dir=str(tmp_path_factory.mktemp("beyond-cache"))) as s:
        yield s


pages = test_browser.pages  # the browser tests' fixture: pages opened per test, screenshots when one fails


# --- helpers -------------------------------------------------------------------------------------------


def assert_no_exception(page, where: str) -> None:
    boxes = page.locator("[data-testid=stException]")
    assert boxes.count() == 0, f"{where}: exception box(es) shown: {boxes.all_inner_texts()}"


def assert_paint_follows_the_address(page) -> None:
    """Every chart still paints once the address changes without a redraw (every step and run rewrites it):
    Vega's SVG gradients are painted through url(<the address>#id), which then points at another document and
    draws nothing (a legend's colour bar vanished, leaving its labels)."""
    page.evaluate("() => history.replaceState(null, '', location.pathname + location.search + '&moved=1')")
    stale = page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart] svg [fill^="url("]'))
                 .map(e => e.getAttribute('fill')).filter(f => !f.includes(location.href.split('#')[0]))"""
    )
    assert stale == [], f"chart paint that points at an earlier address: {stale[:3]}"


def button(page, key: str):
    """A keyed button. Streamlit 1.67 draws a button that has help text twice (one copy hidden): the visible one."""
    return page.locator(f".st-key-{key} button >> visible=true").first


def click(page, key: str) -> None:
    rerun_and_wait(page, lambda: button(page, key).click())


def history_point(page) -> tuple[int, int]:
    """The sidebar's "history point: N of M", as (N, M)."""
    text = page.locator(SIDEBAR).inner_text()
    m = re.search(r"history point:\s*(\d+)\s*of\s*(\d+)", text)
    assert m, f"no 'history point: N of M' in the sidebar: {text!r}"
    return int(m.group(1)), int(m.group(2))


def wait_history_point(page, point: int, total: int | None = None, timeout: float = 30_000) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            """([sel, n, m]) => { const t = document.querySelector(sel)?.innerText || '';
                                 const r = /history point:\\s*(\\d+)\\s*of\\s*(\\d+)/.exec(t);
                                 return r && +r[1] === n && (m === null || +r[2] === m); }""",
            arg=[SIDEBAR, point, total],
            timeout=timeout,
        )
    except PlaywrightTimeout:
        pytest.fail(f"the sidebar never said history point {point} of {total or 'M'}; it says {history_point(page)}")


def go_to(page, title: str) -> None:
    """Open a page through the sidebar navigation, in the same session (opening the sidebar first on a phone)."""
    link = page.locator("[data-testid=stSidebarNav] a", has_text=title)
    box = link.bounding_box()
    if box is None or box["x"] + box["width"] <= 0:  # a collapsed sidebar is moved off screen, not hidden
        page.locator("[data-testid=stExpandSidebarButton]").click()
        link.wait_for(state="visible")
    rerun_and_wait(page, lambda: link.click())
    page.locator(f"{MAIN} h1", has_text=title).wait_for()
    wait_for_app(page)


def train_step(page) -> None:
    """Train one step (on the Train one step page) and wait for the sidebar to count it."""
    point, _total = history_point(page)
    click(page, "train_step")
    wait_history_point(page, point + 1)
    wait_for_app(page)


def choose_option(page, key: str, name: str) -> None:
    """Pick ``name`` in a keyed selectbox. The keyboard opens it: a click on a selectbox without a value
    sometimes only focuses it while charts above are still being laid out."""
    box = page.locator(f".st-key-{key} [role=combobox]")
    box.scroll_into_view_if_needed()
    box.focus()
    box.press("ArrowDown")
    option = page.get_by_role("option", name=name, exact=True)
    option.wait_for()
    rerun_and_wait(page, lambda: option.click())


def predict_sentence(page) -> str:
    return page.locator(f"{MAIN} h4").first.inner_text().strip()


def first_caption(page) -> str:
    return page.locator(f"{MAIN} [data-testid=stImageCaption]").first.inner_text().strip()


def grid_cells(page, frame_selector: str, row: int) -> list[str]:
    """The texts of one data row (0 = the first) of an st.dataframe. glide-data-grid paints the cells on a
    canvas but keeps an accessible <table> inside it, only while the grid is on screen."""
    frame = page.locator(frame_selector)
    frame.scroll_into_view_if_needed()
    tr = frame.locator(f"table[role=grid] tr[aria-rowindex='{row + 2}']")  # aria-rowindex 1 is the header
    tr.wait_for(state="attached")
    return [t.strip() for t in tr.locator("td").all_text_contents()]


def chart_has_ink(chart) -> bool:
    """A vega chart drew something: many colours on its canvas, or marks in its SVG."""
    return chart.evaluate(
        """el => { const c = el.querySelector('canvas');
                   if (c) { if (!c.width || !c.height) return false;
                            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();
                            for (let i = 0; i < d.length; i += 16) seen.add(d[i] << 16 | d[i+1] << 8 | d[i+2]);
                            return seen.size > 20; }
                   return el.querySelectorAll('svg.marks [role=graphics-symbol]').length >= 10; }"""
    )


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("FASHIONNET_SCREENSHOT_DIR") or REPO_ROOT / ".artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot_full(page, name: str) -> Path:
    """Everything the main area scrolls through, at the viewport's width (the sidebar as it is)."""
    viewport = page.viewport_size
    page.mouse.move(viewport["width"] // 2, 4)  # park the pointer on the empty header: no hover toolbars or tooltips
    tall = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(int(tall), viewport["height"])})
    page.wait_for_timeout(300)  # charts re-fit to the new size (a ResizeObserver, then a vega re-render)
    wait_for_app(page)
    shot = screenshot_dir() / f"{name}.png"
    page.screenshot(path=shot)
    page.set_viewport_size(viewport)
    if os.environ.get("FASHIONNET_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(shot, REPO_ROOT / "docs" / "screenshots" / f"{name}.png")
    return shot


def set_number(page, key: str, value: int) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    rerun_and_wait(page, lambda: box.press("Enter"))


def run_training(page, *, timeout: float = RUN_TIMEOUT_MS) -> None:
    """Click Train and wait for the run's summary (the script reruns itself when the run is over)."""
    point, _ = history_point(page)
    rerun_and_wait(page, lambda: button(page, "train_run").click(), timeout=timeout)
    page.locator(f"{MAIN} h3", has_text=f"Training run at history point {point + 1}").wait_for(timeout=timeout)
    wait_for_app(page, timeout)


# --- 1. a training run, stopped ------------------------------------------------------------------------


def test_stop_keeps_the_batches_trained_so_far(server, pages):
    page, log = pages.open(server.url(f"/training?{MODERN}"))
    assert page.locator(f"{MAIN} h1").first.inner_text().strip() == "Train many steps"
    set_number(page, "run_epochs", 5)
    page.get_by_text("4,690 batches", exact=False).first.wait_for()

    button(page, "train_run").click()
    progress = page.locator("[data-testid=stProgress]")
    page.wait_for_function("() => /Batch [1-9][\\d,]* of 4,690/.test(document.querySelector('[data-testid=stProgress]')?.innerText || '')")
    seen = int(re.search(r"Batch ([\d,]+) of", progress.inner_text()).group(1).replace(",", ""))
    assert page.locator(f"{MAIN} [data-testid=stVegaLiteChart]").count() >= 1, "no live loss chart while training"
    rerun_and_wait(page, lambda: button(page, "stop_run").click())

    # What the page shows as soon as the rerun that Stop caused is over.
    right_after = {
        "sidebar": history_point(page),
        "run shown": page.locator(f"{MAIN} h3", has_text="Training run at history point 1").count() == 1,
        "address": page.url,
    }
    if right_after["sidebar"] != (1, 1):
        # Carry on with the rest of the test on a later rerun (a navigation), and fail at the end.
        for _ in range(10):
            page.wait_for_timeout(1000)
            go_to(page, "Train many steps")
            if history_point(page) == (1, 1):
                break
    assert history_point(page) == (1, 1), "the stopped run never became history point 1"
    summary = page.locator(f"{MAIN} [data-testid=stMarkdownContainer] p", has_text="stopped early, after").first
    m = re.search(r"^([\d,]+) batches of 64 \(stopped early, after ([\d,]+) of 4,690: Stop, or another page", summary.inner_text())
    assert m, f"the run is not described as stopped: {summary.inner_text()!r}"
    batches = int(m.group(1).replace(",", ""))
    assert int(m.group(2).replace(",", "")) == batches
    assert seen <= batches < 4690, f"the progress bar had shown batch {seen}; the run kept {batches}"
    assert f"steps=r64x{batches}x0" in page.url, f"the address bar does not carry the stopped run: {page.url}"
    assert page.locator(f"{MAIN} [data-testid=stVegaLiteChart][aria-label^='Line chart of the training loss']").count() == 1

    go_to(page, "History")
    page.get_by_text("You are at point 1 of 1 (0 single steps, 1 training run).").wait_for()
    row = grid_cells(page, ".st-key-history_table [data-testid=stDataFrame]", 1)[:4]
    assert row == ["1", "← you are here", "training run", f"{batches:,} batches of 64 (stopped)"], row

    go_to(page, "Train one step")
    train_step(page)
    assert history_point(page) == (2, 2)
    assert page.locator(f"{MAIN} h3", has_text="Step 2: what changed").count() == 1
    assert_no_exception(page, "train, stop, one step")
    log.assert_clean("train, stop, one step")
    assert right_after["sidebar"] == (1, 1) and right_after["run shown"] and "steps=r64x" in right_after["address"], (
        "right after Stop the page did not show the stopped run: "
        f"sidebar history point {right_after['sidebar']}, run summary shown: {right_after['run shown']}, "
        f"address {right_after['address']} (it showed up only after another rerun)"
    )


# --- 2. the confusion matrix's cells -------------------------------------------------------------------


def test_a_confusion_cell_shows_its_images(server, pages, fashion):
    page, log = pages.open(server.url(f"/training?{MODERN}"))
    rerun_and_wait(page, lambda: page.locator(".st-key-run_unit label", has_text="batches").click())
    set_number(page, "run_batches", 50)
    page.get_by_text("50 batches", exact=False).first.wait_for()
    run_training(page)

    chart = page.locator(CONFUSION)
    chart.scroll_into_view_if_needed()
    marks = chart.locator("svg.marks g.mark-rect [role=graphics-symbol]")
    assert marks.count() == 100, f"expected a 10 x 10 grid of cells, vega drew {marks.count()} (canvas renderer?)"
    cells = []
    for i, label in enumerate(marks.evaluate_all("ps => ps.map(p => p.getAttribute('aria-label'))")):
        m = _CELL_LABEL.search(label)
        assert m, label
        cells.append((int(m["count"].replace(",", "")), m["true"].strip(), m["predicted"].strip(), i))
    off = sorted((c for c in cells if c[1] != c[2] and c[0] > 0), reverse=True)
    assert len(off) >= 2, f"fewer than two kinds of mistake after 50 batches: {off}"
    default_text = page.locator(f"{MAIN} p", has_text="test images of").last.inner_text()
    assert "the most frequent mistake" in default_text, default_text
    count, true, predicted, index = off[1]  # the second most frequent mistake: not what the page shows before a click
    box = marks.nth(index).bounding_box()
    # Off the cell's centre, where the count is written (the text layer sits on top of the rects).
    rerun_and_wait(page, lambda: page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.25))

    text = page.locator(f"{MAIN} p", has_text="test images of").last.inner_text().strip()
    shown = min(count, 12)
    expected = f"{count:,} test images of {true} called {predicted}; the first {shown}:" if shown > 1 else None
    if expected:
        assert text == expected, text
    else:
        assert text.startswith(f"{count:,} test images of {true} called {predicted}"), text
    captions = [c.strip() for c in page.locator(f"{MAIN} [data-testid=stImageCaption]").all_inner_texts()]
    assert 1 <= len(captions) <= 12 and len(captions) == shown, captions
    indices = [int(re.fullmatch(r"test #(\d+)", c).group(1)) for c in captions]
    labels = [CLASSES[int(fashion.test_labels[i])] for i in indices]
    assert labels == [true] * shown, f"the images shown are not all {true}: {list(zip(indices, labels, strict=True))}"
    images = page.locator(f"{MAIN} [data-testid=stImage] img")
    assert images.count() == shown
    assert all(images.nth(i).evaluate("e => e.complete && e.naturalWidth > 0") for i in range(shown)), "an example image did not load"
    assert_no_exception(page, "confusion cell")
    assert_paint_follows_the_address(page)
    legend = chart.locator(".role-legend")
    assert legend.count() == 1 and legend.locator(".role-legend-symbol path").count() >= 5, "the legend has no swatches"
    log.assert_clean("confusion cell")


# --- 3. jumps through the history ----------------------------------------------------------------------


def test_history_jumps_restore_the_exact_model(server, pages):
    page, log = pages.open(server.url("/train"))
    sentences = []  # what Predict says after step 1 and after step 2
    for _ in range(2):
        train_step(page)
        go_to(page, "Predict")
        sentences.append(predict_sentence(page))
        go_to(page, "Train one step")
    train_step(page)
    assert len(set(sentences)) == 2, f"two steps should give two different predictions: {sentences}"

    go_to(page, "History")
    page.get_by_text("You are at point 3 of 3 (3 single steps, 0 training runs).").wait_for()
    frame = page.locator(".st-key-history_table [data-testid=stDataFrame]")
    assert grid_cells(page, ".st-key-history_table [data-testid=stDataFrame]", 1)[:4] == ["1", "", "one step", "training #0"]
    # Select row "point 1" by its checkbox in the row-marker column, at the row's height on the canvas.
    canvas = frame.locator("[data-testid=data-grid-canvas]")
    rows = int(canvas.locator("table").get_attribute("aria-rowcount"))  # the header and 4 rows
    assert rows == 5
    box = canvas.bounding_box()
    row_height = 35  # Streamlit's glide-data-grid rows and header, in CSS pixels
    assert box["height"] >= rows * row_height - 2, box
    rerun_and_wait(page, lambda: page.mouse.click(box["x"] + 17, box["y"] + row_height * 2 + row_height / 2))
    goto = button(page, "goto_selected")
    assert goto.inner_text().strip().endswith("Go to point 1"), goto.inner_text()
    rerun_and_wait(page, lambda: goto.click())
    wait_history_point(page, 1, 3)
    page.get_by_text("Now at point 1:", exact=False).wait_for()
    go_to(page, "Predict")
    assert history_point(page) == (1, 3)
    assert predict_sentence(page) == sentences[0], "after the jump to point 1, Predict does not say what it said after step 1"

    # The number box and its button go to point 2.
    go_to(page, "History")
    set_number(page, "goto_number", 2)
    click(page, "goto_point")
    wait_history_point(page, 2, 3)
    go_to(page, "Predict")
    assert predict_sentence(page) == sentences[1], "after the jump to point 2, Predict does not say what it said after step 2"

    # Forward one: back to the newest point.
    go_to(page, "History")
    click(page, "history_forward")
    wait_history_point(page, 3, 3)
    assert button(page, "history_forward").is_disabled()
    assert_no_exception(page, "history jumps")
    log.assert_clean("history jumps")


def test_share_and_save_stay_open_across_pages(server, pages):
    """An instructor who opened "Share this state" keeps the link in view on every page (Streamlit gives the
    sidebar's sections a new identity on another page: their own state would start closed), a closed section
    stays closed, and the link on each page is that page's with the same steps."""
    page, log = pages.open(server.url("/train"))
    train_step(page)

    def section(label: str):
        return page.locator(f"{SIDEBAR} [data-testid=stExpander] details", has=page.locator("summary", has_text=label))

    share, save = section("Share this state"), section("Save and resume")
    rerun_and_wait(page, lambda: share.locator("summary").click())
    share.locator("[data-testid=stCode]").wait_for()
    for title, path in (("History", "/history"), ("Predict", ""), ("Train one step", "/train")):  # Predict is the app's root
        go_to(page, title)
        assert share.get_attribute("open") is not None, f"'Share this state' closed on {title}"
        assert save.get_attribute("open") is None, f"'Save and resume' opened by itself on {title}"
        link = share.locator("[data-testid=stCode]").inner_text().strip()
        assert urlsplit(link).path.rstrip("/") == path and "steps=t0" in urlsplit(link).query, f"{title}: {link}"
    rerun_and_wait(page, lambda: share.locator("summary").click())
    rerun_and_wait(page, lambda: save.locator("summary").click())
    go_to(page, "History")
    assert share.get_attribute("open") is None, "a closed 'Share this state' opened again on another page"
    assert save.get_attribute("open") is not None, "'Save and resume' closed on another page"
    save.get_by_text("A progress file keeps everything").wait_for()
    log.assert_clean("share and save across pages")


def test_settings_and_presenter_stay_open_across_pages(server, pages):
    """An instructor setting up a walkthrough opens Settings and Presenter mode once: both stay open on every
    page until closed, and a closed one stays closed (Streamlit keeps an unkeyed sidebar section's identity
    across pages; a keyed one, like Share this state, needs the router's help: the test above)."""
    page, log = pages.open(server.url("/train"))

    def section(label: str):
        return page.locator(f"{SIDEBAR} [data-testid=stExpander] details", has=page.locator("summary", has_text=label))

    settings, presenter = section("Settings"), section("Presenter mode")
    rerun_and_wait(page, lambda: settings.locator("summary").click())
    settings.get_by_label("Learning rate").wait_for()
    rerun_and_wait(page, lambda: presenter.locator("summary").click())
    for title in ("History", "Predict", "Every layer"):
        go_to(page, title)
        assert settings.get_attribute("open") is not None, f"'Settings' closed on {title}"
        assert presenter.get_attribute("open") is not None, f"'Presenter mode' closed on {title}"
        settings.get_by_label("Learning rate").wait_for()
    rerun_and_wait(page, lambda: settings.locator("summary").click())
    go_to(page, "Train one step")
    assert settings.get_attribute("open") is None, "a closed 'Settings' opened again on another page"
    assert presenter.get_attribute("open") is not None
    log.assert_clean("settings and presenter across pages")


def test_reset_asks_before_it_discards_the_history(server, pages):
    page, log = pages.open(server.url("/train?steps=t0.t1"))
    wait_history_point(page, 2, 2)
    page.locator(f"{SIDEBAR} [data-testid=stPopoverButton]").filter(has_text="Reset to the seed").first.click()
    panel = page.locator("[data-testid=stPopoverBody]")
    panel.get_by_text("This discards your 2 history entries for good").wait_for()
    assert history_point(page) == (2, 2), "opening Reset discarded something"
    page.keyboard.press("Escape")  # changed their mind: nothing happens
    page.wait_for_timeout(300)
    assert history_point(page) == (2, 2)
    page.locator(f"{SIDEBAR} [data-testid=stPopoverButton]").filter(has_text="Reset to the seed").first.click()
    rerun_and_wait(page, lambda: panel.get_by_role("button", name="Reset: discard 2 entries").click())
    wait_history_point(page, 0, 0)
    assert "steps=" not in page.url
    log.assert_clean("reset asks first")


def test_the_lesson_pages_fresh_model_asks_first_and_the_shared_link_leaves_presenter_mode(server, pages):
    page, log = pages.open(server.url("/lesson?steps=t0.t1&present=1"))
    wait_history_point(page, 2, 2)
    page.locator(f"{MAIN} [data-testid=stPopoverButton]").filter(has_text="Start from a fresh Lesson model").click()
    panel = page.locator("[data-testid=stPopoverBody]")
    panel.get_by_text("This discards your 2 history entries for good").wait_for()
    assert history_point(page) == (2, 2), "opening the popover discarded something"
    rerun_and_wait(page, lambda: panel.get_by_role("button", name="Discard 2 entries and start fresh").click())
    wait_history_point(page, 0, 0)
    page.get_by_text("Your model now: 0 steps taken, on train image #0").wait_for()
    # With nothing to lose it is a plain button; presenter mode stays in this tab's address, not in the shared link.
    assert page.locator(f"{MAIN} .st-key-lesson_fresh button").is_visible()
    assert "present=1" in page.url
    test_browser.open_sidebar_section(page, "Share this state")
    link = page.locator(f"{SIDEBAR} [data-testid=stCode]").first.inner_text()
    assert "present" not in link and link.startswith(server.url("/lesson")), link
    page.get_by_text("Presenter mode is not in this link").wait_for()
    log.assert_clean("lesson page asks first")


# --- 4. every layer ------------------------------------------------------------------------------------


def test_every_layer_now_and_since_a_point(server, pages):
    page, log = pages.open(server.url("/weights?steps=t0.t1.t2"))
    assert page.locator(f"{MAIN} h1").first.inner_text().strip() == "Every layer"
    assert history_point(page) == (3, 3)
    w1 = page.locator(f"{MAIN} [data-testid=stImage] img")
    assert w1.count() == 1
    w1.scroll_into_view_if_needed()
    natural = w1.evaluate("e => e.complete ? [e.naturalWidth, e.naturalHeight] : null")
    assert natural and natural[0] >= 8 * 28 and natural[1] >= 8 * 28, f"the W1 image did not load: {natural}"
    assert first_caption(page).startswith("W1 weight: unit 0 top left")
    charts = page.locator(f"{MAIN} [data-testid=stVegaLiteChart]")
    assert charts.count() == 4, f"expected W2, W3, W4 and the biases: {charts.count()} charts"
    for i, name in enumerate(("W2", "W3", "W4", "biases")):
        charts.nth(i).scroll_into_view_if_needed()
        page.wait_for_timeout(100)
        assert chart_has_ink(charts.nth(i)), f"the {name} chart is empty"
    assert page.locator(f"{MAIN} [data-testid=stDataFrame]").count() == 0

    rerun_and_wait(page, lambda: page.locator(".st-key-layers_view label", has_text="change since point N").click())
    page.get_by_text("From point 0 to point 3 (where you are):").wait_for()
    table = f"{MAIN} [data-testid=stDataFrame]"
    assert page.locator(table).count() == 1, "no summary table of the change"
    for row, layer in enumerate(("W1", "W2", "W3", "W4")):
        cells = grid_cells(page, table, row)
        assert len(cells) == 7 and cells[0] == layer, cells
        assert float(cells[3]) > 0, f"{layer} did not change in three steps: {cells}"
    assert first_caption(page).startswith("W1 change since point 0")
    set_number(page, "layers_since", 2)
    page.get_by_text("From point 2 to point 3 (where you are):").wait_for()
    assert page.locator(f"{MAIN} [data-testid=stVegaLiteChart]").count() == 4
    assert_paint_follows_the_address(page)
    assert_no_exception(page, "every layer")
    log.assert_clean("every layer")


# --- 5. your own photo ---------------------------------------------------------------------------------


def make_photo(fashion, path: Path, index: int = 2) -> str:
    """A JPEG like a phone photo of test image ``index``: dark item on a light, larger canvas, off centre."""
    from PIL import Image

    item = Image.fromarray(255 - fashion.test_images[index].numpy()).resize((300, 300), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (400, 400), 240)
    canvas.paste(item, (85, 15))
    canvas.convert("RGB").save(path, "JPEG", quality=90)
    return CLASSES[int(fashion.test_labels[index])]


def test_own_photo_on_every_page(server, pages, fashion, tmp_path):
    photo = tmp_path / "my-trousers.jpg"
    label = make_photo(fashion, photo)
    page, log = pages.open(server.url("/photo"))
    assert page.locator(f"{MAIN} h1").first.inner_text().strip() == "Your own photo"
    uploader = page.locator(".st-key-photo_file input[type=file]")
    rerun_and_wait(page, lambda: uploader.set_input_files(str(photo)))

    images = page.locator(f"{MAIN} [data-testid=stImage] img")
    assert images.count() == 2, f"expected the photo and its 28 x 28 version: {images.count()} images"
    left, right = images.nth(0).bounding_box(), images.nth(1).bounding_box()
    assert abs(left["y"] - right["y"]) < 5 and left["x"] + left["width"] <= right["x"], f"not side by side: {left} {right}"
    assert left["width"] > 100 and right["width"] > 100
    assert all(images.nth(i).evaluate("e => e.complete && e.naturalWidth > 0") for i in range(2))
    captions = page.locator(f"{MAIN} [data-testid=stImageCaption]").all_inner_texts()
    assert captions == ["Your JPEG as uploaded", "As the network sees it: 28 × 28, greyscale"], captions
    notes = page.locator(f"{MAIN} p", has_text="What was changed:").inner_text()
    assert "light background" in notes, notes

    assert button(page, "use_photo").is_disabled(), "the photo can be used before its class is chosen"
    choose_option(page, "photo_label", label)
    click(page, "use_photo")
    page.locator("[data-testid=stAlertContentSuccess]", has_text=f"Your photo is now the selected image ({label})").wait_for()

    go_to(page, "Train one step")
    assert first_caption(page).startswith("Your photo"), first_caption(page)
    assert label in first_caption(page)
    train_step(page)
    assert history_point(page) == (1, 1)
    # The step that made the history unable to travel in the address says so where the learner looks.
    page.locator("[data-testid=stToast]", has_text="a reload would lose it").wait_for()
    share = page.locator("[data-testid=stSidebar] [data-testid=stExpander]").filter(
        has=page.locator("summary", has_text="Share this state")
    )
    share.locator("summary").click()
    share.locator("[data-testid=stAlertContentWarning]", has_text="your own photo, which a link cannot carry").wait_for()

    # Random bytes named x.png: refused by name, and the photo stays the selected image.
    junk = tmp_path / "x.png"
    junk.write_bytes(b"not a picture " + random.Random(7).randbytes(2000))
    go_to(page, "Your own photo")
    rerun_and_wait(page, lambda: page.locator(".st-key-photo_file input[type=file]").set_input_files(str(junk)))
    page.locator("[data-testid=stAlertContentError]", has_text="x.png cannot be used").wait_for()
    assert page.get_by_text("Your earlier photo is still kept.").count() == 1
    assert re.search(r"image: your photo", page.locator(SIDEBAR).inner_text()), page.locator(SIDEBAR).inner_text()
    go_to(page, "Predict")
    assert first_caption(page).startswith("Your photo"), "after a refused upload the earlier photo is no longer selected"
    assert history_point(page) == (1, 1)
    assert_no_exception(page, "own photo")
    log.assert_clean("own photo")


# --- 6. screenshots ------------------------------------------------------------------------------------


def test_screenshots_beyond_one_step(server, pages, fashion, tmp_path):
    saved = []
    page, log = pages.open(server.url(f"/training?{MODERN}"))
    run_training(page)  # one epoch of batch 64
    assert page.locator(f"{MAIN} [data-testid=stVegaLiteChart][aria-label^='Line chart of the training loss']").count() == 1
    assert page.locator(CONFUSION).count() == 1
    saved.append(shoot_full(page, "training"))

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    wait_for_app(page)
    saved.append(shoot_full(page, "training-phone"))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_timeout(300)

    go_to(page, "Train one step")
    train_step(page)
    train_step(page)
    go_to(page, "History")
    saved.append(shoot_full(page, "history"))
    go_to(page, "Every layer")
    saved.append(shoot_full(page, "layers-every"))

    photo = tmp_path / "photo.jpg"
    make_photo(fashion, photo)
    go_to(page, "Your own photo")
    rerun_and_wait(page, lambda: page.locator(".st-key-photo_file input[type=file]").set_input_files(str(photo)))
    page.locator(f"{MAIN} [data-testid=stImage] img").nth(1).wait_for()
    saved.append(shoot_full(page, "photo"))

    assert all(p.stat().st_size > 5_000 for p in saved)
    print("\n".join(str(p) for p in saved))
    assert_no_exception(page, "screenshots")
    log.assert_clean("screenshots")
