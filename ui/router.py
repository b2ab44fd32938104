"""The app: page config, one learner per session, navigation, the shared sidebar, then the page.

``app.py`` calls :func:`run`. Every page starts with :func:`ensure_routed`: on a server that has just
started, Streamlit (1.67) treats an app with a ``pages/`` folder as a folder-based multipage app until
some session has called ``st.navigation``, so the first visitor of a shared link to ``/train`` would run
``pages/train.py`` on its own, without this router. ``ensure_routed`` notices that and runs the router
(which runs the page) instead.
"""

from __future__ import annotations

from contextvars import ContextVar
from urllib.parse import urlencode

import streamlit as st

from fashionnet import progress, report, timeline
from fashionnet import settings as cfg
from fashionnet.data import CLASSES, FashionData, load_early_or_now
from fashionnet.learner import ImageRef, Learner, RunSpec, StepRefused
from fashionnet.lesson import CELLS as LESSON_CELLS
from fashionnet.links import link_params, parse_extras, parse_lesson_step, parse_presenter, parse_selection, parse_settings, parse_steps
from fashionnet.ripple import ProbeSet, probe_set
from ui import warmup

PRESENTER_PARAMS = ("present", "pin")  # in the address bar, not in the shared link

KEPT_WIDGETS = ("run_batch", "run_unit", "run_epochs", "run_batches")  # Train many steps' plan, across pages

# Presenter mode: everything a size larger (Streamlit sizes text in rem), no toolbar. The header stays:
# it holds the button that opens the sidebar, where presenter mode is switched off again. Code keeps about its
# usual size (15 px): PyTorch's printouts are 80 characters wide, and larger they wrapped at 1280 px.
PRESENTER_CSS = """<style>
html { font-size: 20px; }
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; max-width: 96%; }
[data-testid="stCode"] code { font-size: 0.75rem; }
</style>"""

# True while the router runs a page in this script run. A context variable, not session state: a page
# may end its run with st.stop(), after which session state can no longer be written.
_ROUTING: ContextVar[bool] = ContextVar("fashionnet_routing", default=False)


@st.cache_resource(show_spinner="Loading Fashion-MNIST…")
def shared_data() -> FashionData:
    """The dataset, read once per process and shared read-only by every session.

    On a server the read started when the server did (``ui/warmup.py``); this takes it over.
    """
    return load_early_or_now()


@st.cache_resource(show_spinner=False)
def shared_probe() -> ProbeSet:
    """The ripple's probe set (200 test images), chosen once per process and shared read-only."""
    return probe_set(shared_data())


def run() -> None:
    warmup.wait()  # a page opened first from a link comes here without app.py: wait for the warm-up here too
    st.set_page_config(page_title="FashionNet Lab", page_icon="👕", layout="wide")
    data = shared_data()
    _init_session(data)
    with st.session_state.learner.busy:  # an interrupted training run of this session may still be recording
        pass
    page = st.navigation(
        {
            "One step": [
                st.Page("pages/predict.py", title="Predict", icon=":material/image_search:", default=True, url_path="home"),
                st.Page("pages/train.py", title="Train one step", icon=":material/model_training:"),
                st.Page("pages/lesson.py", title="The lesson, step by step", icon=":material/menu_book:"),
                st.Page("pages/why.py", title="Why it moved", icon=":material/lightbulb:"),
                # Streamlit serves the default page only at "/" (and reserves its file name's path for it,
                # hence "home" above); this hidden alias makes a typed or shared /predict work too.
                st.Page("pages/predict.py", title="Predict", url_path="predict", visibility="hidden"),
            ],
            "Beyond one step": [
                st.Page("pages/training.py", title="Train many steps", icon=":material/fitness_center:"),
                st.Page("pages/history.py", title="History", icon=":material/history:"),
                st.Page("pages/weights.py", title="Every layer", icon=":material/grid_view:"),
                st.Page("pages/photo.py", title="Your own photo", icon=":material/photo_camera:"),
                st.Page("pages/layers.py", title="Inside the layers", icon=":material/stacked_bar_chart:"),
                st.Page("pages/claim.py", title="Test the lesson's claim", icon=":material/science:"),
            ],
        }
    )
    st.session_state.page_path = page.url_path  # the live sidebar adds the lesson page's step to the link
    if st.session_state.get("presenter"):
        st.html(PRESENTER_CSS)
    _sidebar(data)
    # The notices sit in one container that is always there, so every page's elements keep their places
    # (a fragment is found again by its place on the page: a shifting page would leave stale copies).
    with st.container():
        _reconnect_guard()
        if data.notice:
            st.warning(data.notice, icon=":material/dataset:")
        for notice in st.session_state.pop("url_notices", []):
            st.info(notice, icon=":material/link:")
    # Streamlit forgets a widget's value once a run does not draw it (another page): these plans are kept.
    for key in KEPT_WIDGETS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    token = _ROUTING.set(True)
    try:
        page.run()
    finally:
        _ROUTING.reset(token)


