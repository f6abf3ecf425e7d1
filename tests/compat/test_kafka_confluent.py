"""confluent-kafka (librdkafka 2.16) against the real gateway: every codec, acks, long-poll,
offsets, size limits. Every record's key, value, headers (duplicate keys included), timestamp
and offset is checked."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_support import (
    BASE_TS,
    assert_confluent_records,
    batch_codec,
    confluent_consume,
    expected_records,
    raw_fetch_first_batch,
)

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def produce(bootstrap, topic, records, partition, **config):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, **config})
    reports = []

    def on_delivery(err, msg):
        reports.append((err, msg.offset() if err is None else None))

    for r in records:
        producer.produce(
            topic,
            key=r["key"],
            value=r["value"],
            headers=r["headers"],
            timestamp=r["timestamp"],
            partition=partition,
            on_delivery=on_delivery,
        )
    assert producer.flush(20) == 0
    return reports


@pytest.mark.parametrize("codec", list(CODECS))
def test_kafka_confluent_codec_round_trip(gateway, hub_name, codec):
    records = expected_records(30, codec)
    reports = produce(gateway.kafka, hub_name, records, 2, **{"compression.type": codec})
    assert [err for err, _ in reports] == [None] * 30
    assert sorted(offset for _, offset in reports) == list(range(30))
    # The batch is stored as the producer sent it, compressed with its codec.
    assert batch_codec(raw_fetch_first_batch(gateway.kafka, hub_name, 2)) == CODECS[codec]
    messages = confluent_consume(gateway.kafka, hub_name, 2, 0, 30)
    assert_confluent_records(messages, records)
    # A fetch from the middle of a batch returns the records from that offset on.
    tail = confluent_consume(gateway.kafka, hub_name, 2, 17, 13)
    assert_confluent_records(tail, records[17:], first_offset=17)


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_kafka_confluent_acks(gateway, hub_name, acks):
    records = expected_records(10, "acks" + acks)
    reports = produce(gateway.kafka, hub_name, records, 0, acks=acks)
    assert [err for err, _ in reports] == [None] * 10
    if acks != "0":
        assert [offset for _, offset in reports] == list(range(10))
    messages = confluent_consume(gateway.kafka, hub_name, 0, 0, 10)
    assert_confluent_records(messages, records)


def test_kafka_confluent_long_poll_is_woken_by_append(gateway, hub_name):
    from confluent_kafka import Consumer

    produce(gateway.kafka, hub_name, expected_records(1, "first"), 0)
    consumer = Consumer(
        {
            "bootstrap.servers": gateway.kafka,
            "group.id": "hubgate-compat-assign",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 5000,
        }
    )
    consumer.assign([TopicPartition(hub_name, 0, 1)])
    try:
        # Let the consumer park a long-poll fetch at offset 1, then append.
        assert consumer.poll(1.5) is None
        started = time.monotonic()
        later = expected_records(1, "later")
        produce(gateway.kafka, hub_name, later, 0)
        message = None
        while message is None and time.monotonic() - started < 10:
            message = consumer.poll(0.1)
        elapsed = time.monotonic() - started
    finally:
        consumer.close()
    assert message is not None and message.error() is None
    assert (message.offset(), message.key(), message.value()) == (1, later[0]["key"], later[0]["value"])
    # Far below fetch.wait.max.ms: the parked fetch was answered by the append, not the timeout.
    assert elapsed < 2.5, elapsed


def test_kafka_confluent_offset_out_of_range(gateway, hub_name):
    from confluent_kafka import Consumer

    produce(gateway.kafka, hub_name, expected_records(3), 1)
    consumer = Consumer(
        {
            "bootstrap.servers": gateway.kafka,
            "group.id": "hubgate-compat-assign",
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
        }
    )
    consumer.assign([TopicPartition(hub_name, 1, 100)])
    error = None
    deadline = time.monotonic() + 10
    try:
        while error is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                error = message.error()
    finally:
        consumer.close()
    assert error is not None
    assert error.code() == KafkaError._AUTO_OFFSET_RESET, error
    assert "out of range" in error.str().lower() or "offset_out_of_range" in error.str().lower(), error


def test_kafka_confluent_watermarks_and_offsets_for_times(gateway, hub_name):
    from confluent_kafka import Consumer

    records = expected_records(5)
    produce(gateway.kafka, hub_name, records, 3)
    consumer = Consumer({"bootstrap.servers": gateway.kafka, "group.id": "hubgate-compat-assign"})
    try:
        assert consumer.get_watermark_offsets(TopicPartition(hub_name, 3), timeout=10) == (0, 5)
        def at(ts):
            return consumer.offsets_for_times([TopicPartition(hub_name, 3, ts)], timeout=10)[0].offset

        assert at(BASE_TS - 1) == 0
        assert at(BASE_TS + 2000) == 2  # exactly record 2
        assert at(BASE_TS + 2500) == 3  # first at or after: record 3
        assert at(BASE_TS + 10**6) == -1  # none at or after
    finally:
        consumer.close()


def test_kafka_confluent_message_too_large(gateway, hub_name):
    producer = Producer({"bootstrap.servers": gateway.kafka, "message.max.bytes": 4_000_000})
    errors = []
    producer.produce(
        hub_name, value=b"x" * 2_000_000, partition=0, on_delivery=lambda err, msg: errors.append(err)
    )
    producer.flush(20)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, errors[0]


def test_kafka_confluent_metadata_lists_broker_and_topic(gateway, hub_name):
    produce(gateway.kafka, hub_name, expected_records(1), 0)
    admin = AdminClient({"bootstrap.servers": gateway.kafka})
    metadata = admin.list_topics(timeout=10)
    assert [(b.id, b.host, b.port) for b in metadata.brokers.values()] == [
        (0, "127.0.0.1", gateway.port("kafka"))
    ]
    topic = metadata.topics[hub_name]
    assert sorted(topic.partitions) == [0, 1, 2, 3]
    assert all(p.leader == 0 and p.replicas == [0] for p in topic.partitions.values())
    assert metadata.cluster_id == admin.list_topics(timeout=10).cluster_id


def test_kafka_unknown_topic_without_auto_create(start_gateway, hub_name):
    gw = start_gateway("--no-auto-create")
    producer = Producer({"bootstrap.servers": gw.kafka, "message.timeout.ms": 3000})
    errors = []
    producer.produce(hub_name, value=b"v", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(10)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._MSG_TIMED_OUT), errors[0]


def test_kafka_produce_error_codes(gateway, hub_name):
    from kafka_support import idempotent_batch, raw_produce

    produce(gateway.kafka, hub_name, expected_records(1), 0)  # creates the topic
    good = idempotent_batch(-1, -1, -1, [b"x"])
    assert raw_produce(gateway.kafka, hub_name, 0, good) == (0, 1)
    old_magic = bytearray(good)
    old_magic[16] = 1
    assert raw_produce(gateway.kafka, hub_name, 0, bytes(old_magic))[0] == 43  # UNSUPPORTED_FOR_MESSAGE_FORMAT
    corrupt = bytearray(good)
    corrupt[-1] ^= 0x55
    assert raw_produce(gateway.kafka, hub_name, 0, bytes(corrupt))[0] == 2  # CORRUPT_MESSAGE
    assert raw_produce(gateway.kafka, hub_name, 9, good)[0] == 3  # UNKNOWN_TOPIC_OR_PARTITION
    assert raw_produce(gateway.kafka, "not a topic", 0, good)[0] == 17  # INVALID_TOPIC_EXCEPTION
    assert raw_produce(gateway.kafka, hub_name, 0, good, acks=2)[0] == 21  # INVALID_REQUIRED_ACKS
    assert raw_produce(gateway.kafka, hub_name, 0, good + good)[0] == 2  # two batches (v3)
    # Produce v2 (message format v1) is advertised for old librdkafka but answered with
    # UNSUPPORTED_VERSION (35) per partition.
    import struct

    from kafka_support import _string, raw_request

    body = struct.pack(">hi", -1, 10000) + struct.pack(">i", 1) + _string(hub_name)
    body += struct.pack(">i", 1) + struct.pack(">ii", 0, len(good)) + good
    data = raw_request(gateway.kafka, 0, 2, body)
    pos = 4 + 2 + len(hub_name) + 4
    assert struct.unpack_from(">ihqq", data, pos) == (0, 35, -1, -1)

    # Nothing of the refused requests was stored.
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": gateway.kafka, "group.id": "hubgate-compat-assign"})
    try:
        assert consumer.get_watermark_offsets(TopicPartition(hub_name, 0), timeout=10) == (0, 2)
    finally:
        consumer.close()
    assert confluent_consume(gateway.kafka, hub_name, 0, 1, 1)[0].value() == b"x"
