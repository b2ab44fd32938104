"""Small widget helpers shared by pages: the image picker and the large image view."""

from __future__ import annotations

import base64
import random

import streamlit as st
import torch

from fashionnet.data import CLASSES, FashionData
from fashionnet.learner import ImageRef
from fashionnet.report import image_png, with_article

PHOTO = ImageRef("photo", 0)  # the learner's own photo (st.session_state.photo: image and label)


def image_of(data: FashionData, ref: ImageRef) -> tuple[torch.Tensor, int]:
    """The (28, 28) uint8 image and label a selection stands for: a dataset image or the learner's photo."""
    if ref.split == PHOTO.split and "photo" in st.session_state:
        return st.session_state.photo
    return data.image(ref.split, ref.index) if ref.split != PHOTO.split else data.image("train", 0)


def _select(ref: ImageRef) -> None:
    st.session_state.selection = ref


def _dataset_split() -> str:
    split = st.session_state.selection.split
    return split if split != PHOTO.split else "train"


def _on_split(data: FashionData) -> None:
    split = st.session_state.pick_split
    if split == PHOTO.split:
        _select(PHOTO)
        return
    index = st.session_state.selection.index
    _select(ImageRef(split, index if index < data.size(split) else 0))


def _on_index() -> None:
    _select(ImageRef(_dataset_split(), int(st.session_state.pick_index)))


def _on_class(data: FashionData) -> None:
    split = _dataset_split()
    _select(ImageRef(split, int(data.indices_of_class(split, CLASSES.index(st.session_state.pick_class))[0])))


def _next_of_class(data: FashionData) -> None:
    sel = st.session_state.selection
    _, label = image_of(data, sel)
    split = _dataset_split()
    same = data.indices_of_class(split, label)
    later = same[same > sel.index] if sel.split == split else same
    _select(ImageRef(split, int(later[0] if len(later) else same[0])))


def _random(data: FashionData) -> None:
    split = _dataset_split()
    _select(ImageRef(split, random.randrange(data.size(split))))


def pick_image(data: FashionData) -> ImageRef:
    """Choose an image by set and index, by class, or at random; the choice carries over between pages."""
    sel: ImageRef = st.session_state.selection
    if sel.split == PHOTO.split and "photo" not in st.session_state:  # e.g. the photo was never kept
        sel = st.session_state.selection = ImageRef("train", 0)
    _, label = image_of(data, sel)
    split = _dataset_split()
    # The widgets show the selection, whichever page or control changed it last.
    st.session_state.pick_split, st.session_state.pick_index, st.session_state.pick_class = sel.split, sel.index, CLASSES[label]
    c1, c2, c3 = st.columns([1, 1, 1.3], vertical_alignment="bottom")
    c1.radio(
        "Image set",
        ["train", "test", *([PHOTO.split] if "photo" in st.session_state else [])],
        key="pick_split",
        horizontal=True,
        on_change=_on_split,
        args=(data,),
        format_func={"train": "Training", "test": "Test", PHOTO.split: "Your photo"}.get,
    )
    c2.number_input(
        f"Index (0–{data.size(split) - 1:,})",
        0,
        data.size(split) - 1,
        step=1,
        key="pick_index",
        on_change=_on_index,
        disabled=sel.split == PHOTO.split,
    )
    c3.selectbox("Class", CLASSES, key="pick_class", on_change=_on_class, args=(data,), help="Jump to the first image of a class.")
    b1, b2, _ = st.columns([1, 1, 2])
    b1.button(f"Next {CLASSES[label]}", key="next_of_class", on_click=_next_of_class, args=(data,), icon=":material/skip_next:")
    b2.button("Random image", key="random_image", on_click=_random, args=(data,), icon=":material/casino:")
    return st.session_state.selection


def show_image(data: FashionData, ref: ImageRef, width: int = 280) -> None:
    image, label = image_of(data, ref)
    if ref.split == PHOTO.split:
        caption = f"Your photo, as the net sees it: {CLASSES[label]}"
        alt = f"Your photo as a 28 by 28 greyscale picture of {with_article(label)}"
    else:
        caption = f"{'Training' if ref.split == 'train' else 'Test'} image #{ref.index}: {CLASSES[label]}"
        alt = f"Fashion-MNIST {ref.split} image {ref.index}, a greyscale 28 by 28 picture of {with_article(label)}"
    url = png_url(image_png(image)) if ref.split == PHOTO.split else _dataset_png_url(data, data.source, data.origin, ref.split, ref.index)
    st.image(url, width=width, caption=caption, alt=alt)  # PNG: JPEG would blur the pixels


def png_url(png: bytes) -> str:
    """A PNG as a data URL for ``st.image``: the browser gets the picture inside the message, with no file
    for Streamlit to hash, check with Pillow and store, and no second request (docs/performance.md)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@st.cache_resource(show_spinner=False, max_entries=2048)
def _dataset_png_url(_data: FashionData, source: str, origin: str, split: str, index: int) -> str:
    """A dataset image's PNG data URL, encoded once per process (the dataset is the same for every learner).

    ``source`` and ``origin`` name the dataset in the cache key: after ``shared_data`` reads another one (the
    sample, another folder), its images are not served from the old one's entries."""
    return png_url(image_png(_data.image(split, index)[0]))
