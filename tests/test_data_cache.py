"""The decoded-data cache (fashionnet/data.py): a hit equals torchvision's own reading bit for bit, and
any bad, corrupt or tampered cache file is detected and read again by torchvision, with no crash.

Every expectation is computed independently of fashionnet.data: the .gz files are decompressed here
with gzip and read with torchvision's FashionMNIST (the real data) or its IDX readers (the tiny files).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, write_idx
from fashionnet import data as fd


def torchvision_reading(gz_folder: Path, tmp: Path) -> list[torch.Tensor]:
    """The four tensors as torchvision itself reads the official files (its FashionMNIST class, on copies)."""
    from torchvision.datasets import FashionMNIST

    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in fd.FILE_NAMES:
        (raw / Path(name).stem).write_bytes(gzip.decompress((gz_folder / name).read_bytes()))
    train, test = FashionMNIST(str(tmp), train=True), FashionMNIST(str(tmp), train=False)
    return [train.data, train.targets, test.data, test.targets]


def idx_reading(gz_folder: Path, tmp: Path) -> list[torch.Tensor]:
    """The four tensors as torchvision's IDX readers read them (for the tiny test files)."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    out = []
    for name, reader in zip(fd.FILE_NAMES, (read_image_file, read_label_file) * 2, strict=True):
        path = tmp / Path(name).stem
        path.write_bytes(gzip.decompress((gz_folder / name).read_bytes()))
        out.append(reader(str(path)))
    return out


def tensors_of(data: fd.FashionData) -> list[torch.Tensor]:
    return [data.train_images, data.train_labels, data.test_images, data.test_labels]


def assert_same_bits(got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape and torch.equal(g, w)


def decoded_folder(cache: Path) -> Path:
    (folder,) = (cache / "decoded").iterdir()
    return folder


@pytest.fixture
def torchvision_reads(monkeypatch) -> list[int]:
    """Counts the reads that went to torchvision (cache misses)."""
    calls: list[int] = []
    real = fd._checked

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fd, "_checked", counting)
    return calls


def test_classes_and_file_names_are_torchvisions():
    """data.py writes them out so as not to import torchvision; they must stay torchvision's."""
    from torchvision.datasets import FashionMNIST

    assert tuple(FashionMNIST.classes) == fd.CLASSES
    assert tuple(name for name, _md5 in FashionMNIST.resources) == fd.FILE_NAMES


@pytest.mark.realdata
def test_a_cache_hit_equals_torchvisions_own_reading_bit_for_bit(real_data, tmp_path, torchvision_reads):
    folder = Path(os.environ["FASHIONNET_DATA_DIR"])
    first = fd.read_gz_folder(folder, tmp_path / "cache")  # a miss: torchvision reads, the cache is written
    assert torchvision_reads == [1]
    second = fd.read_gz_folder(folder, tmp_path / "cache")  # a hit
    assert torchvision_reads == [1]
    want = torchvision_reading(folder, tmp_path / "tv")
    assert_same_bits(tensors_of(first), want)
    assert_same_bits(tensors_of(second), want)
    assert (second.source, second.origin, second.notice) == (first.source, first.origin, first.notice)
    assert second.train_images.is_contiguous() and second.train_images.numpy().flags.writeable
    manifest = json.loads((decoded_folder(tmp_path / "cache") / "manifest.json").read_text())
    assert [s["name"] for s in manifest["sources"]] == list(fd.FILE_NAMES)
    assert [a["shape"] for a in manifest["arrays"]] == [[60000, 28, 28], [60000], [10000, 28, 28], [10000]]


@pytest.mark.realdata
def test_a_warm_start_does_not_import_torchvision(real_data):
    """A fresh process reading the data from the warm cache (the tests' own) never imports torchvision."""
    code = (
        "import sys, fashionnet.data as d\n"
        "x = d.load_fashion_mnist()\n"
        "print(x.source, x.size('train'), 'torchvision' in sys.modules, 'torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=os.environ, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["full", "60000", "False", "False"]


def flip_byte(path: Path, at: int = 100) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))


def edit_manifest(path: Path, change) -> None:
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


