"""FashionNet Lab in a real Chromium against ``streamlit run app.py``: the lesson walk, shared links, two
learners at once, the keyboard, and screenshots of every page in light and dark at three sizes.

Run alone with ``python -m pytest -m browser``. Needs Playwright (pip) and Chromium at /usr/bin/chromium;
without them these tests are skipped with the reason, except under ``CI=true``, where that is a failure.
Screenshots go to ``$FASHIONNET_SCREENSHOT_DIR`` (default ``<repo>/.artifacts/screenshots``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from browser_support import (
    REPO_ROOT,
    ConsoleLog,
    StreamlitServer,
    app_background_rgb,
    is_dark,
    rerun_and_wait,
    wait_for_app,
)

pytestmark = pytest.mark.browser

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Train image 0 is an ankle boot; with the Lesson settings the untrained network says "Coat".
SENTENCE_TRAIN_0 = "The network thinks this is a Coat (15.2\u00a0%); it is an Ankle boot (10.4\u00a0%)."
SIZES = ((1280, 800), (1920, 1080), (390, 844))
THEMES = ("light", "dark")

CAPTION = "[data-testid=stImageCaption]"
CODE = "[data-testid=stMain] [data-testid=stCode] code"
PROBS_CHART = "[data-testid=stVegaLiteChart][aria-label^='Bar chart of the ten class probabilities']"
# Streamlit 1.67 puts `st-key-<key>` classes only on widgets, not on st.altair_chart/st.dataframe, so the
# heatmap is found by its alt text and the moved table by the column it sits in.
HEATMAP = "[data-testid=stVegaLiteChart][aria-label^='Heatmap of the change']"  # the interactive chart (a switch)
PICTURE = "img[alt^='Picture of the change of all 4,096 entries']"  # W3's change as the Train page first shows it


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(browser, cache_dir):  # depends on `browser` so that a missing browser skips before a server starts
    with StreamlitServer(cache_dir=cache_dir) as s:
        yield s


@pytest.fixture
def fresh_server(browser, cache_dir):
    with StreamlitServer(cache_dir=cache_dir) as s:
        yield s


class Pages:
    """Opens pages in their own browser contexts (one context = one learner), collecting console errors."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.opened: list[tuple[object, object, ConsoleLog]] = []

    def open(self, url: str, *, width: int = 1280, height: int = 800, color_scheme: str = "light"):
        context = self.browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme)
        context.set_default_timeout(30_000)
        page = context.new_page()
        log = ConsoleLog().attach(page)
        self.opened.append((context, page, log))
        page.goto(url)
        wait_for_app(page)
        return page, log

    def save_evidence(self, name: str) -> None:
        """Screenshots of every open page, for a test that failed."""
        folder = screenshot_dir() / "failures"
        folder.mkdir(exist_ok=True)
        for i, (_context, page, log) in enumerate(self.opened):
            try:
                page.screenshot(path=folder / f"{name}-{i}.png", full_page=True)
                print(f"failure screenshot: {folder / f'{name}-{i}.png'} ({page.url}); console errors: {log.errors}")
            except Exception as err:  # the page may be gone; the evidence is a bonus
                print(f"no failure screenshot of page {i}: {err}")

    def close(self) -> None:
        for context, _page, _log in self.opened:
            context.close()
        self.opened.clear()


@pytest.fixture
def pages(browser, request):
    p = Pages(browser)
    failed_before = request.session.testsfailed
    yield p
    if request.session.testsfailed > failed_before:
        p.save_evidence(re.sub(r"[^\w.-]+", "_", request.node.name)[:80])
    p.close()


# --- helpers -------------------------------------------------------------------------------------------


def assert_no_exception(page, where: str) -> None:
    n = page.locator("[data-testid=stException]").count()
    assert n == 0, f"{where}: {n} exception box(es) shown: {page.locator('[data-testid=stException]').all_inner_texts()}"


def heading(page) -> str:
    return page.locator("[data-testid=stMain] h1").first.inner_text().strip()


def caption(page) -> str:
    return page.locator(CAPTION).first.inner_text().strip()


def printouts(page) -> list[str]:
    """W3 as PyTorch prints it, every time the main area shows it (other code blocks are left out).

    After a step the Train page keeps the printouts in an expander that is built only while open: it is
    opened first. The Train page always shows W3 one way or the other, so an empty list is a failure."""
    summary = page.locator("[data-testid=stMain] [data-testid=stExpander] summary", has_text="before and after the step")
    if summary.count() and not summary.evaluate("el => el.closest('details').open"):
        rerun_and_wait(page, summary.click)
        page.locator("[data-testid=stMain] [data-testid=stExpander] [data-testid=stCode] code").first.wait_for()
    shown = [t.strip() for t in page.locator(CODE).all_inner_texts() if t.strip().startswith("{'weight': Parameter containing:")]
    assert shown, "the page shows no printout of W3"
    return shown