# After a server restart (a deploy, a reboot, an app woken from sleep) the open tab reconnects to a new session
# with no fragments. Streamlit's frontend then reruns the whole app only if its last run was a fragment run or
# the page has an auto-rerunning fragment; otherwise the learner's next click on a button inside a fragment
# (Train one step) names a fragment the new session does not have, and the server drops it: the click does
# nothing. This fragment draws nothing and reruns once an hour (an empty run); being there, it makes every
# reconnect rerun the whole app, which rebuilds the learner from the address bar and says so.
@st.fragment(run_every="1h", key="reconnect_guard")
def _reconnect_guard() -> None:
    pass


def ensure_routed() -> None:
    """Run the whole app instead of this page when Streamlit ran the page without the router."""
    if not _ROUTING.get():
        run()
        st.stop()


def _init_session(data: FashionData) -> None:
    ss = st.session_state
    if "learner" in ss:
        return
    params = {k: st.query_params.get_all(k) for k in st.query_params}  # all values of a repeated key: the parsers take the last
    sizes = {s: data.size(s) for s in ("train", "test")}
    ss.selection, notices = parse_selection(params, sizes)
    settings, more = parse_settings(params)
    steps, even_more = parse_steps(params, sizes)
    ss.learner = Learner(settings)
    replayed = 0
    for n, ref in enumerate(steps, start=1):  # replaying the link's steps rebuilds its exact weights
        try:
            if isinstance(ref, RunSpec):
                with st.spinner(f"Replaying the link's training run ({ref.batches:,} batches of {ref.batch_size})…", show_time=True):
                    record = ss.learner.train_run(data, ref)
                if record is None or record.ended == "refused":
                    raise StepRefused
            else:
                ss.learner.train_step(*data.image(ref.split, ref.index), ref)
            replayed = n
        except StepRefused:
            even_more.append(f"The link's step {n} would blow up the weights with these settings; stopped after step {n - 1}.")
            break
    ss.lesson_step, lesson_notices = parse_lesson_step(params, len(LESSON_CELLS))
    ss.presenter, pin, presenter_notices = parse_presenter(params)
    ss.pin_on = pin is not None
    ss.pin_row, ss.pin_col = pin or (0, 0)
    # A reload or a restarted server starts a new session: say the model came back from the address bar.
    rebuilt = [f"Rebuilt your model from this link: {timeline.taken(ss.learner.history)} replayed."] if replayed else []
    ss.url_notices = rebuilt + notices + more + even_more + lesson_notices + presenter_notices + parse_extras(params)
    _load_settings_fields(ss.learner.settings)


def _load_settings_fields(s: cfg.Settings) -> None:
    ss = st.session_state
    ss.cfg_preset = cfg.preset_name(s)
    ss.cfg_seed, ss.cfg_activation, ss.cfg_scale, ss.cfg_optimizer, ss.cfg_lr = s.seed, s.activation, s.scale_inputs, s.optimizer, s.lr


def _pending_settings() -> cfg.Settings:
    ss = st.session_state
    return cfg.Settings(int(ss.cfg_seed), ss.cfg_activation, bool(ss.cfg_scale), ss.cfg_optimizer, float(ss.cfg_lr))


def _preset_chosen() -> None:
    name = st.session_state.cfg_preset
    if name in cfg.PRESETS:
        _load_settings_fields(cfg.Settings(**{**cfg.PRESETS[name].__dict__, "seed": int(st.session_state.cfg_seed)}))


def _field_changed() -> None:
    st.session_state.cfg_preset = cfg.preset_name(_pending_settings())


def _apply_settings() -> None:
    try:
        st.session_state.learner.reset(_pending_settings())
        st.toast("Started a fresh model with the new settings.", icon=":material/restart_alt:")
    except ValueError as err:
        st.session_state.settings_error = str(err)


def _reset() -> None:
    st.session_state.learner.reset()
    _load_settings_fields(st.session_state.learner.settings)
    st.toast("Fresh model from the seed; the history is cleared.", icon=":material/restart_alt:")


def _code(text: str) -> str:
    """A learner's own text (a file name) shown literally: in a code span, never as markdown."""
    return "`" + text.replace("`", "'")[:60] + "`"


