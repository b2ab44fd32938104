"""Write the bundled sample: the first 2,000 training and 1,000 test images of Fashion-MNIST, as IDX .gz.

Run from the project root: ``python scripts/make_sample.py [SOURCE_DIR]`` (default: the folder in
FASHIONNET_DATA_DIR, else ../shared/data/fashion-mnist). The output is byte-for-byte reproducible
(gzip with no timestamp), so re-running it leaves git clean.
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "fashionnet" / "sample"
COUNTS = {"train": 2000, "t10k": 1000}


def write_subset(src: Path, dst: Path, count: int) -> None:
    data = gzip.decompress(src.read_bytes())
    magic, total = struct.unpack(">II", data[:8])
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    header = 4 + 4 * ndim
    per_item = 1
    for d in dims[1:]:
        per_item *= d
    if count > total:
        raise SystemExit(f"{src} has only {total} items")
    body = data[header : header + count * per_item]
    out = struct.pack(">I", magic) + struct.pack(f">{ndim}I", count, *dims[1:]) + body
    with open(dst, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(out)


def main() -> None:
    default = os.environ.get("FASHIONNET_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist")
    src_dir = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    for prefix, count in COUNTS.items():
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            write_subset(src_dir / name, SAMPLE_DIR / name, count)
            print(f"wrote {SAMPLE_DIR / name} ({(SAMPLE_DIR / name).stat().st_size:,} bytes, first {count:,} items)")


if __name__ == "__main__":
    main()
