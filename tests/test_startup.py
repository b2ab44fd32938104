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
        "                  'dynamo': 'torch._dynamo' in sys.modules, 'warm-up started': sys.modules['ui.warmup']._started}))\n"
    )
    result = json.loads(run_python(code))
    assert result["sentence"], "the Predict page did not draw its prediction"
    assert result["torchvision"] == []
    assert result["dynamo"] is False
    assert result["warm-up started"] is False  # AppTest runs app.py as a script only: no server start, no warm-up


def test_streamlit_run_serves_the_st_app_of_app_py():
    """`streamlit run app.py` finds `app` (an st.App) by reading app.py; importing app.py builds it, starts the
    warm-up and runs no page (the router's run is replaced by an exit here)."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"
    code = (
        "import os, streamlit as st, ui.warmup, ui.router\n"
        "ui.router.run = lambda: os._exit(3)\n"
        "ui.warmup.warm_up = lambda: None\n"
        "import app\n"
        "print(type(app.app) is st.App, app.app._user_lifespan is ui.warmup.lifespan, str(app.app.script_path) == app.__file__,\n"
        "      ui.warmup._started, ui.warmup.start())\n"
    )
    assert run_python(code).split() == ["True", "True", "True", "True", "False"]


@pytest.mark.realdata
def test_the_warm_up_hands_its_dataset_to_the_first_session(real_data):
    """A session that takes the dataset while the warm-up is still busy gets the warm-up's read: one read in all."""
    code = (
        "import json, threading, time, ui.warmup as w\n"
        "from fashionnet import data\n"
        "reads, real = [], data.load_fashion_mnist\n"
        "data.load_fashion_mnist = lambda *a, **k: reads.append(1) or real(*a, **k)\n"
        "warm = threading.Thread(target=w.warm_up)\n"
        "warm.start()\n"
        "while not data._early:\n"
        "    time.sleep(0.005)\n"
        "(early,) = data._early.values()\n"
        "from ui.router import shared_data\n"
        "first = shared_data()\n"
        "warm.join()\n"
        "print(json.dumps({'taken': first is early.result(), 'reads': len(reads), 'timings': list(w.timings),\n"
        "                  'size': first.size('train'), 'left': len(data._early)}))\n"
    )
    result = json.loads(run_python(code))
    assert result["taken"] and result["size"] == 60000
    assert result["reads"] == 1 and result["left"] == 0, "the dataset was read twice"
    assert result["timings"] == [
        "torch imported",
        "first page imported",
        "first learner stepped",
        "first page's draws made once",
        "data read",
    ]


def test_the_warm_up_starts_once_and_never_raises(monkeypatch):
    from ui import warmup

    started = []
    monkeypatch.setattr(warmup, "timings", {})
    monkeypatch.setattr(warmup, "_started", False)
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup.threading, "Thread", lambda **kw: type("T", (), {"start": lambda self: started.append(kw["name"])})())
    assert warmup.start() is True and warmup.start() is False
    assert started == ["fashionnet-warm-up"]
    from fashionnet import data

    def failing(*args, **kwargs):
        raise OSError("no such disk")

    monkeypatch.setattr(data, "start_early_load", failing)
    warmup.warm_up()  # logged, not raised: the first session reads by itself
    assert "first page imported" not in warmup.timings


def test_optimizers_do_not_import_dynamo_and_their_steps_equal_plain_torch():
    """fashionnet/__init__.py lets Optimizer.add_param_group & co. and Adam's and SGD's step skip torch._dynamo;
    the numbers must not change: the weights and the optimizers' states after a few steps (incl. SGD with momentum,
    a state_dict loaded back) equal those of a process where fashionnet was never imported."""
    steps = (
        "import torch\n"
        "torch.manual_seed(0)\n"
        "net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))\n"
        "x, y = torch.randn(5, 6), torch.tensor([0, 2, 1, 1, 0])\n"
        "out = []\n"
        "makers = (lambda p: torch.optim.Adam(p, lr=0.01), lambda p: torch.optim.SGD(p, lr=0.1),\n"
        "          lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))\n"
        "for make in makers:\n"
        "    opt = make(net.parameters())\n"
        "    for k in range(4):\n"
        "        opt.zero_grad()\n"
        "        torch.nn.functional.cross_entropy(net(x), y).backward()\n"
        "        opt.step()\n"
        "        if k == 1:\n"
        "            saved = opt.state_dict()\n"
        "            opt = make(net.parameters())\n"
        "            opt.load_state_dict(saved)\n"
        "    state = opt.state_dict()\n"
        "    assert torch.is_grad_enabled()\n"
        "    out += [p.detach().clone() for p in net.parameters()]\n"
        "    out += [v for s in state['state'].values() for v in s.values() if torch.is_tensor(v)]\n"
        "torch.save(out, PATH)\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        plain, ours = os.path.join(tmp, "plain.pt"), os.path.join(tmp, "ours.pt")
        assert run_python(f"PATH = {plain!r}\n" + steps + "import sys; print('fashionnet' in sys.modules)") == "False"
        dynamo = run_python("import sys, fashionnet\n" + f"PATH = {ours!r}\n" + steps + "print('torch._dynamo' in sys.modules)")
        assert dynamo == "False"
        a, b = torch.load(plain, weights_only=True), torch.load(ours, weights_only=True)
    assert len(a) == len(b) > 10
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and torch.equal(x, y)


def test_a_session_waits_for_the_warm_up_before_it_runs(monkeypatch):
    """No session draws while the warm-up still imports (a race once broke isinstance checks in st.selectbox)."""
    import threading
    import time

    from ui import warmup

    done = threading.Event()

    def slow_warm_up():
        time.sleep(0.3)
        done.set()

    monkeypatch.setattr(warmup, "_started", False)
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup, "warm_up", slow_warm_up)
    warmup.wait()  # nothing started: returns at once
    assert warmup.start() is True
    assert not done.is_set()
    warmup.wait()
    assert done.is_set()
    warmup.wait()  # and again, at once
