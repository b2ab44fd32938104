"""Fashion-MNIST for the lab: find the four official IDX files, read them with torchvision, check them.

Where the data comes from, in order:

1. ``FASHIONNET_DATA_DIR``: a folder holding the four official ``.gz`` files (as
   ``../shared/data/fashion-mnist/`` does). It is only read, never written: the files are
   decompressed into our cache folder, once, and torchvision's IDX readers read them there.
2. The cache folder (``FASHIONNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/fashionnet``, else
   ``~/.cache/fashionnet``), where torchvision's ``FashionMNIST(download=True)`` leaves the files.
3. A download by torchvision into that cache folder, when the machine has network.

When none of these gives the full set, :func:`load_fashion_mnist` falls back to the small sample
bundled in ``fashionnet/sample/`` and says why in :attr:`FashionData.notice`, so the app always starts.
Every problem with a file raises :class:`DataError`, whose message names the file and the fix.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.datasets import FashionMNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

CLASSES: tuple[str, ...] = tuple(FashionMNIST.classes)
SPLITS = ("train", "test")
# The official file names, in torchvision's order: train images, train labels, test images, test labels.
FILE_NAMES: tuple[str, ...] = tuple(name for name, _md5 in FashionMNIST.resources)
SAMPLE_DIR = Path(__file__).parent / "sample"
FIX_HINT = "FASHIONNET_DATA_DIR=/path/to/fashion-mnist streamlit run app.py"


class DataError(Exception):
    """A Fashion-MNIST file is missing, truncated or not what it claims to be."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{path}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class FashionData:
    """The images and labels of both splits, shared read-only by every learner of a process."""

    train_images: torch.Tensor  # (60000, 28, 28) uint8, or (2000, 28, 28) for the sample
    train_labels: torch.Tensor  # (60000,) int64
    test_images: torch.Tensor  # (10000, 28, 28) uint8
    test_labels: torch.Tensor  # (10000,) int64
    source: str  # "full" or "sample"
    origin: str  # the folder the files were read from, for the "data" line in the sidebar
    notice: str | None = None  # why the sample is in use, with the one-line fix

    def size(self, split: str) -> int:
        return len(self._labels(split))

    def image(self, split: str, index: int) -> tuple[torch.Tensor, int]:
        """One image (28, 28) uint8 and its label; raises IndexError outside the split."""
        labels = self._labels(split)
        if not 0 <= index < len(labels):
            raise IndexError(f"{split} has images 0 to {len(labels) - 1}, not {index}")
        images = self.train_images if split == "train" else self.test_images
        return images[index], int(labels[index])

    def indices_of_class(self, split: str, label: int) -> torch.Tensor:
        return torch.nonzero(self._labels(split) == label).flatten()

    def _labels(self, split: str) -> torch.Tensor:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        return self.train_labels if split == "train" else self.test_labels


