"""Start-up (issue 10): the first page imports neither torchvision nor torch._dynamo, `streamlit run app.py`
serves app.py's st.App whose lifespan starts the warm-up, and the warm-up hands its dataset to the first
session. Each check that depends on what a process has imported runs in a fresh Python process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT


def run_python(code: str, timeout: float = 300) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=os.environ, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.realdata
def test_the_first_page_imports_neither_torchvision_nor_dynamo(real_data):
    """The Predict page as a session first sees it (AppTest runs app.py), with the data cache warm."""
    code = (
        "import json, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=120).run()\n"
        "assert not at.exception, at.exception\n"
        "sentence = [m.value for m in at.markdown if 'The network thinks this is' in m.value]\n"
        "print(json.dumps({'sentence': sentence, 'torchvision': sorted(m for m in sys.modules if m.startswith('torchvision')),\n"
        "                  'dynamo': 'torch._dynamo' in sys.modules, 'ui.warmup': 'ui.warmup' in sys.modules}))\n"
    )
    result = json.loads(run_python(code))
    assert result["sentence"], "the Predict page did not draw its prediction"
    assert result["torchvision"] == []
    assert result["dynamo"] is False
    assert result["ui.warmup"] is True  # imported (the router tells it the first page is drawn), never started


def test_streamlit_run_serves_the_st_app_of_app_py():
    """`streamlit run app.py` finds `app` (an st.App) by reading app.py; importing app.py builds it and runs no page."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"
    code = (
        "import sys, app, streamlit as st, ui.warmup\n"
        "print(type(app.app) is st.App, app.app._user_lifespan is ui.warmup.lifespan, str(app.app.script_path) == app.__file__,\n"
        "      'ui.router' in sys.modules, 'torch' in sys.modules)\n"
    )
    # The st.App runs app.py itself as every session's script; importing it must not run the router (nor import torch).
    assert run_python(code).split() == ["True", "True", "True", "False", "False"]


@pytest.mark.realdata
def test_the_warm_up_hands_its_dataset_to_the_first_session(real_data):
    code = (
        "import json, ui.warmup as w\n"
        "w.warm_up(later_after_s=0)\n"
        "from fashionnet import data\n"
        "from ui.router import shared_data\n"
        "early = data.start_early_load()\n"
        "first = shared_data()\n"
        "print(json.dumps({'taken': first is early.result(), 'timings': list(w.timings), 'size': first.size('train'),\n"
        "                  'handed_once': data.load_early_or_now() is not first}))\n"
    )
    result = json.loads(run_python(code))
    assert result["taken"] and result["handed_once"] and result["size"] == 60000
    assert result["timings"] == ["torch imported", "first page imported", "first learner built", "data read", "first step taken"]


def test_the_warm_up_starts_once_and_never_raises(monkeypatch):
    from ui import warmup

    started = []
    monkeypatch.setattr(warmup, "timings", {})
    monkeypatch.setattr(warmup, "_started", False)
    monkeypatch.setattr(warmup.threading, "Thread", lambda **kw: type("T", (), {"start": lambda self: started.append(kw["name"])})())
    assert warmup.start() is True and warmup.start() is False
    assert started == ["fashionnet-warm-up"]
    from fashionnet import data

    def failing(*args, **kwargs):
        raise OSError("no such disk")

    monkeypatch.setattr(data, "start_early_load", failing)
    warmup.warm_up(later_after_s=0)  # logged, not raised: the first session reads by itself
    assert "first page imported" not in warmup.timings


def test_building_an_optimizer_does_not_import_dynamo_and_its_steps_equal_plain_torch():
    """fashionnet/__init__.py lets Optimizer.add_param_group & co. skip torch._dynamo's wrapper; the numbers must
    not change: Adam's and SGD's state after a few steps equal those of a process where fashionnet was never imported."""
    steps = (
        "import torch\n"
        "torch.manual_seed(0)\n"
        "net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))\n"
        "x, y = torch.randn(5, 6), torch.tensor([0, 2, 1, 1, 0])\n"
        "out = []\n"
        "for make in (lambda p: torch.optim.Adam(p, lr=0.01), lambda p: torch.optim.SGD(p, lr=0.1)):\n"
        "    opt = make(net.parameters())\n"
        "    for _ in range(3):\n"
        "        opt.zero_grad()\n"
        "        torch.nn.functional.cross_entropy(net(x), y).backward()\n"
        "        opt.step()\n"
        "    state = opt.state_dict()\n"
        "    out += [p.detach().clone() for p in net.parameters()]\n"
        "    out += [v for s in state['state'].values() for v in s.values() if torch.is_tensor(v)]\n"
        "torch.save(out, PATH)\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        plain, ours = os.path.join(tmp, "plain.pt"), os.path.join(tmp, "ours.pt")
        assert run_python(f"PATH = {plain!r}\n" + steps + "import sys; print('fashionnet' in sys.modules)") == "False"
        dynamo = run_python(
            "import sys, fashionnet, torch\n"
            "opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))])\n"
            "built = 'torch._dynamo' in sys.modules\n" + f"PATH = {ours!r}\n" + steps + "print(built)"
        )
        assert dynamo == "False"
        a, b = torch.load(plain, weights_only=True), torch.load(ours, weights_only=True)
    assert len(a) == len(b) > 10
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and torch.equal(x, y)