def sidebar_steps(page) -> str:
    text = page.locator("[data-testid=stSidebarUserContent]").inner_text()
    m = re.search(r"history point:\s*(\d+)", text)
    assert m, f"no 'history point' in the sidebar: {text!r}"
    return m.group(1)


def go_to(page, title: str) -> None:
    """Open a page through the sidebar navigation (opening the sidebar first on a phone), in the same session."""
    link = page.locator("[data-testid=stSidebarNav] a", has_text=title)
    box = link.bounding_box()
    if box is None or box["x"] + box["width"] <= 0:  # a collapsed sidebar is moved off screen, not hidden
        page.locator("[data-testid=stExpandSidebarButton]").click()
        page.wait_for_function(
            "t => [...document.querySelectorAll('[data-testid=stSidebarNav] a')]"
            ".some(a => a.innerText.includes(t) && a.getBoundingClientRect().left >= 0)",
            arg=title,
        )
    rerun_and_wait(page, lambda: link.click())
    page.locator("[data-testid=stMain] h1", has_text=title).wait_for()
    if page.viewport_size["width"] < 640 and page.locator("[data-testid=stSidebarCollapseButton]").count():
        # On a phone the open sidebar covers the page, as a learner would close it, close it.
        page.locator("[data-testid=stSidebarCollapseButton] button, [data-testid=stSidebarCollapseButton]").first.click()
        page.wait_for_function("() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right <= 10")


def click_and_wait(page, selector: str) -> None:
    rerun_and_wait(page, lambda: page.locator(selector).click())


def train_step(page) -> None:
    before = sidebar_steps(page)
    click_and_wait(page, ".st-key-train_step button")
    page.wait_for_function(
        "n => /history point:\\s*(\\d+)/.exec(document.querySelector('[data-testid=stSidebarUserContent]').innerText)?.[1] == n",
        arg=str(int(before) + 1),
    )
    wait_for_app(page)


def bar_marks(page) -> list[dict]:
    """The bars vega drew in the probability chart: their aria-labels and drawn sizes.

    Streamlit renders vega-embed with the SVG renderer here; vega gives every mark of a bar layer
    ``role=graphics-symbol aria-roledescription=bar`` and an ``aria-label`` built from its tooltip.
    """
    chart = page.locator(PROBS_CHART)
    chart.wait_for()
    assert chart.locator("svg.marks").count() == 1, "the probability chart is not an SVG (canvas renderer?): cannot count its bars"
    return chart.evaluate(
        """el => [...el.querySelectorAll('svg.marks g.mark-rect.role-mark [role=graphics-symbol][aria-roledescription=bar]')]
                 .map(p => { const b = p.getBoundingClientRect();
                             return {label: p.getAttribute('aria-label'), width: b.width, height: b.height}; })"""
    )


def assert_ten_bars(page) -> None:
    bars = bar_marks(page)
    assert len(bars) == 10, f"expected 10 bars, vega drew {len(bars)}: {bars}"
    classes = [re.search(r"class: ([^;]+)", b["label"]).group(1).strip() for b in bars]
    assert classes == list(CLASSES), classes
    assert all(b["height"] > 5 and b["width"] > 0.5 for b in bars), f"some bar is not drawn: {bars}"


def moved_table(page):
    column = page.locator("[data-testid=stColumn]").filter(has=page.get_by_text("Most-moved entries", exact=True))
    return column.last.locator("[data-testid=stDataFrame]")


def canvas_has_ink(page, selector: str) -> bool:
    """True when the chart's canvas (vega uses canvas for the 4,096-cell heatmap) has many distinct colours."""
    return page.locator(selector).evaluate(
        """el => { const c = el.querySelector('canvas'); if (!c || !c.width || !c.height) return false;
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();
                   for (let i = 0; i < d.length; i += 16) seen.add(d[i] << 16 | d[i+1] << 8 | d[i+2]);
                   return seen.size > 20; }"""
    )


def heatmap_drawn(page) -> bool:
    chart = page.locator(HEATMAP)
    chart.wait_for()
    if chart.locator("canvas").count():
        return canvas_has_ink(page, HEATMAP)
    return chart.locator("svg.marks [aria-roledescription=rect]").count() == 64 * 64


def picture_drawn(page) -> bool:
    """True when the picture of W3's change is loaded and shows many colours (drawn onto a canvas to look)."""
    picture = page.locator(PICTURE)
    picture.wait_for()
    return picture.evaluate(
        """async img => { await img.decode(); if (!img.naturalWidth) return false;
                         const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
                         const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                         const d = g.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
                         for (let i = 0; i < d.length; i += 4) if (d[i + 3]) seen.add(d[i] << 16 | d[i+1] << 8 | d[i+2]);
                         return seen.size > 20; }"""
    )


