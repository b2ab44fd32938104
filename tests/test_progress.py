"""Progress files: exact round trips, and every bad file refused with a message, touching nothing."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from conftest import learner_state, same_state
from fashionnet import progress
from fashionnet.learner import ImageRef, Learner, RunSpec
from fashionnet.settings import LESSON, MODERN

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def saved(real_data):
    learner = Learner(MODERN, keyframe_every=16)
    for i in range(40):
        learner.train_step(*real_data.image("train", i), ImageRef("train", i))
    learner.goto(35)  # an undone future too
    return learner, progress.dumps(learner)


def test_round_trip_is_exact_and_continues_exactly(saved, real_data):
    learner, data = saved
    loaded = progress.loads(data)
    assert loaded.settings == learner.settings
    assert loaded.cursor == 35 and len(loaded.history) == 40
    assert same_state(learner_state(loaded), learner_state(learner))
    assert [r.ref for r in loaded.history] == [r.ref for r in learner.history]
    assert [r.loss_after for r in loaded.history] == [r.loss_after for r in learner.history]
    # Redo, undo and new steps carry on bit for bit.
    twin = progress.loads(data)
    loaded.redo()
    twin.redo()
    assert same_state(learner_state(loaded), learner_state(twin))
    loaded.undo()
    loaded.undo()
    twin.goto(34)
    assert same_state(learner_state(loaded), learner_state(twin))
    image, label = real_data.image("test", 9)
    loaded.train_step(image, label)
    twin.train_step(image, label)
    assert same_state(learner_state(loaded), learner_state(twin))


def test_empty_and_random_and_truncated_files_are_refused(saved):
    _, data = saved
    for bad in (b"", os.urandom(2000), data[: len(data) // 2], data[:7], b"{}" * 10):
        with pytest.raises(progress.ProgressError):
            progress.loads(bad)


def test_a_crafted_pickle_is_never_run(tmp_path, saved):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = pickle.dumps(Evil())
    assert payload[:2] == b"\x80\x04" or payload[:1] == b"\x80"
    with pytest.raises(progress.ProgressError, match="pickle"):
        progress.loads(payload)
    torch_file = tmp_path / "model.pt"
    torch.save({"evil": Evil()}, torch_file)
    with pytest.raises(progress.ProgressError):
        progress.loads(torch_file.read_bytes())
    assert not marker.exists()  # the code in the pickle did not run


def rewrite(data: bytes, tensors=None, meta_changes=None) -> bytes:
    header_len = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + header_len])["__metadata__"]
    meta.update(meta_changes or {})
    out = dict(st_load(data))
    out.update(tensors or {})
    return st_save(out, metadata=meta)


def test_other_architecture_nan_weights_tampered_history_and_future_version_are_refused(saved):
    _, data = saved
    cases = {
        "different network": rewrite(data, {"weights.W1.weight": torch.zeros(32, 784)}),
        "NaN": rewrite(data, {"weights.W2.bias": torch.full((64,), float("nan"))}),
        "reproduce": rewrite(
            data, meta_changes={"history": json.dumps([{**r, "label": (r["label"] + 1) % 10} for r in json.loads(_meta(data)["history"])])}
        ),
        "version": rewrite(data, meta_changes={"version": "2"}),
        "not a FashionNet": rewrite(data, meta_changes={"format": "something-else"}),
        "settings": rewrite(data, meta_changes={"settings": json.dumps({**LESSON.__dict__, "lr": -1})}),
        "out of range": rewrite(data, meta_changes={"cursor": "999"}),
        "images do not match": rewrite(data, {"history.pixels": torch.zeros(3, 28, 28, dtype=torch.uint8)}),
    }
    for expected, bad in cases.items():
        with pytest.raises(progress.ProgressError, match=expected):
            progress.loads(bad)


def _meta(data: bytes) -> dict:
    header_len = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + header_len])["__metadata__"]


def test_settings_round_trip(real_data):
    learner = Learner(replace(LESSON, seed=11, optimizer="sgd", lr=0.25))
    learner.train_step(*real_data.image("train", 3))
    loaded = progress.loads(progress.dumps(learner))
    assert loaded.settings == learner.settings and same_state(learner_state(loaded), learner_state(learner))


SAVE_ELSEWHERE = """
import sys
from fashionnet import progress
from fashionnet.data import load_fashion_mnist
from fashionnet.learner import ImageRef, Learner, RunSpec
from fashionnet.settings import LESSON
data = load_fashion_mnist()
learner = Learner(LESSON)
for i in range(30):
    learner.train_step(*data.image("train", i), ImageRef("train", i))
