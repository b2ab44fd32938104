"""The data loader on tiny files the tests write (so the real reading code runs), on the real files, and on the sample."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
import torch

from conftest import write_idx
from fashionnet.data import CLASSES, SAMPLE_DIR, DataError, load_fashion_mnist, read_gz_folder


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_tiny_files_are_read_exactly(tiny_folder, tmp_path):
    data = read_gz_folder(tiny_folder, tmp_path / "cache")
    assert data.train_images.shape == (3, 28, 28) and data.train_images.dtype == torch.uint8
    assert data.train_labels.tolist() == [9, 0, 3]
    assert data.test_labels.tolist() == [2, 7]
    assert data.train_images[1].flatten().tolist() == [(7 + k) % 256 for k in range(784)]
    image, label = data.image("test", 1)
    assert label == 7 and image.flatten()[:3].tolist() == [11, 12, 13]


def test_source_folder_is_never_written(tiny_folder, tmp_path):
    before = listing(tiny_folder)
    os.chmod(tiny_folder, 0o555)  # a read-only folder, like ../shared
    try:
        read_gz_folder(tiny_folder, tmp_path / "cache")
        read_gz_folder(tiny_folder, tmp_path / "cache")  # second time from the cache
    finally:
        os.chmod(tiny_folder, 0o755)
    assert listing(tiny_folder) == before


def test_cache_is_refreshed_when_a_file_changes(tiny_folder, tmp_path):
    read_gz_folder(tiny_folder, tmp_path / "cache")
    write_idx(tiny_folder / "train-labels-idx1-ubyte.gz", [1, 2, 3], (3,))
    assert read_gz_folder(tiny_folder, tmp_path / "cache").train_labels.tolist() == [1, 2, 3]


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_missing_file_is_named(tiny_folder, tmp_path, name):
    (tiny_folder / name).unlink()
    with pytest.raises(DataError) as err:
        read_gz_folder(tiny_folder, tmp_path / "cache")
    assert name in str(err.value) and "missing" in str(err.value) and "Fix:" in str(err.value)


def test_truncated_gz_is_named(tiny_folder, tmp_path):
    path = tiny_folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*truncated"):
        read_gz_folder(tiny_folder, tmp_path / "cache")


def test_not_gzip_is_named(tiny_folder, tmp_path):
    (tiny_folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz"):
        read_gz_folder(tiny_folder, tmp_path / "cache")


def test_wrong_magic_number_is_named(tiny_folder, tmp_path):
    write_idx(tiny_folder / "train-labels-idx1-ubyte.gz", [1, 2, 3], (3,), magic=0x12345678)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz.*not a valid IDX label file"):
        read_gz_folder(tiny_folder, tmp_path / "cache")


def test_truncated_content_inside_a_good_gzip_is_named(tiny_folder, tmp_path):
    path = tiny_folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz"):
        read_gz_folder(tiny_folder, tmp_path / "cache")


def test_label_count_must_match_images(tiny_folder, tmp_path):
    write_idx(tiny_folder / "t10k-labels-idx1-ubyte.gz", [1, 2, 3], (3,))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz.*3 labels for 2 images"):
        read_gz_folder(tiny_folder, tmp_path / "cache")


def test_labels_out_of_range_are_refused(tiny_folder, tmp_path):
    write_idx(tiny_folder / "train-labels-idx1-ubyte.gz", [1, 12, 3], (3,))
    with pytest.raises(DataError, match=r"label 12"):
        read_gz_folder(tiny_folder, tmp_path / "cache")


def test_broken_data_dir_falls_back_to_sample_with_notice(tmp_path):
    data = load_fashion_mnist({"FASHIONNET_DATA_DIR": str(tmp_path / "nowhere"), "FASHIONNET_CACHE_DIR": str(tmp_path / "c")})
    assert data.source == "sample"
    assert data.size("train") == 2000 and data.size("test") == 1000
    assert "nowhere" in data.notice and "FASHIONNET_DATA_DIR" in data.notice


def test_no_data_anywhere_falls_back_to_sample(tmp_path):
    data = load_fashion_mnist({"FASHIONNET_CACHE_DIR": str(tmp_path / "c")}, allow_download=False)
    assert data.source == "sample"
    assert "FASHIONNET_DATA_DIR=" in data.notice  # the one-line fix


def test_torchvision_cache_layout_is_used(tiny_folder, tmp_path):
    """Files where torchvision's FashionMNIST(download=True) leaves them are found without the env var."""
    raw = tmp_path / "c" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for p in tiny_folder.iterdir():
        (raw / p.stem).write_bytes(gzip.decompress(p.read_bytes()))
    data = load_fashion_mnist({"FASHIONNET_CACHE_DIR": str(tmp_path / "c")}, allow_download=False)
    assert data.source == "full" and data.train_labels.tolist() == [9, 0, 3]


def test_sample_is_small_and_matches_the_official_files(real_data, tmp_path):
    assert sum(p.stat().st_size for p in SAMPLE_DIR.glob("*.gz")) < 2_000_000
    sample = read_gz_folder(SAMPLE_DIR, tmp_path / "c", source="sample")
    assert torch.equal(sample.train_images, real_data.train_images[:2000])
    assert torch.equal(sample.train_labels, real_data.train_labels[:2000])
    assert torch.equal(sample.test_images, real_data.test_images[:1000])
    assert torch.equal(sample.test_labels, real_data.test_labels[:1000])


@pytest.mark.realdata
def test_real_fashion_mnist(real_data):
    assert real_data.train_images.shape == (60000, 28, 28)
    assert real_data.test_images.shape == (10000, 28, 28)
    assert real_data.source == "full"
    assert CLASSES == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert torch.bincount(real_data.train_labels).tolist() == [6000] * 10
    assert real_data.image("train", 0)[1] == 9  # the lesson's first image is an Ankle boot
    # The README's pixel statistics: mean 72.94, std 90.02.
    pixels = real_data.train_images.double()
    assert abs(float(pixels.mean()) - 72.94) < 0.01 and abs(float(pixels.std()) - 90.02) < 0.01
