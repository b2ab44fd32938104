"""Your own photo: upload or take a picture, see it made into a Fashion-MNIST image, predict and train on it."""

import hashlib

import streamlit as st

from fashionnet import charts, report
from fashionnet.data import CLASSES
from fashionnet.photo import ALLOWED_FORMATS, MAX_PHOTO_BYTES, PhotoError, convert_photo, photo_png
from ui.router import ensure_routed
from ui.widgets import PHOTO

ensure_routed()
learner = st.session_state.learner
ss = st.session_state


def use_photo(image, label: int) -> None:
    ss.photo = (image, label)
    ss.selection = PHOTO
    ss.photo_message = f"Your photo is now the selected image ({CLASSES[label]}) on Predict, Train one step and the other pages."


st.title("Your own photo")
st.caption(
    "A photo of one piece of clothing, shoe or bag, ideally on a plain background. It is turned into a Fashion-MNIST "
    "image the way the dataset was made: greyscale, the background made dark, the item trimmed, its longer side scaled "
    "to 28 pixels and centred. Nothing is stored: the photo stays in this browser session only."
)
source = st.radio("Photo from", ["a file", "the camera"], horizontal=True, key="photo_source")
if source == "a file":
    upload = st.file_uploader(
        f"Upload a photo ({', '.join(f.lower() for f in ALLOWED_FORMATS)}; at most {MAX_PHOTO_BYTES // 1_000_000} MB)",
        type=["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"],
        key="photo_file",
        max_upload_size=MAX_PHOTO_BYTES // 1_000_000,
    )
else:
    upload = st.camera_input("Take a photo", key="photo_camera")
if upload is None:
    if "photo" in ss:
        st.info("Your earlier photo is still kept; pick **Your photo** in the image picker on any page.", icon=":material/photo:")
    st.stop()

raw = upload.getvalue()
shown_name = "`" + upload.name.replace("`", "'")[:60] + "`"  # a file name is the learner's text: never markdown
digest = hashlib.sha256(raw).hexdigest()
if ss.get("photo_converted", (None,))[0] != digest:  # convert each file once, not on every rerun
    try:
        ss.photo_converted = (digest, convert_photo(raw, upload.name), None)
    except PhotoError as err:
        ss.photo_converted = (digest, None, str(err))
_, photo, problem = ss.photo_converted
if problem:
    st.error(f"{shown_name} cannot be used: {problem}", icon=":material/broken_image:")
    if "photo" in ss:
        st.caption("Your earlier photo is still kept.")
    st.stop()

left, right = st.columns(2)
left.image(photo.original, caption=f"Your {photo.format} as uploaded", width=280)
right.image(photo_png(photo.image, 10), caption="As the network sees it: 28 × 28, greyscale", width=280, output_format="PNG")
if photo.notes:
    st.markdown("**What was changed:** " + "; ".join(photo.notes) + ".")
prediction = learner.predict(photo.image)
true_class = CLASSES.index(ss.photo_label) if ss.get("photo_label") in CLASSES else None
st.markdown(f"#### The network (after {report.count(learner.steps_taken, 'history entry')}) says: {CLASSES[prediction.predicted]}")
st.altair_chart(
    # The true class is marked once the learner has said what it is (the select box below).
    charts.probabilities(report.probabilities_frame(prediction, true_class), dark=st.context.theme.type == "dark"),
    key="photo_probs",
    width="stretch",
)
label = st.selectbox("What is it really?", CLASSES, index=None, placeholder="Choose the true class to train on it", key="photo_label")
st.button(
    "Use this photo on every page",
    key="use_photo",
    type="primary",
    disabled=label is None,
    on_click=use_photo,
    args=(photo.image, CLASSES.index(label) if label else 0),
    icon=":material/check:",
    help="Predict and Train one step then use it; the image picker lists it as 'Your photo'.",
)
if message := ss.pop("photo_message", None):  # beside the button that was pressed
    st.success(message, icon=":material/check_circle:")
    st.page_link("pages/train.py", label="Train one step on it", icon=":material/play_arrow:")
st.caption(
    "A link or a reload cannot rebuild steps taken on your photo (the photo is not in the link): once you train on it, "
    "keep your work with **Save and resume → Download progress** in the sidebar."
)
