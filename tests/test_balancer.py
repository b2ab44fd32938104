"""More than one server: two `streamlit run app.py` replicas behind HAProxy with cookie stickiness
(scripts/balancer.py), driven by real Chromium learners.

Shows that learners are spread over both replicas (the SERVERID cookie HAProxy set, the replica that
answered, and each replica's open WebSockets in HAProxy's statistics), and that each learner keeps their
own state through reruns and a reload: the numbers stay theirs, equal to plain PyTorch on their own image.

Run alone with ``python -m pytest -m balancer``. Needs haproxy (``apt-get install haproxy``), Playwright and
Chromium; without them these tests are skipped with the reason, except under ``CI=true``, where that is a
failure.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import pytest
from test_browser import printouts

from browser_support import REPO_ROOT, missing_browser_reason, rerun_and_wait, wait_for_app

sys.path.insert(0, str(REPO_ROOT / "scripts"))

from balancer import Balancer, haproxy_path

pytestmark = [pytest.mark.browser, pytest.mark.balancer]

IMAGES = (3, 11, 27, 42)  # one training image per learner, chosen through the link


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"balancer tests cannot run under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def lb(tmp_path_factory):
    if haproxy_path() is None:
        _unavailable("haproxy is not installed (apt-get install haproxy)")
    if reason := missing_browser_reason():
        _unavailable(reason)
    cache = str(tmp_path_factory.mktemp("fashionnet-cache"))
    with Balancer(2, env={"FASHIONNET_CACHE_DIR": cache}) as balancer:
        yield balancer


@dataclass
class Learner:
    index: int
    context: object
    page: object
    replica: str


def open_learner(browser, lb: Balancer, index: int) -> Learner:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    page = context.new_page()
    response = page.goto(lb.url(f"/train?index={index}"))
    wait_for_app(page)
    return Learner(index, context, page, response.headers["x-fashionnet-replica"])


def server_cookie(learner: Learner) -> str | None:
    return next((c["value"] for c in learner.context.cookies() if c["name"] == "SERVERID"), None)


def steps_shown(page) -> int:
    text = page.locator("[data-testid=stMain] [data-testid=stMarkdownContainer]", has_text="Steps taken:").first.inner_text()
    return int(text.split("Steps taken:")[1].split()[0])


def train_step(page) -> None:
    before = steps_shown(page)
    rerun_and_wait(page, lambda: page.locator(".st-key-train_step button").click())
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stMarkdownContainer]')]"
        ".some(c => c.innerText.includes(`Steps taken: ${n} `))",
        arg=before + 1,
    )
    wait_for_app(page)


def numbers(page) -> dict[str, str]:
    """What the Train page shows of the newest step: the loss, P(true class), and W3 after, as PyTorch prints it."""
    metric = page.locator("[data-testid=stMain] [data-testid=stMetric]")
    shown = printouts(page)  # opens the printouts' expander first
    return {
        "steps": str(steps_shown(page)),
        "loss": metric.filter(has_text="Loss").locator("[data-testid=stMetricValue]").inner_text().strip(),
        "p_true": metric.nth(1).locator("[data-testid=stMetricValue]").inner_text().strip(),
        "w3_after": shown[-1],
    }


def plain_loss_after(index: int, steps: int) -> str:
    """The loss after ``steps`` steps on train image ``index``, by plain PyTorch from the Lesson's start weights."""
    from fashionnet.data import load_fashion_mnist
    from fashionnet.learner import Learner as FashionLearner
    from fashionnet.settings import LESSON
    from plain_reference import PlainRun

    image, label = load_fashion_mnist().image("train", index)
    run = PlainRun(FashionLearner(LESSON), LESSON)
    for _ in range(steps):
        out = run.step(image, label)
    return f"{out['loss_after']:.4f}"


def test_learners_spread_over_replicas_and_keep_their_own_state(lb, browser):
    learners = [open_learner(browser, lb, index) for index in IMAGES]
    try:
        # Spread: HAProxy gave new learners the replicas in turn, set the cookie it routes by, and each
        # replica holds its learners' WebSockets.
        assert {learner.replica for learner in learners} == {"r1", "r2"}, [learner.replica for learner in learners]
        for learner in learners:
            assert server_cookie(learner) == learner.replica
        on = {name: sum(learner.replica == name for learner in learners) for name in lb.names}
        open_now = {row["svname"]: int(row["scur"]) for row in lb.stats()}
        assert all(open_now[name] >= on[name] for name in lb.names), (open_now, on)

        # Each learner takes a different number of steps on their own image.
        for k, learner in enumerate(learners):
            for _ in range(k + 1):
                train_step(learner.page)
        shown = [numbers(learner.page) for learner in learners]
        for k, (learner, seen) in enumerate(zip(learners, shown, strict=True)):
            assert seen["steps"] == str(k + 1)
            assert seen["loss"] == plain_loss_after(learner.index, k + 1), (learner.index, seen)
        assert len({s["w3_after"] for s in shown}) == len(learners), "two learners see the same W3"

        # A rerun (toggling a widget on and off) and a reload keep every learner's numbers, on the same replica.
        for learner, seen in zip(learners, shown, strict=True):
            toggle = learner.page.locator(".st-key-guess_first label")
            rerun_and_wait(learner.page, toggle.click)
            rerun_and_wait(learner.page, toggle.click)
            assert numbers(learner.page) == seen
            response = learner.page.reload()
            wait_for_app(learner.page)
            assert response.headers["x-fashionnet-replica"] == learner.replica == server_cookie(learner)
            assert numbers(learner.page) == seen
        assert all(row["status"].startswith("UP") for row in lb.stats())
    finally:
        for learner in learners:
            learner.context.close()
