"""Property-based tests (Hypothesis): any sequence of steps, training runs (whole or stopped), undos, redos,
jumps, resets, saves and loads keeps the history consistent and every position's weights and optimizer state exact."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import learner_state, same_state
from fashionnet import progress
from fashionnet.data import FashionData
from fashionnet.learner import ImageRef, Learner, NothingToUndo
from fashionnet.settings import MODERN

IMAGES = torch.randint(0, 256, (8, 28, 28), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
LABELS = torch.arange(8) % 10
DATA = FashionData(IMAGES, LABELS, IMAGES[:4], LABELS[:4], source="sample", origin="hypothesis")  # runs train on these 8

ops = st.lists(
    st.one_of(
        st.tuples(st.just("step"), st.integers(0, 7)),
        st.tuples(st.just("run"), st.integers(1, 6)),  # a whole run of that many batches of 3
        st.tuples(st.just("stopped run"), st.integers(0, 5)),  # a 6-batch run stopped after that many
        st.tuples(st.just("undo"), st.just(0)),
        st.tuples(st.just("redo"), st.just(0)),
        st.tuples(st.just("goto"), st.integers(0, 20)),
        st.tuples(st.just("reset"), st.just(0)),
        st.tuples(st.just("reload"), st.just(0)),
    ),
    max_size=24,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
# Always tried: back to a snapshot, forward (replay updates the optimizer's buffers in place), back again.
@example([("step", 0), ("step", 1), ("step", 2), ("step", 3), ("goto", 3), ("redo", 0), ("goto", 3)])
@example([("step", 0), ("run", 2), ("step", 1), ("goto", 2), ("redo", 0), ("goto", 1), ("goto", 3), ("reload", 0), ("undo", 0)])
def test_any_sequence_keeps_history_and_states_exact(sequence):
    learner = Learner(MODERN, keyframe_every=3)  # tiny keyframe gap: every path through replay is used
    shadow = [learner_state(learner)]  # shadow[n]: the state after n steps of the current history
    for op, arg in sequence:
        if op == "step":
            learner.train_step(IMAGES[arg], arg % 10, ImageRef("train", arg))
            del shadow[learner.cursor :]
            shadow.append(learner_state(learner))
        elif op in ("run", "stopped run"):
            run = learner.start_run(DATA, 3, arg if op == "run" else 6, seed=arg)
            run.advance(arg)
            if run.finish() is not None:
                del shadow[learner.cursor :]
                shadow.append(learner_state(learner))
        elif op == "undo":
            try:
                learner.undo()
            except NothingToUndo:
                assert learner.cursor == 0
        elif op == "redo":
            try:
                learner.redo()
            except NothingToUndo:
                assert learner.cursor == len(learner.history)
        elif op == "goto":
            if arg <= len(learner.history):
                learner.goto(arg)
        elif op == "reset":
            learner.reset()
            shadow = [learner_state(learner)]
        elif op == "reload":
            learner = progress.loads(progress.dumps(learner), DATA)  # save and load back (checked by replaying everything)
        # The history is consistent ...
        assert 0 <= learner.cursor <= len(learner.history) == len(shadow) - 1
        assert [r.number for r in learner.history] == list(range(1, len(learner.history) + 1))
        # ... and the weights and optimizer state are exactly those of that point in it.
        assert same_state(learner_state(learner), shadow[learner.cursor])
