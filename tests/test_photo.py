"""convert_photo: a learner's photo as a Fashion-MNIST image, and every file it must refuse or survive.

Expected values come from an independent computation: numpy on the same pixels, the same picture saved
another way, or the dataset's own images. None is a number copied from an earlier run of convert_photo.
"""

from __future__ import annotations

import io
import pickle
import random
import struct
import subprocess
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFile

from fashionnet.photo import ALLOWED_FORMATS, MAX_PHOTO_BYTES, MAX_PIXELS, Photo, PhotoError, convert_photo, photo_png

SIZE = (640, 480)
BOX = (60, 300, 360, 400)  # a 300x100 item, far from the centre, so centring is really tested
DARK, LIGHT = 40, 255 - 40


def picture(mode: str = "L", background=255, item=DARK, box=BOX, size=SIZE) -> Image.Image:
    """A filled rectangle ``item`` on ``background``: the simplest photo of a product."""
    im = Image.new(mode, size, background)
    ImageDraw.Draw(im).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=item)
    return im


def encode(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def bright_box(image: torch.Tensor, level: int = 127) -> tuple[int, int]:
    """Height and width of the region brighter than ``level``."""
    rows, cols = torch.nonzero(image > level, as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    w = image.double()
    rows, cols = torch.meshgrid(torch.arange(28.0, dtype=torch.float64), torch.arange(28.0, dtype=torch.float64), indexing="ij")
    return float((w * rows).sum() / w.sum()), float((w * cols).sum() / w.sum())


def mean_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().mean())


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.double().flatten(), b.double().flatten()]))[0, 1])


def refused(data: bytes, name: str = "") -> str:
    """The learner's message for a file that must be refused; fails on any other exception or on success."""
    with pytest.raises(PhotoError) as err:
        convert_photo(data, name)
    assert type(err.value) is PhotoError
    return str(err.value)


# --- What a photo becomes -------------------------------------------------------------------------


def test_dark_item_on_white_is_inverted_trimmed_and_centred():
    photo = convert_photo(encode(picture().convert("RGB"), "JPEG", quality=85), "shirt.jpg")
    image = photo.image
    assert isinstance(photo, Photo) and photo.format == "JPEG"
    assert image.shape == (28, 28) and image.dtype == torch.uint8
    assert any("inverted" in note for note in photo.notes)
    # The long edge fills the 28 px, the short one keeps the item's 3:1 proportion.
    width, height = BOX[2] - BOX[0], BOX[3] - BOX[1]
    rows, cols = bright_box(image)
    assert cols >= 27 and abs(rows - 28 * height / width) <= 1
    row, col = centre_of_mass(image)
    assert abs(row - 13.5) <= 1 and abs(col - 13.5) <= 1
    assert image[image < 128].double().mean() < 10  # the background is (near) black
    assert image.max() >= 200  # and the item bright: 255 - 40, stretched from a near-white backdrop
    # The original is kept upright and in colour space RGB, downsized to 512 px on its long side.
    assert photo.original.mode == "RGB" and photo.original.size == (512, 384)


def test_bright_item_on_black_is_used_as_it_is():
    dark_on_white = convert_photo(encode(picture().convert("RGB"), "JPEG", quality=85))
    bright_on_black = convert_photo(encode(picture(background=0, item=LIGHT).convert("RGB"), "JPEG", quality=85))
    assert not any("inverted" in note for note in bright_on_black.notes)
    assert bright_box(bright_on_black.image) == bright_box(dark_on_white.image)
    # The two photos are each other's negative, so after inverting the first they must agree.
    assert mean_abs_diff(bright_on_black.image, dark_on_white.image) < 2


def test_a_light_item_on_a_transparent_background_is_said_to_be_faint():
    """A light-grey shirt cut out on transparency: put on white and inverted, as the dataset's pipeline would, it comes
    out dim; the notes say so (and why) instead of leaving the learner with a near-black picture."""
    shirt = picture("RGBA", background=(0, 0, 0, 0), item=(230, 230, 230, 255))
    photo = convert_photo(encode(shirt, "PNG"), "shirt.png")
    assert int(photo.image.max()) < 96
    (said,) = [n for n in photo.notes if "stays faint" in n]
    assert f"its brightest pixel is {int(photo.image.max())} of 255" in said
    assert not any("faint" in n for n in convert_photo(encode(picture().convert("RGB"), "PNG")).notes)  # a dark item on white


