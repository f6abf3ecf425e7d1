"""Fixtures for the compatibility suite: the real `hubgate` binary on ephemeral loopback ports.

`gateway` is one gateway shared by a test module (hubs get unique names per test through
`hub_name`); `start_gateway` starts a private one with extra flags, for restarts, limits and
crash tests. Both read the bound addresses from the gateway's JSON log.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"


def hubgate_bin() -> str:
    return os.environ.get("HUBGATE_BIN", str(ROOT / "target" / "debug" / "hubgate"))


class Gateway:
    """A running `hubgate serve` process with every listener on 127.0.0.1:0."""

    def __init__(self, data_dir: Path, extra_args=(), env=None):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.lines = []
        self.proc = None
        self.addrs = {}
        self._ready = threading.Event()
        self._cond = threading.Condition()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout=30.0):
        args = [
            hubgate_bin(),
            "--log-format",
            "json",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--shutdown-grace-secs",
            "2",
            *self.extra_args,
        ]
        # Every listener on an ephemeral port unless the test chose its own.
        for protocol in ("kafka", "amqp", "http", "blob"):
            flag = f"--{protocol}-listen"
            if flag not in self.extra_args:
                args += [flag, "127.0.0.1:0"]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info"), **self.env}
        self.lines = []
        self.addrs = {}
        self._ready.clear()
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                break
        if not self._ready.is_set():
            self.kill()
            time.sleep(0.1)  # let the reader thread collect the last lines
            raise RuntimeError("hubgate did not become ready:\n" + self.log())
        return self

    def _pump(self, proc):
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            fields = event.get("fields", {})
            # The accept loop also logs "listening" (with `proto`); the gateway's line has `protocol`.
            if fields.get("message") == "listening" and "protocol" in fields:
                self.addrs[fields["protocol"]] = fields["addr"]
            elif fields.get("message") == "hubgate ready":
                self._ready.set()

    def stop(self, timeout=20.0):
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("hubgate did not stop after SIGTERM:\n" + self.log())

    def kill(self):
        """SIGKILL: a crash, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, crash=False):
        self.kill() if crash else self.stop()
        return self.start()

    # -- what tests use ------------------------------------------------------------------------

    @property
    def kafka(self) -> str:
        """Kafka bootstrap address, `127.0.0.1:PORT`."""
        return self.addrs["kafka"]

    @property
    def amqp(self) -> str:
        """AMQP address, `127.0.0.1:PORT`."""
        return self.addrs["amqp"]

    @property
    def http(self) -> str:
        """HTTP base URL, `http://127.0.0.1:PORT`."""
        return "http://" + self.addrs["http"]

    @property
    def blob(self) -> str:
        """Blob endpoint of the development account, `http://127.0.0.1:PORT/devstoreaccount1`."""
        return "http://" + self.addrs["blob"] + "/devstoreaccount1"

    def port(self, protocol: str) -> int:
        return int(self.addrs[protocol].rsplit(":", 1)[1])

    def log(self) -> str:
        with self._cond:
            return "\n".join(self.lines[-200:])

    def full_log(self) -> str:
        """Every line logged since the last start."""
        with self._cond:
            return "\n".join(self.lines)

    def wait_for_log(self, needle: str, timeout=10.0) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"log line containing {needle!r} not seen:\n" + self.log())
                self._cond.wait(left)


@pytest.fixture
def start_gateway():
    """Factory: `start_gateway("--no-auto-create", ...)` starts a private gateway."""
    started = []

    def start(*extra_args, env=None, data_dir=None):
        directory = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
        gw = Gateway(directory, extra_args, env).start()
        started.append((gw, data_dir is None))
        return gw

    yield start
    for gw, owned in started:
        gw.kill()
        if owned:
            shutil.rmtree(gw.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def gateway():
    """One gateway per test module, default settings (auto-create on, 4 partitions)."""
    directory = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    gw = Gateway(directory).start()
    yield gw
    gw.kill()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def group_gateway():
    """One gateway per test module for consumer-group tests: no initial rebalance delay, and
    session timeouts from 1 s, so rebalances take as long as the clients make them."""
    from kafka_group_support import GROUP_FLAGS

    directory = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    gw = Gateway(directory, GROUP_FLAGS).start()
    yield gw
    gw.kill()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def hub_name(request) -> str:
    """A hub (topic) name unique to this test."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")
    return f"{base}-{uuid.uuid4().hex[:8]}"


def run_node(script: str, *args, timeout=120, env=None) -> subprocess.CompletedProcess:
    """Runs a Node.js script from tests/compat/node with the installed npm clients."""
    result = subprocess.run(
        ["node", str(NODE_DIR / script), *args],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, f"node {script} failed:\n{result.stdout}\n{result.stderr}"
    return result
