"""Kafka transactions (exactly-once) with unmodified clients: commit and abort, read_committed
and read_uncommitted consumers, fencing, timeouts, consume-transform-produce with offsets sent
to the transaction, and what survives a kill -9 of the gateway."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def txn_producer(bootstrap, txn_id, **extra):
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": txn_id,
            "linger.ms": 5,
            **extra,
        }
    )
    producer.init_transactions(30)
    return producer


def create_topic(bootstrap, topic, partitions=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(20)


def consume_all(bootstrap, topic, isolation, partitions=1, idle=3.0, timeout=30.0):
    """Every record a fresh consumer with `isolation` reads from the start, until `idle`
    seconds pass without one (after reaching the end of every partition)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "reader-" + uuid.uuid4().hex,
            "isolation.level": isolation,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, at_end = [], set()
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(at_end) == partitions and time.monotonic() - last > idle:
                    break
                continue
            if msg.error():
                if msg.error().code() == -191:  # _PARTITION_EOF
                    at_end.add(msg.partition())
                    continue
                raise KafkaException(msg.error())
            last = time.monotonic()
            at_end.discard(msg.partition())
            out.append((msg.partition(), msg.offset(), msg.value()))
    finally:
        consumer.close()
    return out


def watermarks(bootstrap, topic, partition, isolation):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "wm-" + uuid.uuid4().hex,
            "isolation.level": isolation,
        }
    )
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        consumer.close()


def test_kafka_transactions_commit_and_abort_confluent(gateway, hub_name):
    create_topic(gateway.kafka, hub_name)
    producer = txn_producer(gateway.kafka, "tx-" + hub_name)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(hub_name, value=b"committed-%d" % i, partition=0)
    producer.commit_transaction(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(hub_name, value=b"aborted-%d" % i, partition=0)
    producer.flush(10)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(hub_name, value=b"last", partition=0)
    producer.commit_transaction(30)

    committed = consume_all(gateway.kafka, hub_name, "read_committed")
    assert [v for _, _, v in committed] == [b"committed-%d" % i for i in range(5)] + [b"last"]
    # Offsets keep the markers' places: 5 records, COMMIT at 5, 3 aborted, ABORT at 9.
    assert [o for _, o, _ in committed] == [0, 1, 2, 3, 4, 10]
    uncommitted = consume_all(gateway.kafka, hub_name, "read_uncommitted")
    assert [v for _, _, v in uncommitted] == (
        [b"committed-%d" % i for i in range(5)] + [b"aborted-%d" % i for i in range(3)] + [b"last"]
    )
    assert watermarks(gateway.kafka, hub_name, 0, "read_committed") == (0, 12)


def test_kafka_transactions_open_transaction_holds_the_lso(gateway, hub_name):
    create_topic(gateway.kafka, hub_name)
    plain = Producer({"bootstrap.servers": gateway.kafka})
    plain.produce(hub_name, value=b"before", partition=0)
    plain.flush(10)
    producer = txn_producer(gateway.kafka, "tx-" + hub_name)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(hub_name, value=b"open-%d" % i, partition=0)
    producer.flush(10)
    # librdkafka's watermark query sends the isolation level: the LSO stays at the open
    # transaction's first offset while the high watermark moves on.
    assert watermarks(gateway.kafka, hub_name, 0, "read_uncommitted") == (0, 4)
    assert watermarks(gateway.kafka, hub_name, 0, "read_committed") == (0, 1)
    assert [v for _, _, v in consume_all(gateway.kafka, hub_name, "read_committed", idle=1)] == [
        b"before"
    ]
    producer.commit_transaction(30)
    assert watermarks(gateway.kafka, hub_name, 0, "read_committed") == (0, 5)
    assert len(consume_all(gateway.kafka, hub_name, "read_committed")) == 4


def test_kafka_transactions_second_producer_fences_the_first(gateway, hub_name):
    create_topic(gateway.kafka, hub_name)
    txn_id = "tx-" + hub_name
    first = txn_producer(gateway.kafka, txn_id)
    first.begin_transaction()
    first.produce(hub_name, value=b"zombie", partition=0)
    first.flush(10)
    second = txn_producer(gateway.kafka, txn_id)  # aborts the first one's transaction
    with pytest.raises(KafkaException) as raised:
        first.commit_transaction(30)
    assert raised.value.args[0].fatal() or "fenced" in str(raised.value).lower()
    second.begin_transaction()
    second.produce(hub_name, value=b"winner", partition=0)
    second.commit_transaction(30)
    assert [v for _, _, v in consume_all(gateway.kafka, hub_name, "read_committed")] == [b"winner"]
    values = [v for _, _, v in consume_all(gateway.kafka, hub_name, "read_uncommitted")]
    assert values == [b"zombie", b"winner"]
