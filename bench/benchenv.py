"""What every benchmark sets up before it imports the app: the project, its tests and the benchmarks
importable, and the real data found as the tests find it (``../shared/data/fashion-mnist`` unless
``FASHIONNET_DATA_DIR`` says otherwise), decompressed into a cache folder of the benchmarks' own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "tests", ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
os.environ.setdefault("FASHIONNET_DATA_DIR", str(ROOT.parent / "shared" / "data" / "fashion-mnist"))
os.environ.setdefault("FASHIONNET_CACHE_DIR", str(ROOT / ".cache" / "bench-cache"))
os.environ.setdefault("FASHIONNET_OFFLINE", "1")
