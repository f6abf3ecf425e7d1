"""Bad AMQP input: wrong protocol headers, malformed and oversized frames, oversized messages,
a reader that never grants credit and a sender that vanishes mid-transfer. Each gets a clean
AMQP error or a closed socket; the gateway keeps serving, stores nothing partial, and its open
connections and memory return to where they were."""

import os
import socket
import struct
import time

import pytest
from proton import Data, Described, Message, symbol, uint, ulong
from proton.utils import BlockingConnection, LinkDetached
from proton import Timeout

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"


def raw(gateway):
    sock = socket.create_connection(("127.0.0.1", gateway.port("amqp")), timeout=10)
    return sock


def read_until_closed(sock, limit=1 << 20):
    """Everything the server sends until it closes the socket."""
    out = b""
    while len(out) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk
    raise AssertionError("server kept sending")


def frame(performative, payload=b"", channel=0):
    data = Data()
    data.put_object(performative)
    body = data.encode() + payload
    return struct.pack(">IBBH", 8 + len(body), 2, 0, channel) + body


def open_frame():
    return frame(Described(ulong(0x10), ["raw-client"]))


def begin_frame():
    return frame(Described(ulong(0x11), [None, uint(0), uint(100), uint(100)]))


def attach_sender_frame(address):
    source = Described(ulong(0x28), [])
    target = Described(ulong(0x29), [address])
    return frame(
        Described(ulong(0x12), ["raw-link", uint(0), False, None, None, source, target, None, False, uint(0)])
    )


def transfer_frame(payload, more):
    return frame(Described(ulong(0x14), [uint(0), uint(0), b"tag", uint(0), False, more]), payload)


def fds(gateway):
    return len(os.listdir(f"/proc/{gateway.proc.pid}/fd"))


