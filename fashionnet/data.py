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

Start-up: torchvision is imported only to read the files the first time (its import costs ~2 s and
~180 MB per process, as it pulls in ``torch._dynamo``). What it decoded is kept in the cache folder as
raw uint8 files beside a manifest (``decoded/<key>/manifest.json``: size and SHA-256 of every source
file and of every cached array, and each array's shape). Later starts check all of it and load the
arrays with NumPy, without importing torchvision; anything that does not match (a changed source, a
truncated, edited or missing cache file, a broken manifest) is read again by torchvision and the cache
rewritten. Nothing here is ever unpickled. :func:`start_early_load` reads the dataset in a background
thread while the server starts (``ui/warmup.py``); :func:`load_early_or_now` hands its result over once.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import zlib
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# torchvision's FashionMNIST.classes and the file names of FashionMNIST.resources, written out so that
# importing this module does not import torchvision (tests/test_data.py checks they are the same).
CLASSES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = ("train", "test")
# The official file names, in torchvision's order: train images, train labels, test images, test labels.
FILE_NAMES: tuple[str, ...] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# The cached arrays, in the same order as FILE_NAMES (raw uint8, C order; the shape is in the manifest).
CACHE_NAMES: tuple[str, ...] = ("train-images.u8", "train-labels.u8", "test-images.u8", "test-labels.u8")
CACHE_FORMAT = "fashionnet-decoded-1"
_LOG = logging.getLogger(__name__)
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

    The first time, each file is decompressed into ``cache_dir`` (keyed by the folder, and redone when a
    file changes), read by torchvision's own IDX readers and checked; what they decoded is kept in
    ``cache_dir`` (see the module docstring) and loaded from there while the ``.gz`` files are the same.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            folder,
            "no such folder",
            f"point FASHIONNET_DATA_DIR at the folder that holds {FILE_NAMES[0]} and the three other official files",
        )
    gz_paths = [folder / name for name in FILE_NAMES]
    for path in gz_paths:
        if not path.is_file():
            raise DataError(path, "file is missing", _gz_fix(path))
    cache = _writable(Path(cache_dir))
    key = _folder_key(folder)
    try:
        digests = _digests(gz_paths)
    except OSError as err:
        raise DataError(folder, f"a file cannot be read ({_first_line(err)})", f"make the four files readable, or {FIX_HINT}") from err
    decoded = cache / "decoded" / key
    if (hit := _load_decoded(decoded, gz_paths, digests, source=source, origin=str(folder))) is not None:
        return hit
    target = cache / "extracted" / key
    raw = [_decompressed(path, target, digest) for path, digest in zip(gz_paths, digests, strict=True)]
    data = _checked(raw, source=source, origin=str(folder), gz_names=gz_paths)
    _save_decoded(decoded, gz_paths, digests, data)
    return data


def read_torchvision_cache(cache_dir: Path | str, download: bool) -> FashionData:
    """Read the dataset where torchvision keeps it (``<cache>/FashionMNIST/raw``), downloading if asked."""
    root = Path(cache_dir)
    raw_folder = root / "FashionMNIST" / "raw"  # torchvision's FashionMNIST(root).raw_folder
    raw = [raw_folder / Path(name).stem for name in FILE_NAMES]
    if all(path.is_file() for path in raw):  # files torchvision downloaded before: maybe decoded before too
        decoded = _writable(root) / "decoded" / _folder_key(raw_folder)
        digests = _digests(raw)
        if (hit := _load_decoded(decoded, raw, digests, source="full", origin=str(raw_folder))) is not None:
            return hit
    from torchvision.datasets import FashionMNIST  # only here: the download, or the first read of its files

    try:
        train = FashionMNIST(root=str(root), train=True, download=download)
    except (RuntimeError, OSError, ValueError) as err:  # no files and no network, or a broken download
        raise DataError(
            raw_folder,
            f"torchvision could not provide the data ({_first_line(err)})",
            f"run with network once, or {FIX_HINT}",
        ) from err
    raw_folder = Path(train.raw_folder)
    raw = [raw_folder / Path(name).stem for name in FILE_NAMES]
    data = _checked(raw, source="full", origin=str(raw_folder), gz_names=raw)
    _save_decoded(_writable(root) / "decoded" / _folder_key(raw_folder), raw, _digests(raw), data)
    return data


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


