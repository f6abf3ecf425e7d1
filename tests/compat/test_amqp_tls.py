"""AMQPS: python-qpid-proton starts TLS directly (no AMQP TLS header) on the gateway's AMQP
listener, then SASL PLAIN, send and receive; and the gateway stops cleanly with AMQP clients
still connected."""

import subprocess

from proton import Message, SSLDomain
from proton.utils import BlockingConnection


def self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_amqps_with_proton(start_gateway, tmp_path):
    cert, key = self_signed(tmp_path)
    gw = start_gateway("--tls-cert", str(cert), "--tls-key", str(key), "--kafka-listen", "off", "--http-listen", "off")
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(str(cert))
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    conn = BlockingConnection(
        f"amqps://localhost:{gw.port('amqp')}", ssl_domain=domain, user="u", password="p", allowed_mechs="PLAIN", timeout=15
    )
    try:
        conn.create_sender("tls-hub/Partitions/0", name="s").send(Message(body="over tls", properties={"n": 1}))
        receiver = conn.create_receiver("tls-hub/Partitions/0", name="r", credit=5)
        got = receiver.receive(timeout=10)
        receiver.accept()
        assert got.body == "over tls"
        assert got.properties == {"n": 1}
    finally:
        conn.close()


def test_clean_stop_with_connected_amqp_clients(start_gateway):
    gw = start_gateway("--kafka-listen", "off", "--http-listen", "off")
    conn = BlockingConnection(f"amqp://{gw.amqp}", sasl_enabled=False, timeout=10)
    conn.create_sender("stop-hub/Partitions/0", name="s").send(Message(body="before stop"))
    conn.create_receiver("stop-hub/Partitions/0", name="r", credit=10)
    assert gw.stop() == 0
    gw.start()
    conn = BlockingConnection(f"amqp://{gw.amqp}", sasl_enabled=False, timeout=10)
    try:
        receiver = conn.create_receiver("stop-hub/Partitions/0", name="r", credit=10)
        assert receiver.receive(timeout=10).body == "before stop"
        receiver.accept()
    finally:
        conn.close()
