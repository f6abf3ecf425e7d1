"""azure-eventhub 5.15.1's own live test suite (`tests/livetest`), from its PyPI source package,
against hubgate over TLS, on both of its transports (AMQP and AMQP over WebSocket).

Runs only with `HUBGATE_EVENTHUB_SUITE=1` (it takes long: see README). The source package is
downloaded at test time; `eventhub_suite/` supplies the fixtures that replace the Azure
Resource Manager ones (`livetest_conftest.py`, installed as `tests/livetest/conftest.py`) and stand-ins for the Azure-only modules the suite's
conftest imports (`hubgate_stubs.py`). The SDK dials the namespace host on port 5671 for AMQP
and 443 for WebSocket, with no way in the suite to name other ports, so the gateway listens on
those ports of a loopback address of its own (127.x.y.z, one per run); its certificate comes
from a CA made here, which the clients trust through `SSL_CERT_FILE` (websocket-client,
`ssl.create_default_context`) and a certifi bundle holding it (the SDK's default trust). Deselected are only the
tests that need Azure-only services, each listed with its reason in `AZURE_ONLY`. There is no
rerun: a test that fails once is reported failed.
"""

import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import certifi
import pytest
from conftest import Gateway

import security_support
from security_support import Policy

VERSION = "5.15.1"
HERE = Path(__file__).resolve().parent
KEY_NAME = "RootManageSharedAccessKey"

# Tests that need an Azure service hubgate does not stand in for, and why.
AZURE_ONLY = {
    "test_receive_storage_checkpoint": "needs an Azure Storage account and Azure Resource Manager",
    "test_faultinjector": "needs the Azure SDK's fault-injector proxy in front of the service",
}


def _suite_dir(tmp_path: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-binary", ":all:", f"azure-eventhub=={VERSION}", "-d", str(tmp_path)],
        check=True,
    )
    with tarfile.open(tmp_path / f"azure_eventhub-{VERSION}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / f"azure_eventhub-{VERSION}"
    shutil.copy(HERE / "eventhub_suite" / "livetest_conftest.py", root / "tests" / "livetest" / "conftest.py")
    return root


@pytest.mark.skipif(os.environ.get("HUBGATE_EVENTHUB_SUITE") != "1",
                    reason="the Event Hubs SDK suite runs only with HUBGATE_EVENTHUB_SUITE=1")
@pytest.mark.timeout(7200)
def test_eventhub_live_suite(tmp_path):
    host = "127.{}.{}.{}".format(*(random.randint(1, 254) for _ in range(3)))
    ca = security_support.TestCa(tmp_path / "ca")
    cert, key = ca.issue("server", f"/CN={host}", server=True, san=f"IP:{host}")
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_text(Path(certifi.where()).read_text() + ca.cert.read_text())
    policy = Policy(KEY_NAME, ["manage"])
    config = tmp_path / "hubgate.toml"
    config.write_text(policy.toml())
    data = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    gw = Gateway(data, [
        "--config", str(config), "--tls-cert", str(cert), "--tls-key", str(key),
        "--no-auto-create", "--kafka-listen", "off",
        "--amqp-listen", f"{host}:5671", "--http-listen", f"{host}:443",
    ]).start()
    try:
        root = _suite_dir(tmp_path)
        report = tmp_path / "report.xml"
        deselect = " and ".join(f"not {name}" for name in AZURE_ONLY)
        # A narrower selection for working on a few tests (pytest -k syntax); the default is all.
        if os.environ.get("HUBGATE_EVENTHUB_SUITE_SELECT"):
            deselect += f" and ({os.environ['HUBGATE_EVENTHUB_SUITE_SELECT']})"
        workers = os.environ.get("HUBGATE_EVENTHUB_SUITE_WORKERS", "2")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE / "eventhub_suite"), str(root / "tests")]),
            "SSL_CERT_FILE": str(bundle),
            "HUBGATE_SUITE_CA_BUNDLE": str(bundle),
            "HUBGATE_SUITE_HOST": host,
            "HUBGATE_SUITE_KEY_NAME": KEY_NAME,
            "HUBGATE_SUITE_KEY": policy.key,
        }
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "livetest", "-k", deselect, "-p", "hubgate_stubs",
             "-q", "-rfE", "--show-capture=no", "-p", "no:cacheprovider", "-n", workers,
             "--timeout", "300", f"--junitxml={report}"],
            # From `tests/`, so that the installed SDK is imported, not the package's source tree.
            cwd=root / "tests", env=env, capture_output=True, text=True, timeout=7000,
        )
        (tmp_path / "suite.log").write_text(result.stdout + result.stderr)
        print(f"suite output: {tmp_path / 'suite.log'}")
        assert report.exists(), result.stdout[-20000:] + result.stderr[-5000:]
        total, failed, skipped, deselected = _outcome(report, result.stdout)
        assert total > 0, result.stdout[-20000:] + result.stderr[-5000:]
        print(f"azure-eventhub {VERSION} live suite: {total - len(failed) - skipped} passed, "
              f"{len(failed)} failed, {skipped} skipped, {deselected} deselected "
              f"(Azure-only: {', '.join(AZURE_ONLY)}); failed: {failed or 'none'}")
        assert not failed, result.stdout[-30000:] + "\n" + gw.log()[-20000:]
    finally:
        gw.kill()
        shutil.rmtree(data, ignore_errors=True)


def _outcome(report: Path, stdout: str):
    """(tests run, ids of failed tests, skipped, deselected) from the JUnit report and summary."""
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    deselected = 0
    for line in stdout.splitlines():
        if " deselected" in line:
            for part in line.replace(",", " ").split(" deselected")[0].split()[-1:]:
                deselected = int(part) if part.isdigit() else deselected
    return int(suite.get("tests")), failed, int(suite.get("skipped")), deselected
