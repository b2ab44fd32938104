"""Progress files: a learner's weights, optimizer state, step history and settings, safe by construction.

One ``.safetensors`` file: every tensor (weights, Adam's buffers, the history's images) in safetensors'
plain binary layout, and everything else as JSON in its header's metadata. Nothing is ever unpickled.
Loading checks the format, the version, the settings, every tensor's name, shape, dtype and finiteness,
and then replays the history from the seed: the file is accepted only when the replay gives exactly the
saved weights, so a tampered history is refused. A refused file never touches the current learner.
"""

from __future__ import annotations

import json
import math

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from fashionnet.learner import ImageRef, Learner, StepRecord
from fashionnet.settings import Settings

FORMAT = "fashionnet-progress"
VERSION = 1
MAX_BYTES = 5_000_000  # a full progress file of 1,000 steps is ~1.5 MB; .streamlit/config.toml caps uploads at 5 MB
MAX_STEPS = 5_000
_RECORD_FIELDS = ("label", "optimizer", "lr", "loss_before", "loss_after", "p_true_before", "p_true_after", "update_norm")


class ProgressError(ValueError):
    """A file that is not a valid progress file of this model; the message says why, for the learner."""


def dumps(learner: Learner) -> bytes:
    """The learner's whole state as the bytes of a progress file."""
    tensors = {f"weights.{k}": v.detach().contiguous() for k, v in learner.net.state_dict().items()}
    for i, state in learner.optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{i}.{key}"] = value.detach().reshape(-1).contiguous() if value.dim() == 0 else value.detach().contiguous()
    if learner.history:
        pixels = [torch.frombuffer(bytearray(r.pixels), dtype=torch.uint8).reshape(28, 28) for r in learner.history]
        tensors["history.pixels"] = torch.stack(pixels)  # (N, 28, 28)
    records = [
        {"ref": [r.ref.split, r.ref.index] if r.ref else None, **{f: getattr(r, f) for f in _RECORD_FIELDS}} for r in learner.history
    ]
    meta = {
        "format": FORMAT,
        "version": str(VERSION),
        "settings": json.dumps(learner.settings.__dict__),
        "history": json.dumps(records),
        "cursor": str(learner.cursor),
    }
    return st_save(tensors, metadata=meta)


def loads(data: bytes) -> Learner:
    """A new learner exactly as saved; raises :class:`ProgressError` and changes nothing else when the file is bad."""
    if not data:
        raise ProgressError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ProgressError(f"The file is {len(data):,} bytes; a progress file is at most {MAX_BYTES:,}.")
    if data[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05") or data[:4] == b"PK\x03\x04":
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
    learner.history = records
    learner.goto(len(records))  # replays from the seed, keyframes and all
    learner.goto(cursor)
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
    return learner


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
    except (ValueError, TypeError, KeyError) as err:
        raise ProgressError(f"The progress file's settings are not valid ({err}).") from err


def _history(meta: dict[str, str], tensors: dict[str, torch.Tensor]) -> tuple[list[StepRecord], int]:
    try:
        raw = json.loads(meta.get("history", "[]"))
        cursor = int(meta.get("cursor", "0"))
    except ValueError as err:
        raise ProgressError("The progress file's history is not readable.") from err
    if not isinstance(raw, list) or len(raw) > MAX_STEPS:
        raise ProgressError(f"The progress file's history must be a list of at most {MAX_STEPS:,} steps.")
    pixels = tensors.get("history.pixels")
    if raw and (pixels is None or pixels.dtype != torch.uint8 or tuple(pixels.shape) != (len(raw), 28, 28)):
        raise ProgressError("The progress file's history images do not match its steps.")
    if not 0 <= cursor <= len(raw):
        raise ProgressError("The progress file's position in its history is out of range.")
    records = []
    for n, item in enumerate(raw, start=1):
        try:
            ref = ImageRef(str(item["ref"][0]), int(item["ref"][1])) if item.get("ref") else None
            values = {f: item[f] for f in _RECORD_FIELDS}
            label, lr = int(values["label"]), float(values["lr"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ProgressError(f"Step {n} of the progress file's history is malformed.") from err
        if not 0 <= label < 10 or not (math.isfinite(lr) and lr > 0) or values["optimizer"] not in ("adam", "sgd"):
            raise ProgressError(f"Step {n} of the progress file's history has impossible values.")
        floats = {f: float(values[f]) for f in ("loss_before", "loss_after", "p_true_before", "p_true_after", "update_norm")}
        pix = pixels[n - 1].contiguous().numpy().tobytes()
        records.append(StepRecord(number=n, ref=ref, pixels=pix, label=label, optimizer=values["optimizer"], lr=lr, **floats))
    return records, cursor


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