def test_grainy_backdrop_still_trims_to_the_item():
    clean = convert_photo(encode(picture(), "PNG"))
    rng = np.random.default_rng(0)
    grain = np.clip(np.asarray(picture(background=235), dtype=np.float64) + rng.normal(0, 10, SIZE[::-1]), 0, 255)
    grainy = convert_photo(encode(Image.fromarray(grain.astype(np.uint8)), "JPEG", quality=75))
    assert bright_box(grainy.image) == bright_box(clean.image)
    assert mean_abs_diff(grainy.image, clean.image) < 12


def test_colour_is_turned_into_grey():
    red = (200, 30, 30)
    colour = convert_photo(encode(picture("RGB", background=(255, 255, 255), item=red), "PNG"))
    luma = round(0.299 * red[0] + 0.587 * red[1] + 0.114 * red[2])  # ITU-R 601-2, what Pillow's "L" uses
    grey = convert_photo(encode(picture(item=luma), "PNG"))
    assert any("shades of grey" in note for note in colour.notes)
    assert not any("shades of grey" in note for note in grey.notes)
    assert (colour.image.int() - grey.image.int()).abs().max() <= 2


def pad_on_white(image: np.ndarray, left: int, top: int, right: int, bottom: int) -> Image.Image:
    """A Fashion-MNIST image as a photo would show it: dark item on white, 10x larger, off-centre."""
    big = Image.fromarray(255 - image).resize((280, 280), Image.Resampling.NEAREST)
    canvas = Image.new("L", (280 + left + right, 280 + top + bottom), 255)
    canvas.paste(big, (left, top))
    return canvas.convert("RGB")


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_real_fashion_mnist_survives_a_round_trip_through_a_photo(real_data, fmt):
    # Four test images of every class, inverted, enlarged 10x, padded unevenly on white, saved, converted.
    indices = [int(i) for label in range(10) for i in real_data.indices_of_class("test", label)[:4]]
    r = []
    for i in indices:
        original = real_data.test_images[i]
        photo = convert_photo(encode(pad_on_white(original.numpy(), 37, 53, 91, 20), fmt, quality=75), f"{i}.{fmt.lower()}")
        r.append(pearson(photo.image, original))
    # Measured over 200 test images: median r 0.998 (PNG) / 0.996 (JPEG q75), 5th percentile 0.85 / 0.92,
    # minimum 0.74. The tail is narrow items that land 1 px off: trimming at 5% drops a faint edge
    # column, or the item is one of the 2% that the dataset centred with the odd pixel after it. Centring
    # with the odd pixel on the other side (as a first version did) gave a median of 0.88, so the median
    # threshold catches that; the minimum catches any image that comes out wrong.
    assert float(np.median(r)) > 0.97, sorted(r)[:5]
    assert min(r) > 0.6, sorted(r)[:5]


