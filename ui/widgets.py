"""Small widget helpers shared by pages: the image picker and the large image view."""

from __future__ import annotations

import random

import streamlit as st

from fashionnet.data import CLASSES, FashionData
from fashionnet.learner import ImageRef
from fashionnet.report import image_png, with_article


def _select(ref: ImageRef) -> None:
    st.session_state.selection = ref


def _on_split(data: FashionData) -> None:
    split = st.session_state.pick_split
    index = st.session_state.selection.index
    _select(ImageRef(split, index if index < data.size(split) else 0))


def _on_index() -> None:
    _select(ImageRef(st.session_state.selection.split, int(st.session_state.pick_index)))


def _on_class(data: FashionData) -> None:
    split = st.session_state.selection.split
    _select(ImageRef(split, int(data.indices_of_class(split, CLASSES.index(st.session_state.pick_class))[0])))


def _next_of_class(data: FashionData) -> None:
    sel = st.session_state.selection
    _, label = data.image(sel.split, sel.index)
    same = data.indices_of_class(sel.split, label)
    later = same[same > sel.index]
    _select(ImageRef(sel.split, int(later[0] if len(later) else same[0])))


def _random(data: FashionData) -> None:
    split = st.session_state.selection.split
    _select(ImageRef(split, random.randrange(data.size(split))))


def pick_image(data: FashionData) -> ImageRef:
    """Choose an image by set and index, by class, or at random; the choice carries over between pages."""
    sel: ImageRef = st.session_state.selection
    _, label = data.image(sel.split, sel.index)
    # The widgets show the selection, whichever page or control changed it last.
    st.session_state.pick_split, st.session_state.pick_index, st.session_state.pick_class = sel.split, sel.index, CLASSES[label]
    c1, c2, c3 = st.columns([1, 1, 1.3], vertical_alignment="bottom")
    c1.radio(
        "Image set",
        ["train", "test"],
        key="pick_split",
        horizontal=True,
        on_change=_on_split,
        args=(data,),
        format_func={"train": "Training", "test": "Test"}.get,
    )
    c2.number_input(f"Index (0–{data.size(sel.split) - 1:,})", 0, data.size(sel.split) - 1, step=1, key="pick_index", on_change=_on_index)
    c3.selectbox("Class", CLASSES, key="pick_class", on_change=_on_class, args=(data,), help="Jump to the first image of a class.")
    b1, b2, _ = st.columns([1, 1, 2])
    b1.button(f"Next {CLASSES[label]}", key="next_of_class", on_click=_next_of_class, args=(data,), icon=":material/skip_next:")
    b2.button("Random image", key="random_image", on_click=_random, args=(data,), icon=":material/casino:")
    return st.session_state.selection


def show_image(data: FashionData, ref: ImageRef, width: int = 280) -> None:
    image, label = data.image(ref.split, ref.index)
    st.image(
        image_png(image),
        width=width,
        caption=f"{'Training' if ref.split == 'train' else 'Test'} image #{ref.index}: {CLASSES[label]}",
        output_format="PNG",  # JPEG would blur the 28x28 pixels the learner should see
        alt=f"Fashion-MNIST {ref.split} image {ref.index}, a greyscale 28 by 28 picture of {with_article(label)}",
    )