def _folder_key(folder: Path) -> str:
    return hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]


def _gz_fix(gz_path: Path) -> str:
    return f"copy the official {gz_path.name} into {gz_path.parent} again (its MD5 is in the dataset README)"


def _digests(paths: list[Path]) -> list[tuple[int, str]]:
    """Size and SHA-256 of each file (~30 ms for the four official .gz files).

    Each file is read and hashed in one piece: reading and hashing release the GIL, and taking it back
    once per file instead of once per chunk keeps a read in a background thread from waiting on the
    imports of another thread (ui/warmup.py) hundreds of times.
    """
    out = []
    for path in paths:
        content = path.read_bytes()
        out.append((len(content), hashlib.sha256(content).hexdigest()))
    return out


def _decompressed(gz_path: Path, target: Path, digest: tuple[int, str]) -> Path:
    """``gz_path`` decompressed into ``target`` (reused when the source is unchanged: same size and SHA-256)."""
    fix = _gz_fix(gz_path)
    if not gz_path.is_file():
        raise DataError(gz_path, "file is missing", fix)
    stamp = {"source": str(gz_path.resolve()), "size": digest[0], "sha256": digest[1]}
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
    from torchvision.datasets.mnist import read_image_file, read_label_file  # only on a cache miss (see the module docstring)

    tensors = []
    for path, shown, reader in zip(raw, gz_names, (read_image_file, read_label_file) * 2, strict=True):
        kind = "image" if reader is read_image_file else "label"
        fix = f"replace {Path(shown).name} with the official file (its MD5 is in the dataset README)"
        try:
            tensor = reader(str(path))
        except (AssertionError, RuntimeError, ValueError, TypeError, KeyError, IndexError) as err:
            raise DataError(shown, f"not a valid IDX {kind} file ({_first_line(err) or 'bad header'})", fix) from err
        tensors.append(tensor)
    return _assembled(tensors, source=source, origin=origin, names=gz_names)


def _assembled(tensors: list[torch.Tensor], source: str, origin: str, names: list[Path]) -> FashionData:
    """The four tensors (images, labels, images, labels) checked to fit together, as a FashionData."""
    for i, tensor in enumerate(tensors):
        fix = f"replace {Path(names[i]).name} with the official file (its MD5 is in the dataset README)"
        if i % 2 == 0 and (tensor.ndim != 3 or tuple(tensor.shape[1:]) != (28, 28)):
            raise DataError(names[i], f"images are {tuple(tensor.shape[1:])}, not 28x28", fix)
        if i % 2 == 1 and tensor.ndim != 1:
            raise DataError(names[i], f"labels have {tensor.ndim} dimensions, not 1", fix)
        if i % 2 == 1 and len(tensor) and int(tensor.max()) >= len(CLASSES):
            raise DataError(names[i], f"has label {int(tensor.max())}; Fashion-MNIST labels are 0 to 9", fix)
    for images, labels, i in ((tensors[0], tensors[1], 1), (tensors[2], tensors[3], 3)):
        if len(images) != len(labels) or len(images) == 0:
            raise DataError(
                names[i],
                f"has {len(labels):,} labels for {len(images):,} images in {Path(names[i - 1]).name}",
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


def _load_decoded(folder: Path, sources: list[Path], digests: list[tuple[int, str]], source: str, origin: str) -> FashionData | None:
    """The arrays torchvision decoded from ``sources`` before, if the manifest in ``folder`` vouches for them.

    None (read again) when the manifest is missing or broken, was made from other source files, or
    any cached array is missing or differs in size or SHA-256 from what the manifest recorded.
    """
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") != CACHE_FORMAT:
            return None
        recorded = [(int(e["size"]), str(e["sha256"])) for e in manifest["sources"]]
        if [e["name"] for e in manifest["sources"]] != [p.name for p in sources] or recorded != digests:
            return None
        tensors = []
        for entry, name in zip(manifest["arrays"], CACHE_NAMES, strict=True):
            if not isinstance(entry["shape"], list) or not all(type(n) is int for n in entry["shape"]):
                return None
            shape = tuple(entry["shape"])
            size = int(np.prod(shape, dtype=np.int64))
            if entry["file"] != name or entry["dtype"] != "uint8" or size != int(entry["size"]) or min(shape, default=0) < 0:
                return None
            array = np.empty(size, dtype=np.uint8)
            with open(folder / name, "rb") as f:
                if os.fstat(f.fileno()).st_size != size or f.readinto(memoryview(array)) != size:
                    return None
            if hashlib.sha256(array).hexdigest() != entry["sha256"]:
                return None
            tensors.append(torch.from_numpy(array.reshape(shape)))
        return _assembled(tensors, source=source, origin=origin, names=sources)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, DataError):
        return None  # no cache yet, or one we cannot trust: torchvision reads the files again