TAMPERINGS = {
    "a flipped pixel": lambda d: flip_byte(d / "train-images.u8"),
    "a flipped label": lambda d: flip_byte(d / "test-labels.u8", at=1),
    "a truncated image file": lambda d: (d / "test-images.u8").write_bytes((d / "test-images.u8").read_bytes()[:-7]),
    "an image file one byte longer": lambda d: (d / "train-images.u8").write_bytes((d / "train-images.u8").read_bytes() + b"\0"),
    "an empty label file": lambda d: (d / "train-labels.u8").write_bytes(b""),
    "a missing image file": lambda d: (d / "train-images.u8").unlink(),
    "a folder instead of a file": lambda d: ((d / "test-labels.u8").unlink(), (d / "test-labels.u8").mkdir()),
    "a missing manifest": lambda d: (d / "manifest.json").unlink(),
    "a manifest that is not JSON": lambda d: (d / "manifest.json").write_bytes(b"\x80not json{"),
    "a manifest that is a list": lambda d: (d / "manifest.json").write_text("[1, 2]"),
    "a manifest of another format": lambda d: edit_manifest(d / "manifest.json", lambda m: m.update(format="other")),
    "a manifest without sources": lambda d: edit_manifest(d / "manifest.json", lambda m: m.pop("sources")),
    "a wrong SHA-256 of a source": lambda d: edit_manifest(d / "manifest.json", lambda m: m["sources"][2].update(sha256="0" * 64)),
    "a wrong SHA-256 of an array": lambda d: edit_manifest(d / "manifest.json", lambda m: m["arrays"][0].update(sha256="0" * 64)),
    "a shape that does not fit the size": lambda d: edit_manifest(d / "manifest.json", lambda m: m["arrays"][0].update(shape=[3, 28, 27])),
    "a negative shape": lambda d: edit_manifest(d / "manifest.json", lambda m: m["arrays"][1].update(shape=[-3])),
    "a shape that is text": lambda d: edit_manifest(d / "manifest.json", lambda m: m["arrays"][3].update(shape="2")),
    "another dtype": lambda d: edit_manifest(d / "manifest.json", lambda m: m["arrays"][2].update(dtype="float32")),
    "arrays in another order": lambda d: edit_manifest(d / "manifest.json", lambda m: m["arrays"].reverse()),
}


CANNOT_BE_REWRITTEN = {"a folder instead of a file"}


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_a_bad_cache_is_detected_and_read_again_by_torchvision(tiny_folder, tmp_path, torchvision_reads, case):
    cache = tmp_path / "cache"
    fd.read_gz_folder(tiny_folder, cache)
    TAMPERINGS[case](decoded_folder(cache))
    data = fd.read_gz_folder(tiny_folder, cache)  # no crash
    assert torchvision_reads == [1, 1], "the bad cache was used"
    assert_same_bits(tensors_of(data), idx_reading(tiny_folder, tmp_path))
    again = fd.read_gz_folder(tiny_folder, cache)  # the cache was rewritten and is used again
    assert torchvision_reads == ([1, 1, 1] if case in CANNOT_BE_REWRITTEN else [1, 1])  # else still read, with a warning
    assert_same_bits(tensors_of(again), tensors_of(data))


def test_a_forged_cache_that_passes_its_checksums_but_breaks_the_datas_rules_is_read_again(tiny_folder, tmp_path, torchvision_reads):
    """Labels rewritten to 12 with a matching SHA-256 in the manifest: the labels' range check still refuses them."""
    import hashlib

    cache = tmp_path / "cache"
    fd.read_gz_folder(tiny_folder, cache)
    folder = decoded_folder(cache)
    forged = bytes([12, 0, 3])
    (folder / "train-labels.u8").write_bytes(forged)
    edit_manifest(folder / "manifest.json", lambda m: m["arrays"][1].update(sha256=hashlib.sha256(forged).hexdigest()))
    data = fd.read_gz_folder(tiny_folder, cache)
    assert torchvision_reads == [1, 1]
    assert data.train_labels.tolist() == [9, 0, 3]


