"""Every error status of the HTTP front end, provoked with real clients against the real binary
and asserted with its JSON body; refused requests store nothing. Also HTTPS with a
self-signed certificate."""

import json
import socket
import subprocess
import time

import requests

from test_http_support import BATCH, assert_error, partition_props, stored_counts


def raw_request(gw, head: bytes):
    sock = socket.create_connection(("127.0.0.1", gw.port("http")), timeout=10)
    sock.sendall(head)
    return sock


def read_status(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_http_errors_400_404_413(start_gateway, hub_name):
    gw = start_gateway("--no-auto-create", "--http-max-body-bytes", "1024")
    base = gw.http
    # 404: unknown hub (auto-create off), unknown partition, unknown route, GET of a missing hub.
    assert_error(requests.post(f"{base}/{hub_name}/messages", data="x", timeout=10), 404, "NotFound")
    assert_error(requests.get(f"{base}/{hub_name}", timeout=10), 404, "NotFound")
    r = requests.put(f"{base}/admin/hubs/{hub_name}", json={"partitions": 2}, timeout=10)
    assert r.status_code == 201, r.text
    assert_error(requests.post(f"{base}/{hub_name}/partitions/2/messages", data="x", timeout=10), 404, "NotFound")
    assert_error(requests.get(f"{base}/{hub_name}/partitions/7", timeout=10), 404, "NotFound")
    assert_error(requests.post(f"{base}/{hub_name}/nope", data="x", timeout=10), 404, "NotFound")

    # 400: malformed batch, bad BrokerProperties, bad partition id, bad timeout, bad hub name,
    # a PartitionKey on a partition send, an empty batch, a base64 body that is not base64.
    bad = [
        (f"/{hub_name}/messages", {"Content-Type": BATCH}, "[{"),
        (f"/{hub_name}/messages", {"Content-Type": BATCH}, "[]"),
        (f"/{hub_name}/messages", {"Content-Type": BATCH}, json.dumps([{"Body": "%%", "IsBodyBase64": True}])),
        (f"/{hub_name}/messages", {"BrokerProperties": "{not json"}, "x"),
        (f"/{hub_name}/partitions/first/messages", {}, "x"),
        (f"/{hub_name}/messages?timeout=soon&api-version=2014-01", {}, "x"),
        ("/bad!name/messages", {}, "x"),
        (f"/{hub_name}/partitions/0/messages", {"BrokerProperties": '{"PartitionKey":"k"}'}, "x"),
    ]
    for path, headers, body in bad:
        assert_error(requests.post(base + path, data=body, headers=headers, timeout=10), 400, "BadRequest")

    # 413: one byte over the cap, with Content-Length and chunked; the cap itself is accepted.
    body = assert_error(requests.post(f"{base}/{hub_name}/partitions/0/messages", data=b"x" * 1025, timeout=10), 413, "PayloadTooLarge")
    assert "1024" in body["message"]
    chunked = (b"y" * 256 for _ in range(5))
    assert_error(requests.post(f"{base}/{hub_name}/partitions/0/messages", data=chunked, timeout=10), 413, "PayloadTooLarge")
    r = requests.post(f"{base}/{hub_name}/partitions/1/messages", data=b"z" * 1024, timeout=10)
    assert r.status_code == 201, r.text
    # Only the accepted event is stored.
    assert stored_counts(gw, hub_name, partitions=2) == [0, 1]


def test_http_errors_503_and_408(start_gateway, hub_name):
    gw = start_gateway("--http-max-concurrent-requests", "1", "--http-request-timeout-secs", "1")
    url = f"{gw.http}/{hub_name}/partitions/0/messages"
    assert requests.post(url, data="first", timeout=10).status_code == 201
    # A client that announces 10 bytes and sends 1 holds the only request slot.
    stalled = raw_request(gw, f"POST /{hub_name}/partitions/0/messages HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nx".encode())
    time.sleep(0.2)
    r = requests.post(url, data="second", timeout=10)
    assert_error(r, 503, "ServerBusy")
    assert r.headers["Retry-After"] == "1"
    # Health probes are outside the limit.
    assert requests.get(f"{gw.http}/healthz", timeout=10).status_code == 200
    # The stalled request times out with 408 after the 1 s request timeout.
    started = time.monotonic()
    assert read_status(stalled) == "HTTP/1.1 408 Request Timeout"
    assert time.monotonic() - started < 5
    stalled.close()
    # The slot is free again; only the two complete events were stored.
    assert requests.post(url, data="third", timeout=10).status_code == 201
    assert partition_props(gw, hub_name, 0)["last_enqueued_sequence_number"] == 1


def test_http_over_tls(start_gateway, hub_name, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    gw = start_gateway("--tls-cert", str(cert), "--tls-key", str(key))
    base = f"https://{gw.addrs['http']}"
    r = requests.post(f"{base}/{hub_name}/partitions/0/messages", data="over tls", verify=str(cert), timeout=10)
    assert r.status_code == 201, r.text
    # HTTP/2 negotiated with ALPN (curl with nghttp2).
    out = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", str(cert), "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
         "--data-binary", "over h2", f"{base}/{hub_name}/partitions/0/messages"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.stdout == "2 201", (out.stdout, out.stderr)
    props = requests.get(f"{base}/{hub_name}/partitions/0", verify=str(cert), timeout=10).json()
    assert props["last_enqueued_sequence_number"] == 1
    # Plain HTTP on the TLS port gets no HTTP answer.
    try:
        r = requests.get(f"http://{gw.addrs['http']}/healthz", timeout=5)
        assert r.status_code != 200
    except requests.exceptions.ConnectionError:
        pass
