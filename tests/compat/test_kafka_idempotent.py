"""Idempotent producers: InitProducerId, sequence and epoch rules, and deduplication that
survives a restart of the gateway."""

import struct

import pytest
from confluent_kafka import Producer
from kafka import KafkaProducer

from kafka_support import (
    assert_confluent_records,
    batch_codec,
    raw_fetch_first_batch,
    confluent_consume,
    expected_records,
    idempotent_batch,
    raw_init_producer_id,
    raw_produce,
)


CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def produce_idempotent(bootstrap, topic, records, partition, codec="none"):
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "compression.type": codec,
            "linger.ms": 5,
            "batch.num.messages": 7,  # several batches, several requests in flight
        }
    )
    offsets = []

    def on_delivery(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for r in records:
        producer.produce(
            topic, key=r["key"], value=r["value"], headers=r["headers"],
            timestamp=r["timestamp"], partition=partition, on_delivery=on_delivery,
        )
    assert producer.flush(20) == 0
    return offsets


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_kafka_idempotent_confluent_producer(gateway, hub_name, codec):
    records = expected_records(60, "idem-" + codec)
    offsets = produce_idempotent(gateway.kafka, hub_name, records, 1, codec=codec)
    assert sorted(offsets) == list(range(60))
    # Stored as sent: compressed with the codec, stamped with the producer id and sequence 0.
    batch = raw_fetch_first_batch(gateway.kafka, hub_name, 1)
    assert batch_codec(batch) == CODECS[codec]
    producer_id, _epoch, base_sequence = struct.unpack_from(">qhi", batch, 43)
    assert producer_id >= 0 and base_sequence == 0
    assert_confluent_records(confluent_consume(gateway.kafka, hub_name, 1, 0, 60), records)


def test_kafka_idempotent_kafka_python_default_producer(gateway, hub_name):
    # kafka-python 3.0 producers are idempotent by default: this needs InitProducerId.
    records = expected_records(25, "kpidem")
    producer = KafkaProducer(bootstrap_servers=gateway.kafka)
    futures = [
        producer.send(hub_name, key=r["key"], value=r["value"], headers=r["headers"],
                      timestamp_ms=r["timestamp"], partition=0)
        for r in records
    ]
    producer.flush(20)
    assert [f.get(timeout=20).offset for f in futures] == list(range(25))
    producer.close()
    assert_confluent_records(confluent_consume(gateway.kafka, hub_name, 0, 0, 25), records)


def test_kafka_idempotent_sequence_rules(gateway, hub_name):
    # Metadata auto-creates the topic.
    produce_idempotent(gateway.kafka, hub_name, expected_records(1), 3)
    pid, epoch = raw_init_producer_id(gateway.kafka)
    other, _ = raw_init_producer_id(gateway.kafka)
    assert pid != other
    first = idempotent_batch(pid, epoch, 0, [b"a", b"b"])
    assert raw_produce(gateway.kafka, hub_name, 3, first) == (0, 1)
    # The same batch again (a retry): the original offset, nothing stored twice.
    assert raw_produce(gateway.kafka, hub_name, 3, first) == (0, 1)
    # A gap in the sequence: OUT_OF_ORDER_SEQUENCE_NUMBER (45).
    assert raw_produce(gateway.kafka, hub_name, 3, idempotent_batch(pid, epoch, 5, [b"x"]))[0] == 45
    assert raw_produce(gateway.kafka, hub_name, 3, idempotent_batch(pid, epoch, 2, [b"c"])) == (0, 3)
    # An older epoch than the one seen: INVALID_PRODUCER_EPOCH (47).
    assert raw_produce(gateway.kafka, hub_name, 3, idempotent_batch(pid, epoch + 1, 0, [b"d"])) == (0, 4)
    assert raw_produce(gateway.kafka, hub_name, 3, idempotent_batch(pid, epoch, 3, [b"e"]))[0] == 47
    # A corrupted batch: CORRUPT_MESSAGE (2).
    broken = bytearray(idempotent_batch(other, 0, 0, [b"f"]))
    broken[-1] ^= 0xFF
    assert raw_produce(gateway.kafka, hub_name, 3, bytes(broken))[0] == 2
    messages = confluent_consume(gateway.kafka, hub_name, 3, 1, 4)
    assert [m.value() for m in messages] == [b"a", b"b", b"c", b"d"]


def test_kafka_idempotent_dedup_survives_restart(start_gateway, hub_name):
    gw = start_gateway()
    records = expected_records(20, "before")
    assert sorted(produce_idempotent(gw.kafka, hub_name, records, 2)) == list(range(20))
    pid, epoch = raw_init_producer_id(gw.kafka)
    batch = idempotent_batch(pid, epoch, 0, [b"once-1", b"once-2"])
    assert raw_produce(gw.kafka, hub_name, 2, batch) == (0, 20)

    gw.restart()

    # The producer retries its batch after the restart: still recognised, not stored again.
    assert raw_produce(gw.kafka, hub_name, 2, batch) == (0, 20)
    assert raw_produce(gw.kafka, hub_name, 2, idempotent_batch(pid, epoch, 5, [b"gap"]))[0] == 45
    nxt = idempotent_batch(pid, epoch, 2, [b"next"])
    assert raw_produce(gw.kafka, hub_name, 2, nxt) == (0, 22)
    # A new producer id after the restart is not one handed out before.
    assert raw_init_producer_id(gw.kafka)[0] != pid
    after = expected_records(5, "after")
    assert sorted(produce_idempotent(gw.kafka, hub_name, after, 2)) == list(range(23, 28))
    messages = confluent_consume(gw.kafka, hub_name, 2, 0, 28)
    assert_confluent_records(messages[:20], records)
    assert [m.value() for m in messages[20:23]] == [b"once-1", b"once-2", b"next"]
    assert_confluent_records(messages[23:], after, first_offset=23)
