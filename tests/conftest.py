"""Shared fixtures: the real data folder, a private cache folder, and tiny IDX files the tests write."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "fashion-mnist"

# Tests and CI read the real data from the shared folder unless told otherwise, and never touch the
# user's own cache folder.
os.environ.setdefault("FASHIONNET_DATA_DIR", str(SHARED_DATA))
os.environ.setdefault("FASHIONNET_CACHE_DIR", str(ROOT / ".cache" / "test-cache"))
os.environ.setdefault("FASHIONNET_OFFLINE", "1")
# Show the real error in AppTest failures (the app itself hides details from learners).
os.environ.setdefault("STREAMLIT_CLIENT_SHOW_ERROR_DETAILS", "full")


@pytest.fixture(scope="session")
def real_data():
    """The full Fashion-MNIST, read once for the whole test run."""
    folder = Path(os.environ["FASHIONNET_DATA_DIR"])
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {folder} (set FASHIONNET_DATA_DIR to the folder with the four .gz files)")
    from fashionnet.data import read_gz_folder

    return read_gz_folder(folder, os.environ["FASHIONNET_CACHE_DIR"])


def write_idx(path: Path, items: list[list[int]] | list[int], dims: tuple[int, ...], *, magic: int | None = None, gz: bool = True) -> Path:
    """Write an IDX file (uint8) the way the official files are written: big-endian header, then bytes."""
    ndim = len(dims)
    magic = (0x08 << 8 | ndim) if magic is None else magic
    flat = bytes(v for item in items for v in (item if isinstance(item, list) else [item]))
    data = struct.pack(">I", magic) + struct.pack(f">{ndim}I", *dims) + flat
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """Four valid tiny Fashion-MNIST files: 3 training and 2 test images of 28x28."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    train = [[(i * 7 + k) % 256 for k in range(784)] for i in range(3)]
    test = [[(i * 11 + k) % 256 for k in range(784)] for i in range(2)]
    write_idx(folder / "train-images-idx3-ubyte.gz", train, (3, 28, 28))
    write_idx(folder / "train-labels-idx1-ubyte.gz", [9, 0, 3], (3,))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", test, (2, 28, 28))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", [2, 7], (2,))
    return folder


@pytest.fixture(scope="session")
def browser():
    """One Chromium for every browser test of the session (Playwright's sync API allows one per thread)."""
    from browser_support import chromium, missing_browser_reason

    reason = missing_browser_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run under CI=true: {reason}")
        pytest.skip(reason)
    with chromium() as b:
        yield b


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> str:
    """One private FASHIONNET_CACHE_DIR for every server of this test session."""
    return str(tmp_path_factory.mktemp("fashionnet-cache"))


def pytest_terminal_summary(terminalreporter) -> None:
    """Say where the browser tests left their screenshots, so CI's log points at them."""
    folder = Path(os.environ.get("FASHIONNET_SCREENSHOT_DIR", ROOT / ".artifacts" / "screenshots"))
    shots = sorted(folder.rglob("*.png")) if folder.is_dir() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots: {folder} ({len(shots)} PNG files)")


def learner_state(learner) -> dict:
    """A learner's weights and every optimizer buffer, cloned, for bit-for-bit comparisons."""
    out = {f"w.{k}": v.clone() for k, v in learner.net.state_dict().items()}
    for i, state in learner.optimizer.state_dict()["state"].items():
        out |= {f"o.{i}.{k}": v.clone() for k, v in state.items()}
    return out


def same_state(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