def rss_kib(gateway):
    with open(f"/proc/{gateway.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def wait_for_fds(gateway, baseline, timeout=10):
    deadline = time.time() + timeout
    while fds(gateway) > baseline and time.time() < deadline:
        time.sleep(0.1)
    return fds(gateway)


def partition_size(gateway, hub, partition=0):
    """Events stored in a partition, read back with proton (a Timeout means none left)."""
    conn = BlockingConnection(f"amqp://{gateway.amqp}", sasl_enabled=False, timeout=10)
    try:
        receiver = conn.create_receiver(f"{hub}/Partitions/{partition}", credit=100)
        count = 0
        while True:
            try:
                receiver.receive(timeout=1)
            except Timeout:
                return count
            receiver.accept()
            count += 1
    finally:
        conn.close()


@pytest.fixture
def private(start_gateway):
    return start_gateway("--kafka-listen", "off", "--http-listen", "off")


@pytest.mark.parametrize(
    "header", [b"GET / HTTP/1.1\r\n\r\n", b"AMQP\x02\x01\x00\x00", b"AMQP\x01\x01\x00\x00", b"\x16\x03\x01\x00\xa5\x01\x00\x00"]
)
def test_unsupported_protocol_header_gets_ours_then_close(private, header):
    with raw(private) as sock:
        sock.sendall(header)
        reply = read_until_closed(sock)
    assert reply in (SASL_HEADER, AMQP_HEADER), reply


def test_oversized_and_malformed_frames_close_the_connection(private):
    cases = [
        # A frame longer than the negotiated max-frame-size.
        AMQP_HEADER + struct.pack(">IBBH", 0x7FFFFFF0, 2, 0, 0),
        # A frame shorter than its own header.
        AMQP_HEADER + struct.pack(">IBBH", 4, 2, 0, 0),
        # SASL header, then garbage instead of sasl-init.
        SASL_HEADER + b"\x00\x00\x00\x10\x02\x01\x00\x00garbage!",
    ]
    for data in cases:
        with raw(private) as sock:
            sock.sendall(data)
            reply = read_until_closed(sock)
            assert reply.startswith(data[:8]), (data[:8], reply[:8])
    # Frames the library ignores (an undecodable body before Open, a transfer on a channel
    # that was never begun) leave the socket open until the handshake or idle timeout; the
    # connection is released as soon as the client goes.
    baseline = fds(private)
    for data in [
        AMQP_HEADER + struct.pack(">IBBH", 12, 2, 0, 0) + b"\xde\xad\xbe\xef",
        AMQP_HEADER + open_frame() + transfer_frame(b"x", False),
    ]:
        with raw(private) as sock:
            sock.sendall(data)
            assert sock.recv(8) == AMQP_HEADER
    assert wait_for_fds(private, baseline) <= baseline
    # Still serving.
    conn = BlockingConnection(f"amqp://{private.amqp}", sasl_enabled=False, timeout=10)
    conn.create_sender("still-serving/Partitions/0").send(Message(body="ok"))
    conn.close()


def test_oversized_message_is_refused_and_not_stored(private):
    hub = "oversized"
    conn = BlockingConnection(f"amqp://{private.amqp}", sasl_enabled=False, timeout=15)
    try:
        sender = conn.create_sender(f"{hub}/Partitions/0")
        sender.send(Message(body=b"x" * 1000, inferred=True))
        with pytest.raises(LinkDetached) as refused:
            sender.send(Message(body=b"y" * (1024 * 1024 + 100), inferred=True))
        assert "amqp:link:message-size-exceeded" in str(refused.value)
    finally:
        conn.close()
    assert partition_size(private, hub) == 1


def test_disconnect_mid_transfer_stores_nothing(private):
    hub = "half-sent"
    baseline = fds(private)
    for _ in range(3):
        with raw(private) as sock:
            sock.sendall(AMQP_HEADER + open_frame() + begin_frame() + attach_sender_frame(f"{hub}/Partitions/0"))
            # The first part of a message that announces more frames, then the socket goes away.
            sock.sendall(transfer_frame(b"\x00\x53\x75\xa0\x10partial-", True))
            time.sleep(0.2)
    assert wait_for_fds(private, baseline) <= baseline
    assert partition_size(private, hub) == 0


def attach_receiver_frame(address):
    source = Described(ulong(0x28), [address])
    target = Described(ulong(0x29), ["raw-target"])
    return frame(Described(ulong(0x12), ["raw-reader", uint(0), True, None, None, source, target]))


def test_reader_that_never_grants_credit(private):
    hub = "no-credit"
    conn = BlockingConnection(f"amqp://{private.amqp}", sasl_enabled=False, timeout=10)
    conn.create_sender(f"{hub}/Partitions/0").send(Message(body="waiting"))
    conn.close()
    baseline = fds(private)
    with raw(private) as sock:
        sock.sendall(AMQP_HEADER + open_frame() + begin_frame() + attach_receiver_frame(f"{hub}/Partitions/0"))
        sock.settimeout(1.5)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pass
        # Open, Begin and the Attach answer arrive, but no transfer without credit.
        assert b"\x00\x53\x12" in received
        assert b"\x00\x53\x14" not in received
        assert b"waiting" not in received
    assert wait_for_fds(private, baseline) <= baseline
    # The gateway still delivers to the next reader.
    assert partition_size(private, hub) == 1


def test_connections_and_memory_return_to_baseline(private):
    # Warm up every path once so lazily allocated state is in the baseline.
    conn = BlockingConnection(f"amqp://{private.amqp}", sasl_enabled=False, timeout=10)
    conn.create_sender("baseline/Partitions/0").send(Message(body="warm"))
    conn.close()
    time.sleep(0.5)
    fd_base, rss_base = fds(private), rss_kib(private)
    for i in range(40):
        with raw(private) as sock:
            sock.sendall(b"junk" * 2)
            read_until_closed(sock)
        with raw(private) as sock:
            sock.sendall(AMQP_HEADER + struct.pack(">IBBH", 12, 2, 0, 0) + b"\xde\xad\xbe\xef")
            sock.recv(8)
        with raw(private) as sock:
            sock.sendall(AMQP_HEADER + open_frame() + begin_frame())
            sock.sendall(attach_sender_frame("baseline/Partitions/0"))
            sock.sendall(transfer_frame(b"\x00\x53\x75\xa0\x40" + b"p" * 10, True))
        conn = BlockingConnection(f"amqp://{private.amqp}", sasl_enabled=False, timeout=10)
        conn.create_sender("baseline/Partitions/1", name="s").send(Message(body=f"m{i}"))
        conn.create_receiver("baseline/Partitions/1", credit=0, name="r")
        conn.close()
    assert wait_for_fds(private, fd_base) <= fd_base
    assert rss_kib(private) <= rss_base + 16 * 1024, (rss_base, rss_kib(private))
    assert partition_size(private, "baseline", 0) == 1
    assert partition_size(private, "baseline", 1) == 40


def test_max_message_bytes_flag_is_offered_and_enforced(start_gateway):
    gw = start_gateway("--amqp-max-message-bytes", "65536", "--kafka-listen", "off", "--http-listen", "off")
    conn = BlockingConnection(f"amqp://{gw.amqp}", sasl_enabled=False, timeout=15)
    try:
        sender = conn.create_sender("small-limit/Partitions/0")
        assert sender.link.remote_max_message_size == 65536
        sender.send(Message(body=b"x" * 60000, inferred=True))
        with pytest.raises(LinkDetached) as refused:
            sender.send(Message(body=b"x" * 70000, inferred=True))
        assert "amqp:link:message-size-exceeded" in str(refused.value)
    finally:
        conn.close()
    assert partition_size(gw, "small-limit") == 1
