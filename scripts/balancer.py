"""More than one server: N `streamlit run app.py` replicas behind HAProxy, sticky by cookie, on 127.0.0.1.

A learner's model lives in the memory of the replica that holds their session, so every request of one
browser must reach the same replica: HAProxy inserts a ``SERVERID`` cookie on the first answer
(``cookie SERVERID insert indirect nocache``) and routes by it from then on, the WebSocket upgrade
(``/_stcore/stream``) included; ``timeout tunnel`` keeps an idle learner's WebSocket open. Replicas are
health-checked on ``/_stcore/health``; every answer names its replica in an ``X-FashionNet-Replica``
header, and HAProxy's statistics (CSV) are served on a second port, so tests and benchmarks can see
where learners landed.

Run it by hand (Ctrl-C stops everything it started)::

    python scripts/balancer.py                  # 2 replicas; prints the address to open
    python scripts/balancer.py --replicas 3 --port 8501

or use :class:`Balancer` as a context manager (tests/test_balancer.py, bench/classroom.py --balancer).
Needs ``haproxy`` on PATH (Debian: ``apt-get install haproxy``).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEALTH_TIMEOUT_S = 90.0
REPLICA_HEADER = "X-FashionNet-Replica"

HAPROXY_CFG = """\
global
    maxconn 4096

defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    # A WebSocket is a tunnel once upgraded: keep a quiet learner's connection for an hour.
    timeout tunnel 1h
    timeout client-fin 5s

frontend fashionnet
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    # Sticky sessions: the first answer sets SERVERID=<replica>, later requests (the WebSocket too) follow it.
    cookie SERVERID insert indirect nocache
    option httpchk GET /_stcore/health
    http-check expect string ok
    http-response set-header {header} %s
{servers}

frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
    stats refresh 5s
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None)


def _get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read().decode(errors="replace")


class Balancer:
    """``replicas`` Streamlit servers and one HAProxy in front of them, all on 127.0.0.1; a context manager.

    ``env`` adds environment variables for the replicas (e.g. FASHIONNET_CACHE_DIR). The replicas share one
    cookie secret, so a cookie signed by one (XSRF token, uploads) is valid on the others too.
    """

    def __init__(self, replicas: int = 2, port: int | None = None, env: dict[str, str] | None = None, app_dir: Path = ROOT) -> None:
        self.n = replicas
        self.port = port or free_port()
        self.stats_port = free_port()
        self.replica_ports = [free_port() for _ in range(replicas)]
        self.names = [f"r{i + 1}" for i in range(replicas)]
        self.env = env or {}
        self.app_dir = app_dir
        self.tmp = tempfile.mkdtemp(prefix="fashionnet-balancer-")
        self.procs: list[subprocess.Popen] = []
        self.haproxy: subprocess.Popen | None = None
        self._logs: list = []

    # --- addresses ---------------------------------------------------------------------------------------
    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/_stcore/stream"

    @property
    def pids(self) -> dict[str, int]:
        """Replica name -> process id of its `streamlit run`."""
        return {name: p.pid for name, p in zip(self.names, self.procs, strict=True)}

    # --- life cycle --------------------------------------------------------------------------------------
    def start(self) -> Balancer:
        exe = haproxy_path()
        if exe is None:
            raise FileNotFoundError("haproxy is not installed (Debian: apt-get install haproxy)")
        try:
            secret = secrets.token_hex(16)
            for name, port in zip(self.names, self.replica_ports, strict=True):
                self.procs.append(self._start_replica(name, port, secret))
            for proc, port in zip(self.procs, self.replica_ports, strict=True):
                self._wait(f"http://127.0.0.1:{port}/_stcore/health", proc)
            servers = "\n".join(
                f"    server {name} 127.0.0.1:{port} check inter 2s cookie {name}"
                for name, port in zip(self.names, self.replica_ports, strict=True)
            )
            cfg = Path(self.tmp) / "haproxy.cfg"
            cfg.write_text(HAPROXY_CFG.format(port=self.port, stats_port=self.stats_port, servers=servers, header=REPLICA_HEADER))
            check = subprocess.run([exe, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
            if check.returncode != 0:
                raise RuntimeError(f"haproxy rejected its configuration:\n{check.stdout}{check.stderr}")
            log = open(Path(self.tmp) / "haproxy.log", "wb")  # noqa: SIM115 - closed in stop()
            self._logs.append(log)
            self.haproxy = subprocess.Popen([exe, "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
            self._wait(self.url("/_stcore/health"), self.haproxy)
            self._wait_all_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_replica(self, name: str, port: int, secret: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "STREAMLIT_SERVER_COOKIE_SECRET": secret,
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--server.headless", "true",
        ]  # fmt: skip
        log = open(Path(self.tmp) / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        return subprocess.Popen(cmd, cwd=self.app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)

    def _wait(self, url: str, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        last = "no answer yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[:3]} exited with code {proc.returncode}:\n{self.logs()}")
            try:
                status, body = _get(url)
                if status == 200 and body.strip() == "ok":
                    return
                last = f"HTTP {status}: {body[:80]!r}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as err:
                last = repr(err)
            time.sleep(0.2)
        raise TimeoutError(f"{url} not healthy after {HEALTH_TIMEOUT_S:.0f} s ({last}):\n{self.logs()}")

    def _wait_all_up(self) -> None:
        """Until HAProxy's own health checks have seen every replica up (it starts them as up, but check anyway)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = {row["svname"]: row["status"] for row in self.stats()}
            if all(status.get(name, "").startswith("UP") for name in self.names):
                return
            time.sleep(0.3)
        raise TimeoutError(f"HAProxy does not see every replica up: {status}")

    def stats(self) -> list[dict[str, str]]:
        """HAProxy's statistics of the replicas' backend: one row per replica (svname, status, scur, stot...)."""
        _, text = _get(f"http://127.0.0.1:{self.stats_port}/stats;csv")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("# "))))
        return [r for r in rows if r.get("pxname") == "replicas" and r.get("svname") in self.names]

    def logs(self) -> str:
        out = []
        for path in sorted(Path(self.tmp).glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(out)

    def stop(self) -> None:
        for proc in ([self.haproxy] if self.haproxy else []) + self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in ([self.haproxy] if self.haproxy else []) + self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.haproxy, self.procs = None, []
        for log in self._logs:
            log.close()
        self._logs = []
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=None, help="the balancer's port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    with Balancer(args.replicas, args.port) as lb:
        ports = ", ".join(f"{n} on :{p} (pid {lb.pids[n]})" for n, p in zip(lb.names, lb.replica_ports, strict=True))
        print(f"FashionNet Lab behind HAProxy: {lb.url('/')}  (replicas: {ports}; stats: http://127.0.0.1:{lb.stats_port}/stats)")
        print("Ctrl-C stops the balancer and the replicas.", flush=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        try:
            while not stop and lb.haproxy is not None and lb.haproxy.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