def test_a_changed_source_of_the_same_size_and_time_is_read_again(tiny_folder, tmp_path, torchvision_reads):
    """The cache is tied to the SHA-256 of the .gz files, not only to their size and time."""
    cache = tmp_path / "cache"
    path = tiny_folder / "train-labels-idx1-ubyte.gz"
    fd.read_gz_folder(tiny_folder, cache)
    stat = path.stat()
    write_idx(path, [4, 5, 6], (3,))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size  # gzip of three labels: the same size as before
    data = fd.read_gz_folder(tiny_folder, cache)
    assert torchvision_reads == [1, 1]
    assert data.train_labels.tolist() == [4, 5, 6]


def test_a_cache_that_cannot_be_written_only_costs_time(tiny_folder, tmp_path, torchvision_reads):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "decoded").write_text("a file where the cache folder's decoded/ should be")
    first = fd.read_gz_folder(tiny_folder, cache)
    second = fd.read_gz_folder(tiny_folder, cache)
    assert torchvision_reads == [1, 1]
    assert_same_bits(tensors_of(second), tensors_of(first))


def test_the_torchvision_layout_is_cached_too(tiny_folder, tmp_path, torchvision_reads):
    """Files where torchvision's download leaves them: the second start loads them without torchvision."""
    raw = tmp_path / "c" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for p in tiny_folder.iterdir():
        (raw / p.stem).write_bytes(gzip.decompress(p.read_bytes()))
    env = {"FASHIONNET_CACHE_DIR": str(tmp_path / "c")}
    first = fd.load_fashion_mnist(env, allow_download=False)
    second = fd.load_fashion_mnist(env, allow_download=False)
    assert torchvision_reads == [1]
    assert_same_bits(tensors_of(second), idx_reading(tiny_folder, tmp_path))
    assert second.origin == first.origin and second.source == "full"
    flip_byte(raw / "train-images-idx3-ubyte", at=20)  # a changed source file: read again
    third = fd.load_fashion_mnist(env, allow_download=False)
    assert torchvision_reads == [1, 1]
    assert not torch.equal(third.train_images, second.train_images)


def test_the_sample_is_cached_and_equal(tmp_path, torchvision_reads):
    env = {"FASHIONNET_DATA_DIR": str(tmp_path / "nowhere"), "FASHIONNET_CACHE_DIR": str(tmp_path / "c")}
    first, second = fd.load_fashion_mnist(env), fd.load_fashion_mnist(env)
    assert torchvision_reads == [1]
    assert second.source == "sample" and second.notice == first.notice
    assert_same_bits(tensors_of(second), idx_reading(fd.SAMPLE_DIR, tmp_path))


def test_the_early_load_is_handed_over_once(tiny_folder, tmp_path):
    env = {"FASHIONNET_DATA_DIR": str(tiny_folder), "FASHIONNET_CACHE_DIR": str(tmp_path / "c")}
    future = fd.start_early_load(env)
    assert fd.start_early_load(env) is future  # once per environment
    taken = fd.load_early_or_now(env)
    assert taken is future.result()
    again = fd.load_early_or_now(env)  # handed over already: read again
    assert again is not taken
    assert_same_bits(tensors_of(again), tensors_of(taken))


def test_a_failed_early_load_is_read_again_by_the_session(tiny_folder, tmp_path, monkeypatch):
    env = {"FASHIONNET_DATA_DIR": str(tiny_folder), "FASHIONNET_CACHE_DIR": str(tmp_path / "c")}
    real = fd.load_fashion_mnist
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("out of memory in the background")
        return real(*args, **kwargs)

    monkeypatch.setattr(fd, "load_fashion_mnist", failing_once)
    future = fd.start_early_load(env)
    with pytest.raises(MemoryError):
        future.result(timeout=60)
    data = fd.load_early_or_now(env)
    assert len(calls) == 2 and data.train_labels.tolist() == [9, 0, 3]


def test_another_environment_does_not_take_the_early_load(tiny_folder, tmp_path):
    env = {"FASHIONNET_DATA_DIR": str(tiny_folder), "FASHIONNET_CACHE_DIR": str(tmp_path / "c")}
    other = {"FASHIONNET_DATA_DIR": str(tmp_path / "nowhere"), "FASHIONNET_CACHE_DIR": str(tmp_path / "c")}
    fd.start_early_load(env).result(timeout=60)
    assert fd.load_early_or_now(other).source == "sample"
    assert fd.load_early_or_now(env).source == "full"
    shutil.rmtree(tmp_path / "c")
