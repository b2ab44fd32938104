"""Helpers for the real-browser tests: a `streamlit run app.py` server, Chromium, waiting, console errors.

Nothing here is a test; ``tests/test_browser.py`` uses it. Usable on its own too, e.g. to poke at the app:

    with StreamlitServer() as server, chromium() as browser:
        page = browser.new_page(); page.goto(server.url("/")); wait_for_app(page)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_PATH = os.environ.get("FASHIONNET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DATA_DIR = os.environ.get("FASHIONNET_DATA_DIR", "/work/shared/data/fashion-mnist")
HEALTH_TIMEOUT_S = 60.0
APP_TIMEOUT_MS = 60_000  # a script run on a cold server (torch import, data decompression) can take a while


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None when Playwright and Chromium are both present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"playwright is not installed ({err}); pip install -r requirements-test.txt"
    if not (Path(CHROMIUM_PATH).is_file() and os.access(CHROMIUM_PATH, os.X_OK)):
        return f"Chromium not found at {CHROMIUM_PATH} (apt-get install chromium, or set FASHIONNET_CHROMIUM)"
    return None


class StreamlitServer:
    """``streamlit run app.py`` on a free port of 127.0.0.1, with its own cache folder; a context manager."""

    def __init__(
        self, data_dir: str = DATA_DIR, cache_dir: str | None = None, extra_env: dict[str, str] | None = None, root: Path = REPO_ROOT
    ) -> None:
        self.root = root  # the app's folder (benchmarks run an older commit's tree side by side)
        self.port = free_port()
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.mkdtemp(prefix="fashionnet-browser-")
        # Servers of one test session may share a cache folder (the data is decompressed into it once).
        self.cache_dir = cache_dir or os.path.join(self._tmp, "cache")
        self.log_path = os.path.join(self._tmp, "streamlit.log")
        self._log = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> StreamlitServer:
        env = {
            **os.environ,
            "FASHIONNET_DATA_DIR": self.data_dir,
            "FASHIONNET_CACHE_DIR": self.cache_dir,
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.headless", "true",
        ]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        last = "no answer yet"
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode} before it was healthy:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url("/_stcore/health"), timeout=2) as resp:
                    body = resp.read().decode(errors="replace").strip()
                if resp.status == 200 and body == "ok":
                    return
                last = f"HTTP {resp.status}: {body!r}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as err:
                last = repr(err)
            time.sleep(0.2)
        raise TimeoutError(f"streamlit on port {self.port} not healthy after {HEALTH_TIMEOUT_S:.0f} s ({last}):\n{self.log()}")

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium (the system one) driven by Playwright; yields the Browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- waiting -------------------------------------------------------------------------------------------

_BUSY_SELECTOR = "[data-testid=stSkeleton], [data-testid=stSpinner], [data-testid=stStatusWidget] [data-testid=stStatusWidgetRunningIcon]"


def wait_for_app(page, timeout: float = APP_TIMEOUT_MS) -> None:
    """Wait until the script run is over and nothing on the page is still a placeholder or a spinner.

    As Streamlit's own e2e tests do: ``[data-testid=stApp]`` carries ``data-test-script-state``, which
    is ``notRunning`` once a run has finished. A small pause first, so that a click that has only just
    been sent is not mistaken for "already done".
    """
    page.wait_for_timeout(150)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout, state="attached")
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=_BUSY_SELECTOR, timeout=timeout, polling=100)
    # Stale elements of the previous run fade out; wait for them to go.
    page.wait_for_function("() => document.querySelectorAll('[data-stale=true]').length === 0", timeout=timeout, polling=100)


def rerun_and_wait(page, action, timeout: float = APP_TIMEOUT_MS) -> None:
    """Do ``action()`` (a click, an Enter) that triggers a rerun, and wait for that rerun to finish.

    Waits to see the script running first (briefly: a fast run may be over before we look), so that
    the check for ``notRunning`` cannot pass on the state from before the action.
    """
    action()
    with contextlib.suppress(Exception):
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=running]", timeout=1500, state="attached")
    wait_for_app(page, timeout)


# --- console errors ------------------------------------------------------------------------------------

# streamlit/streamlit#7074: opened directly at a sub-page URL such as /train, the frontend first
# probes <sub-page>/_stcore/health and <sub-page>/_stcore/host-config, which answer 404.
_KNOWN_404_PATH = re.compile(r"^/[^?#]+/_stcore/(health|host-config)(\?.*)?$")
_FAILED_RESOURCE = re.compile(r"Failed to load resource: the server responded with a status of 404")


@dataclass
class ConsoleLog:
    """Console errors and page errors of one page, with the known #7074 404 probes filtered out."""

    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    not_found_urls: list[str] = field(default_factory=list)

    def attach(self, page) -> ConsoleLog:
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        return self

    def _on_response(self, response) -> None:
        if response.status == 404:
            self.not_found_urls.append(response.url)

    @staticmethod
    def _is_known_probe(url: str) -> bool:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return bool(_KNOWN_404_PATH.match(path))

    def _on_console(self, msg) -> None:
        if msg.type != "error":
            return
        text = msg.text
        if _FAILED_RESOURCE.search(text):
            url = (msg.location or {}).get("url", "")
            # The console message names the failing URL in its location; it must be one of the
            # #7074 probes AND have been seen answering 404 on this page.
            if url and url in self.not_found_urls and self._is_known_probe(url):
                self.ignored.append(f"{text} [{url}]")
                return
            text = f"{text} [{url or 'unknown URL'}]"
        self.errors.append(f"console.{msg.type}: {text}")

    def assert_clean(self, what: str = "page") -> None:
        assert not self.errors, f"{what}: console errors:\n" + "\n".join(self.errors)


# --- small DOM helpers ---------------------------------------------------------------------------------


def app_background_rgb(page) -> tuple[int, int, int]:
    """The computed background colour of ``[data-testid=stApp]``, as (r, g, b)."""
    value = page.eval_on_selector("[data-testid=stApp]", "el => getComputedStyle(el).backgroundColor")
    nums = [int(float(x)) for x in re.findall(r"[\d.]+", value)[:3]]
    return nums[0], nums[1], nums[2]


def is_dark(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 100
