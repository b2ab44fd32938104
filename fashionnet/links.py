"""What a link's URL parameters mean, read defensively: anything odd falls back to a safe value with a note.

Today a link carries the selected image (``?split=test&index=42``); the learner's settings and steps
will follow the same rules (one parser per parameter, never an exception, a short notice per problem).
"""

from __future__ import annotations

from collections.abc import Mapping

from fashionnet.learner import ImageRef

MAX_PARAM_CHARS = 40  # longer than any valid value; longer ones are not echoed back to the page


def _shown(value: str) -> str:
    value = value if len(value) <= MAX_PARAM_CHARS else value[:MAX_PARAM_CHARS] + "…"
    return "`" + value.replace("`", "'") + "`"


def parse_selection(params: Mapping[str, str | list[str]], sizes: Mapping[str, int]) -> tuple[ImageRef, list[str]]:
    """The image a link asks for, and notices for any parameter that had to be ignored."""
    notices: list[str] = []

    def one(name: str) -> str | None:
        value = params.get(name)
        if isinstance(value, list):  # ?index=1&index=2: take the last, as browsers' forms do
            value = value[-1] if value else None
        return value

    split = one("split")
    if split is None:
        split = "train"
    elif split not in sizes:
        notices.append(f"The link's image set {_shown(split)} is not one of {', '.join(sizes)}; showing the training set.")
        split = "train"
    raw = one("index")
    index = 0
    if raw is not None:
        text = raw.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            notices.append(f"The link's image index {_shown(raw)} is not a whole number; showing image 0.")
        elif int(text) >= sizes[split]:
            notices.append(
                f"The link asks for {split} image {int(text):,}, but that set has images 0 to {sizes[split] - 1:,}; showing image 0."
            )
        else:
            index = int(text)
    return ImageRef(split, index), notices
