"""The pages beyond one step, through AppTest on real data: Train many steps, History, Every layer, Your own photo.

Every number on screen is checked against an independent plain-PyTorch computation (tests/plain_reference.py).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest
from test_app import chart_rows, frame_with

from conftest import ROOT, learner_state, same_state
from fashionnet import timeline
from fashionnet.data import CLASSES
from fashionnet.learner import ImageRef, Learner, RunRecord
from fashionnet.settings import MODERN
from plain_reference import PlainRun, plain_batches

pytestmark = pytest.mark.realdata

MODERN_LINK = {"seed": "0", "act": "relu", "scale": "1", "lr": "0.001"}


def modern_app(**params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in {**MODERN_LINK, **params}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception and at.session_state.learner.settings == MODERN
    return at


def page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, at.exception
    return at


def train_batches(at: AppTest, batches: int, batch_size: int = 128) -> RunRecord:
    page(at, "training")
    at.selectbox(key="run_batch").select(batch_size)
    at.radio(key="run_unit").set_value("batches").run()
    at.number_input(key="run_batches").set_value(batches)
    at.button(key="train_run").click().run()
    assert not at.exception, at.exception
    record = at.session_state.learner.history[at.session_state.learner.cursor - 1]
    assert isinstance(record, RunRecord)
    return record


def test_training_page_trains_the_plain_loop_and_shows_its_numbers(real_data):
    at = modern_app()
    page(at, "train").button(key="train_step").click().run()  # a single step first, then a run on the same model
    record = train_batches(at, 60)
    plain = PlainRun(Learner(MODERN), MODERN)
    plain.step(*real_data.image("train", 0))
    losses = [plain.batch(x, y) for x, y in plain_batches(real_data, 128, record.seed, 60)]
    learner = at.session_state.learner
    assert all(torch.equal(v, learner.net.state_dict()[k]) for k, v in plain.weights().items())
    assert torch.equal(record.losses, torch.tensor(losses))
    test_acc = plain.accuracy(real_data.test_images, real_data.test_labels)
    evals = frame_with(at, "train accuracy", "test accuracy")
    assert evals["test accuracy"].tolist() == [test_acc]
    assert f"test accuracy {test_acc:.2%}" in " ".join(m.value for m in at.markdown)
    # The live and final loss curve: means of the batch losses, computed here from the plain losses.
    curve = chart_rows(at, 0)
    assert [r["batch"] for r in curve] == list(range(1, 61)) and [r["loss"] for r in curve] == pytest.approx(losses, abs=1e-6)
    # The confusion matrix: the plain model's predictions on all 10,000 test images.
    with torch.no_grad():
        x = real_data.test_images.reshape(-1, 784).float() / 255.0
        predicted = plain.model(x).argmax(1)
    cells = {(r["true"], r["predicted"]): r["count"] for r in chart_rows(at, 1) if "count" in r}
    for t in range(10):
        for p in range(10):
            assert cells[(CLASSES[t], CLASSES[p])] == int(((real_data.test_labels == t) & (predicted == p)).sum())
    # The address bar now replays the step and the run.
    flat = {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert flat["steps"] == f"t0.r128x60x{record.seed}"
    twin = modern_app(steps=flat["steps"])
    assert same_state(learner_state(twin.session_state.learner), learner_state(learner))
    # Single steps carry on from the trained model.
    page(at, "train").button(key="train_step").click().run()
    assert learner.cursor == 3 and learner.history[-1].kind == "step"


def test_history_page_jumps_back_and_forward_exactly(real_data):
    at = modern_app()
    states = [learner_state(at.session_state.learner)]
    page(at, "train")
    for _ in range(2):
        at.button(key="train_step").click().run()
        states.append(learner_state(at.session_state.learner))
    train_batches(at, 20, 64)
    states.append(learner_state(at.session_state.learner))
    page(at, "history")
    table = frame_with(at, "point", "kind", "loss before", "loss after", "update size")
    history = at.session_state.learner.history
    assert table["point"].tolist() == [0, 1, 2, 3] and table["kind"].tolist() == ["start", "one step", "one step", "training run"]
    assert table["loss after"].tolist()[1:] == [r.loss_after for r in history]
    for point in (1, 0, 3, 2):
        at.number_input(key="goto_number").set_value(point)
        at.button(key="goto_point").click().run()
        assert at.session_state.learner.cursor == point
        assert same_state(learner_state(at.session_state.learner), states[point]), point
    at.button(key="history_forward").click().run()
    assert same_state(learner_state(at.session_state.learner), states[3])
    at.button(key="history_back").click().run()
    at.button(key="history_back").click().run()
    page(at, "train").button(key="train_step").click().run()  # a new step replaces the undone future
    assert len(at.session_state.learner.history) == 2


def test_history_page_replays_a_run_whose_snapshot_the_budget_dropped(real_data):
    at = modern_app()
    learner = at.session_state.learner
    learner.history_budget = 0  # keep no keyframe but the newest: every other point is reached by replaying
    states = [learner_state(learner)]
    page(at, "train").button(key="train_step").click().run()
    states.append(learner_state(learner))
    train_batches(at, 12, 32)
    states.append(learner_state(learner))
    page(at, "train").button(key="train_step").click().run()
    states.append(learner_state(learner))
    train_batches(at, 5, 16)
    states.append(learner_state(learner))
    page(at, "train").button(key="train_step").click().run()
    states.append(learner_state(learner))
    assert sorted(learner._keyframes) == [4] and learner.cursor == 5  # the first run's end was dropped for the second's
    page(at, "history")
    # Point 3 is reached from the point 0 (the undo slot is point 4); point 4 is the kept keyframe.
    note = timeline.replay_note(learner, 3)
    assert note == "Training 1 training run (12 batches) and 2 single steps again, exactly as before, to reach point 3…"
    assert learner.replay_for(4) == [] and timeline.replay_note(learner, 4) is None
    for point in (3, 0, 5, 2, 1, 4):
        at.number_input(key="goto_number").set_value(point)
        at.button(key="goto_point").click().run()
        assert learner.cursor == point and f"Now at point {point}" in at.success[0].value
        assert same_state(learner_state(learner), states[point]), point


def test_every_layer_page_compares_with_any_point(real_data):
    at = modern_app()
    page(at, "train").button(key="train_step").click().run()
    then = learner_state(at.session_state.learner)
    train_batches(at, 15, 256)
    now = learner_state(at.session_state.learner)
    page(at, "weights")
    assert "W1 weight" in at.get("image")[0].captions[0] and len(at.get("vega_lite_chart")) == 4  # W1 grid; W2, W3, W4, biases
    w3 = {(r["row"], r["column"]): r["value"] for r in chart_rows(at, 1)}
    assert w3[(5, 7)] == pytest.approx(float(now["w.W3.weight"][5, 7]), abs=0, rel=1e-7)
    at.radio(key="layers_view").set_value("change since point N").run()
    at.number_input(key="layers_since").set_value(1).run()
    summary = frame_with(at, "layer", "weight change (L2)", "weights moved")
    assert summary["layer"].tolist() == ["W1", "W2", "W3", "W4"]
    for layer, shown in zip(summary["layer"], summary["weight change (L2)"], strict=True):
        change = now[f"w.{layer}.weight"] - then[f"w.{layer}.weight"]
        assert shown == pytest.approx(float(change.double().norm()), rel=1e-6)
    w3_change = {(r["row"], r["column"]): r["value"] for r in chart_rows(at, 1)}
    expected = (now["w.W3.weight"] - then["w.W3.weight"])[63, 0]
    assert w3_change[(63, 0)] == pytest.approx(float(expected), rel=1e-6)
    w4 = {(r["class"], r["column"]): r["value"] for r in chart_rows(at, 2)}
    assert w4[("Ankle boot", 3)] == pytest.approx(float((now["w.W4.weight"] - then["w.W4.weight"])[9, 3]), rel=1e-6)


def photo_jpeg(real_data, index: int) -> bytes:
    """A test image as a phone photo might show it: dark on a light background, large, off-centre, as JPEG."""
    item = 255 - real_data.test_images[index].numpy()
    canvas = np.full((420, 360), 250, dtype=np.uint8)
    big = np.array(Image.fromarray(item).resize((280, 280), Image.Resampling.BICUBIC))
    canvas[100:380, 30:310] = np.minimum(canvas[100:380, 30:310], big)
    buf = io.BytesIO()
    Image.fromarray(canvas).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_own_photo_is_converted_predicted_and_trained_on(real_data):
    at = modern_app()
    page(at, "photo")
    at.file_uploader(key="photo_file").set_value(("my-shoe.jpg", photo_jpeg(real_data, 0), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert "light background" in " ".join(m.value for m in at.markdown)
    assert {r["role"] for r in chart_rows(at)} == {"predicted", "other"}  # no true class until the learner says it
    at.selectbox(key="photo_label").select(CLASSES[int(real_data.test_labels[0])]).run()
    assert {r["class"] for r in chart_rows(at) if "true" in r["role"]} == {CLASSES[int(real_data.test_labels[0])]}
    at.button(key="use_photo").click().run()
    # Said beside the button, with the way on to train on it.
    (said,) = [s.value for s in at.success]
    assert said.startswith("Your photo is now the selected image") and at.get("page_link")[0].proto.label == "Train one step on it"
    image, label = at.session_state.photo
    assert at.session_state.selection == ImageRef("photo", 0) and label == int(real_data.test_labels[0])
    page(at, "train").button(key="train_step").click().run()
    learner = at.session_state.learner
    plain = PlainRun(Learner(MODERN), MODERN).step(image, label)
    assert torch.equal(learner.net.W3.weight, plain["after"]["4.weight"])
    assert learner.history[-1].ref == ImageRef("photo", 0)
    # The link cannot carry it: the sidebar says so, on the closed "Save and resume" and inside "Share this state".
    assert [e.proto.icon for e in at.sidebar.expander if e.label == "Save and resume"] == [":material/warning:"]
    at.session_state["share_open"] = True
    at.run()
    assert any("own photo" in w.value for w in at.sidebar.warning)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("empty.png", b"", "empty"),
        ("noise.jpg", bytes(range(256)) * 40, "not"),
        ("fake.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", ""),
    ],
)
def test_bad_photos_get_a_message_and_keep_the_earlier_photo(real_data, name, content, says):
    at = modern_app()
    page(at, "photo")
    at.file_uploader(key="photo_file").set_value(("shoe.jpg", photo_jpeg(real_data, 0), "image/jpeg")).run()
    at.selectbox(key="photo_label").select("Ankle boot").run()
    at.button(key="use_photo").click().run()
    kept = at.session_state.photo
    at.file_uploader(key="photo_file").set_value((name, content, "image/png")).run()
    assert not at.exception
    (error,) = at.error
    assert name in error.value and says in error.value.lower()
    assert at.session_state.photo is kept and at.session_state.selection == ImageRef("photo", 0)


def test_a_camera_photo_works_like_an_upload(real_data):
    at = modern_app()
    page(at, "photo")
    at.radio(key="photo_source").set_value("the camera").run()
    at.get("camera_input")[0].set_value(("image.jpg", photo_jpeg(real_data, 1), "image/jpeg")).run()
    assert not at.exception and not at.error
    at.selectbox(key="photo_label").select(CLASSES[int(real_data.test_labels[1])]).run()
    at.button(key="use_photo").click().run()
    image, _ = at.session_state.photo
    page(at, "predict")
    plain = PlainRun(Learner(MODERN), MODERN)
    with torch.no_grad():
        probs = torch.softmax(plain.model(image.float().reshape(1, 784) / 255.0), 1)[0]
    shown = frame_with(at, "probability", "logit")
    assert shown["probability"].tolist() == pytest.approx(probs.double().tolist(), abs=1e-7)
    assert "Your photo, as the net sees it" in at.get("image")[0].captions[0]


def test_a_run_that_blows_up_says_so_and_keeps_the_model(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in {"act": "relu", "opt": "sgd", "lr": "1000000.0"}.items():
        at.query_params[k] = v
    at.run()
    before = learner_state(at.session_state.learner)
    train_page = page(at, "training")
    train_page.radio(key="run_unit").set_value("batches").run()
    train_page.number_input(key="run_batches").set_value(50).run()
    train_page.button(key="train_run").click().run()
    assert not at.exception
    (error,) = at.error
    assert "infinite or NaN" in error.value and "Try a smaller learning rate" in error.value
    assert at.session_state.learner.cursor == 0 and same_state(learner_state(at.session_state.learner), before)


def test_a_progress_file_with_a_run_loads_through_the_sidebar(real_data):
    from fashionnet import progress

    at = modern_app()
    record = train_batches(at, 30, 64)
    saved = progress.dumps(at.session_state.learner)
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    other.session_state["save_open"] = True  # "Save and resume" is built only while open, as a learner opens it
    other.run()
    other.sidebar.get("file_uploader")[0].set_value(("mine.safetensors", saved, "application/octet-stream")).run()
    assert [s.value for s in other.sidebar.success] == ["Loaded `mine.safetensors`: step 1 of 1."]
    assert same_state(learner_state(other.session_state.learner), learner_state(at.session_state.learner))
    flat = {k: v[-1] if isinstance(v, list) else v for k, v in other.query_params.items()}
    assert flat["steps"] == f"r64x30x{record.seed}"  # and the address bar now replays it


def test_the_training_plan_is_kept_across_pages(real_data):
    at = modern_app()
    page(at, "training")
    at.selectbox(key="run_batch").select(128)
    at.number_input(key="run_epochs").set_value(5).run()
    assert "**2,345 batches** of 128" in at.markdown[0].value or any("**2,345 batches** of 128" in m.value for m in at.markdown)
    page(at, "history")
    page(at, "training")
    assert at.selectbox(key="run_batch").value == 128 and at.number_input(key="run_epochs").value == 5
    assert not at.warning  # no "created with a default value but also had its value set via the Session State API"
    at.radio(key="run_unit").set_value("batches").run()
    at.number_input(key="run_batches").set_value(7).run()
    page(at, "predict")
    page(at, "training")
    assert at.radio(key="run_unit").value == "batches" and at.number_input(key="run_batches").value == 7


def test_a_training_run_is_not_counted_as_one_step(real_data):
    """A history of single steps and training runs is told as such on every page that counts it (the words come
    from the records: 2 single steps and one run of 20 batches)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["steps"] = "t0.r64x20x0.t0"
    at.run()
    done = "2 single steps and 1 training run (20 batches)"
    assert f"Rebuilt your model from this link: {done} replayed." in [i.value for i in at.info]
    assert any(c.value.startswith(f"After {done}.") for c in at.caption)
    page(at, "train")
    assert any(f"Trained so far: {done}; history point 3 of 3" in m.value for m in at.markdown)
    at.button(key="undo_step").click().run()
    assert any("Trained so far: 1 single step and 1 training run (20 batches); history point 2 of 3" in m.value for m in at.markdown)
    at.button(key="undo_step").click().run()
    assert any("Steps taken: 1 (history: 3)" in m.value for m in at.markdown)
    page(at, "lesson")
    assert any(c.value.startswith("Your model now: 1 step taken, on train image #0") for c in at.caption)
    assert timeline.taken([]) == "0 steps"


