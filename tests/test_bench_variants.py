"""bench/variant_bench.py's prototypes still apply to the code and still run (a benchmark that no longer
measures what it says would be worse than none). Not a timing test: nothing here is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import variant_bench

# A session of the variant's app (AppTest, in a fresh process whose imports come from the variant's copy):
# its Train page, three clicks on Train one step, then what the page shows.
SESSION = """
import json
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
at.switch_page("pages/train.py").run()
for _ in range(3):
    at.button(key="train_step").click().run()
texts = [e.proto.body for e in at.get("html")] + [m.value for m in at.markdown] + [h.value for h in at.subheader]
print(json.dumps({"exceptions": [e.value for e in at.exception], "texts": texts}))
"""


@pytest.mark.parametrize("name", list(variant_bench.VARIANTS))
def test_every_edit_matches_the_code_once_and_the_result_compiles(name):
    texts = variant_bench.edited(name, lambda rel: (ROOT / rel).read_text())
    assert bool(texts) == (name != "as is")
    for rel, text in texts.items():
        assert text != (ROOT / rel).read_text()
        compile(text, rel, "exec")  # a SyntaxError fails the test


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["one run", "one element", "one element, least"])
def test_the_prototype_takes_steps_and_shows_them(name, tmp_path, real_data):
    folder = variant_bench.make_variant(name, tmp_path)
    env = {**os.environ, "FASHIONNET_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", SESSION], cwd=folder, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    shown = json.loads(out.stdout.strip().splitlines()[-1])
    assert shown["exceptions"] == []
    assert any("Step 3: what changed" in t for t in shown["texts"]), shown["texts"][:5]
    assert any("Steps taken: 3 " in t for t in shown["texts"])
