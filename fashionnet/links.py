"""What a link's URL parameters mean, read defensively: anything odd falls back to a safe value with a note.

A link carries the selected image (``?split=test&index=42``), the settings that differ from the Lesson
preset (``seed``, ``act``, ``scale``, ``opt``, ``lr``) and the steps taken (``steps=t0.t5.e12``, where
``r64x938x7`` is a training run of 938 batches of 64 shuffled with seed 7), so that opening it replays
the learner's exact weights. One parser per parameter, never an exception, a
short notice per problem.
"""

from __future__ import annotations

from collections.abc import Mapping

from fashionnet.learner import MAX_RUN_BATCHES, ImageRef, RunRecord, RunSpec, StepRecord
from fashionnet.report import count
from fashionnet.settings import ACTIVATIONS, LESSON, OPTIMIZERS, Settings

MAX_PARAM_CHARS = 40  # longer than any valid value; longer ones are not echoed back to the page


def _shown(value: str) -> str:
    """A link's value quoted for a notice: one code span on one line, so nothing in it renders as markdown."""
    if not value:
        return "(empty)"
    value = value if len(value) <= MAX_PARAM_CHARS else value[:MAX_PARAM_CHARS] + "…"
    # A line break would end the code span and let the rest render (a link, a heading); a bidi control
    # would reorder the notice's own words.
    value = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in value)
    return "`" + value.replace("`", "'") + "`"


def parse_selection(params: Mapping[str, str | list[str]], sizes: Mapping[str, int]) -> tuple[ImageRef, list[str]]:
    """The image a link asks for, and notices for any parameter that had to be ignored."""
    notices: list[str] = []
    split = _one(params, "split")
    if split is None:
        split = "train"
    elif split not in sizes:
        notices.append(f"The link's image set {_shown(split)} is not one of {', '.join(sizes)}; showing the training set.")
        split = "train"
    raw = _one(params, "index")
    index = 0
    if raw is not None:
        text = raw.strip()
        negative = text.startswith("-") and text[1:].isascii() and text[1:].isdigit()
        if negative:
            last = sizes[split] - 1
            notices.append(f"The link's image index {_shown(raw)} is below 0: {split} images are 0 to {last:,}; showing image 0.")
        elif not (text.isascii() and text.isdigit()):
            notices.append(f"The link's image index {_shown(raw)} is not a whole number; showing image 0.")
        elif len(text) > 9 or int(text) >= sizes[split]:  # (a long run of digits is shown as it is, not converted)
            asked = f"{int(text):,}" if len(text) <= 9 else _shown(raw)
            notices.append(f"The link asks for {split} image {asked}, but that set has images 0 to {sizes[split] - 1:,}; showing image 0.")
        else:
            index = int(text)
    return ImageRef(split, index), notices


MAX_LINK_STEPS = 300  # about 2,000 characters of URL; longer histories travel as progress files
_SPLIT_CODES = {"train": "t", "test": "e"}
_SETTING_PARAMS = ("seed", "act", "scale", "opt", "lr")


def _one(params: Mapping[str, str | list[str]], name: str) -> str | None:
    """A parameter's value; for ?index=1&index=2 the last one, as browsers' forms do."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    return value


def parse_settings(params: Mapping[str, str | list[str]]) -> tuple[Settings, list[str]]:
    """The settings a link asks for (Lesson defaults for what it leaves out), and notices for bad values."""
    notices: list[str] = []
    values = LESSON.__dict__.copy()
    raw = {name: _one(params, name) for name in _SETTING_PARAMS}
    parsers = {
        "seed": ("seed", lambda v: int(v) if v.isascii() and v.isdigit() and len(v) <= 10 else None),
        "act": ("activation", lambda v: v if v in ACTIVATIONS else None),
        "scale": ("scale_inputs", lambda v: {"0": False, "1": True}.get(v)),
        "opt": ("optimizer", lambda v: v if v in OPTIMIZERS else None),
        "lr": ("lr", _float_or_none),
    }
    for name, text in raw.items():
        if text is None:
            continue
        field, parse = parsers[name]
        value = parse(text.strip())
        try:
            if value is None:
                raise ValueError(name)
            values = Settings(**{**values, field: value}).validated().__dict__.copy()
        except ValueError:
            notices.append(f"The link's {name} {_shown(text)} is not valid; using {_setting_words(field, values[field])}.")
    return Settings(**values), notices


def _setting_words(field: str, value: object) -> str:
    """A setting's value as the sidebar says it (inputs 0–1 or 0–255 (raw), the optimizer by its name)."""
    if field == "scale_inputs":
        return "inputs 0–1" if value else "inputs 0–255 (raw)"
    if field == "optimizer":
        return {"adam": "Adam", "sgd": "SGD"}.get(str(value), str(value))
    if field == "lr":
        return f"{value:g}"
    return str(value)


def _float_or_none(text: str) -> float | None:
    if len(text) > 24:
        return None
    try:
        return float(text)
    except ValueError:
        return None


# Replaying a link's training runs: ~40 s at most on the 2-core machine's better days, 87 s measured for one
# 18,760-batch run on a slow one (seventh session); the spinner shows the time spent.
MAX_LINK_BATCHES = 2 * MAX_RUN_BATCHES


def _digits(text: str, most: int) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= most else None


def _run_spec(text: str) -> RunSpec | None:
    parts = text.split("x")
    if len(parts) != 3:
        return None
    batch, batches, seed = _digits(parts[0], 4), _digits(parts[1], 6), _digits(parts[2], 15)
    if batch is None or batches is None or seed is None or not (1 <= batch <= 1024 and 1 <= batches <= MAX_RUN_BATCHES):
        return None
    return RunSpec(batch, batches, seed)