# --- the lesson, end to end ----------------------------------------------------------------------------


def test_walk_the_lesson(server, pages):
    page, log = pages.open(server.url("/"))
    assert heading(page) == "Predict"
    assert_ten_bars(page)
    assert caption(page) == "Training image #0: Ankle boot"
    assert page.locator("[data-testid=stMain] h4").first.inner_text().strip() == SENTENCE_TRAIN_0

    # Pick by index: train #5 is a pullover.
    index = page.locator(".st-key-pick_index input")
    index.fill("5")
    rerun_and_wait(page, lambda: index.press("Enter"))
    page.locator(CAPTION, has_text="Training image #5: Pullover").wait_for()
    sentence = page.locator("[data-testid=stMain] h4").first.inner_text().strip()
    assert sentence != SENTENCE_TRAIN_0
    assert re.fullmatch(
        r"The network thinks this is an? .+ \(\d+\.\d\u00a0%\)(; it is a Pullover \(\d+\.\d\u00a0%\)|, and it is right)\.", sentence
    ), sentence
    assert_ten_bars(page)

    # Pick by class: the first training sneaker is #6.
    page.locator(".st-key-pick_class [role=combobox]").click()
    rerun_and_wait(page, lambda: page.get_by_role("option", name="Sneaker", exact=True).click())
    page.locator(CAPTION, has_text="Training image #6: Sneaker").wait_for()
    assert "Sneaker" in page.locator("[data-testid=stMain] h4").first.inner_text()
    assert page.locator(".st-key-pick_class input").input_value() == "Sneaker"
    assert page.locator(".st-key-pick_index input").input_value() == "6"

    # To the Train page through the sidebar navigation; the selection comes along.
    rerun_and_wait(page, lambda: page.locator("[data-testid=stSidebarNav] a", has_text="Train one step").click())
    page.wait_for_url(re.compile(r"/train"))
    assert heading(page) == "Train one step"
    assert caption(page) == "Training image #6: Sneaker"
    assert page.locator("[data-testid=stMain] h3", has_text="W3 now").count() == 1
    (original,) = printouts(page)
    assert original.startswith("{'weight': Parameter containing:\ntensor([[ 0.0259, -0.0138,"), original
    assert page.locator(".st-key-undo_step button").is_disabled()

    train_step(page)
    assert page.locator("[data-testid=stMain] h3", has_text="Step 1: what changed").count() == 1
    assert picture_drawn(page), "the picture of W3's change is empty"
    table = moved_table(page)
    table.wait_for()
    assert table.bounding_box()["height"] > 100, "the moved-entries table is not drawn"
    before, after = printouts(page)
    assert before == original, "the 'before' printout is not W3 as it was before the step"
    assert after != before, "W3 did not change in the printout"
    assert after.startswith("{'weight': Parameter containing:\ntensor([[")
    assert sidebar_steps(page) == "1"

    click_and_wait(page, ".st-key-undo_step button")
    page.locator("[data-testid=stMain] h3", has_text="W3 now").wait_for()
    assert printouts(page) == [original], "after Undo, W3 is not what it was before the step"
    assert sidebar_steps(page) == "0"
    assert page.locator(".st-key-redo_step button").is_enabled()
    assert_no_exception(page, "lesson walk")
    log.assert_clean("lesson walk")


def test_every_page_without_errors(server, pages):
    page, log = pages.open(server.url("/"))
    assert_no_exception(page, "/")
    page.locator("[data-testid=stExpander] summary", has_text="Raw numbers").click()
    page.locator("[data-testid=stExpander]:has-text('Raw numbers') [data-testid=stDataFrame]").wait_for()
    rerun_and_wait(page, lambda: page.locator("[data-testid=stSidebarNav] a", has_text="Train one step").click())
    assert heading(page) == "Train one step"
    assert_no_exception(page, "Train one step, before a step")
    train_step(page)
    assert_no_exception(page, "Train one step, after a step")
    page.locator("[data-testid=stExpander] summary", has_text="Bias of W3").click()
    go_to(page, "Why it moved")
    assert heading(page) == "Why it moved"
    assert page.locator("[data-testid=stVegaLiteChart]").count() == 6  # δ, a, gradient, change, Adam, SGD
    assert page.get_by_text("Every row and every column of W3 moved.").count() == 1
    assert_no_exception(page, "Why it moved, after a step")
    go_to(page, "Inside the layers")
    assert heading(page) == "Inside the layers"
    assert page.locator("[data-testid=stVegaLiteChart]").count() == 2  # Lesson and Modern
    assert_no_exception(page, "Inside the layers")
    go_to(page, "Test the lesson's claim")
    click_and_wait(page, ".st-key-run_claim button")
    page.get_by_text("What the data show").wait_for()
    assert page.locator("[data-testid=stVegaLiteChart]").count() == 1
    assert_no_exception(page, "Test the lesson's claim")
    assert sidebar_steps(page) == "1"
    rerun_and_wait(page, lambda: page.locator("[data-testid=stSidebarNav] a", has_text="Predict").click())
    assert heading(page) == "Predict"
    assert_no_exception(page, "Predict, after a step")
    log.assert_clean("pages opened through the navigation")

    page2, log2 = pages.open(server.url("/train"))
    assert heading(page2) == "Train one step"
    assert_no_exception(page2, "/train opened directly")
    log2.assert_clean("/train opened directly")
    assert "Traceback" not in server.log(), f"the server logged a traceback:\n{server.log()}"