def _load_progress(key: str) -> None:
    upload = st.session_state.get(key)
    if upload is None:
        return
    try:
        with st.spinner("Checking the file by replaying its history…", show_time=True):
            learner, note = progress.loads_with_note(upload.getvalue(), shared_data())
    except progress.ProgressError as err:
        st.session_state.progress_message = ("error", f"{_code(upload.name)} was not loaded: {err} Your model is unchanged.")
        return
    st.session_state.learner = learner
    _load_settings_fields(learner.settings)
    st.session_state.uploads = st.session_state.get("uploads", 0) + 1  # a fresh, empty uploader
    loaded = f"Loaded {_code(upload.name)}: step {learner.steps_taken} of {len(learner.history)}."
    st.session_state.progress_message = ("success", loaded + (f" {note}" if note else ""))
    st.rerun()  # a new model: the whole app, not only the sidebar's fragment the uploader sits in


# The sidebar's parts that change with every step are fragments: a page's own fragment (the Train page's
# panel) reruns them along with itself after a step, without rerunning the whole app (docs/performance.md).
def rerun_live(*page_fragments: str) -> None:
    """From a widget callback: rerun these fragments of the page and the sidebar's live parts, not the app.

    "Share this state" and "Save and resume" show nothing that a step changes while both are closed,
    unless the step changed whether the address can hold the history (the Save section's icon says so)."""
    ss = st.session_state
    notice = _wanted()[1] is not None
    share = ss.get("share_open") or ss.get("save_open") or notice != ss.get("link_notice_shown", False)
    st.rerun([*page_fragments, "live_status", *(["live_share"] if share else [])])


def _wanted() -> tuple[dict[str, str], str | None]:
    """The address bar's parameters for what the learner has now, and a notice when the steps cannot travel."""
    ss = st.session_state
    learner: Learner = ss.learner
    wanted, link_notice = link_params(ss.selection, learner.settings, learner.history[: learner.cursor])
    if ss.get("page_path") == "lesson":
        wanted["lesson"] = str(ss.get("lesson_step", 0))
    if ss.get("presenter"):
        wanted["present"] = "1"
    if ss.get("pin_on"):
        wanted["pin"] = f"{ss.pin_row},{ss.pin_col}"
    return wanted, link_notice


def _reset_box() -> None:
    """Reset asks first: it discards the whole history, and nothing brings it back (a progress file does)."""
    learner: Learner = st.session_state.learner
    with st.popover("Reset to the seed", icon=":material/restart_alt:", help="A fresh model from the seed; the steps taken are discarded."):
        entries = len(learner.history)
        if entries:
            st.markdown(report.discard_words(entries))
        else:
            st.markdown("Your model is fresh from the seed already: there is no history to discard.")
        st.button(
            f"Reset: discard {report.count(entries, 'entry')}" if entries else "Reset",
            key="reset",
            type="primary",
            icon=":material/restart_alt:",
            on_click=_reset,
        )


def _sidebar(data: FashionData) -> None:
    with st.sidebar:
        _live_status()
        _reset_box()
        _settings_box()
        _presenter_box()
        _live_share()
        st.caption(
            f"Data: {'full Fashion-MNIST' if data.source == 'full' else 'bundled sample'} "
            f"({data.size('train'):,} train / {data.size('test'):,} test), {len(CLASSES)} classes."
        )


@st.fragment(key="live_status")
def _live_status() -> None:
    """The model's summary, and the address bar kept a link to exactly what the learner sees."""
    learner: Learner = st.session_state.learner
    s = learner.settings
    sel: ImageRef = st.session_state.selection
    # Widgets change state in callbacks, before this run: the link made here is already up to date.
    wanted, _ = _wanted()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    st.markdown(
        "### Your model\n"
        f"**{cfg.preset_name(s)}** preset · seed **{s.seed}**  \n"
        f"{s.activation} · inputs {'0–1' if s.scale_inputs else '0–255 (raw)'}  \n"
        f"{'Adam' if s.optimizer == 'adam' else 'SGD'} · lr **{s.lr:g}**  \n"
        f"history point: **{learner.cursor}** of {len(learner.history)}  \n"
        + ("image: your photo" if sel.split == "photo" else f"image: {sel.split} #{sel.index}")
    )


def _settings_box() -> None:
    learner: Learner = st.session_state.learner
    s = learner.settings
    with st.expander("Settings", icon=":material/tune:"):
        st.selectbox("Preset", [*cfg.PRESETS, "Custom"], key="cfg_preset", on_change=_preset_chosen)
        st.number_input("Seed", 0, cfg.MAX_SEED, step=1, key="cfg_seed", on_change=_field_changed)
        st.selectbox("Activation", cfg.ACTIVATIONS, key="cfg_activation", on_change=_field_changed)
        st.toggle("Scale inputs to 0–1", key="cfg_scale", on_change=_field_changed)
        st.selectbox(
            "Optimizer", cfg.OPTIMIZERS, key="cfg_optimizer", format_func={"adam": "Adam", "sgd": "SGD"}.get, on_change=_field_changed
        )
        st.number_input("Learning rate", cfg.LR_RANGE[0], cfg.LR_RANGE[1], step=0.0005, format="%g", key="cfg_lr", on_change=_field_changed)
        if error := st.session_state.pop("settings_error", None):
            st.error(error)
        if _pending_settings() != s:
            seed, steps = int(st.session_state.cfg_seed), len(learner.history)
            st.warning(f"Applying starts a fresh model from seed {seed} and discards your {report.count(steps, 'history entry')}.")
            st.button("Apply: start a fresh model", key="apply_settings", type="primary", on_click=_apply_settings)


