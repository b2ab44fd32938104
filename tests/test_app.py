"""The app through Streamlit's AppTest: every page opens, and the numbers on screen are the learner's."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
import torch
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from fashionnet import layerviews, report
from fashionnet.data import CLASSES
from fashionnet.settings import LESSON, MODERN
from ui import train_panel

pytestmark = pytest.mark.realdata


@pytest.fixture
def at(real_data) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception
    return app


def texts(at: AppTest) -> str:
    shown = [*at.markdown, *at.caption, *at.info, *at.warning]
    return "\n".join(e.value for e in shown)


def chart_rows(at: AppTest, index: int = 0) -> list[dict]:
    """The rows Streamlit sent for a chart (Arrow IPC bytes in the chart's proto)."""
    import pyarrow as pa

    (dataset,) = at.get("vega_lite_chart")[index].proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()


def frame_with(at: AppTest, *columns: str):
    """The one table on the page with these columns (tables are not widgets, so AppTest has no key for them)."""
    (frame,) = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    return frame


def whole_page(at: AppTest) -> AppTest:
    """Train, Undo and Redo rerun only the Train page's panel and the sidebar's live parts (fragments). AppTest
    keeps only the elements of its last run, while a browser keeps showing the rest: a plain rerun brings the
    whole page back into AppTest's tree before a test reaches for a widget outside those fragments."""
    return at.run()


def train_page(at: AppTest) -> AppTest:
    at.switch_page("pages/train.py").run()
    assert not at.exception
    return at


def test_predict_page_shows_the_lesson_prediction(at, real_data):
    assert at.title[0].value == "Predict"
    assert "The network thinks this is a Coat (15.2\u00a0%); it is an Ankle boot (10.4\u00a0%)." in texts(at)
    rows = chart_rows(at)
    assert len(rows) == 10
    learner = at.session_state.learner
    pred = learner.predict(real_data.image("train", 0)[0])
    assert [r["probability"] for r in rows] == pytest.approx(pred.probs.double().tolist(), abs=1e-7)
    assert frame_with(at, "logit")["logit"].tolist() == pytest.approx(pred.logits.double().tolist(), abs=1e-7)


def test_picking_images_by_index_class_and_random(at, real_data):
    at.number_input(key="pick_index").set_value(5).run()
    assert at.session_state.selection.index == 5
    label = real_data.image("train", 5)[1]
    assert f"Training image #5: {CLASSES[label]}" in at.get("image")[0].captions[0]
    at.selectbox(key="pick_class").select("Sneaker").run()
    sel = at.session_state.selection
    assert real_data.image(sel.split, sel.index)[1] == CLASSES.index("Sneaker")
    first = sel.index
    at.button(key="next_of_class").click().run()
    nxt = at.session_state.selection.index
    assert nxt > first and real_data.image("train", nxt)[1] == CLASSES.index("Sneaker")
    assert all(real_data.image("train", i)[1] != CLASSES.index("Sneaker") for i in range(first + 1, nxt))
    at.radio(key="pick_split").set_value("test").run()
    assert at.session_state.selection.split == "test"
    at.button(key="random_image").click().run()
    sel = at.session_state.selection
    assert sel.split == "test" and 0 <= sel.index < 10000
    # The prediction sentence follows the selection.
    image, label = real_data.image(sel.split, sel.index)
    expected = report.prediction_sentence(at.session_state.learner.predict(image), label)
    assert expected in texts(at)
    assert not at.exception


def test_train_one_step_shows_the_learners_numbers_and_undo_restores(at):
    at.number_input(key="pick_index").set_value(0).run()
    train_page(at)
    initial = at.code[0].value
    at.session_state["printouts_open"] = True  # the printouts' expander, built only while open: as a learner opens it
    at.button(key="train_step").click().run()
    assert not at.exception
    learner = at.session_state.learner
    step = learner.last_report
    assert learner.steps_taken == 1 and step is not None
    assert at.metric[0].value == f"{step.record.loss_after:.4f}"
    assert f"was {step.record.loss_before:.4f}" in at.metric[0].delta
    assert at.metric[0].delta.startswith(f"{step.record.loss_after - step.record.loss_before:+.4f}")
    assert at.metric[1].value == report.percent(step.record.p_true_after)
    assert at.metric[2].value == f"{step.moved_share:.1%}"
    assert report.first_entry_callout(step) in texts(at)
    codes = [c.value for c in at.code]
    assert codes[0] == initial == report.torch_printout(step.w3_before, step.b3_before)
    assert codes[1] == report.torch_printout(step.w3_after, step.b3_after) != initial
    moved = frame_with(at, "row", "column", "change")
    expected = report.top_moves(step, 12)
    assert moved[["row", "column"]].values.tolist() == expected[["row", "column"]].values.tolist()
    assert moved["change"].tolist() == expected["change"].tolist()
    # W3's change: a picture sent inside the message (a PNG data URL), exactly the picture of this step's change.
    (picture,) = [img.proto.imgs[0] for img in at.get("image") if "The box marks W3[0, 0]" in img.proto.imgs[0].caption]
    assert picture.url.startswith("data:image/png;base64,")
    assert base64.b64decode(picture.url.split(",", 1)[1]) == layerviews.heatmap_png(step.w3_after - step.w3_before, (0, 0))
    at.toggle(key="w3_interactive").set_value(True).run()  # the interactive chart: every entry's numbers
    heat = chart_rows(at, 0)
    assert len(heat) == 4096
    after = {(r["row"], r["column"]): r["after"] for r in heat}
    assert all(after[i, j] == float(step.w3_after[i, j]) for i in range(64) for j in range(64))
    # Undo puts W3 back, exactly.
    at.button(key="undo_step").click().run()
    assert at.session_state.learner.steps_taken == 0
    assert at.code[0].value == initial
    assert "Back at step 0" in texts(at)
    at.button(key="redo_step").click().run()
    assert at.session_state.learner.steps_taken == 1
    assert at.code[0].value == report.torch_printout(step.w3_after, step.b3_after)


def test_a_step_reruns_only_what_it_changes(at):
    """AppTest keeps only the elements of its last run: after a click they are exactly what the click redrew."""
    train_page(at).button(key="train_step").click().run()  # the first step adds the entry's inputs and the sections
    assert at.number_input(key="explain_row") and at.toggle(key="guess_first")
    sections = [section.label for section in train_panel.SECTIONS]
    assert [e.label for e in at.expander if e.label in sections] == sections
    at.button(key="train_step").click().run()
    learner = at.session_state.learner
    assert not at.exception and learner.steps_taken == 2
    step = learner.last_report
    # redrawn: the numbers, the picture, the table, the story, the step count (beside the image, and in the sidebar)
    assert at.metric[0].value == f"{step.record.loss_after:.4f}"
    assert "Step 2: what changed" in [s.value for s in at.subheader]
    assert frame_with(at, "row", "column", "change")["change"].tolist() == report.top_moves(step, 12)["change"].tolist()
    (story,) = [t.value for t in at.table if list(t.value.columns) == ["quantity", "how", "value"]]
    change = torch.tensor(float(story.loc[story.quantity == "change", "value"].iloc[0]), dtype=torch.float32)
    assert torch.equal(change, step.w3_delta[0, 0])  # 9 significant digits read back to the same 32-bit float
    assert "Steps taken: 2 (history: 2)" in texts(at)
    # not redrawn: what a step leaves as it was (the toggle, the entry's inputs, the sections' headers, the image)
    for kind, key in (("toggle", "guess_first"), ("number_input", "explain_row"), ("number_input", "explain_col")):
        assert key not in [w.key for w in at.get(kind)], key
    assert not [e for e in at.expander if e.label in sections]
    assert not [i for i in at.get("image") if "image #" in i.proto.imgs[0].caption]
    # an open section follows every step from then on; going back to a point with no step redraws the whole page
    at.session_state["printouts_open"] = True
    at.button(key="train_step").click().run()  # its body is not drawn yet: this click reruns the whole page
    assert report.torch_printout(learner.last_report.w3_after, learner.last_report.b3_after) in [c.value for c in at.code]
    at.button(key="train_step").click().run()
    assert learner.steps_taken == 4 and "guess_first" not in [t.key for t in at.toggle]
    assert report.torch_printout(learner.last_report.w3_after, learner.last_report.b3_after) in [c.value for c in at.code]
    at.button(key="undo_step").click().run()
    assert "Back at step 3" in texts(at) and at.toggle(key="guess_first")
    assert "explain_row" not in [w.key for w in at.number_input]
    at.button(key="undo_step").click().run()  # from a point with no step to another: only the panel and the buttons
    assert not at.exception and "Back at step 2" in texts(at) and "guess_first" not in [t.key for t in at.toggle]
    at.button(key="redo_step").click().run()
    assert not at.exception and "Forward again to step 3" in texts(at) and learner.steps_taken == 3


def test_selection_carries_over_between_pages(at, real_data):
    at.number_input(key="pick_index").set_value(17).run()
    train_page(at)
    assert at.session_state.selection.index == 17
    assert at.number_input(key="pick_index").value == 17
    at.button(key="train_step").click().run()
    assert at.session_state.learner.history[-1].ref.index == 17
    assert at.session_state.learner.history[-1].label == real_data.image("train", 17)[1]


def test_sidebar_settings_start_a_fresh_model_after_saying_so(at):
    train_page(at)
    at.button(key="train_step").click().run()
    assert "history point: **1** of 1" in at.sidebar.markdown[0].value  # the sidebar's live part, rerun with the step
    whole_page(at).selectbox(key="cfg_preset").select("Modern").run()
    assert at.session_state.learner.settings == LESSON  # nothing changes until applied
    assert any("starts a fresh model" in w.value and "discards your 1 history entry." in w.value for w in at.sidebar.warning)
    at.button(key="apply_settings").click().run()
    assert at.session_state.learner.settings == MODERN
    assert at.session_state.learner.steps_taken == 0
    assert "**Modern** preset" in at.sidebar.markdown[0].value
    at.number_input(key="cfg_lr").set_value(0.0005).run()
    assert at.selectbox(key="cfg_preset").value == "Custom"
    at.button(key="train_step").click().run()
    at.button(key="train_step").click().run()
    whole_page(at)
    assert any("discards your **2 history entries** for good" in m.value for m in at.sidebar.markdown)  # Reset asks first
    assert at.button(key="reset").label == "Reset: discard 2 entries"
    at.button(key="reset").click().run()
    assert at.session_state.learner.steps_taken == 0
    assert at.session_state.learner.settings == MODERN


def test_a_step_that_blows_up_is_refused_in_the_page(at):
    train_page(at)
    at.selectbox(key="cfg_preset").select("Modern").run()
    at.selectbox(key="cfg_optimizer").select("sgd").run()
    at.number_input(key="cfg_lr").set_value(1e6).run()
    at.button(key="apply_settings").click().run()
    assert at.session_state.learner.settings == replace(MODERN, optimizer="sgd", lr=1e6)
    for i in range(3):
        whole_page(at).number_input(key="pick_index").set_value(i).run()
        at.button(key="train_step").click().run()
    assert not at.exception
    assert any("would have made the loss, some weights or the optimizer" in w.value for w in at.warning)
    assert at.session_state.learner.steps_taken == 1


def test_url_parameters_select_the_image_and_bad_ones_get_a_notice(real_data):
    good = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    good.query_params["split"] = "test"
    good.query_params["index"] = "42"
    good.run()
    assert good.session_state.selection.split == "test" and good.session_state.selection.index == 42
    bad = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    bad.query_params["index"] = "<b>nope</b>"
    bad.run()
    assert not bad.exception
    assert bad.session_state.selection.index == 0
    assert any("is not a whole number" in i.value for i in bad.info)


def test_two_sessions_never_share_weights(real_data):
    a = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    b = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    train_page(a).button(key="train_step").click().run()
    assert a.session_state.learner is not b.session_state.learner
    assert a.session_state.learner.steps_taken == 1 and b.session_state.learner.steps_taken == 0
    assert a.session_state.learner.net.W3.weight[0, 0] != b.session_state.learner.net.W3.weight[0, 0]


def test_the_sample_is_used_and_announced_when_the_data_is_missing(monkeypatch, tmp_path):
    from ui.router import shared_data

    monkeypatch.setenv("FASHIONNET_DATA_DIR", str(tmp_path / "missing"))
    shared_data.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        assert not at.exception
        notice = at.warning[0].value
        assert "bundled sample" in notice and "missing" in notice and "FASHIONNET_DATA_DIR" in notice
        assert any("2,000 train" in c.value for c in at.sidebar.caption)
    finally:
        shared_data.clear()


def test_explain_one_entry_on_the_train_page(at):
    train_page(at)
    at.button(key="train_step").click().run()
    step = at.session_state.learner.last_report

    def shown(quantity: str) -> torch.Tensor:
        """A value of the story's static table (text, 9 significant digits), read back as a 32-bit float."""
        (table,) = [t.value for t in at.table if list(t.value.columns) == ["quantity", "how", "value"]]
        return torch.tensor(float(table.loc[table.quantity == quantity, "value"].iloc[0]), dtype=torch.float32)

    assert torch.equal(shown("g"), step.w3_grad[0, 0]) and torch.equal(shown("change"), step.w3_delta[0, 0])
    at.number_input(key="explain_row").set_value(12).run()
    whole_page(at).number_input(key="explain_col").set_value(30).run()
    assert torch.equal(shown("g"), step.w3_grad[12, 30]) and torch.equal(shown("before"), step.w3_before[12, 30])
    assert torch.equal(shown("after"), step.w3_after[12, 30])
    assert not torch.equal(shown("g"), step.w3_grad[0, 0])


def test_why_page_before_and_after_a_step(at):
    at.switch_page("pages/why.py").run()
    assert not at.exception
    assert "Take a step" in at.info[0].value
    train_page(at).button(key="train_step").click().run()
    at.switch_page("pages/why.py").run()
    assert not at.exception
    assert len(chart_rows(at, 0)) == len(chart_rows(at, 1)) == 64  # δ and a, one bar per unit
    assert any("Every row and every column of W3 moved." in m.value for m in at.markdown)
    learner = at.session_state.learner
    tops = [d.value for d in at.dataframe if {"row", "column", "change"} <= set(d.value.columns)]
    assert [len(t) for t in tops] == [5, 5]  # Adam's and SGD's largest changes
    # Adam's first step moves entries by about its lr (0.005); SGD's changes are lr * gradient.
    assert tops[0]["change"].abs().max() == pytest.approx(0.005, rel=1e-3)
    assert learner.steps_taken == 1  # the what-ifs ran on copies


def test_inside_the_layers_page(at, real_data):
    from fashionnet import explain

    at.switch_page("pages/layers.py").run()
    assert not at.exception
    table = frame_with(at, "preset", "layer", "share stuck")
    expected = explain.saturation_frame(
        {"256 test images": real_data.test_images[:256], "selected image": real_data.image("train", 0)[0]}, 0
    )
    assert table["share stuck"].tolist() == expected["share stuck"].tolist()
    assert any(explain.saturation_sentence(expected, "256 test images") in m.value for m in at.markdown)


def test_histograms_for_the_selected_image(at):
    at.switch_page("pages/layers.py").run()
    batch_rows = chart_rows(at, 0) + chart_rows(at, 1)
    at.radio(key="hist_probe").set_value("selected image").run()
    one_rows = chart_rows(at, 0) + chart_rows(at, 1)
    assert not at.exception and len(one_rows) == len(batch_rows) == 120  # 2 presets x 3 layers x 20 bins
    assert one_rows != batch_rows


def test_guess_first_marks_the_guesses_and_keeps_score(at):
    train_page(at)
    at.toggle(key="guess_first").set_value(True).run()
    at.radio(key="guess_loss").set_value("yes").run()
    at.radio(key="guess_prob").set_value("no").run()
    at.radio(key="guess_moves").set_value("all by about the same amount").run()
    at.button(key="train_step").click().run()
    assert not at.exception
    step = at.session_state.learner.last_report
    assert [s.value.startswith("Will the loss") for s in at.success][:1] == [True]  # the loss did go down
    assert any(e.value.startswith("Will the probability") for e in at.error)  # P(Ankle boot) went up, not down
    assert at.session_state.quiz_score == (2, 3)
    assert f"{step.record.loss_after:.4f}" in at.success[0].value
    assert at.radio(key="guess_loss").value is None  # fresh questions for the next step


def test_ripple_on_the_train_page(at, real_data):
    from fashionnet import ripple

    train_page(at)
    at.button(key="train_step").click().run()
    assert not at.exception
    # The ripple starts closed and is not built while closed: no probe metric, no chart, no gallery.
    box = next(e for e in at.expander if e.label == "What this step did to 200 other images")
    assert not any(m.label == "Probe accuracy" for m in at.metric)
    assert not at.get("vega_lite_chart") and not box.children
    at.session_state["ripple_open"] = True  # as a learner opens it
    at.button(key="train_step").click().run()
    assert not at.exception
    learner = at.session_state.learner
    assert learner.steps_taken == 2
    probe = ripple.probe_set(real_data)
    rip = ripple.ripple(learner.last_report, learner, probe)
    probe_metric = next(m for m in at.metric if m.label == "Probe accuracy")
    assert probe_metric.value == f"{100 * rip.accuracy_after:.1f}\u00a0%"
    # the accuracy before and after, recomputed here with a plain forward pass of the step's two sets of weights
    plain_before = ripple.probe_probs(ripple.net_with(learner.last_report.params_before, learner.settings.activation), False, probe)
    assert torch.equal(plain_before, rip.before)
    flipped = int((rip.before.argmax(1).eq(probe.labels) != rip.after.argmax(1).eq(probe.labels)).sum())
    assert any(f"**{flipped} predictions flipped**" in m.value for m in at.markdown)
    rows = chart_rows(at, 0)  # W3's change is a picture: the ripple chart is the page's only chart
    assert [r["class"] for r in rows] == list(CLASSES)
    assert [r["change"] for r in rows] == pytest.approx(ripple.class_changes(rip)["change"].tolist(), abs=1e-12)
    # once open it stays open (its key) and follows the next step
    at.button(key="train_step").click().run()
    rip3 = ripple.ripple(learner.last_report, learner, probe)
    assert next(m for m in at.metric if m.label == "Probe accuracy").value == f"{100 * rip3.accuracy_after:.1f}\u00a0%"
    assert at.toggle(key="probe_set_open").value is False
    at.toggle(key="probe_set_open").set_value(True).run()
    assert not at.exception
    (gallery,) = [img.proto.imgs[0] for img in at.get("image") if img.proto.imgs[0].caption == "" and "/media/" in img.proto.imgs[0].url]
    assert gallery.url.endswith(".png")


def test_claim_page_runs_on_a_copy(at):
    at.switch_page("pages/claim.py").run()
    assert not at.exception
    at.number_input(key="claim_n").set_value(50).run()
    at.number_input(key="claim_pretrain").set_value(100).run()
    at.button(key="run_claim").click().run()
    assert not at.exception
    assert at.session_state.learner.steps_taken == 0
    assert len(chart_rows(at, 0)) == 100  # 50 images x 2 optimizers
    assert any("rank correlation" in m.value for m in at.markdown)


def test_save_and_resume_in_the_sidebar(at, real_data):
    from fashionnet import progress

    train_page(at)
    for i in range(3):
        whole_page(at).number_input(key="pick_index").set_value(i).run()
        at.button(key="train_step").click().run()
    learner = at.session_state.learner
    data = progress.dumps(learner)
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    other.session_state["save_open"] = True  # "Save and resume" is built only while open, as a learner opens it
    other.run().file_uploader(key="load_progress_0").set_value(("mine.safetensors", data, "application/octet-stream")).run()
    assert not other.exception
    resumed = other.session_state.learner
    assert resumed.steps_taken == 3
    assert all(torch.equal(a, b) for a, b in zip(resumed.net.state_dict().values(), learner.net.state_dict().values(), strict=True))
    assert any("Loaded `mine.safetensors`: step 3 of 3" in s.value for s in other.sidebar.success)
    # A bad file: a message, and the model stays exactly as it was.
    before = {k: v.clone() for k, v in resumed.net.state_dict().items()}
    other.file_uploader(key="load_progress_1").set_value(("evil.safetensors", b"\x80\x04garbage", "application/octet-stream")).run()
    assert not other.exception
    assert any("was not loaded" in e.value and "unchanged" in e.value for e in other.sidebar.error)
    assert other.session_state.learner is resumed
    assert all(torch.equal(before[k], v) for k, v in resumed.net.state_dict().items())


def test_a_link_replays_the_exact_weights(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.selectbox(key="cfg_preset").select("Modern").run()
    at.number_input(key="cfg_seed").set_value(7).run()
    at.button(key="apply_settings").click().run()
    train_page(at)
    for i in (0, 5, 9):
        whole_page(at).number_input(key="pick_index").set_value(i).run()
        at.button(key="train_step").click().run()
    whole_page(at).radio(key="pick_split").set_value("test").run()
    at.number_input(key="pick_index").set_value(3).run()
    at.button(key="train_step").click().run()
    at.button(key="train_step").click().run()
    at.button(key="undo_step").click().run()  # the undone step is not part of the link
    params = at.query_params
    flat = {k: v[-1] if isinstance(v, list) else v for k, v in params.items()}
    assert flat["steps"] == "t0.t5.t9.e3" and flat["seed"] == "7" and flat["act"] == "relu"
    assert flat["split"] == "test" and flat["index"] == "3"
    original = at.session_state.learner
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in flat.items():
        other.query_params[k] = v
    other.run()
    assert not other.exception
    replayed = other.session_state.learner
    assert replayed.settings == original.settings and replayed.steps_taken == 4
    for (name, a), b in zip(original.net.state_dict().items(), replayed.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # bit for bit
    for i, state in original.optimizer.state_dict()["state"].items():
        for k, v in state.items():
            assert torch.equal(v, replayed.optimizer.state_dict()["state"][i][k])
    assert other.session_state.selection.split == "test" and other.session_state.selection.index == 3


def test_bad_link_settings_and_steps_get_notices(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in {"seed": "-3", "act": "tanh", "lr": "nan", "opt": "<b>", "steps": "t0.x9.t1"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    assert at.session_state.learner.settings == LESSON and at.session_state.learner.steps_taken == 0
    notices = " ".join(i.value for i in at.info)
    for name in ("seed", "act", "lr", "opt", "steps"):
        assert f"link's {name}" in notices, name


def test_presenter_mode_and_a_pinned_entry_from_the_link(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["present"] = "1"
    at.query_params["pin"] = "3,40"
    at.run()
    assert at.session_state.presenter and at.session_state.pin_on
    train_page(at)
    at.button(key="train_step").click().run()
    step = at.session_state.learner.last_report
    pinned = next(m for m in at.metric if m.label.startswith("Pinned: W3[3, 40]"))
    assert pinned.value == f"{float(step.w3_after[3, 40]):.4f}"
    assert pinned.delta.startswith(f"{float(step.w3_delta[3, 40]):+.7f}")
    flat = {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert flat["present"] == "1" and flat["pin"] == "3,40"
    whole_page(at).toggle(key="presenter").set_value(False).run()
    assert "present" not in at.query_params
    bad = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    bad.query_params["pin"] = "99,-1"
    bad.query_params["present"] = "yes"
    bad.run()
    assert not bad.exception and not bad.session_state.presenter and not bad.session_state.pin_on
    assert sum("link's pin" in i.value or "link's present" in i.value for i in bad.info) == 2


def test_switching_to_the_smaller_test_set_keeps_a_valid_index(at, real_data):
    at.number_input(key="pick_index").set_value(50000).run()
    at.radio(key="pick_split").set_value("test").run()
    sel = at.session_state.selection
    assert (sel.split, sel.index) == ("test", 0)
    assert at.number_input(key="pick_index").value == 0
    at.number_input(key="pick_index").set_value(9999).run()
    at.radio(key="pick_split").set_value("train").run()
    assert at.session_state.selection.index == 9999  # valid in the training set too: kept
    assert not at.exception