# --- shared links, as the very first request to a fresh server -----------------------------------------


class PageNotFound(AssertionError):
    """The app answered a page's own path with Streamlit's 'Page not found' dialog."""


@pytest.mark.parametrize(
    ("path", "title", "expected_caption", "notice"),
    [
        ("/", "Predict", "Training image #0: Ankle boot", None),
        ("/predict", "Predict", "Training image #0: Ankle boot", None),
        ("/train", "Train one step", "Training image #0: Ankle boot", None),
        ("/train?split=test&index=5", "Train one step", "Test image #5: Trouser", None),
        ("/why", "Why it moved", None, None),
        ("/layers?split=test&index=5", "Inside the layers", None, None),
        ("/claim", "Test the lesson's claim", None, None),
        ("/lesson?lesson=2&present=1&pin=0,0", "The lesson, step by step", None, None),
        # Each parameter falls back on its own: the set is valid, so it stays the test set.
        ("/predict?split=test&index=9999999", "Predict", "Test image #0: Ankle boot", "9,999,999"),
    ],
)
def test_shared_link_as_first_visit(fresh_server, pages, path, title, expected_caption, notice):
    page, log = pages.open(fresh_server.url(path))
    assert heading(page) == title
    nav = [t.strip().splitlines()[-1] for t in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()]  # after the icon
    assert nav == [
        "Predict",
        "Train one step",
        "The lesson, step by step",
        "Why it moved",
        "Train many steps",
        "History",
        "Every layer",
        "Your own photo",
        "Inside the layers",
        "Test the lesson's claim",
    ], nav
    if expected_caption:
        assert caption(page) == expected_caption
    if notice:
        info = page.locator("[data-testid=stAlertContentInfo]", has_text=notice)
        assert info.count() == 1, "no notice about the link's bad index"
    assert_no_exception(page, path)
    if title == "Train one step":
        assert page.locator(".st-key-train_step button").is_visible()
    elif title == "Predict":
        assert_ten_bars(page)
    if "split=test&index=5" in path:
        assert "split=test&index=5" in page.url, f"the address lost the link's image: {page.url}"
    not_found = page.locator("[role=dialog]", has_text="Page not found")
    if not_found.count():
        raise PageNotFound(f"{path}: {not_found.first.inner_text()!r}; address now {page.url}")
    wanted_path = urlsplit(fresh_server.url(path)).path
    if urlsplit(page.url).path != wanted_path:
        raise PageNotFound(f"{path}: the address became {page.url}")
    log.assert_clean(f"{path} as first visit")


# --- two learners at once ------------------------------------------------------------------------------


def test_two_learners_at_once(server, pages):
    a, log_a = pages.open(server.url("/train?split=train&index=0"))
    b, log_b = pages.open(server.url("/train?split=test&index=3"))
    assert caption(a) == "Training image #0: Ankle boot"
    assert caption(b) == "Test image #3: Trouser"
    (original,) = printouts(a)
    assert printouts(b) == [original], "two fresh learners start from different weights"

    train_step(a)
    train_step(b)
    train_step(a)

    assert sidebar_steps(a) == "2"
    assert sidebar_steps(b) == "1"
    assert a.locator("[data-testid=stMarkdownContainer]", has_text="Steps taken: 2 (history: 2)").count() == 1
    assert b.locator("[data-testid=stMarkdownContainer]", has_text="Steps taken: 1 (history: 1)").count() == 1
    b_before, b_after = printouts(b)
    a_before, a_after = printouts(a)
    assert b_before == original, "B's step did not start from the seed's weights: A's steps leaked into B"
    assert a_before != original, "A's second step started from the seed again"
    assert b_after != a_after
    assert caption(a) == "Training image #0: Ankle boot" and caption(b) == "Test image #3: Trouser"
    log_a.assert_clean("learner A")
    log_b.assert_clean("learner B")