def parse_steps(params: Mapping[str, str | list[str]], sizes: Mapping[str, int]) -> tuple[list[ImageRef | RunSpec], list[str]]:
    """The steps a link replays: ``t12.e5.r64x100x3`` is training image 12, test image 5, then a 100-batch run."""
    text = _one(params, "steps")
    if not text:
        return [], []
    parts = text.split(".")
    if len(parts) > MAX_LINK_STEPS:
        return [], [f"The link carries {len(parts):,} steps; links replay at most {MAX_LINK_STEPS}. Use a progress file instead."]
    codes = {v: k for k, v in _SPLIT_CODES.items()}
    steps: list[ImageRef | RunSpec] = []
    for part in parts:
        if part[:1] == "r" and (spec := _run_spec(part[1:])) is not None:
            steps.append(spec)
            continue
        split, number = codes.get(part[:1]), _digits(part[1:], 6)
        if split is None or number is None or number >= sizes[split]:
            return [], [f"The link's steps are not valid (at {_shown(part)}); starting from the seed with no steps."]
        steps.append(ImageRef(split, number))
    if sum(s.batches for s in steps if isinstance(s, RunSpec)) > MAX_LINK_BATCHES:
        return [], [f"The link's training runs add up to more than {MAX_LINK_BATCHES:,} batches; use a progress file instead."]
    return steps, []


def _token(record: StepRecord | RunRecord) -> str | None:
    if isinstance(record, RunRecord):
        return f"r{record.batch_size}x{record.batches}x{record.seed}"
    return f"{_SPLIT_CODES[record.ref.split]}{record.ref.index}" if record.ref and record.ref.split in _SPLIT_CODES else None


def link_params(selection: ImageRef, settings: Settings, records: list[StepRecord | RunRecord]) -> tuple[dict[str, str], str | None]:
    """URL parameters that rebuild this state anywhere, and a notice when the steps cannot travel in a link."""
    params = {"split": selection.split, "index": str(selection.index)} if selection.split in _SPLIT_CODES else {}
    shown = {
        "seed": str(settings.seed),
        "act": settings.activation,
        "scale": "1" if settings.scale_inputs else "0",
        "opt": settings.optimizer,
        "lr": repr(settings.lr),  # repr round-trips a float exactly
    }
    for name, field in zip(_SETTING_PARAMS, ("seed", "activation", "scale_inputs", "optimizer", "lr"), strict=True):
        if getattr(settings, field) != getattr(LESSON, field):
            params[name] = shown[name]
    if not records:
        return params, None
    # A step reruns this two or three times (the callback and the sidebar's fragments): a history too long for a
    # link is told without making a token for each of its (up to 3,500) entries.
    too_many = len(records) > MAX_LINK_STEPS or sum(r.batches for r in records if isinstance(r, RunRecord)) > MAX_LINK_BATCHES
    tokens = [] if too_many else [_token(r) for r in records]
    if too_many or None in tokens:
        why = "too many for a link" if too_many else "some were taken on your own photo, which a link cannot carry"
        holds = "settings and image" if "split" in params else "settings"
        return params, f"The link holds your {holds}, not your {count(len(records), 'history entry')} ({why}): save a progress file."
    params["steps"] = ".".join(tokens)
    return params, None


KNOWN_PARAMS = ("split", "index", *_SETTING_PARAMS, "steps", "lesson", "present", "pin")  # every parameter the app reads
# Added by the sites a link is shared on; ignored without a word.
_TRACKING_PARAMS = ("fbclid", "gclid", "msclkid", "igshid")


def parse_extras(params: Mapping[str, str | list[str]]) -> list[str]:
    """Notices for parameters the app does not read and for parameters a link gives more than once."""
    unknown = [k for k in params if k not in KNOWN_PARAMS and k not in _TRACKING_PARAMS and not k.startswith("utm_")]
    notices = []
    if unknown:
        names = ", ".join(_shown(k) for k in unknown[:3]) + (f" and {len(unknown) - 3:,} more" if len(unknown) > 3 else "")
        notices.append(f"The link's {names} {'is not a parameter' if len(unknown) == 1 else 'are not parameters'} of this app; ignored.")
    for name in KNOWN_PARAMS:
        values = params.get(name)
        if isinstance(values, list) and len(values) > 1:
            notices.append(f"The link gives {_shown(name)} {len(values):,} times; using the last one, {_shown(values[-1])}.")
    return notices


def parse_lesson_step(params: Mapping[str, str | list[str]], cells: int) -> tuple[int, list[str]]:
    """The Lesson page's step a link opens at (0 when absent or odd)."""
    text = _one(params, "lesson")
    if text is None:
        return 0, []
    if text.isascii() and text.isdigit() and len(text) <= 3 and int(text) < cells:
        return int(text), []
    return 0, [f"The link's lesson step {_shown(text)} is not one of 0 to {cells - 1}; starting at the beginning."]


def parse_presenter(params: Mapping[str, str | list[str]]) -> tuple[bool, tuple[int, int] | None, list[str]]:
    """Presenter mode (``present=1``) and a pinned W3 entry (``pin=row,column``) from a link."""
    notices = []
    present = _one(params, "present")
    on = present == "1"
    if present not in (None, "0", "1"):
        notices.append(f"The link's present {_shown(present)} is not 0 or 1; presenter mode is off.")
    pin_text = _one(params, "pin")
    pin = None
    if pin_text is not None:
        parts = pin_text.split(",")
        if len(parts) == 2 and all(p.isascii() and p.isdigit() and len(p) <= 2 and int(p) < 64 for p in parts):
            pin = (int(parts[0]), int(parts[1]))
        else:
            notices.append(f"The link's pin {_shown(pin_text)} is not a W3 entry (row,column from 0 to 63); nothing is pinned.")
    return on, pin, notices