learner.train_run(data, RunSpec(64, 20, 7))
learner.goto(25)
open(sys.argv[1], "wb").write(progress.dumps(learner))
"""


def test_a_file_saved_with_other_arithmetic_is_trained_again_here_and_says_so(real_data, tmp_path):
    """Another server's CPU kernels round differently (here: ATen forced to its DEFAULT kernels in the saving process),
    and training amplifies that: such a file's weights cannot be checked bit for bit. It loads by training its history
    again, like a link, with a note; the same file claiming this server's arithmetic is still checked, and refused."""
    import subprocess
    import sys

    from conftest import ROOT

    path = tmp_path / "elsewhere.safetensors"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", SAVE_ELSEWHERE, str(path)], env=env, cwd=ROOT, check=True, timeout=300)
    data = path.read_bytes()
    theirs = _meta(data)["arithmetic"]
    if theirs == progress.arithmetic():
        pytest.skip(f"this machine's own kernels are the DEFAULT ones ({theirs}): nothing differs")
    assert theirs.endswith("DEFAULT kernels"), theirs

    learner, note = progress.loads_with_note(data, real_data)
    here = Learner(LESSON)  # the same history, trained on this server
    for i in range(30):
        here.train_step(*real_data.image("train", i), ImageRef("train", i))
    here.train_run(real_data, RunSpec(64, 20, 7))
    here.goto(25)
    assert same_state(learner_state(learner), learner_state(here))
    assert (learner.cursor, len(learner.history)) == (25, 31) and learner.history[-1].kind == "run"
    saved_weights = st_load(data)
    apart = max(float((v - saved_weights[f"weights.{k}"]).abs().max()) for k, v in learner.net.state_dict().items())
    assert apart > 0, "the two arithmetics gave the same bits: the test shows nothing"
    assert note.startswith(f"It was saved on a server that computes differently ({theirs}; this one: {progress.arithmetic()})")
    assert f"up to {apart:.4g} from the saved ones" in note
    # Claiming this server's arithmetic, the same file must reproduce its weights bit for bit: it does not, so it is refused.
    with pytest.raises(progress.ProgressError, match="does not reproduce its weights"):
        progress.loads(rewrite(data, meta_changes={"arithmetic": progress.arithmetic()}), real_data)
    # A file of this server's own arithmetic loads exactly, with no note.
    again, none = progress.loads_with_note(progress.dumps(here), real_data)
    assert none is None and same_state(learner_state(again), learner_state(here))

    # Through the sidebar, as a learner loads it: the model is this server's replay, and the message says why.
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["save_open"] = True  # "Save and resume" is built only while open
    at.run()
    at.sidebar.get("file_uploader")[0].set_value(("elsewhere.safetensors", data, "application/octet-stream")).run()
    (said,) = [s.value for s in at.sidebar.success]
    assert said == f"Loaded `elsewhere.safetensors`: step 25 of 31. {note}"
    assert same_state(learner_state(at.session_state.learner), learner_state(here))


@pytest.mark.parametrize("length", [0x380, 0x480, 0x580, 0x10380])
def test_a_header_whose_length_reads_like_a_pickles_magic_still_loads(real_data, length):
    """A safetensors file starts with its header's length: 0x380 bytes is 80 03 00.., a pickle's magic. An empty
    learner's file had exactly that length once the file recorded its arithmetic (found by tests/test_properties.py);
    such files were refused as pickles."""
    learner = Learner(LESSON)
    data = progress.dumps(learner)
    pad = length - int.from_bytes(data[:8], "little")
    assert pad >= 0, "the header is longer than the length wanted"
    padded = data  # (0x380: an empty learner's own file, as found)
    if pad:
        for extra in range(max(0, pad - 40), pad + 8):  # safetensors pads its header to 8 bytes: find the padding that fits
            padded = rewrite(data, meta_changes={"padding": "x" * extra})
            if int.from_bytes(padded[:8], "little") == length:
                break
    assert int.from_bytes(padded[:8], "little") == length, f"no padding gave a header of {length} bytes"
    assert padded[:2] in (b"\x80\x03", b"\x80\x04", b"\x80\x05")
    assert same_state(learner_state(progress.loads(padded, real_data)), learner_state(learner))
