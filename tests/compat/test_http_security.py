"""A secured gateway over HTTPS with curl (HTTP/2 and HTTP/1.1, `--cacert` the test CA):
tokens, rights, the early 401 over HTTP/2, unsigned webhooks, DNS-rebinding protection,
`/metrics` rules, credential headers, TLS reload on SIGHUP, client certificates, the
`--insecure` rules, key_file/key_env, and no configured key in the log of a whole run."""

import hashlib
import http.client
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import Gateway, hubgate_bin
from security_support import Policy, SecureSetup, assert_no_secret_in_log, fingerprint, sas_token

from test_http_support import kafka_read

LATER = int(time.time()) + 3600
BODY = os.urandom(200_000)  # large enough that curl is still uploading when an early answer comes
# Debug output of the HTTP and TLS code as well, so the log check below sees the most.
LOG_LEVEL = "info,hubgate_http=debug,hubgate_protocol=debug"


def curl(setup, gw_port, path, *args, version="--http2", data=None, token=None, host=None):
    """Runs curl, trusting `setup`'s CA, against https://localhost:PORT/path; returns (exit
    code, HTTP status, body, stderr)."""
    cmd = ["curl", "-sS", version, "--cacert", str(setup.ca.cert), "-o", "-", "-w", "\n%{http_code}", "--max-time", "20"]
    if token:
        cmd += ["-H", f"Authorization: {token}"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    if data is not None:
        cmd += ["--data-binary", "@-"]
    cmd += [*args, f"https://localhost:{gw_port}{path}"]
    done = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
    out = done.stdout.decode("utf-8", "replace")
    body, _, status = out.rpartition("\n")
    return done.returncode, int(status or 0), body, done.stderr.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def secure():
    directory = Path(tempfile.mkdtemp(prefix="hubgate-security-"))
    setup = SecureSetup(directory, extra_toml='[webhooks.signed]\nsignature = "github"\nsecret = "wh-' + "s" * 24 + '"\n')
    gw = Gateway(directory / "data", setup.args(), env={"RUST_LOG": LOG_LEVEL}).start()
    yield setup, gw
    gw.kill()
    shutil.rmtree(directory, ignore_errors=True)


def resource(hub):
    return f"sb://localhost/{hub}"


@pytest.mark.parametrize("version", ["--http2", "--http1.1"])
def test_send_needs_a_send_token(secure, hub_name, version):
    setup, gw = secure
    port = gw.port("http")
    sender, listener = setup.policies["sender"], setup.policies["listener"]
    rc, status, body, err = curl(setup, port, f"/{hub_name}/messages", version=version, data=b"hello", token=sender.token(resource(hub_name), LATER))
    assert (rc, status) == (0, 201), (body, err)

    good = sender.token(resource(hub_name), LATER)
    refused = {
        "none": None,
        "expired": sender.token(resource(hub_name), int(time.time()) - 60),
        "tampered": good.replace("se=", "se=1"),
        "wrong key": sas_token(resource(hub_name), "sender", "not-the-key", LATER),
        "unknown name": sas_token(resource(hub_name), "nobody", sender.key, LATER),
    }
    messages = {}
    for what, token in refused.items():
        rc, status, body, err = curl(setup, port, f"/{hub_name}/messages", version=version, data=BODY, token=token)
        assert (rc, status) == (0, 401), (what, body, err)
        messages[what] = body
    # An unknown policy name reads exactly like a wrong key: the caller learns no names.
    assert messages["unknown name"] == messages["wrong key"]
    assert "nobody" not in messages["unknown name"]

    rc, status, body, err = curl(setup, port, f"/{hub_name}/messages", version=version, data=b"x", token=listener.token(resource(hub_name), LATER))
    assert (rc, status) == (0, 403), (body, err)


def test_early_401_over_http2_100_times(secure, hub_name):
    """The 401 goes out before the 200 kB body is read; curl must see it every time, never
    `(92) Stream error in the HTTP/2 framing layer`."""
    setup, gw = secure
    port = gw.port("http")
    failures = []
    for i in range(100):
        rc, status, body, err = curl(setup, port, f"/{hub_name}/messages", data=BODY)
        if (rc, status) != (0, 401):
            failures.append((i, rc, status, err.strip()))
    assert not failures, failures


def test_refused_requests_create_no_hub(secure, hub_name):
    setup, gw = secure
    port = gw.port("http")
    admin = setup.policies["admin"].token("sb://localhost/", LATER)
    # Unsigned webhook to a hub without a [webhooks] table: needs a Send token now.
    rc, status, body, err = curl(setup, port, f"/webhooks/{hub_name}", "-H", "Content-Type: application/json", data=b'{"a":1}')
    assert (rc, status) == (0, 401), (body, err)
    # Too large with a valid token: 413 (answered before the body is read, so also a case for
    # the drain: a 3 MB upload over both HTTP versions), and still no hub.
    sender = setup.policies["sender"].token(resource(hub_name), LATER)
    for size in (1 << 20 | 1, 3_000_000):
        for version in ("--http2", "--http1.1"):
            rc, status, body, err = curl(setup, port, f"/{hub_name}/messages", "-H", "Expect:", version=version, data=b"x" * size, token=sender)
            assert (rc, status) == (0, 413), (size, version, body, err)
    rc, status, body, err = curl(setup, port, f"/{hub_name}", token=admin)
    assert (rc, status) == (0, 404), ("a refused request created the hub", body)
    # With a Send token the webhook is stored.
    rc, status, body, err = curl(setup, port, f"/webhooks/{hub_name}", "-H", "Content-Type: application/json", data=b'{"a":1}', token=sender)
    assert (rc, status) == (0, 201), (body, err)
    # A hub with its own signature still takes the signature, not a token.
    rc, status, body, err = curl(setup, port, "/webhooks/signed", data=b"{}", token=sender)
    assert (rc, status) == (0, 401), (body, err)


@pytest.mark.parametrize("version", ["--http2", "--http1.1"])
def test_foreign_host_gets_421(secure, version):
    setup, gw = secure
    port = gw.port("http")
    rc, status, body, err = curl(setup, port, "/healthz", version=version, host=f"evil.example:{port}")
    assert (rc, status) == (0, 421), (body, err)
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        rc, status, body, err = curl(setup, port, "/healthz", version=version, host=host)
        assert (rc, status) == (0, 200), (host, body, err)


def test_metrics_need_listen_or_manage(secure):
    setup, gw = secure
    port = gw.port("http")
    assert curl(setup, port, "/metrics")[:2] == (0, 401)
    assert curl(setup, port, "/metrics", token=setup.policies["sender"].token("sb://localhost/", LATER))[:2] == (0, 403)
    for name in ("listener", "admin"):
        rc, status, body, _ = curl(setup, port, "/metrics", token=setup.policies[name].token("sb://localhost/", LATER))
        assert (rc, status) == (0, 200) and "hubgate_" in body, name
    assert curl(setup, port, "/healthz")[:2] == (0, 200)
    assert curl(setup, port, "/readyz")[:2] == (0, 200)


def test_metrics_public_and_allowed_hosts(tmp_path):
    setup = SecureSetup(tmp_path / "setup", tls=False)
    gw = Gateway(
        tmp_path / "data",
        [*setup.args(), "--metrics-public", "--kafka-listen", "off", "--amqp-listen", "off"],
        env={"HUBGATE_HTTP_ALLOWED_HOSTS": "gw.internal,proxy.internal"},
    ).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", gw.port("http"), timeout=10)
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        assert response.status == 200 and b"hubgate_" in response.read()
        conn.request("POST", "/h/messages", body=b"x")
        refused = conn.getresponse()
        refused.read()
        assert refused.status == 401, "only the metrics are public"
        # Host names given in HUBGATE_HTTP_ALLOWED_HOSTS pass the loopback Host check.
        for host, expected in (("gw.internal:80", 200), ("Proxy.Internal", 200), ("other.internal", 421)):
            conn.request("GET", "/healthz", headers={"Host": host})
            answer = conn.getresponse()
            answer.read()
            assert answer.status == expected, host
        # Without TLS, SIGHUP has nothing to reload and must not stop the gateway.
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("nothing to reload")
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200 and gw.proc.poll() is None
    finally:
        gw.kill()


def test_credential_headers_are_not_stored(start_gateway, hub_name):
    gw = start_gateway()
    conn = http.client.HTTPConnection("127.0.0.1", gw.port("http"), timeout=10)
    headers = {
        "X-Api-Key": "k1",
        "ServiceBusAuthorization": "k2",
        "Cookie": "session=k3",
        "X-Partner-Token": "k4",
        "X-Webhook-Secret": "k5",
        "X-Client-Key": "k6",
        "Authorization": "Bearer k7",
        "X-Trace": "kept",
    }
    conn.request("POST", f"/{hub_name}/messages", body=b"v", headers=headers)
    assert conn.getresponse().status == 201
    (message,) = kafka_read(gw, hub_name, 1)
    stored = dict(message.headers() or [])
    assert stored.get("x-trace") == b"kept", stored
    for name in headers:
        if name != "X-Trace":
            assert name.lower() not in stored, (name, stored)


def kafka_api_versions(sock, correlation_id):
    """Sends a Kafka ApiVersions v0 request on `sock` and returns the response's correlation id."""
    client_id = b"hubgate-test"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(body)) + body)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    return struct.unpack(">i", recv_exact(sock, size)[:4])[0]


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def served_fingerprint(setup, port):
    context = ssl.create_default_context(cafile=str(setup.ca.cert))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def test_sighup_reloads_the_certificate(tmp_path):
    setup = SecureSetup(tmp_path / "setup")
    gw = Gateway(tmp_path / "data", setup.args()).start()
    try:
        port = gw.port("http")
        old = fingerprint(setup.server_cert)
        assert served_fingerprint(setup, port) == old
        # Connections opened before the reload: HTTPS keep-alive and a Kafka TLS socket.
        context = ssl.create_default_context(cafile=str(setup.ca.cert))
        keep_alive = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
        keep_alive.request("GET", "/healthz")
        assert keep_alive.getresponse().read()
        kafka = context.wrap_socket(socket.create_connection(("127.0.0.1", gw.port("kafka")), timeout=10), server_hostname="localhost")
        assert kafka_api_versions(kafka, 1) == 1
        amqp = context.wrap_socket(socket.create_connection(("127.0.0.1", gw.port("amqp")), timeout=10), server_hostname="localhost")

        # Broken files: the error is logged and the old certificate stays.
        saved = setup.server_cert.read_bytes()
        setup.server_cert.write_text("not a certificate\n")
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("cannot reload the TLS certificate")
        assert served_fingerprint(setup, port) == old
        setup.server_cert.write_bytes(saved)

        # A new certificate from the same CA: new connections get it.
        new_cert, new_key = setup.ca.issue("server2", "/CN=localhost", server=True)
        shutil.copy(new_cert, setup.server_cert)
        shutil.copy(new_key, setup.server_key)
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_for_log("TLS certificate and key reloaded")
        assert served_fingerprint(setup, port) == fingerprint(new_cert) != old

        keep_alive.request("GET", "/healthz")
        assert keep_alive.getresponse().status == 200, "the open HTTPS connection broke"
        assert kafka_api_versions(kafka, 2) == 2, "the open Kafka connection broke"
        kafka.close()
        # The AMQP TLS connection made before the reload speaks AMQP after it: the SASL
        # protocol header is answered with the same header.
        amqp.sendall(b"AMQP\x03\x01\x00\x00")
        assert recv_exact(amqp, 8) == b"AMQP\x03\x01\x00\x00", "the open AMQP connection broke"
        amqp.close()
        assert gw.proc.poll() is None
    finally:
        gw.kill()