def _save_decoded(folder: Path, sources: list[Path], digests: list[tuple[int, str]], data: FashionData) -> None:
    """Keep torchvision's decoded arrays in ``folder`` for the next start; a failure to write only costs time."""
    arrays = [data.train_images, data.train_labels.to(torch.uint8), data.test_images, data.test_labels.to(torch.uint8)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").unlink(missing_ok=True)  # no manifest while the arrays are being replaced
        entries = []
        for name, tensor in zip(CACHE_NAMES, arrays, strict=True):
            array = np.ascontiguousarray(tensor.numpy())
            entries.append({"file": name, "dtype": "uint8", "shape": list(array.shape), "size": array.size,
                            "sha256": hashlib.sha256(array).hexdigest()})  # fmt: skip
            _write_atomically(folder / name, memoryview(array).cast("B"))
        manifest = {
            "format": CACHE_FORMAT,
            "about": "Fashion-MNIST as torchvision's read_image_file/read_label_file decoded it; raw uint8, C order",
            "sources": [
                {"name": p.name, "path": str(p), "size": size, "sha256": sha} for p, (size, sha) in zip(sources, digests, strict=True)
            ],
            "arrays": entries,
        }
        _write_atomically(folder / "manifest.json", json.dumps(manifest, indent=1).encode())
    except OSError as err:
        _LOG.warning("could not keep the decoded dataset in %s (%s); the next start reads the files again", folder, err)


def _write_atomically(path: Path, content: bytes | memoryview) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# Reading the dataset while the server starts (ui/warmup.py), handed over to the first session once.
_early: dict[tuple[str, ...], Future] = {}
_early_lock = threading.Lock()
_ENV_KEYS = ("FASHIONNET_DATA_DIR", "FASHIONNET_CACHE_DIR", "XDG_CACHE_HOME", "FASHIONNET_OFFLINE", "HOME")


def _env_key(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(env.get(k, "") for k in _ENV_KEYS)


def start_early_load(env: Mapping[str, str] | None = None) -> Future:
    """Start :func:`load_fashion_mnist` in a background thread, once per environment; returns its future."""
    env = dict(os.environ if env is None else env)
    key = _env_key(env)
    with _early_lock:
        if key in _early:
            return _early[key]
        future: Future = Future()
        _early[key] = future
    future.set_running_or_notify_cancel()

    def work() -> None:
        try:
            future.set_result(load_fashion_mnist(env))
        except BaseException as err:  # handed to the caller of load_early_or_now, who reads again
            future.set_exception(err)

    threading.Thread(target=work, name="fashionnet-early-load", daemon=True).start()
    return future


def load_early_or_now(env: Mapping[str, str] | None = None) -> FashionData:
    """What :func:`start_early_load` read for this environment (waiting for it if still reading), else read now.

    The early result is handed over once: a second call (e.g. after ``st.cache_resource`` was cleared)
    reads the files again, as :func:`load_fashion_mnist` always does.
    """
    env = dict(os.environ if env is None else env)
    with _early_lock:
        future = _early.pop(_env_key(env), None)
    if future is not None:
        try:
            return future.result()
        except Exception:
            _LOG.exception("reading the dataset at start-up failed; reading it again")
    return load_fashion_mnist(env)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
