"""The history's keyframes stay within their memory budget whatever a learner does, and dropping keyframes
never changes a number: every point is reached again bit for bit, against states recorded as they happened."""

from __future__ import annotations

import itertools
import random

import pytest

from conftest import learner_state, same_state
from fashionnet.learner import HISTORY_BUDGET, KEYFRAME_EVERY, ImageRef, Learner, RunRecord, RunSpec
from fashionnet.settings import LESSON, MODERN

pytestmark = pytest.mark.realdata


def test_a_small_budget_drops_keyframes_and_every_point_stays_exact(real_data):
    learner = Learner(MODERN, keyframe_every=4)
    learner.train_step(*real_data.image("train", 0))
    full = learner._snapshot().nbytes()  # weights and Adam's two moments
    budget = 3 * full + 100_000  # the undo slot, about two full keyframes, the records
    learner.history_budget = budget
    states = [None, learner_state(learner)]  # states[n]: after n entries, recorded as they happened
    dropped = False
    for n in range(1, 40):
        if n % 9 == 0:  # a short run every 9 entries: its end is a keyframe, dear to replay
            run = learner.start_run(real_data, 16, 3, seed=n)
            run.advance()
            assert isinstance(run.finish(), RunRecord)
        else:
            learner.train_step(*real_data.image("train", n), ImageRef("train", n))
        states.append(learner_state(learner))
        assert learner.history_bytes() <= budget or len(learner._keyframes) == 1  # the newest is never dropped
        dropped |= any(k % 4 == 0 and k not in learner._keyframes for k in range(4, learner.cursor + 1, 4))
    assert dropped, "the budget should have dropped keyframes"
    fresh = Learner(MODERN)
    states[0] = learner_state(fresh)
    replayed_runs = [n for n in range(9, 40, 9) if n not in learner._keyframes]
    assert replayed_runs, "some run's end keyframe should have been dropped, so a jump replays the run"
    points = list(range(len(states)))
    random.Random(4).shuffle(points)
    for point in [*points, *replayed_runs, 0, 39, 38, 37]:
        learner.goto(point)
        assert learner.cursor == point
        assert same_state(learner_state(learner), states[point]), point
        assert learner.history_bytes() <= budget or len(learner._keyframes) == 1
    learner.undo()
    assert same_state(learner_state(learner), states[36])


def test_200_single_steps_keep_every_keyframe_and_a_long_history_stays_within_the_budget(real_data):
    learner = Learner(LESSON)
    for i in range(200):
        learner.train_step(*real_data.image("train", i))
    assert sorted(learner._keyframes) == list(range(KEYFRAME_EVERY, 201, KEYFRAME_EVERY))  # nothing dropped
    assert learner.history_bytes() <= HISTORY_BUDGET
    for i in range(200, 1000):
        learner.train_step(*real_data.image("train", i))
    for seed in range(3):
        learner.train_run(real_data, RunSpec(64, 20, seed))
    kept = sorted(learner._keyframes)
    assert learner.history_bytes() <= HISTORY_BUDGET  # it was ~17 MB before the budget (0.6 MB per 40 steps, 0.7 per run)
    # Spread out: no replay much longer than an even spread of the kept keyframes over the 1,000 steps.
    points = [0, *kept]
    gaps = [b - a for a, b in itertools.pairwise(points) if b <= 1000]
    assert max(gaps) <= 1.5 * 1000 / len(kept), kept
    assert len(learner.history) in kept  # the newest run's end