# --- keyboard ------------------------------------------------------------------------------------------


FOCUSED_NAME = "() => { const e = document.activeElement; return (e.getAttribute('aria-label') || e.innerText || e.tagName).slice(0, 30); }"


def test_keyboard_reaches_train_button(server, pages):
    page, log = pages.open(server.url("/train"))
    inside = "() => !!document.activeElement?.closest('.st-key-train_step')"
    trail = []
    for presses in range(1, 61):
        page.keyboard.press("Tab")
        if page.evaluate(inside):
            print(f"'Train one step' reached with {presses} Tab presses")
            break
        trail.append(page.evaluate(FOCUSED_NAME))
    else:
        pytest.fail(f"60 Tab presses never reached 'Train one step'; focus went through: {trail}")
    assert page.evaluate("() => document.activeElement.tagName") == "BUTTON"
    rerun_and_wait(page, lambda: page.keyboard.press("Enter"))
    page.locator("[data-testid=stMain] h3", has_text="Step 1: what changed").wait_for()
    assert sidebar_steps(page) == "1"
    log.assert_clean("keyboard")


# --- screenshots ---------------------------------------------------------------------------------------


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("FASHIONNET_SCREENSHOT_DIR") or REPO_ROOT / ".artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder: Path, name: str) -> list[Path]:
    """The viewport as a learner sees it, and a tall shot of everything the main area scrolls through."""
    viewport = page.viewport_size
    page.mouse.move(viewport["width"] // 2, 4)  # park the pointer on the empty header: no hover toolbars or tooltips
    shot = folder / f"{name}.png"
    page.screenshot(path=shot)
    # The main area scrolls inside [data-testid=stMain]; an open sidebar scrolls on its own (a collapsed
    # one is off screen and its scrollHeight means nothing).
    tall = page.evaluate(
        """() => { const main = document.querySelector('[data-testid=stMain]');
                   const side = document.querySelector('[data-testid=stSidebar]');
                   const sideContent = document.querySelector('[data-testid=stSidebarContent]');
                   const sideOpen = side && sideContent && side.getBoundingClientRect().right > 10;
                   return Math.max(main.scrollHeight, sideOpen ? sideContent.scrollHeight : 0); }"""
    )
    full = folder / f"{name}-full.png"
    page.set_viewport_size({"width": viewport["width"], "height": max(int(tall), viewport["height"])})
    page.wait_for_timeout(250)  # charts re-fit to the new size (a ResizeObserver, then a vega re-render)
    wait_for_app(page)
    page.screenshot(path=full)
    page.set_viewport_size(viewport)  # what comes next (a click, a page load) waits for the layout itself
    return [shot, full]


@pytest.mark.parametrize("theme", THEMES)
def test_screenshots(server, pages, theme):
    folder = screenshot_dir()
    print(f"\nscreenshots: {folder}")
    saved = []
    for width, height in SIZES:
        size = f"{width}x{height}"
        page, log = pages.open(server.url("/"), width=width, height=height, color_scheme=theme)
        assert is_dark(app_background_rgb(page)) == (theme == "dark"), f"{theme} theme not applied: background {app_background_rgb(page)}"
        assert_ten_bars(page)
        saved += shoot(page, folder, f"predict-{size}-{theme}")

        page.goto(server.url("/train"))
        wait_for_app(page)
        assert heading(page) == "Train one step"
        saved += shoot(page, folder, f"train-before-{size}-{theme}")
        train_step(page)
        assert picture_drawn(page)
        saved += shoot(page, folder, f"train-after-{size}-{theme}")
        go_to(page, "Why it moved")
        saved += shoot(page, folder, f"why-{size}-{theme}")
        go_to(page, "Inside the layers")
        saved += shoot(page, folder, f"layers-{size}-{theme}")
        go_to(page, "The lesson, step by step")
        for _ in range(2):
            click_and_wait(page, ".st-key-lesson_next button")
        saved += shoot(page, folder, f"lesson-{size}-{theme}")
        go_to(page, "Test the lesson's claim")
        claim_n = page.locator(".st-key-claim_n input")
        claim_n.fill("200")
        rerun_and_wait(page, lambda n=claim_n: n.press("Enter"))
        click_and_wait(page, ".st-key-run_claim button")
        page.get_by_text("What the data show").wait_for()
        saved += shoot(page, folder, f"claim-{size}-{theme}")
        assert is_dark(app_background_rgb(page)) == (theme == "dark")
        assert_no_exception(page, f"screenshots {size} {theme}")
        log.assert_clean(f"screenshots {size} {theme}")
    assert all(p.stat().st_size > 5_000 for p in saved)
    print("\n".join(str(p) for p in saved))


# --- explain one entry ------------------------------------------------------------------------------------


def test_click_a_table_row_or_a_chart_cell_to_explain_it(server, pages, real_data):
    from fashionnet import report
    from fashionnet.learner import Learner

    page, log = pages.open(server.url("/train"))
    train_step(page)
    third = report.top_moves(Learner().train_step(*real_data.image("train", 0)), 12).iloc[2]  # the same step, here
    assert picture_drawn(page)
    story = page.locator("[data-testid=stTable]", has_text="quantity")
    # A row of the most-moved table: its row marker (the grid's first column). The third row is entry k = 2.
    learner_rows = moved_table(page)
    learner_rows.scroll_into_view_if_needed()
    box = learner_rows.bounding_box()
    rerun_and_wait(page, lambda: page.mouse.click(box["x"] + 12, box["y"] + 35 + 35 * 2.5))  # header, two rows, half a row
    row = int(page.locator(".st-key-explain_row input").input_value())
    col = int(page.locator(".st-key-explain_col input").input_value())
    page.get_by_text(f"W3[{row}, {col}] before the step").wait_for(state="attached")  # glide draws cells on a canvas
    shown = page.locator(PICTURE).get_attribute("alt")
    assert f"W3[{row}, {col}] outlined" in shown, f"the picture does not mark the explained entry: {shown!r}"
    assert (row, col) == (int(third["row"]), int(third["column"])), "the explained entry is not the table's third row"
    assert learner_rows.locator("[aria-selected=true]").count() == 1  # (glide's accessible copy of the grid)

    # The next step's table is the same grid with new rows (one key for every step): it starts with no row
    # selected, and a click on its third row explains the new step's third entry.
    train_step(page)
    assert learner_rows.locator("[aria-selected=true]").count() == 0, "the new step's table kept the old step's selection"
    again = Learner()
    for _ in range(2):
        step = again.train_step(*real_data.image("train", 0))
    third = report.top_moves(step, 12).iloc[2]
    learner_rows.scroll_into_view_if_needed()
    box = learner_rows.bounding_box()
    rerun_and_wait(page, lambda: page.mouse.click(box["x"] + 12, box["y"] + 35 + 35 * 2.5))
    row = int(page.locator(".st-key-explain_row input").input_value())
    col = int(page.locator(".st-key-explain_col input").input_value())
    assert (row, col) == (int(third["row"]), int(third["column"])), "the second step's third row did not explain its entry"
    page.get_by_text(f"W3[{row}, {col}] before the step").wait_for(state="attached")

    # The interactive chart: switched on, a click on a cell explains that entry.
    rerun_and_wait(page, lambda: page.locator(".st-key-w3_interactive label").click())
    assert heatmap_drawn(page)
    chart = page.locator(HEATMAP)
    chart.scroll_into_view_if_needed()
    box = chart.locator("canvas, svg").first.bounding_box()
    # The plot area sits left of the legend: a point a third of the way across and down is a cell.
    rerun_and_wait(page, lambda: page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35))
    picked = int(page.locator(".st-key-explain_row input").input_value()), int(page.locator(".st-key-explain_col input").input_value())
    assert picked != (row, col) and picked != (0, 0), f"clicking the chart did not pick another entry: {picked}"
    story.scroll_into_view_if_needed()
    # The story names the clicked entry and ends in the change; Adam's first step: about ±lr.
    page.get_by_text(f"W3[{picked[0]}, {picked[1]}] before the step").wait_for(state="attached")
    assert_no_exception(page, "explain one entry")
    log.assert_clean("explain one entry")