def test_client_certificate_acts_as_its_policy(tmp_path, hub_name):
    setup = SecureSetup(
        tmp_path / "setup",
        client_ca=True,
        policies={"device": Policy("device", ["send"], cert_subject="CN=device-1"), "admin": Policy("admin", ["manage"])},
    )
    gw = Gateway(tmp_path / "data", [*setup.args(), "--kafka-listen", "off", "--amqp-listen", "off"]).start()
    try:
        port = gw.port("http")
        cert, key = setup.ca.issue("device-1", "/CN=device-1", server=False)
        other, other_key = setup.ca.issue("device-2", "/CN=device-2", server=False)
        with_cert = ("--cert", str(cert), "--key", str(key))
        rc, status, body, err = curl(setup, port, f"/{hub_name}/messages", *with_cert, data=b"from a device")
        assert (rc, status) == (0, 201), (body, err)
        rc, status, body, err = curl(setup, port, f"/{hub_name}", *with_cert)
        assert (rc, status) == (0, 403), ("a Send policy cannot read", body)
        # A certificate from the CA that maps to no policy still needs a token.
        rc, status, body, err = curl(setup, port, f"/{hub_name}/messages", "--cert", str(other), "--key", str(other_key), data=b"x")
        assert (rc, status) == (0, 401), (body, err)
        # No certificate at all: the TLS handshake fails.
        rc, status, _, err = curl(setup, port, "/healthz")
        assert rc != 0 and status == 0, err
    finally:
        gw.kill()


