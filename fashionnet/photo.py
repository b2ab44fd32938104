"""A learner's own photo as a Fashion-MNIST image: 28x28 uint8, the item bright and centred on black.

Fashion-MNIST was made from Zalando's product photos (Xiao et al. 2017): trim the edges close to the
background colour, resize the longest edge to 28, sharpen, extend the shortest edge to 28 with the item
centred, negate, greyscale. :func:`convert_photo` does the same to whatever a learner uploads, so the
net sees the photo the way it saw its training images.

An upload is untrusted bytes. It is refused, with a :class:`PhotoError` that tells the learner what is
wrong and what to do, when it is too many bytes, not one of :data:`ALLOWED_FORMATS` (so none of Pillow's
plugins that hand the file to another program is ever reached), or too many pixels: the size in pixels
is read from the header and checked before a single pixel is decoded. Nothing else escapes, whatever the
bytes, and nothing global is changed (not ``Image.MAX_IMAGE_PIXELS``, not ``LOAD_TRUNCATED_IMAGES``).
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps

from fashionnet.report import image_png

# The same limit as .streamlit/config.toml's server.maxUploadSize = 5: the browser counts 5 MB as
# 5,000,000 bytes (2**20-byte MBs on Windows), so this is the stricter reading and no upload that the
# uploader lets through on one machine is refused on another without a clear message from us.
MAX_PHOTO_BYTES = 5_000_000
# 40 megapixels. Every photo a phone saves by default (12 MP, 4032x3024) and any camera JPEG that fits in
# 5 MB (about 24 MP at most) passes with room; a 48-MP phone's full-resolution photo (8000x6000) is 10-20 MB,
# which the byte limit refuses first. What this cap stops is a small PNG, GIF or TIFF declaring a huge
# picture (a blank 40-MP PNG is 0.2 MB). Decoding takes up to 4 bytes a pixel, and shrinking a transparent
# picture one copy more: measured at 40 MP, an RGBA PNG peaks at +330 MB (1.4 s), an RGB PNG at +180 MB,
# and a JPEG, decoded at reduced scale, at +32 MB (0.3 s). Pillow's own limit (179 MP) would allow 1.4 GB.
MAX_PIXELS = 40_000_000
MIN_SIDE = 8  # below 8 px a side there is no item to trim, and 28 px would be mostly made up
# What Pillow decodes itself, in-process; EPS, PDF and the like are never tried (EPS runs Ghostscript).
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
ORIGINAL_SIDE = 512  # big enough to recognise the photo beside the 28x28 result, small to send to the browser
WORK_SIDE = 1024  # the item is found and cut at this size: 36 times the 28 px it ends at, so nothing visible is lost
# A pixel belongs to the item when it differs from the background by more than this (of 255): 5%, the
# threshold Fashion-MNIST trimmed its studio shots at. A grainy or unevenly lit backdrop raises it (see
# _fashion_mnist), up to MAX_TRIM_TOLERANCE, so that a clearly visible item is always found.
TRIM_TOLERANCE = 13
MAX_TRIM_TOLERANCE = 96
RING_FRACTION = 0.02  # the border ring that decides the background: 2% of the short side, at least 1 px

_ALLOWED_TEXT = ", ".join(ALLOWED_FORMATS[:-1]) + " or " + ALLOWED_FORMATS[-1]  # for messages
_FAMILY = {"MPO": "JPEG"}  # a phone's multi-picture JPEG is a JPEG with extra pictures after the first
_EXTENSIONS = {
    ".png": "PNG",
    ".apng": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".gif": "GIF",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".dib": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_FRAMES = {  # what one frame of a many-frame file is called, by format
    "GIF": ("animated GIF", "frames"),
    "PNG": ("animated PNG", "frames"),
    "WEBP": ("animated WEBP", "frames"),
    "TIFF": ("multi-page TIFF", "pages"),
    "MPO": ("multi-picture JPEG (MPO)", "pictures"),
}

_TRANSPARENT = {  # how to name a picture with see-through parts, by its mode in the file
    "RGBA": "RGBA",
    "RGBa": "RGBA",
    "LA": "LA (greyscale with transparency)",
    "P": "palette image with transparency",
    "PA": "palette image with transparency",
    "L": "greyscale with a transparent colour",
    "RGB": "RGB with a transparent colour",
}


class PhotoError(ValueError):
    """A file we refuse; str(err) is a short, clear message for the learner (what is wrong, what to do)."""


@dataclass(frozen=True)
class Photo:
    original: Image.Image  # the upload as RGB, downsized so its longest side is <= 512 px (for showing beside the result)
    image: torch.Tensor  # (28, 28) uint8, Fashion-MNIST style: dark background, bright item, centred
    notes: tuple[str, ...]  # what was converted, in plain words
    format: str  # the real format Pillow detected, e.g. "JPEG"


def convert_photo(data: bytes, name: str = "") -> Photo:
    """The upload ``data`` (named ``name`` by the learner) as a Fashion-MNIST image; PhotoError if refused."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"convert_photo needs the file's bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise PhotoError("the file is empty (0 bytes). Choose the photo again and upload it once more.")
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(
            f"the file is {len(data) / 1e6:.1f} MB; photos can be at most {MAX_PHOTO_BYTES / 1e6:.0f} MB. "
            "Send a smaller photo or shrink it first (a phone's normal photo is 2-4 MB)."
        )
    notes: list[str] = []
    picture, fmt = _decoded(data, notes)
    _note_name(name, fmt, notes)
    if picture.mode == "RGB" and _has_colour(picture):
        notes.append("colours turned into shades of grey (Fashion-MNIST has no colour)")
    grey = picture.convert("L")
    original = picture.convert("RGB")
    original.thumbnail((ORIGINAL_SIDE, ORIGINAL_SIDE), Image.Resampling.LANCZOS)
    return Photo(original=original, image=_fashion_mnist(grey, notes), notes=tuple(notes), format=fmt)