def default_cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("FASHIONNET_CACHE_DIR"):
        return Path(env["FASHIONNET_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fashionnet"


def read_gz_folder(folder: Path | str, cache_dir: Path | str, source: str = "full") -> FashionData:
    """Read the four official ``.gz`` files of ``folder`` without writing into it.

    Each file is decompressed once into ``cache_dir`` (keyed by the folder, and redone when a file's
    size or time changes), then read by torchvision's own IDX readers and checked.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            folder,
            "no such folder",
            f"point FASHIONNET_DATA_DIR at the folder that holds {FILE_NAMES[0]} and the three other official files",
        )
    target = _writable(Path(cache_dir)) / "extracted" / hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]
    raw = [_decompressed(folder / name, target) for name in FILE_NAMES]
    return _checked(raw, source=source, origin=str(folder), gz_names=[folder / n for n in FILE_NAMES])


def read_torchvision_cache(cache_dir: Path | str, download: bool) -> FashionData:
    """Read the dataset where torchvision keeps it (``<cache>/FashionMNIST/raw``), downloading if asked."""
    root = Path(cache_dir)
    try:
        train = FashionMNIST(root=str(root), train=True, download=download)
    except (RuntimeError, OSError, ValueError) as err:  # no files and no network, or a broken download
        raise DataError(
            root / "FashionMNIST" / "raw",
            f"torchvision could not provide the data ({_first_line(err)})",
            f"run with network once, or {FIX_HINT}",
        ) from err
    raw_folder = Path(train.raw_folder)
    raw = [raw_folder / Path(name).stem for name in FILE_NAMES]
    return _checked(raw, source="full", origin=str(raw_folder), gz_names=raw)


def load_fashion_mnist(env: Mapping[str, str] = os.environ, allow_download: bool = True) -> FashionData:
    """The dataset from the first place that has it (see the module docstring), else the bundled sample."""
    cache = default_cache_dir(env)
    data_dir = env.get("FASHIONNET_DATA_DIR", "").strip()
    if data_dir:
        try:
            return read_gz_folder(data_dir, cache)
        except DataError as err:
            return _sample(cache, f"FASHIONNET_DATA_DIR is set, but {err}")
    try:
        return read_torchvision_cache(cache, download=allow_download and env.get("FASHIONNET_OFFLINE", "") != "1")
    except DataError as err:
        return _sample(cache, f"The full dataset is not on this machine ({err.problem}). Fix: {FIX_HINT}")


def _sample(cache: Path, why: str) -> FashionData:
    data = read_gz_folder(SAMPLE_DIR, cache, source="sample")
    notice = (
        f"Running on the bundled sample ({data.size('train'):,} training and {data.size('test'):,} test images), "
        f"not the full Fashion-MNIST. {why}"
    )
    return FashionData(**{**data.__dict__, "notice": notice})


def _writable(cache: Path) -> Path:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache):
            return cache
    except OSError:  # a read-only home (some hosted runtimes): fall back to the temp folder
        fallback = Path(tempfile.gettempdir()) / f"fashionnet-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _decompressed(gz_path: Path, target: Path) -> Path:
    """``gz_path`` decompressed into ``target`` (reused when the source is unchanged)."""
    fix = f"copy the official {gz_path.name} into {gz_path.parent} again (its MD5 is in the dataset README)"
    if not gz_path.is_file():
        raise DataError(gz_path, "file is missing", fix)
    stat = gz_path.stat()
    stamp = {"source": str(gz_path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    out = target / gz_path.stem
    stamp_path = target / (gz_path.stem + ".source.json")
    if out.is_file() and stamp_path.is_file():
        try:
            if json.loads(stamp_path.read_text()) == stamp:
                return out
        except (OSError, ValueError):
            pass  # an unreadable stamp: decompress again
    target.mkdir(parents=True, exist_ok=True)
    # Decompress to a temporary name and rename, so two processes starting at once never read half a file.
    fd, tmp = tempfile.mkstemp(dir=target, prefix=gz_path.stem + ".", suffix=".part")
    try:
        with gzip.open(gz_path, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
        os.replace(tmp, out)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataError(gz_path, f"truncated or not a gzip file ({_first_line(err)})", fix) from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    stamp_path.write_text(json.dumps(stamp))
    return out


def _checked(raw: list[Path], source: str, origin: str, gz_names: list[Path]) -> FashionData:
    """Read the four decompressed files with torchvision's readers and check they fit together."""
    tensors = []
    for path, shown, reader in zip(raw, gz_names, (read_image_file, read_label_file) * 2, strict=True):
        kind = "image" if reader is read_image_file else "label"
        fix = f"replace {Path(shown).name} with the official file (its MD5 is in the dataset README)"
        try:
            tensor = reader(str(path))
        except (AssertionError, RuntimeError, ValueError, TypeError, KeyError, IndexError) as err:
            raise DataError(shown, f"not a valid IDX {kind} file ({_first_line(err) or 'bad header'})", fix) from err
        if kind == "image" and tuple(tensor.shape[1:]) != (28, 28):
            raise DataError(shown, f"images are {tuple(tensor.shape[1:])}, not 28x28", fix)
        if kind == "label" and len(tensor) and int(tensor.max()) >= len(CLASSES):
            raise DataError(shown, f"has label {int(tensor.max())}; Fashion-MNIST labels are 0 to 9", fix)
        tensors.append(tensor)
    for images, labels, i in ((tensors[0], tensors[1], 1), (tensors[2], tensors[3], 3)):
        if len(images) != len(labels) or len(images) == 0:
            raise DataError(
                gz_names[i],
                f"has {len(labels):,} labels for {len(images):,} images in {Path(gz_names[i - 1]).name}",
                "use the four official files together",
            )
    return FashionData(
        train_images=tensors[0],
        train_labels=tensors[1].long(),
        test_images=tensors[2],
        test_labels=tensors[3].long(),
        source=source,
        origin=origin,
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
