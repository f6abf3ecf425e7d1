"""Helpers shared by the HTTP compatibility tests (no tests here).

Records sent over HTTP are read back with confluent-kafka (a consumer assigned to explicit
partitions and offsets, no group management) and, independently of Kafka, through the
gateway's own `GET /{hub}/partitions/{id}`.
"""

import time
import uuid

import pytest
import requests

BATCH = "application/vnd.microsoft.servicebus.json"


def kafka_read(gw, hub, count, partitions=range(4), timeout=20.0, **extra):
    """Reads `count` records from `hub` over Kafka, from offset 0 of each partition.

    Returns confluent-kafka `Message`s sorted by (partition, offset); `extra` is more client
    configuration (SASL settings for a gateway with access policies). Skips the test when the
    gateway has no Kafka listener in this build.
    """
    if "kafka" not in gw.addrs:
        pytest.skip("the Kafka front end is not part of this build")
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": gw.kafka,
            "group.id": f"http-compat-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            **extra,
        }
    )
    try:
        consumer.assign([TopicPartition(hub, p, 0) for p in partitions])
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append(msg)
        # Nothing beyond what was sent.
        extra = consumer.poll(0.5)
        assert extra is None or extra.error() is not None, f"unexpected record {extra.value()!r}"
    finally:
        consumer.close()
    assert len(out) == count, f"read {len(out)} of {count} records"
    return sorted(out, key=lambda m: (m.partition(), m.offset()))


def headers_of(msg):
    """A Kafka message's headers as a dict of str → bytes (None for a null value)."""
    return {k: v for k, v in (msg.headers() or [])}


def partition_props(gw, hub, partition):
    r = requests.get(f"{gw.http}/{hub}/partitions/{partition}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def stored_counts(gw, hub, partitions=4):
    """Records stored per partition, from `GET /{hub}/partitions/{id}`."""
    counts = []
    for p in range(partitions):
        props = partition_props(gw, hub, p)
        counts.append(props["last_enqueued_sequence_number"] + 1 - props["begin_sequence_number"])
    return counts


def assert_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    return body