def photo_png(image: torch.Tensor, scale: int = 8) -> bytes:
    """The (28, 28) result enlarged ``scale`` times with hard pixel edges, as PNG bytes for display."""
    return image_png(image, size=image.shape[-1] * scale)


def _decoded(data: bytes, notes: list[str]) -> tuple[Image.Image, str]:
    """The first picture of ``data``, upright, 8-bit L or RGB with transparency put on white, at most WORK_SIDE."""
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as im:
            fmt = im.format or "?"
            _check_size(im.size)
            _note_frames(im, fmt, notes)
            if fmt in ("JPEG", "MPO"):
                # libjpeg decodes at 1/2 to 1/8 scale when that still leaves WORK_SIDE: far less memory and time.
                im.draft(None, (WORK_SIDE, WORK_SIDE))
            im.load()
            _upright(im, notes)
            source_mode = im.mode
            picture = _shrunk(_eight_bit(im, notes))
            return _on_white(picture, source_mode, notes), fmt
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow's own check inside Image.open: above ~89 MP a warning (an error only if warnings are made
        # errors), above ~179 MP an error. Either way the picture is far over our own limit.
        raise PhotoError(_too_many_pixels("far")) from err
    except MemoryError as err:
        raise PhotoError("the picture is too large to decode on this server right now. Send a smaller photo or shrink it first.") from err
    except Image.UnidentifiedImageError as err:
        raise PhotoError(_not_a_picture(data)) from err
    except Exception as err:
        # Pillow's plugins report a damaged file with a dozen exception types (OSError, SyntaxError,
        # ValueError, EOFError, struct.error, IndexError, zlib.error, ...); a learner needs one message,
        # and the cause stays chained for the log.
        raise PhotoError(_damaged(_sniffed(data) or "picture")) from err


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise PhotoError(_too_many_pixels(f"{width}x{height} pixels ({width * height / 1e6:.0f} megapixels),"))
    if min(width, height) < MIN_SIDE:
        raise PhotoError(
            f"the picture is only {width}x{height} pixels; it needs at least {MIN_SIDE} pixels on each side. "
            "Upload a real photo of the item."
        )


def _too_many_pixels(what: str) -> str:
    return (
        f"the picture is {what} over the {MAX_PIXELS / 1e6:.0f}-megapixel limit, so it was not opened. "
        "Send a smaller photo (a phone's normal 12-megapixel photo is fine) or shrink it first."
    )


def _note_frames(im: Image.Image, fmt: str, notes: list[str]) -> None:
    """Say so when only the first of several frames (pages, pictures) is used; ``im`` stays on the first."""
    kind, unit = _FRAMES.get(fmt, (f"{fmt} with several frames", "frames"))
    try:
        if not getattr(im, "is_animated", False):
            return
        count = f"the first of {im.n_frames} {unit}"  # counting reads the frames' headers, never their pixels
    except Exception:  # a damaged later frame: the first one may still be fine
        count = f"the first of its {unit}"
    im.seek(0)
    notes.append(f"{kind}: {count} was used")


def _upright(im: Image.Image, notes: list[str]) -> None:
    """Turn ``im`` as its EXIF orientation tag says (phones store photos sideways and set the tag)."""
    try:
        orientation = im.getexif().get(0x0112, 1)  # 0x0112: Orientation
        ImageOps.exif_transpose(im, in_place=True)
    except Exception:  # a damaged EXIF block should not cost the learner a good photo
        notes.append("the camera's orientation tag could not be read: the photo is used as stored")
        return
    if orientation in range(2, 9):
        notes.append(f"turned upright as the camera's orientation tag says (EXIF orientation {orientation})")