# --- guess first and the ripple ----------------------------------------------------------------------------


def test_guess_first_then_see_the_ripple(server, pages, real_data):
    from fashionnet import report, ripple
    from fashionnet.learner import Learner

    page, log = pages.open(server.url("/train"))
    page.locator(".st-key-guess_first label").click()
    page.locator(".st-key-guess_loss").wait_for()
    for key, option in (("guess_loss", "yes"), ("guess_prob", "yes"), ("guess_moves", "all by about the same amount")):
        rerun_and_wait(page, lambda key=key, option=option: page.locator(f".st-key-{key} label", has_text=option).first.click())
    train_step(page)
    marks = page.locator("[data-testid=stAlertContentSuccess], [data-testid=stAlertContentError]")
    assert marks.count() == 3
    assert page.get_by_text("Your score this session:").inner_text().startswith("Your score this session: ")
    ripple_chart = page.locator("[data-testid=stVegaLiteChart][aria-label^='Bars: how each class']")
    # The ripple starts closed, and is built only once opened; then it stays open for the next steps.
    summary = page.locator("[data-testid=stMain] [data-testid=stExpander] summary", has_text="What this step did to 200 other images")
    assert page.get_by_text("Probe accuracy").count() == 0 and ripple_chart.count() == 0
    rerun_and_wait(page, summary.click)
    ripple_chart.scroll_into_view_if_needed()
    assert ripple_chart.locator("svg.marks [aria-roledescription=bar], canvas").count() >= 1
    learner = Learner()  # the same step, here: the ripple's numbers from an independent replay
    learner.train_step(*real_data.image("train", 0))
    probe = ripple.probe_set(real_data)
    rip = ripple.ripple(learner.last_report, learner, probe)
    probe_metric = page.locator("[data-testid=stMetric]", has_text="Probe accuracy")
    assert report.percent(rip.accuracy_after) in probe_metric.inner_text()
    train_step(page)
    learner.train_step(*real_data.image("train", 0))
    rip = ripple.ripple(learner.last_report, learner, probe)
    flipped = len(ripple.flips(rip, probe))
    page.get_by_text(f"{flipped} predictions flipped").wait_for()
    assert report.percent(rip.accuracy_after) in probe_metric.inner_text()
    assert_no_exception(page, "guess first")
    log.assert_clean("guess first")


