"""Progress files: a learner's weights, optimizer state, step history and settings, safe by construction.

One ``.safetensors`` file: every tensor (weights, Adam's buffers, the history's images) in safetensors'
plain binary layout, and everything else as JSON in its header's metadata. Nothing is ever unpickled.
Loading checks the format, the version, the settings, every tensor's name, shape, dtype and finiteness,
and then replays the history from the seed: the file is accepted only when the replay gives exactly the
saved weights, so a tampered history is refused. A refused file never touches the current learner.

Exactly, that is, on a server that computes as the one that saved it. The file records its arithmetic (torch's
version and the CPU kernels it dispatched to, e.g. AVX2 or AVX512): other kernels round differently in the last
bit, and training amplifies that (measured with ATen's kernels forced to DEFAULT against AVX2 on one machine:
after 300 Lesson steps the weights differ by 5 % in L2, after one Modern epoch by 14 %). A file from another
arithmetic cannot be checked against its weights, so it is trained again here, like a link, and loaded with a
note that says so (:func:`loads_with_note`): the learner keeps their history, with this server's numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from fashionnet.learner import MAX_RUN_BATCHES, EpochEval, ImageRef, Learner, RunRecord, RunSpec, StepRecord, StepRefused, data_id
from fashionnet.settings import Settings

if TYPE_CHECKING:
    from fashionnet.data import FashionData

FORMAT = "fashionnet-progress"
VERSION = 1
MAX_BYTES = 5_000_000  # a full progress file of 1,000 steps is ~1.5 MB; .streamlit/config.toml caps uploads at 5 MB
MAX_STEPS = 3_500  # ~1 KB a step: a file of this many steps stays under MAX_BYTES (tests/test_reliability.py checks)
_RECORD_FIELDS = ("label", "optimizer", "lr", "loss_before", "loss_after", "p_true_before", "p_true_after", "update_norm")
_RUN_FIELDS = ("batch_size", "batches", "planned", "seed", "optimizer", "lr", "data", "loss_before", "loss_after", "update_norm", "ended")


def arithmetic() -> str:
    """What decides the last bits of a step here: torch's version and the CPU kernels it dispatches to."""
    return f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()} kernels"


class ProgressError(ValueError):
    """A file that is not a valid progress file of this model; the message says why, for the learner."""


def dumps(learner: Learner) -> bytes:
    """The learner's whole state as the bytes of a progress file."""
    tensors = {f"weights.{k}": v.detach().contiguous() for k, v in learner.net.state_dict().items()}
    for i, state in learner.optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{i}.{key}"] = value.detach().reshape(-1).contiguous() if value.dim() == 0 else value.detach().contiguous()
    steps = [r for r in learner.history if isinstance(r, StepRecord)]
    if steps:
        pixels = [torch.frombuffer(bytearray(r.pixels), dtype=torch.uint8).reshape(28, 28) for r in steps]
        tensors["history.pixels"] = torch.stack(pixels)  # (steps, 28, 28), in history order
    records = []
    for n, r in enumerate(learner.history, start=1):
        if isinstance(r, RunRecord):
            tensors[f"history.losses.{n}"] = r.losses.contiguous()
            evals = [[e.batches, e.epoch, e.train_accuracy, e.test_accuracy] for e in r.evals]
            records.append({"kind": "run", **{f: getattr(r, f) for f in _RUN_FIELDS}, "evals": evals})
        else:
            records.append({"ref": [r.ref.split, r.ref.index] if r.ref else None, **{f: getattr(r, f) for f in _RECORD_FIELDS}})
    meta = {
        "format": FORMAT,
        "version": str(VERSION),
        "settings": json.dumps(learner.settings.__dict__),
        "history": json.dumps(records),
        "cursor": str(learner.cursor),
        "arithmetic": arithmetic(),
    }
    return st_save(tensors, metadata=meta)


def loads(data: bytes, dataset: FashionData | None = None) -> Learner:
    """A new learner exactly as saved; raises :class:`ProgressError` and changes nothing else when the file is bad.

    A file with training runs is checked by training them again, which needs the training set they ran on.
    """
    return loads_with_note(data, dataset)[0]