def _eight_bit(im: Image.Image, notes: list[str]) -> Image.Image:
    """``im`` as L, LA, RGB or RGBA, whatever its mode: 16-bit, 32-bit, float, 1-bit, palette, CMYK, ..."""
    mode = im.mode
    if mode.startswith("I;16"):
        levels = np.asarray(im).astype(np.uint32)  # (H, W) 0..65535, whatever the byte order
        notes.append("16-bit greyscale scaled to 8 bits")
        return Image.fromarray(((levels * 255 + 32767) // 65535).astype(np.uint8))  # round(v * 255 / 65535)
    if mode in ("I", "F"):
        return _stretched(np.asarray(im), mode, notes)
    if mode in ("L", "RGB", "P") and "transparency" in im.info:  # one colour or palette entry is see-through
        return im.convert("LA" if mode == "L" else "RGBA")
    if mode in ("L", "RGB", "LA", "RGBA"):
        return im
    if mode == "1":
        notes.append("1-bit black and white read as greyscale")
        return im.convert("L")
    if mode in ("PA", "RGBa"):
        return im.convert("RGBA")
    if mode == "CMYK":
        notes.append("CMYK (print colours) converted to RGB")
    elif mode != "P":
        notes.append(f"{mode} colours converted to RGB")
    return im.convert("RGB")


def _stretched(levels: np.ndarray, mode: str, notes: list[str]) -> Image.Image:
    """A 32-bit integer or float greyscale picture in 8 bits, keeping its scale when it has a usual one."""
    levels = np.nan_to_num(levels.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)  # (H, W)
    low, high = float(levels.min()), float(levels.max())
    kind = "32-bit integer" if mode == "I" else "floating-point"
    if mode == "I" and low >= 0 and high <= 255:
        scaled, how = levels, "read as 8 bits"
    elif mode == "I" and low >= 0 and high <= 65535:  # how many programs store 16-bit grey
        scaled, how = levels * 255 / 65535, "scaled from 16 to 8 bits"
    elif mode == "F" and low >= 0 and high <= 1:
        scaled, how = levels * 255, "scaled from 0-1 to 0-255"
    else:
        scaled, how = (levels - low) * 255 / max(high - low, 1e-12), "stretched to 0-255"
    notes.append(f"{kind} greyscale {how}")
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def _shrunk(im: Image.Image) -> Image.Image:
    """``im`` with its longest side at most WORK_SIDE (LANCZOS; RGBA and LA are resampled premultiplied)."""
    width, height = im.size
    factor = WORK_SIDE / max(width, height)
    if factor >= 1:
        return im
    return im.resize((max(1, round(width * factor)), max(1, round(height * factor))), Image.Resampling.LANCZOS)


def _on_white(im: Image.Image, source_mode: str, notes: list[str]) -> Image.Image:
    """``im`` (L, LA, RGB or RGBA) without transparency: what was see-through is put on white."""
    if im.mode not in ("LA", "RGBA"):
        return im
    alpha = im.getchannel("A")
    if alpha.getextrema()[0] < 255:
        notes.append(f"{_TRANSPARENT.get(source_mode, source_mode)}: transparent parts were put on white")
    flat_mode = im.mode[:-1]
    white = Image.new(flat_mode, im.size, 255 if flat_mode == "L" else (255, 255, 255))
    white.paste(im.convert(flat_mode), mask=alpha)  # alpha-weighted: a half-transparent pixel is half white
    return white


FAINT_BELOW = 96  # a converted item whose brightest pixel is below this is hard to see (Fashion-MNIST's items reach 255)


def _fashion_mnist(grey: Image.Image, notes: list[str]) -> torch.Tensor:
    """A greyscale photo (at most WORK_SIDE) as Fashion-MNIST's (28, 28) uint8, following the dataset's steps."""
    values = np.asarray(grey, dtype=np.float64)  # (H, W) 0..255
    height, width = values.shape
    k = max(1, round(RING_FRACTION * min(height, width)))
    background = float(np.median(_ring(values, k)))
    if background > 127:
        values, background = 255 - values, 255 - background
        notes.append("light background: inverted so the item is bright on dark, as in Fashion-MNIST")
    if background > 24:
        notes.append(f"background level {background:.0f} of 255 set to black, as in Fashion-MNIST")
    # Bright means "differs from the background", as in the dataset, whose white backdrop became 0.
    values = np.abs(values - background) * (255 / (255 - background))  # (H, W)

    # Trim to the bounding box of the pixels clearly different from the background. How different is
    # "clearly" grows with how much the border itself varies (JPEG noise, grain, uneven light); the median
    # ignores the item where it touches the border. 6 median deviations: 4 sigma of Gaussian grain.
    noise = float(np.median(_ring(values, k)))
    item_mask = values > min(MAX_TRIM_TOLERANCE, max(TRIM_TOLERANCE, 6 * noise))  # (H, W)
    if noise >= 1:  # a photographed backdrop: a 3x3 median drops lone specks of grain before the box is taken
        item_mask = np.asarray(Image.fromarray(item_mask).convert("L").filter(ImageFilter.MedianFilter(3))) > 0
    rows, cols = np.flatnonzero(item_mask.any(axis=1)), np.flatnonzero(item_mask.any(axis=0))
    if not len(rows):
        raise PhotoError(
            "nothing to see: the image is one flat colour (nothing in it stands out from the background). "
            "Photograph the item on a plain background of a different brightness, filling most of the frame."
        )
    item = values[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w)

    # Resize the longest edge to 28, sharpen lightly, and centre on a black 28x28 canvas.
    h, w = item.shape
    size = (28, max(1, round(h * 28 / w))) if w >= h else (max(1, round(w * 28 / h)), 28)
    small = Image.fromarray(np.clip(np.rint(item), 0, 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (28, 28), 0)
    # An odd margin puts its extra pixel before the item, as Fashion-MNIST does for 98% of its items of odd
    # width or height (measured on all 70,000); the other way shifts them 1 px (round-trip median r 0.88, not 0.998).
    canvas.paste(small, ((29 - size[0]) // 2, (29 - size[1]) // 2))
    # The dataset sharpened with a Gaussian of radius 1; done on the canvas, the outline against black sharpens too.
    canvas = canvas.filter(ImageFilter.UnsharpMask(radius=1, percent=50, threshold=0))
    out = np.array(canvas, dtype=np.uint8)
    if (brightest := int(out.max())) < FAINT_BELOW:
        notes.append(
            f"the item differs little from its background (its brightest pixel is {brightest} of 255), so it stays faint, "
            "as it would in Fashion-MNIST: a background of another brightness shows it better"
        )
    return torch.from_numpy(out)  # (28, 28)


def _ring(values: np.ndarray, k: int) -> np.ndarray:
    """The pixels of the outer ``k``-pixel ring of ``values`` (H, W), flattened (corners twice)."""
    return np.concatenate([values[:k].ravel(), values[-k:].ravel(), values[:, :k].ravel(), values[:, -k:].ravel()])


def _has_colour(rgb: Image.Image) -> bool:
    channels = np.asarray(rgb, dtype=np.int16)  # (H, W, 3)
    return bool(np.abs(np.diff(channels, axis=2)).max() > 8)  # a few levels apart is JPEG noise on grey


def _note_name(name: str, fmt: str, notes: list[str]) -> None:
    """Say so when the file's name claims another format than its bytes (the bytes win)."""
    ext = PurePath(name).suffix.lower() if name else ""
    family = _FAMILY.get(fmt, fmt)
    if ext and re.fullmatch(r"\.[a-z0-9]{1,8}", ext) and _EXTENSIONS.get(ext) != family:
        notes.append(f"named {ext} but it is a {family}: read as {family}")


def _sniffed(data: bytes) -> str | None:
    """The allowed format ``data`` starts like, if any (for the message about a damaged file)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


def _damaged(fmt: str) -> str:
    return (
        f"this {fmt} file is damaged or cut short (truncated), so it cannot be read. "
        "Save or export the photo again and upload the new file."
    )


def _not_a_picture(data: bytes) -> str:
    """Why ``data``, which no allowed format accepts, is refused, naming what it looks like."""
    if fmt := _sniffed(data):
        return _damaged(fmt)
    head = data[:4096]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"heif", b"mif1", b"msf1", b"hevc", b"avif", b"avis"):
        return (
            "this is a HEIC/HEIF or AVIF photo (an iPhone's usual format), which this app does not read. "
            f"Export it as JPEG (on an iPhone: Settings > Camera > Formats > Most Compatible) or upload a {_ALLOWED_TEXT} file."
        )
    kinds = (
        (head.startswith(b"%PDF"), "a PDF document"),
        (head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")), "a PostScript (EPS) file"),
        (text.startswith(b"<") and b"<svg" in text, "an SVG drawing (a text file describing shapes)"),
        (text.startswith(b"<"), "a web page or XML file"),
        (head.startswith(b"PK\x03\x04"), "a ZIP archive (or an Office document)"),
        (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"), "a Python pickle (saved program data)"),
        (_is_text(head), "a text file"),
    )
    kind = next((kind for found, kind in kinds if found), None)
    what = f"this file is {kind}, not a picture" if kind else "this file is not a picture this app can read"
    return f"{what}. Upload a {_ALLOWED_TEXT} photo."


def _is_text(head: bytes) -> bool:
    try:  # not final: ``head`` may end inside a character
        decoded = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in decoded)
