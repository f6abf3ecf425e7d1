"""Helpers for the Kafka compat tests: expected records, consumers without group APIs, and a
raw Fetch used to look at the stored batch header (to prove which codec the producer used)."""

import socket
import struct
import time

from confluent_kafka import Consumer, TopicPartition

# Recent enough that the default 7-day retention keeps the records (it runs at start-up).
BASE_TS = (int(time.time()) - 3600) * 1000


def expected_records(n, tag="r"):
    """n records with keys, values, duplicate header keys and explicit create timestamps."""
    return [
        {
            "key": f"{tag}-key-{i}".encode(),
            "value": (f"{tag}-value-{i}-" * 20).encode(),
            "headers": [("dup", f"a{i}".encode()), ("dup", f"b{i}".encode()), ("other", b"x")],
            "timestamp": BASE_TS + i * 1000,
        }
        for i in range(n)
    ]


def confluent_consume(bootstrap, topic, partition, start, count, timeout=20.0, **extra):
    """Reads `count` messages from one partition with assign() (no consumer-group APIs: a
    group.id is required by the client, but nothing is subscribed or committed)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "hubgate-compat-assign",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            **extra,
        }
    )
    consumer.assign([TopicPartition(topic, partition, start)])
    messages = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            messages.append(message)
    finally:
        consumer.close()
    assert len(messages) == count, f"got {len(messages)} of {count} messages"
    return messages


def assert_confluent_records(messages, expected, first_offset=0):
    for i, (m, e) in enumerate(zip(messages, expected, strict=True)):
        assert m.offset() == first_offset + i
        assert m.key() == e["key"]
        assert m.value() == e["value"]
        assert m.headers() == e["headers"]
        assert m.timestamp() == (1, e["timestamp"])  # 1 = TIMESTAMP_CREATE_TIME


def _string(s):
    raw = s.encode()
    return struct.pack(">h", len(raw)) + raw


def raw_fetch_first_batch(bootstrap, topic, partition, offset=0):
    """Fetch v4 over a plain socket; returns the bytes of the first stored batch."""
    host, port = bootstrap.rsplit(":", 1)
    body = struct.pack(">iiiib", -1, 100, 1, 1 << 20, 0)
    body += struct.pack(">i", 1) + _string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, 1 << 20)
    request = struct.pack(">hhi", 1, 4, 7) + _string("raw") + body
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read_exact(sock, 4))[0]
        data = _read_exact(sock, size)
    pos = 4 + 4  # correlation id, throttle time
    (topics,) = struct.unpack_from(">i", data, pos)
    assert topics == 1
    pos += 4
    (name_len,) = struct.unpack_from(">h", data, pos)
    pos += 2 + name_len
    pos += 4  # partition count
    _, error_code, _hw, _lso = struct.unpack_from(">ihqq", data, pos)
    assert error_code == 0, error_code
    pos += 4 + 2 + 8 + 8
    (aborted,) = struct.unpack_from(">i", data, pos)
    pos += 4 + max(aborted, 0) * 16
    (records_len,) = struct.unpack_from(">i", data, pos)
    pos += 4
    records = data[pos : pos + records_len]
    batch_len = struct.unpack_from(">i", records, 8)[0]
    return records[: 12 + batch_len]


def batch_codec(batch):
    """Compression codec id of a stored batch (attributes bits 0-2)."""
    (attributes,) = struct.unpack_from(">h", batch, 21)
    return attributes & 0x7


def _read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def raw_request(bootstrap, api_key, version, body, correlation_id=11):
    """Sends one request with a v1 header over a plain socket; returns the response body
    (after the correlation id)."""
    host, port = bootstrap.rsplit(":", 1)
    request = struct.pack(">hhi", api_key, version, correlation_id) + _string("raw") + body
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read_exact(sock, 4))[0]
        data = _read_exact(sock, size)
    assert struct.unpack_from(">i", data, 0)[0] == correlation_id
    return data[4:]


def raw_init_producer_id(bootstrap):
    """InitProducerId v0 without a transactional id: (producer id, epoch)."""
    data = raw_request(bootstrap, 22, 0, struct.pack(">hi", -1, 60000))
    _throttle, error_code, producer_id, epoch = struct.unpack_from(">ihqh", data, 0)
    assert error_code == 0, error_code
    return producer_id, epoch


def idempotent_batch(producer_id, epoch, sequence, values):
    """A v2 batch from an idempotent producer, built by kafka-python's record builder."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False,
        producer_id=producer_id, producer_epoch=epoch, base_sequence=sequence,
        batch_size=1 << 20,
    )
    for i, value in enumerate(values):
        builder.append(i, timestamp=BASE_TS + i, key=b"k%d" % i, value=value, headers=[])
    return bytes(builder.build())


def raw_produce(bootstrap, topic, partition, batch, acks=-1):
    """Produce v3 with one batch: (error code, base offset)."""
    body = struct.pack(">hhi", -1, acks, 10000)
    body += struct.pack(">i", 1) + _string(topic)
    body += struct.pack(">i", 1) + struct.pack(">ii", partition, len(batch)) + batch
    data = raw_request(bootstrap, 0, 3, body)
    pos = 4  # topic count
    (name_len,) = struct.unpack_from(">h", data, pos)
    pos += 2 + name_len + 4
    _index, error_code, base_offset, _append_time = struct.unpack_from(">ihqq", data, pos)
    return error_code, base_offset