def loads_with_note(data: bytes, dataset: FashionData | None = None) -> tuple[Learner, str | None]:
    """:func:`loads`, and a note for the learner when the file came from a server with other arithmetic (its
    history was trained again here and could not be checked bit for bit against its weights); else None."""
    if not data:
        raise ProgressError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ProgressError(f"The file is {len(data):,} bytes; a progress file is at most {MAX_BYTES:,}.")
    # A safetensors file starts with its header's length (8 bytes, little-endian) and the header's "{": a length of
    # 0x380 or 0x480 bytes starts with a pickle's magic (80 03, 80 04) too, so the magic alone refused good files.
    # (Nothing is ever unpickled: this only picks the message.)
    looks_like_safetensors = data[8:9] == b"{"
    pickle_or_zip = data[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05") or data[:4] == b"PK\x03\x04"
    if pickle_or_zip and not looks_like_safetensors:
        raise ProgressError("This is a pickle or a zip (for example a torch.save file), not a progress file. It was not opened.")
    meta, tensors = _read(data)
    if meta.get("format") != FORMAT:
        raise ProgressError("This safetensors file is not a FashionNet Lab progress file.")
    version = meta.get("version", "")
    if not version.isdigit() or int(version) != VERSION:
        raise ProgressError(f"This progress file has format version {version[:10]!r}; this app reads version {VERSION}.")
    settings = _settings(meta.get("settings", ""))
    records, cursor = _history(meta, tensors)
    learner = Learner(settings)
    _check_weights(learner, tensors)
    saved_with = meta.get("arithmetic")
    exact = saved_with is None or saved_with == arithmetic()  # (files from before the field: this app's own arithmetic)
    _replay(learner, records, dataset, exact)
    learner.goto(cursor)
    note = None if exact else _other_arithmetic_note(learner, tensors, saved_with)
    if exact:
        _check_state(learner, tensors)
    if dataset is not None:  # a link replays a step from its reference: keep only those that name the very image here
        learner.history = [_dataset_ref(r, dataset) for r in learner.history]
    return learner, note


def _other_arithmetic_note(learner: Learner, tensors: dict[str, torch.Tensor], saved_with) -> str:
    apart = max(float((v - tensors[f"weights.{k}"]).abs().max()) for k, v in learner.net.state_dict().items())
    outcome = "came out exactly the same" if apart == 0 else f"are this server's now (up to {apart:.4g} from the saved ones)"
    return (
        f"It was saved on a server that computes differently ({str(saved_with)[:60]}; this one: {arithmetic()}), so its "
        f"history was trained again here rather than checked bit for bit. Training amplifies last-bit differences: the "
        f"weights {outcome}."
    )


def _check_state(learner: Learner, tensors: dict[str, torch.Tensor]) -> None:
    """The replayed learner's weights and optimizer state are the file's, bit for bit."""
    for k, v in learner.net.state_dict().items():
        if not torch.equal(v, tensors[f"weights.{k}"]):
            raise ProgressError(
                "The file's step history does not reproduce its weights: the file was changed after it was saved, "
                "or saved by a different version of the app."
            )
    saved_opt = {k: v for k, v in tensors.items() if k.startswith("optimizer.")}
    now_opt = {
        f"optimizer.{i}.{key}": value.reshape(-1) if value.dim() == 0 else value
        for i, state in learner.optimizer.state_dict()["state"].items()
        for key, value in state.items()
    }
    if saved_opt.keys() != now_opt.keys() or any(not torch.equal(saved_opt[k], now_opt[k]) for k in saved_opt):
        raise ProgressError("The file's optimizer state does not match its history.")


def _dataset_ref(record: StepRecord | RunRecord, dataset: FashionData) -> StepRecord | RunRecord:
    ref = getattr(record, "ref", None)
    if ref is None or ref.split not in ("train", "test"):
        return record
    if ref.index < dataset.size(ref.split):
        image, label = dataset.image(ref.split, ref.index)
        if label == record.label and image.contiguous().numpy().tobytes() == record.pixels:
            return record
    return replace(record, ref=None)  # from another copy of the data, or edited: the link will say it cannot carry it


_BLEW_UP_HERE = (
    "The file was saved on a server that computes differently, and trained again here its step {n} blows up the weights "
    "(its numbers cannot be reproduced on this server)."
)
_MISMATCH = (
    "The file's step history does not reproduce its weights and numbers: the file was changed after it was saved, "
    "or saved by a different version of the app."
)


def _replay(learner: Learner, records: list[StepRecord | RunRecord], dataset: FashionData | None, exact: bool = True) -> None:
    """Take every recorded step and run again, from the seed, and require the very numbers the file records (only
    the same steps and runs when ``exact`` is false: the file came from other arithmetic)."""
    for record in records:
        if record.optimizer != learner.settings.optimizer or record.lr != learner.settings.lr:
            raise ProgressError(f"Entry {record.number} of the file's history used other settings than the file's own.")
        if isinstance(record, RunRecord):
            if dataset is None or data_id(dataset) != record.data:
                have = "no dataset" if dataset is None else data_id(dataset)
                raise ProgressError(
                    f"The file's training runs cannot be checked here (run {record.number} ran on {record.data}; this server has "
                    f"{have}). Open it on an app with the same Fashion-MNIST data."
                )
            again = learner.train_run(dataset, RunSpec(record.batch_size, record.batches, record.seed))
            same = again is not None and again.batches == record.batches
            same = same and (not exact or (torch.equal(again.losses, record.losses) and again.evals == record.evals))
            same = same and (not exact or again.update_norm == record.update_norm)
            if not same:
                raise ProgressError(_MISMATCH)
            learner.history[-1] = replace(again, planned=record.planned, ended=record.ended, number=record.number)
        else:
            image = torch.frombuffer(bytearray(record.pixels), dtype=torch.uint8).reshape(28, 28)
            try:
                again = learner.train_step(image, record.label, record.ref).record
            except StepRefused as err:
                raise ProgressError(_MISMATCH if exact else _BLEW_UP_HERE.format(n=record.number)) from err
            if exact and again != record:
                raise ProgressError(_MISMATCH)


def _read(data: bytes) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    try:
        tensors = st_load(bytes(data))
        header_len = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, OverflowError, UnicodeDecodeError, AttributeError) as err:
        raise ProgressError(f"This is not a progress file (it could not be read as safetensors: {str(err)[:80]}).") from err
    if not isinstance(meta, dict):
        raise ProgressError("The progress file's header is malformed.")
    return meta, tensors