# --- a shared link in a second browser ------------------------------------------------------------------


def test_a_link_rebuilds_the_same_weights_in_another_browser(server, pages):
    a, log_a = pages.open(server.url("/train?split=train&index=3"))
    for index in ("3", "11", "20"):
        box = a.locator(".st-key-pick_index input")
        if box.is_hidden():
            a.locator("[data-testid=stExpander] summary", has_text="Choose another image").click()
        box.fill(index)
        rerun_and_wait(a, lambda b=box: b.press("Enter"))
        train_step(a)
    assert sidebar_steps(a) == "3"
    url = a.url
    assert "steps=t3.t11.t20" in url, url
    shown_a = printouts(a)
    assert len(shown_a) == 2  # W3 before and after the newest step

    b, log_b = pages.open(url)  # a separate browser context: another learner, another session
    assert sidebar_steps(b) == "3"
    assert printouts(b) == shown_a, "the link did not rebuild the same W3 (before and after the newest step)"
    assert caption(b) == caption(a)
    log_a.assert_clean("link, first browser")
    log_b.assert_clean("link, second browser")


# --- the lesson page and presenter mode -------------------------------------------------------------------


def test_lesson_walkthrough_and_presenter_mode(server, pages):
    page, log = pages.open(server.url("/lesson?present=1&pin=0,0"), width=1920, height=1080)
    assert heading(page) == "The lesson, step by step"
    # Presenter mode: everything larger, no toolbar.
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "20px"
    assert page.locator("[data-testid=stToolbar]").count() == 0 or page.locator("[data-testid=stToolbar]").first.is_hidden()
    click_and_wait(page, ".st-key-lesson_fresh button")
    for _ in range(5):  # to the cell that takes the step
        click_and_wait(page, ".st-key-lesson_next button")
    click_and_wait(page, ".st-key-lesson_run button")
    page.get_by_text("Step 1 taken: loss 2.2632").wait_for()
    click_and_wait(page, ".st-key-lesson_next button")
    page.get_by_text("Matches the lesson's printed output, to the last printed digit.").wait_for()
    page.get_by_text("from 0.0259 to 0.0309").wait_for()
    assert "lesson=6" in page.url and "present=1" in page.url, page.url
    go_to(page, "Train one step")
    page.get_by_text("Pinned: W3[0, 0] after step 1").wait_for()
    assert_no_exception(page, "lesson walkthrough")
    log.assert_clean("lesson walkthrough")


# --- save and resume ---------------------------------------------------------------------------------------


def open_sidebar_section(page, title: str) -> None:
    """Open a sidebar expander (a click on an open one would close it). "Share this state" and "Save and
    resume" are built only while open: opening one reruns the sidebar's fragment, which is waited for."""
    details = page.locator("[data-testid=stSidebar] [data-testid=stExpander] details", has_text=title)
    if details.get_attribute("open") is None:
        rerun_and_wait(page, details.locator("summary").click)
    content = details.locator("[data-testid=stExpanderDetails] [data-testid=stElementContainer]").first
    try:
        content.wait_for(timeout=10_000)
    except Exception:  # seen once in CI under load, not reproduced: shown open, but built closed. Say so, then reopen.
        print(f"sidebar section {title!r} was shown open without its content; closing and opening it again")
        rerun_and_wait(page, details.locator("summary").click)
        rerun_and_wait(page, details.locator("summary").click)
        content.wait_for()