def test_the_step_shown_says_which_image_it_trained_on_once_another_is_chosen(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    page(at, "train")
    at.button(key="train_step").click().run()
    assert not [c.value for c in at.caption if "trained on" in c.value]  # the image above is the step's
    at.number_input(key="pick_index").set_value(6).run()
    expected = f"Step 1 trained on training #0 ({CLASSES[real_data.image('train', 0)[1]]}), not on the image above"
    assert any(c.value.startswith(expected) for c in at.caption), [c.value for c in at.caption]
    at.button(key="train_step").click().run()
    assert not [c.value for c in at.caption if "trained on" in c.value]


def test_the_shared_link_leaves_presenter_mode_in_the_instructors_tab(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"steps": "t0", "present": "1", "pin": "5,7"})
    at.run()
    at.session_state["share_open"] = True
    at.run()
    (link,) = [c.value for c in at.sidebar.code]
    assert "steps=t0" in link and "present" not in link and "pin" not in link, link
    assert any("Presenter mode is not in this link" in c.value for c in at.sidebar.caption)
    assert at.query_params["present"] in ("1", ["1"]) and at.query_params["pin"] in ("5,7", ["5,7"])  # the tab keeps it
    at.session_state["presenter"], at.session_state["pin_on"] = False, False
    at.run()
    assert not any("Presenter mode is not in this link" in c.value for c in at.sidebar.caption)