def _presenter_box() -> None:
    with st.expander("Presenter mode", icon=":material/co_present:", expanded=bool(st.session_state.get("presenter"))):
        st.toggle("Presenter mode", key="presenter", help="Larger type and less chrome, for projecting in class.")
        st.toggle("Pin one W3 entry", key="pin_on", help="The Train page then shows this entry large, step after step.")
        if st.session_state.get("pin_on"):
            c1, c2 = st.columns(2)
            c1.number_input("Row", 0, 63, step=1, key="pin_row")
            c2.number_input("Column", 0, 63, step=1, key="pin_col")


def _keep_open(key: str) -> None:
    """Remember that the learner opened or closed this sidebar section, for the next page: Streamlit gives an
    element on another page a new identity, so its own state would start closed there."""
    st.session_state[f"{key}_kept"] = bool(st.session_state.get(key))


def _was_open(key: str) -> bool:
    return bool(st.session_state.get(f"{key}_kept"))


@st.fragment(key="live_share")
def _live_share() -> None:
    """Share and save: the link and the progress file change with every step."""
    learner: Learner = st.session_state.learner
    wanted, link_notice = _wanted()
    if link_notice and not st.session_state.get("link_notice_shown"):  # the step that made the history unable to travel
        st.toast(
            "This tab's address can no longer rebuild your history, so a reload would lose it: download your progress under "
            "**Save and resume** in the sidebar.",
            icon=":material/warning:",
            duration="long",
        )
    st.session_state.link_notice_shown = link_notice is not None
    # Presenter mode and its pinned entry stay in this tab's address (a reload keeps them), not in the link shared
    # with learners: they would all open the projector's view.
    presenting = any(k in wanted for k in PRESENTER_PARAMS)
    query = urlencode({k: v for k, v in wanted.items() if k not in PRESENTER_PARAMS})
    # Both are built only while open (opening one reruns this fragment): a step does not resend what nobody looks at.
    share = st.expander(
        "Share this state",
        expanded=_was_open("share_open"),
        icon=":material/link:",
        key="share_open",
        on_change=_keep_open,
        args=("share_open",),
    )
    if share.open:
        if not link_notice:
            share.caption("This link rebuilds your exact weights in any browser: settings, image and every step.")
        share.code((st.context.url or "").split("?")[0] + (f"?{query}" if query else ""), language=None, wrap_lines=True)
        if presenting:
            share.caption("Presenter mode is not in this link: learners who open it get the usual view. This tab's address keeps it.")
        if link_notice:
            share.warning(link_notice)
    # The expander's icon turns to a warning when the address bar cannot rebuild the history.
    icon = ":material/warning:" if link_notice else ":material/save:"
    save = st.expander(
        "Save and resume", expanded=_was_open("save_open"), icon=icon, key="save_open", on_change=_keep_open, args=("save_open",)
    )
    if save.open:
        if link_notice:
            save.warning(
                "This tab's address cannot hold your history: a reload or the link under **Share this state** would start "
                "again from a fresh model. Download your progress to keep everything."
            )
        else:
            save.caption(
                "Your settings, image and steps are kept in this tab's address: a reload, or the link under **Share this "
                "state**, rebuilds them, even after the server restarts. A progress file keeps everything (undone steps "
                "too): download it before you close the tab."
            )
        if len(learner.history) > progress.MAX_STEPS:
            save.warning(
                f"A progress file holds at most {progress.MAX_STEPS:,} steps; you have {len(learner.history):,}, "
                "so this one could not be loaded back."
            )
        save.download_button(
            "Download progress",
            data=lambda: progress.dumps(learner),  # built when clicked, not on every rerun
            file_name=f"fashionnet-progress-step{learner.steps_taken}.safetensors",
            mime="application/octet-stream",
            on_click="ignore",
            key="save_progress",
            icon=":material/download:",
        )
        key = f"load_progress_{st.session_state.get('uploads', 0)}"
        save.file_uploader("Resume from a progress file", key=key, on_change=_load_progress, args=(key,), max_upload_size=5)
        if message := st.session_state.pop("progress_message", None):
            (save.success if message[0] == "success" else save.error)(message[1])