def test_the_open_share_link_follows_every_step_undo_and_redo(server, pages):
    """A step reruns only the Train panel and the sidebar's live parts: an open "Share this state" still
    shows the link of exactly what the learner has, after every step, undo and redo, as the address bar does."""
    page, log = pages.open(server.url("/train?split=test&index=2"))
    open_sidebar_section(page, "Share this state")
    link = page.locator("[data-testid=stSidebar] [data-testid=stCode] code")

    def shown() -> str:
        return link.inner_text().strip()

    assert "steps=" not in shown()
    train_step(page)
    page.wait_for_function("() => location.search.includes('steps=e2')")
    assert shown().endswith("?split=test&index=2&steps=e2") and page.url.endswith("steps=e2"), (shown(), page.url)
    train_step(page)
    page.wait_for_function("() => location.search.includes('steps=e2.e2')")
    assert shown().endswith("steps=e2.e2")
    click_and_wait(page, ".st-key-undo_step button")
    page.wait_for_function("() => !location.search.includes('e2.e2')")
    assert shown().endswith("steps=e2") and sidebar_steps(page) == "1"
    click_and_wait(page, ".st-key-redo_step button")
    page.wait_for_function("() => location.search.includes('steps=e2.e2')")
    assert shown().endswith("steps=e2.e2") and sidebar_steps(page) == "2"
    log.assert_clean("share link follows the steps")


def test_download_progress_and_resume_in_another_browser(server, pages, tmp_path):
    a, log_a = pages.open(server.url("/train?split=test&index=4"))
    train_step(a)
    train_step(a)
    shown = printouts(a)
    open_sidebar_section(a, "Save and resume")
    with a.expect_download() as info:
        a.locator(".st-key-save_progress button").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name == "fashionnet-progress-step2.safetensors" and saved.stat().st_size > 100_000

    b, log_b = pages.open(server.url("/"))  # another learner, starting fresh
    open_sidebar_section(b, "Save and resume")
    rerun_and_wait(b, lambda: b.locator("[data-testid=stSidebar] input[type=file]").set_input_files(str(saved)))
    b.get_by_text("Loaded fashionnet-progress-step2.safetensors: step 2 of 2.").wait_for()
    assert sidebar_steps(b) == "2"
    go_to(b, "Train one step")
    # The newest step is not re-shown after a load, but W3 now is the same bits as A's W3 after step 2.
    (now,) = printouts(b)
    assert now == shown[1]

    # A file that is not a progress file: a message, and B keeps its state.
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04this is a pickle, not a progress file")
    open_sidebar_section(b, "Save and resume")
    rerun_and_wait(b, lambda: b.locator("[data-testid=stSidebar] input[type=file]").set_input_files(str(junk)))
    b.get_by_text("junk.safetensors was not loaded").wait_for()
    assert sidebar_steps(b) == "2"
    log_a.assert_clean("save")
    log_b.assert_clean("resume")


def test_a_reload_keeps_the_steps_through_the_address_bar(server, pages):
    page, log = pages.open(server.url("/train?split=test&index=8"))
    train_step(page)
    train_step(page)
    shown = printouts(page)
    page.reload()  # a new session: the server-side learner is gone, the address bar is not
    wait_for_app(page)
    assert sidebar_steps(page) == "2"
    assert printouts(page) == shown
    log.assert_clean("reload")


# --- one learner trains for a while, another keeps working ---------------------------------------------


def test_long_training_does_not_freeze_other_learners(server, pages):
    a, log_a = pages.open(server.url("/training?act=relu&scale=1&lr=0.001"))
    b, log_b = pages.open(server.url("/train?split=test&index=3"))
    a.locator(".st-key-run_epochs input").fill("10")
    a.locator(".st-key-run_epochs input").press("Enter")
    wait_for_app(a)
    a.locator(".st-key-train_run button").click()
    a.locator("[data-testid=stProgress]").wait_for()  # A is training now (10 epochs take 20 s or more here; Stop ends it)
    started = b.evaluate("performance.now()")
    train_step(b)
    took_ms = b.evaluate("performance.now()") - started
    a_state = a.locator("[data-testid=stApp]").get_attribute("data-test-script-state")
    assert a_state == "running", "A's training ended before B's step was served: the test proves nothing"
    # The proof is that B was served while A still trained; the bound only catches a stall (a step takes
    # ~1 s here while A trains, on a machine also running other test suites).
    assert took_ms < 15_000, f"B's step took {took_ms:.0f} ms while A trained"
    assert sidebar_steps(b) == "1"
    rerun_and_wait(a, lambda: a.locator(".st-key-stop_run button").first.click())  # Stop keeps what A trained
    a.wait_for_function("() => /history point:\\s*1/.test(document.querySelector('[data-testid=stSidebarUserContent]').innerText)")
    assert a.get_by_text("stopped early, after", exact=False).count() == 1
    log_a.assert_clean("learner A")
    log_b.assert_clean("learner B")