def test_photo_png_shows_every_pixel_as_a_square():
    image = torch.randint(0, 256, (28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    shown = np.asarray(Image.open(io.BytesIO(photo_png(image, scale=5))))
    assert shown.shape == (140, 140)
    assert np.array_equal(shown, np.kron(image.numpy(), np.ones((5, 5), dtype=np.uint8)))


# --- Hostile files: each refused with its own message, and only ever with PhotoError ----------------


def test_empty_file_is_refused():
    assert "empty" in refused(b"", "photo.jpg")


def test_random_bytes_are_refused():
    data = random.Random(0).randbytes(5000)
    assert "not a picture" in refused(data, "photo.jpg")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused(fmt):
    rng = np.random.default_rng(1)  # noise compresses badly, so the cut falls inside the pixel data
    data = encode(Image.fromarray(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)), fmt)
    for cut in (len(data) * 9 // 10, len(data) // 2, 40):
        message = refused(data[:cut], f"photo.{fmt.lower()}")
        assert f"this {fmt} file is damaged or cut short" in message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # nothing was loosened to read the rest


class _Touch:
    """Unpickling this creates ``path``: what a real attack would do with a shell command."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_pickle_payload_is_refused_and_never_runs(tmp_path):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Touch(control)))
    assert control.exists()  # the payload is live: loading it does run code

    target = tmp_path / "pwned"
    assert "Python pickle" in refused(pickle.dumps(_Touch(target)), "photo.png")
    assert not target.exists()


def png_declaring(width: int, height: int) -> bytes:
    """A 16x16 PNG whose header (IHDR, with a correct CRC) claims ``width`` x ``height``."""
    data = bytearray(encode(Image.new("L", (16, 16)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize(
    ("width", "height", "warnings_as_errors"),
    [
        (8000, 6000, False),  # 48 MP: over our cap, under Pillow's: our own check refuses it
        (10000, 10000, False),  # 100 MP: Pillow warns inside Image.open, then our check refuses it
        (10000, 10000, True),  # the same where warnings are errors: Pillow's warning becomes our refusal
        (20000, 20000, False),  # 400 MP: Pillow's own DecompressionBombError, turned into ours
    ],
)
def test_huge_declared_size_is_refused_before_decoding(monkeypatch, width, height, warnings_as_errors):
    data = png_declaring(width, height)
    assert len(data) < 200 and width * height > MAX_PIXELS
    allocated, loads = [], []

    def spy(real, record):
        def call(*args):
            record.append(args)
            return real(*args)

        return call

    for name in ("new", "fill"):  # every pixel buffer Pillow makes goes through one of these: (mode, size, ...)
        monkeypatch.setattr(Image.core, name, spy(getattr(Image.core, name), allocated))
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy(ImageFile.ImageFile.load, loads))
    limit_before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error" if warnings_as_errors else "ignore")
        message = refused(data, "photo.png")
    assert "megapixel limit" in message and "not opened" in message
    assert loads == [] and max((size[0] * size[1] for _mode, size, *_ in allocated), default=0) < 1_000_000
    assert limit_before == Image.MAX_IMAGE_PIXELS  # the process-wide setting is left alone


def test_too_many_bytes_are_refused_and_the_limit_is_exact():
    image = encode(picture(), "PNG")
    at_limit = image + bytes(MAX_PHOTO_BYTES - len(image))  # Pillow ignores what follows the PNG's end
    assert len(at_limit) == MAX_PHOTO_BYTES
    assert convert_photo(at_limit).image.shape == (28, 28)
    message = refused(at_limit + b"\0", "photo.png")
    assert "5.0 MB" in message and "at most 5 MB" in message


@pytest.mark.parametrize(
    "data",
    [
        encode(Image.new("RGB", SIZE, "white"), "JPEG"),
        encode(Image.new("L", SIZE, 128), "PNG"),
        encode(Image.fromarray(np.random.default_rng(2).normal(128, 10, SIZE[::-1]).clip(0, 255).astype(np.uint8)), "JPEG"),
    ],
    ids=["white-jpeg", "grey-png", "grainy-grey-jpeg"],
)
def test_flat_images_are_refused(data):
    assert "nothing to see: the image is one flat colour" in refused(data)


def test_too_small_pictures_are_refused():
    assert "only 2x2 pixels" in refused(encode(Image.new("L", (2, 2)), "PNG"))
    assert "only 7x40 pixels" in refused(encode(Image.new("L", (7, 40)), "PNG"))
    smallest = convert_photo(encode(picture(box=(2, 2, 6, 6), size=(8, 8)), "PNG"))
    assert bright_box(smallest.image) == (28, 28)


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="50" height="50"/></svg>'
HEIC = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0mif1heic" + bytes(100)


@pytest.mark.parametrize(
    ("data", "name", "said"),
    [
        (SVG, "shirt.png", "this file is an SVG drawing"),
        (b"<!DOCTYPE html><html><body><img src='shirt.jpg'></body></html>", "shirt.png", "this file is a web page"),
        (b"T-shirt, size M, blue\n", "shirt.jpg", "this file is a text file"),
        (b"PK\x03\x04" + bytes(200), "shirt.jpg", "this file is a ZIP archive"),
        (HEIC, "IMG_0001.HEIC", "HEIC/HEIF or AVIF photo"),
    ],
    ids=["svg-named-png", "html", "text", "zip", "heic"],
)
def test_non_pictures_are_named_in_the_message(data, name, said):
    message = refused(data, name)
    assert said in message
    assert "Most Compatible" in message if data is HEIC else "Upload a PNG, JPEG, GIF, WEBP, BMP or TIFF photo" in message


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n0 0 moveto 100 100 lineto stroke\nshowpage\n%%EOF\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.mark.parametrize(("data", "kind"), [(PDF, "a PDF document"), (EPS, "a PostScript (EPS) file")], ids=["pdf", "eps"])
def test_pdf_and_eps_named_jpg_are_refused_without_running_anything(monkeypatch, data, kind):
    if data is EPS:
        assert Image.open(io.BytesIO(EPS)).format == "EPS"  # a real EPS: unrestricted, Pillow would take it (and run Ghostscript)
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a) or pytest.fail("a program was started"))
    assert f"this file is {kind}, not a picture" in refused(data, "shirt.jpg")
    assert started == []


@pytest.mark.parametrize("fmt", ALLOWED_FORMATS)
def test_mangled_files_raise_only_photo_error(fmt):
    """Flipped bytes, cuts and repeats anywhere in a valid file: a Photo or a PhotoError, nothing else."""
    options = {"lossless": True} if fmt == "WEBP" else {}
    valid = encode(picture("RGB", (255, 255, 255), (40, 90, 200), box=(8, 10, 40, 30), size=(48, 40)), fmt, **options)
    rng = random.Random(fmt)
    outcomes = {"photo": 0, "refused": 0}
    for _ in range(60):
        data = bytearray(valid)
        kind = rng.choice(["flip", "cut", "repeat"])
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == "cut":
            del data[rng.randrange(1, len(data)) :]
        else:
            start = rng.randrange(len(data))
            data[start:start] = data[start : start + rng.randint(1, 64)] * rng.randint(1, 50)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning turned error mid-decode must become a PhotoError too
            try:
                photo = convert_photo(bytes(data), f"x.{fmt.lower()}")
            except PhotoError:
                outcomes["refused"] += 1
                continue
        assert photo.image.shape == (28, 28) and photo.image.dtype == torch.uint8
        outcomes["photo"] += 1
    assert outcomes["refused"] > 0  # the mangling did reach the decoder


# --- Odd but good files: converted, with a note saying what was done ----------------------------------


def transparent_versions() -> dict[str, Image.Image]:
    """The dark item on a fully transparent background, in the three modes that carry transparency."""
    rgba = picture("RGBA", background=(0, 0, 0, 0), item=(DARK, DARK, DARK, 255))
    la = picture("LA", background=(0, 0), item=(DARK, 255))
    p = Image.new("P", SIZE, 0)
    p.putpalette([0, 0, 0, DARK, DARK, DARK])
    ImageDraw.Draw(p).rectangle((BOX[0], BOX[1], BOX[2] - 1, BOX[3] - 1), fill=1)
    return {"RGBA": rgba, "LA": la, "P": p}


@pytest.mark.parametrize(("mode", "note"), [("RGBA", "RGBA"), ("LA", "LA (greyscale"), ("P", "palette image with transparency")])
def test_transparent_background_is_put_on_white(mode, note):
    options = {"transparency": 0} if mode == "P" else {}
    photo = convert_photo(encode(transparent_versions()[mode], "PNG", **options))
    on_white = convert_photo(encode(picture(), "PNG"))
    assert any(n.startswith(note) and "transparent parts were put on white" in n for n in photo.notes)
    # Transparent pixels are stored black here: read without their alpha, the item would vanish.
    assert torch.equal(photo.image, on_white.image)


def test_half_transparent_pixels_are_blended_with_white():
    rgba = picture("RGBA", background=(0, 0, 0, 0), item=(0, 0, 0, 255), size=(400, 300), box=(50, 50, 350, 150))
    ImageDraw.Draw(rgba).rectangle((50, 200, 349, 249), fill=(0, 0, 0, 128))  # a half-transparent shadow
    photo = convert_photo(encode(rgba, "PNG"))
    shown = np.asarray(photo.original)[..., 0].astype(int)  # (300, 400): the original is not resized
    assert abs(shown[225, 200] - round(255 * (1 - 128 / 255))) <= 1
    assert shown[100, 200] == 0 and shown[10, 10] == 255


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "I;16"), ("TIFF", "I;16B")])
def test_16_bit_greyscale_is_scaled_to_8_bits(fmt, mode):
    rng = np.random.default_rng(3)
    levels = np.zeros((300, 400), dtype=np.uint16)
    levels[60:240, 100:250] = rng.integers(4000, 65536, (180, 150))  # a textured item on black
    im = Image.frombytes(mode, (400, 300), levels.astype(">u2" if mode.endswith("B") else "<u2").tobytes())
    photo = convert_photo(encode(im, fmt))
    assert any("16-bit greyscale scaled to 8 bits" in note for note in photo.notes)
    expected = np.round(levels / 257).astype(np.uint8)  # 65535 -> 255: v * 255 / 65535, rounded
    assert np.array_equal(np.asarray(photo.original)[..., 0], expected)
    assert torch.equal(photo.image, convert_photo(encode(Image.fromarray(expected), "PNG")).image)


@pytest.mark.parametrize(("mode", "levels", "expected"), [("F", 0.8, 204), ("I", 51400, 200)])
def test_32_bit_greyscale_tiff_keeps_its_scale(mode, levels, expected):
    im = picture(mode, background=0, item=levels, size=(400, 300), box=(50, 50, 350, 150))
    photo = convert_photo(encode(im, "TIFF"))
    assert np.asarray(photo.original)[100, 200, 0] == expected  # 0.8 * 255 and 51400 * 255 / 65535
    assert any("greyscale" in note for note in photo.notes)


def test_cmyk_jpeg_is_read_as_rgb():
    cmyk = picture("CMYK", background=(0, 0, 0, 0), item=(0, 0, 0, LIGHT))  # black ink at 215/255 on paper
    photo = convert_photo(encode(cmyk, "JPEG", quality=90))
    rgb = convert_photo(encode(cmyk.convert("RGB"), "JPEG", quality=90))
    assert "CMYK (print colours) converted to RGB" in photo.notes
    assert photo.format == "JPEG" and mean_abs_diff(photo.image, rgb.image) < 3


ANIMATED = {
    "GIF": ({}, "animated GIF: the first of 3 frames was used"),
    "PNG": ({}, "animated PNG: the first of 3 frames was used"),
    "WEBP": ({"lossless": True}, "animated WEBP: the first of 3 frames was used"),
    "TIFF": ({}, "multi-page TIFF: the first of 3 pages was used"),
    "MPO": ({"quality": 95}, "multi-picture JPEG (MPO): the first of 3 pictures was used"),
}


@pytest.mark.parametrize("fmt", list(ANIMATED))
def test_animated_files_use_the_first_frame(fmt):
    options, note = ANIMATED[fmt]
    wide = picture().convert("RGB")
    tall = picture(box=(250, 40, 350, 440)).convert("RGB")  # the later frames show a tall item
    taller = picture(box=(250, 20, 350, 460)).convert("RGB")  # (each frame different, or GIF and WEBP merge them)
    photo = convert_photo(encode(wide, fmt, save_all=True, append_images=[tall, taller], **options), f"x.{fmt.lower()}")
    single_fmt = "JPEG" if fmt == "MPO" else fmt
    first = convert_photo(encode(wide, single_fmt, **options)).image
    later = convert_photo(encode(tall, single_fmt, **options)).image
    assert note in photo.notes and photo.format == fmt
    assert mean_abs_diff(photo.image, first) < 1 < mean_abs_diff(photo.image, later) / 20


def test_jpeg_named_png_is_read_as_jpeg():
    data = encode(picture().convert("RGB"), "JPEG")
    photo = convert_photo(data, "shirt.png")
    assert photo.format == "JPEG"
    assert "named .png but it is a JPEG: read as JPEG" in photo.notes
    assert not any(note.startswith("named") for note in convert_photo(data, "shirt.JPG").notes)


# How to store an upright picture so that its EXIF orientation tag turns it back (the tag's inverse).
STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", list(STORED))
def test_exif_orientation_is_honoured(orientation):
    upright = picture(size=(480, 640), box=(100, 80, 180, 560))  # a boot: a tall leg ...
    ImageDraw.Draw(upright).rectangle((100, 480, 379, 559), fill=DARK)  # ... and a foot to the right
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = upright.transpose(STORED[orientation])
    photo = convert_photo(encode(stored, "JPEG", quality=95, exif=exif))
    expected = convert_photo(encode(upright, "JPEG", quality=95))
    as_stored = convert_photo(encode(stored, "JPEG", quality=95))
    assert f"turned upright as the camera's orientation tag says (EXIF orientation {orientation})" in photo.notes
    assert photo.original.size == (384, 512)
    assert mean_abs_diff(photo.image, expected.image) < 2
    assert mean_abs_diff(as_stored.image, expected.image) > 20  # without the tag it would be wrong


def test_one_bit_image_is_read_as_greyscale():
    photo = convert_photo(encode(picture("1", background=1, item=0), "PNG"))
    grey = convert_photo(encode(picture(item=0), "PNG"))
    assert "1-bit black and white read as greyscale" in photo.notes
    assert torch.equal(photo.image, grey.image)


@pytest.mark.parametrize(("fmt", "options"), [("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {})])
def test_other_formats_give_the_same_image(fmt, options):
    im = picture().convert("RGB")
    photo = convert_photo(encode(im, fmt, **options), f"shirt.{fmt.lower()}")
    assert photo.format == fmt and not any(note.startswith("named") for note in photo.notes)
    assert torch.equal(photo.image, convert_photo(encode(im, "PNG")).image)


def test_lossy_webp_is_read():
    photo = convert_photo(encode(picture().convert("RGB"), "WEBP", quality=80))
    assert photo.format == "WEBP"
    assert mean_abs_diff(photo.image, convert_photo(encode(picture(), "PNG")).image) < 3