def _settings(text: str) -> Settings:
    try:
        raw = json.loads(text)
        settings = Settings(**{k: raw[k] for k in ("seed", "activation", "scale_inputs", "optimizer", "lr")})
        return settings.validated()
    except (ValueError, TypeError, KeyError, RecursionError) as err:  # RecursionError: JSON nested thousands deep
        raise ProgressError(f"The progress file's settings are not valid ({str(err)[:80]}).") from err


def _history(meta: dict[str, str], tensors: dict[str, torch.Tensor]) -> tuple[list[StepRecord], int]:
    try:
        raw = json.loads(meta.get("history", "[]"))
        cursor = int(meta.get("cursor", "0"))
    except (ValueError, RecursionError) as err:  # RecursionError: JSON nested thousands deep
        raise ProgressError("The progress file's history is not readable.") from err
    if not isinstance(raw, list) or len(raw) > MAX_STEPS:
        raise ProgressError(f"The progress file's history must be a list of at most {MAX_STEPS:,} steps.")
    if not all(isinstance(item, dict) for item in raw):
        raise ProgressError("The progress file's history is malformed.")
    n_steps = sum(item.get("kind", "step") != "run" for item in raw)
    pixels = tensors.get("history.pixels")
    if n_steps and (pixels is None or pixels.dtype != torch.uint8 or tuple(pixels.shape) != (n_steps, 28, 28)):
        raise ProgressError("The progress file's history images do not match its steps.")
    if not 0 <= cursor <= len(raw):
        raise ProgressError("The progress file's position in its history is out of range.")
    records: list[StepRecord | RunRecord] = []
    for n, item in enumerate(raw, start=1):
        if item.get("kind", "step") == "run":
            records.append(_run(n, item, tensors.get(f"history.losses.{n}")))
            continue
        try:
            ref = _ref(item.get("ref"))
            values = {f: item[f] for f in _RECORD_FIELDS}
            label, lr = int(values["label"]), float(values["lr"])
            floats = {f: float(values[f]) for f in ("loss_before", "loss_after", "p_true_before", "p_true_after", "update_norm")}
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ProgressError(f"Step {n} of the progress file's history is malformed.") from err
        if (
            not 0 <= label < 10
            or not (math.isfinite(lr) and lr > 0)
            or values["optimizer"] not in ("adam", "sgd")
            or not all(math.isfinite(v) and v >= 0 for v in floats.values())  # shown on screen: never NaN or negative
            or not (floats["p_true_before"] <= 1 and floats["p_true_after"] <= 1)
        ):
            raise ProgressError(f"Step {n} of the progress file's history has impossible values.")
        pix = pixels[sum(isinstance(r, StepRecord) for r in records)].contiguous().numpy().tobytes()
        records.append(StepRecord(number=n, ref=ref, pixels=pix, label=label, optimizer=values["optimizer"], lr=lr, **floats))
    return records, cursor