def refused_start(*args, env=None):
    """Runs `hubgate serve` expecting it to refuse to start; returns its stderr."""
    done = subprocess.run(
        [hubgate_bin(), "serve", "--storage", "memory://", *args],
        capture_output=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 64, done
    return done.stderr.decode()


def test_insecure_rules(tmp_path):
    error = refused_start("--http-listen", "0.0.0.0:0", "--kafka-listen", "off", "--amqp-listen", "off")
    assert "no access policy is configured" in error and "--insecure" in error, error

    plain = SecureSetup(tmp_path / "plain", tls=False)
    error = refused_start(*plain.args(), "--kafka-listen", "0.0.0.0:0", "--amqp-listen", "off", "--http-listen", "off")
    assert "TLS is not configured" in error and "no access policy" not in error, error

    # Policies and TLS: a non-loopback listener starts without --insecure.
    secured = SecureSetup(tmp_path / "tls")
    gw = Gateway(tmp_path / "data", [*secured.args(), "--http-listen", "0.0.0.0:0", "--kafka-listen", "off", "--amqp-listen", "off"]).start()
    gw.kill()
    # --insecure allows the rest.
    gw = Gateway(tmp_path / "data2", [*plain.args(), "--insecure", "--http-listen", "0.0.0.0:0", "--kafka-listen", "off", "--amqp-listen", "off"]).start()
    gw.kill()


def test_key_file_and_key_env(tmp_path, hub_name):
    key_file = tmp_path / "sender.key"
    file_policy = Policy("from-file", ["send"], key_file=key_file)
    key_file.write_text(file_policy.key + "\n")
    env_policy = Policy("from-env", ["send"], key_env="HUBGATE_TEST_SENDER_KEY")
    setup = SecureSetup(tmp_path / "setup", tls=False, policies={"from-file": file_policy, "from-env": env_policy})
    gw = Gateway(
        tmp_path / "data",
        [*setup.args(), "--kafka-listen", "off", "--amqp-listen", "off"],
        env={"HUBGATE_TEST_SENDER_KEY": env_policy.key},
    ).start()
    try:
        for policy in (file_policy, env_policy):
            conn = http.client.HTTPConnection("127.0.0.1", gw.port("http"), timeout=10)
            conn.request("POST", f"/{hub_name}/messages", body=b"x", headers={"Authorization": policy.token(f"sb://localhost/{hub_name}", LATER)})
            assert conn.getresponse().status == 201, policy.name
        assert "from-file" in setup.config.read_text() and file_policy.key not in setup.config.read_text()
    finally:
        gw.kill()
    assert_no_secret_in_log(gw.full_log(), setup.keys())


def test_zz_no_key_in_the_log_of_the_whole_run(secure):
    """Runs last in this module: the module's gateway served every request above."""
    setup, gw = secure
    port = gw.port("http")
    # One more authenticated exchange of each kind, then the whole log.
    for name in ("sender", "listener", "admin"):
        curl(setup, port, "/metrics", token=setup.policies[name].token("sb://localhost/", LATER))
    assert curl(setup, port, "/metrics")[:2] == (0, 401)
    log = gw.full_log()
    assert "request refused" in log, "the debug log of refused requests is part of the check"
    assert_no_secret_in_log(log, [*setup.keys(), "wh-" + "s" * 24])
    # Nor any SAS token: every one sent above has a `sig=` field.
    assert "sig=" not in log and "SharedAccessSignature" not in log