def _ref(raw: object) -> ImageRef | None:
    """A step's image reference (None: not from the dataset); ValueError unless it is a short name and an index ≥ 0."""
    if not raw:
        return None
    split, index = raw  # type: ignore[misc]  # anything but a pair raises ValueError or TypeError
    if not (isinstance(split, str) and len(split) <= 16 and type(index) is int and index >= 0):
        raise ValueError("not an image reference")
    return ImageRef(split, index)


def _run(n: int, item: dict, losses: torch.Tensor | None) -> RunRecord:
    try:
        values = {f: item[f] for f in _RUN_FIELDS}
        ints = {f: int(values[f]) for f in ("batch_size", "batches", "planned", "seed")}
        floats = {f: float(values[f]) for f in ("lr", "loss_before", "loss_after", "update_norm")}
        evals = tuple(EpochEval(int(e[0]), float(e[1]), float(e[2]), float(e[3])) for e in item["evals"])
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ProgressError(f"Entry {n} of the progress file's history (a training run) is malformed.") from err
    if (
        not (1 <= ints["batch_size"] <= 1024 and 1 <= ints["batches"] <= MAX_RUN_BATCHES and 0 <= ints["seed"] < 2**62)
        or not (math.isfinite(floats["lr"]) and floats["lr"] > 0)
        or values["optimizer"] not in ("adam", "sgd")
        or values["ended"] not in ("done", "stopped", "refused")
        or not isinstance(values["data"], str)
        or losses is None
        or losses.dtype != torch.float32
        or tuple(losses.shape) != (ints["batches"],)
    ):
        raise ProgressError(f"Entry {n} of the progress file's history (a training run) has impossible values.")
    return RunRecord(
        number=n,
        optimizer=values["optimizer"],
        data=values["data"][:40],
        ended=values["ended"],
        losses=losses,
        evals=evals,
        **ints,
        **floats,
    )


def _check_weights(fresh: Learner, tensors: dict[str, torch.Tensor]) -> None:
    expected = fresh.net.state_dict()
    weights = {k[len("weights.") :]: v for k, v in tensors.items() if k.startswith("weights.")}
    if weights.keys() != expected.keys():
        raise ProgressError("The progress file is for a different network (its layers are not W1..W4 of 784-64-64-64-10).")
    for k, v in weights.items():
        if v.shape != expected[k].shape or v.dtype != expected[k].dtype:
            raise ProgressError(
                f"The progress file is for a different network: its {k} is {tuple(v.shape)}, this one's {tuple(expected[k].shape)}."
            )
        if not bool(torch.isfinite(v).all()):
            raise ProgressError(f"The progress file's {k} holds NaN or infinite values.")
