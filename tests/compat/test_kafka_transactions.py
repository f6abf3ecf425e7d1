"""Kafka transactions (exactly-once) with unmodified clients: commit and abort, read_committed
and read_uncommitted consumers, fencing, timeouts, consume-transform-produce with offsets sent
to the transaction, and what survives a kill -9 of the gateway."""

import subprocess
import sys
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


def committed_then_aborted_then_open(bootstrap, topic):
    """Partition 0 of `topic`: 2 committed records (0, 1), COMMIT (2), 2 aborted (3, 4),
    ABORT (5), 1 committed (6), COMMIT (7), then an open transaction (8). Returns its producer."""
    producer = txn_producer(bootstrap, "tx-" + topic)
    for values, commit in (([b"c0", b"c1"], True), ([b"a0", b"a1"], False), ([b"c2"], True)):
        producer.begin_transaction()
        for v in values:
            producer.produce(topic, value=v, partition=0)
        producer.flush(10)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"open", partition=0)
    producer.flush(10)
    return producer


def test_kafka_transactions_event_hubs_sdk_reads_committed(gateway, hub_name):
    from test_amqp_eventhub import receive

    create_topic(gateway.kafka, hub_name)
    producer = committed_then_aborted_then_open(gateway.kafka, hub_name)
    # More than there is: the receiver must stop at the last stable offset, skipping the
    # aborted records and every marker, with the sequence numbers of the Kafka offsets.
    events, _, errors = receive(gateway, hub_name, 0, 10, timeout=6, starting_position="-1")
    assert not errors
    assert [(e.sequence_number, e.body_as_str()) for e in events] == [(0, "c0"), (1, "c1"), (6, "c2")]
    producer.commit_transaction(30)
    events, _, errors = receive(gateway, hub_name, 0, 4, timeout=20, starting_position="-1")
    assert not errors
    assert [(e.sequence_number, e.body_as_str()) for e in events] == [
        (0, "c0"), (1, "c1"), (6, "c2"), (8, "open")
    ]


def test_kafka_transactions_http_event_reads_are_committed(gateway, hub_name):
    """The HTTP admin API's event read (what the console shows) returns committed records only:
    no aborted record, no marker, nothing of the open transaction until it commits."""
    import requests

    create_topic(gateway.kafka, hub_name)
    producer = committed_then_aborted_then_open(gateway.kafka, hub_name)
    url = f"{gateway.http}/admin/hubs/{hub_name}/partitions/0/events"

    def read():
        r = requests.get(url, params={"offset": 0, "limit": 100}, timeout=10)
        assert r.status_code == 200, r.text
        return [(e["offset"], e["value"]["text"]) for e in r.json()["events"]]

    def stable():
        r = requests.get(f"{gateway.http}/admin/hubs/{hub_name}", timeout=10)
        assert r.status_code == 200, r.text
        p0 = r.json()["partitions"][0]
        return p0["last_stable_offset"], p0["high_watermark"]

    assert read() == [(0, "c0"), (1, "c1"), (6, "c2")]
    assert stable() == (8, 9), "the open transaction at offset 8 holds the last stable offset"
    producer.commit_transaction(30)
    assert read() == [(0, "c0"), (1, "c1"), (6, "c2"), (8, "open")]
    assert stable() == (10, 10)


def test_kafka_transactions_kill9_after_commit_and_mid_transaction(start_gateway, hub_name):
    gw = start_gateway()
    create_topic(gw.kafka, hub_name, partitions=2)
    producer = txn_producer(gw.kafka, "tx-" + hub_name, **{"transaction.timeout.ms": 4000})
    producer.begin_transaction()
    for i in range(10):
        producer.produce(hub_name, value=b"done-%d" % i, partition=i % 2)
    producer.commit_transaction(30)  # acknowledged: must survive
    producer.begin_transaction()
    for i in range(4):
        producer.produce(hub_name, value=b"lost-%d" % i, partition=i % 2)
    producer.flush(10)  # data stored, transaction open
    gw.restart(crash=True)
    del producer
    committed = consume_all(gw.kafka, hub_name, "read_committed", partitions=2, idle=1)
    assert sorted(v for _, _, v in committed) == sorted(b"done-%d" % i for i in range(10))
    # The open transaction still holds the LSO after the restart...
    assert watermarks(gw.kafka, hub_name, 0, "read_committed")[1] == 6
    # ...until its timeout, which the restarted coordinator still runs: it is aborted and
    # the LSO moves past its ABORT marker.
    deadline = time.monotonic() + 20
    while watermarks(gw.kafka, hub_name, 0, "read_committed")[1] != 9:
        assert time.monotonic() < deadline, "the open transaction was not aborted after the restart"
        time.sleep(0.5)
    # A new producer with the same id goes on with the next epoch.
    again = txn_producer(gw.kafka, "tx-" + hub_name)
    again.begin_transaction()
    again.produce(hub_name, value=b"after", partition=0)
    again.commit_transaction(30)
    committed = consume_all(gw.kafka, hub_name, "read_committed", partitions=2)
    assert sorted(v for _, _, v in committed) == sorted([b"done-%d" % i for i in range(10)] + [b"after"])
    uncommitted = consume_all(gw.kafka, hub_name, "read_uncommitted", partitions=2)
    assert len(uncommitted) == 15
    assert watermarks(gw.kafka, hub_name, 0, "read_committed") == (0, 11)


def test_kafka_transactions_timeout_aborts_a_killed_producers_transaction(start_gateway, hub_name):
    gw = start_gateway()
    create_topic(gw.kafka, hub_name)
    # A producer process that opens a transaction and is killed (SIGKILL) before ending it.
    script = (
        "import sys, time\n"
        "from confluent_kafka import Producer\n"
        "p = Producer({'bootstrap.servers': sys.argv[1], 'transactional.id': sys.argv[2],"
        " 'transaction.timeout.ms': 3000})\n"
        "p.init_transactions(30)\n"
        "p.begin_transaction()\n"
        "p.produce(sys.argv[3], value=b'orphan', partition=0)\n"
        "p.flush(10)\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, gw.kafka, "tx-" + hub_name, hub_name], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout.readline().strip() == b"ready"
    finally:
        child.kill()
        child.wait()
    assert watermarks(gw.kafka, hub_name, 0, "read_committed") == (0, 0)
    deadline = time.monotonic() + 20
    while watermarks(gw.kafka, hub_name, 0, "read_committed")[1] != 2:
        assert time.monotonic() < deadline, "the timed-out transaction was not aborted"
        time.sleep(0.5)
    assert consume_all(gw.kafka, hub_name, "read_committed", idle=1) == []
    assert [v for _, _, v in consume_all(gw.kafka, hub_name, "read_uncommitted", idle=1)] == [b"orphan"]


def transform_some(bootstrap, source, sink, group, txn_id, limit, commit_every=10, leave_open=False):
    """One run of a consume-transform-produce loop (read_committed consumer in `group`, a
    transactional producer, offsets sent to the transaction) that stops after `limit` input
    records or when the input is drained. Returns how many it moved and the producer; with
    `leave_open` the last transaction (output and offsets) is left open, as a crash leaves it."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([source])
    producer = txn_producer(bootstrap, txn_id)
    moved, in_txn, idle_since = 0, 0, time.monotonic()
    producer.begin_transaction()
    try:
        while moved < limit and time.monotonic() - idle_since < 5:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            idle_since = time.monotonic()
            producer.produce(sink, value=b"out-" + msg.value(), partition=msg.partition())
            moved += 1
            in_txn += 1
            if in_txn == commit_every:
                producer.send_offsets_to_transaction(
                    consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
                )
                producer.commit_transaction(30)
                producer.begin_transaction()
                in_txn = 0
        if in_txn:
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
            )
            if leave_open:
                producer.flush(10)
                return moved, producer
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    finally:
        consumer.close()
    return moved, producer


def test_kafka_transactions_consume_transform_produce_exactly_once(start_gateway, hub_name):
    from kafka_group_support import GROUP_FLAGS

    gw = start_gateway(*GROUP_FLAGS)
    source, sink, group = hub_name + "-in", hub_name + "-out", hub_name + "-g"
    create_topic(gw.kafka, source, partitions=2)
    create_topic(gw.kafka, sink, partitions=2)
    n = 200
    plain = Producer({"bootstrap.servers": gw.kafka})
    for i in range(n):
        plain.produce(source, value=b"%d" % i, partition=i % 2)
    assert plain.flush(20) == 0

    # A first run moves 60 records in committed transactions, then its consumer goes away.
    first, _ = transform_some(gw.kafka, source, sink, group, "eos-" + hub_name, limit=60)
    assert first == 60
    # A second run moves 25 more and crashes with the last 5 (output and offsets) in an open
    # transaction; the gateway is killed with it.
    second, zombie = transform_some(
        gw.kafka, source, sink, group, "eos-" + hub_name, limit=25, leave_open=True
    )
    assert second == 25
    gw.restart(crash=True)
    # A third run fences the crashed one (its open transaction is aborted) and resumes from
    # the committed offsets: the 5 records are moved again, once.
    rest, _ = transform_some(gw.kafka, source, sink, group, "eos-" + hub_name, limit=n)
    assert rest == n - 80
    del zombie

    out = consume_all(gw.kafka, sink, "read_committed", partitions=2)
    values = sorted(v for _, _, v in out)
    assert values == sorted(b"out-%d" % i for i in range(n)), "records lost or duplicated"
    # The aborted copies are stored, and only read_uncommitted sees them.
    assert len(consume_all(gw.kafka, sink, "read_uncommitted", partitions=2)) == n + 5
    # The group's committed offsets are the end of the input.
    consumer = Consumer({"bootstrap.servers": gw.kafka, "group.id": group})
    try:
        committed = consumer.committed([TopicPartition(source, p) for p in range(2)], timeout=10)
    finally:
        consumer.close()
    assert [tp.offset for tp in committed] == [n // 2, n // 2]


def test_kafka_transactions_aiokafka(gateway, hub_name):
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def scenario():
        producer = AIOKafkaProducer(bootstrap_servers=gateway.kafka, transactional_id="aio-" + hub_name)
        await producer.start()
        try:
            async with producer.transaction():
                for i in range(3):
                    await producer.send_and_wait(hub_name, b"keep-%d" % i, partition=0)
            await producer.begin_transaction()
            await producer.send_and_wait(hub_name, b"drop", partition=0)
            await producer.abort_transaction()
            async with producer.transaction():
                await producer.send_and_wait(hub_name, b"keep-3", partition=0)
        finally:
            await producer.stop()

        async def read(isolation):
            consumer = AIOKafkaConsumer(
                bootstrap_servers=gateway.kafka, isolation_level=isolation, auto_offset_reset="earliest"
            )
            await consumer.start()
            try:
                from aiokafka import TopicPartition as AioTP

                tp = AioTP(hub_name, 0)
                consumer.assign([tp])
                await consumer.seek_to_beginning(tp)
                out = []
                while True:
                    batch = await consumer.getmany(tp, timeout_ms=2000)
                    if not batch:
                        return out, await consumer.position(tp)
                    out += [(m.offset, m.value) for m in batch[tp]]
            finally:
                await consumer.stop()

        committed, position = await read("read_committed")
        assert committed == [(0, b"keep-0"), (1, b"keep-1"), (2, b"keep-2"), (6, b"keep-3")]
        assert position == 8  # past the last COMMIT marker
        uncommitted, _ = await read("read_uncommitted")
        assert [v for _, v in uncommitted] == [b"keep-0", b"keep-1", b"keep-2", b"drop", b"keep-3"]

    asyncio.run(scenario())


def test_kafka_transactions_admin_describe_list_and_producers(gateway, hub_name):
    """kafka-python's admin client (what `python -m kafka.admin transactions` runs) shows a
    stuck transaction: its state, partitions and the first offset it holds."""
    from kafka import KafkaAdminClient
    from kafka import TopicPartition as KpTP

    create_topic(gateway.kafka, hub_name, partitions=2)
    txn_id = "tx-" + hub_name
    producer = committed_then_aborted_then_open(gateway.kafka, hub_name)
    admin = KafkaAdminClient(bootstrap_servers=gateway.kafka)
    try:
        described = admin.describe_transactions([txn_id])[txn_id]
        assert described.state.value == "Ongoing"
        assert described.topic_partitions == {KpTP(hub_name, 0)}
        assert described.transaction_timeout_ms == 60000
        assert described.transaction_start_time_ms > 0
        listed = admin.list_transactions(state_filters=["Ongoing"])
        assert [(t.transactional_id, t.state.value) for t in listed[0]] == [(txn_id, "Ongoing")]
        assert all(t.transactional_id != txn_id for t in admin.list_transactions(state_filters=["Empty"])[0])
        state = admin.describe_producers([KpTP(hub_name, 0)])[KpTP(hub_name, 0)]
        [active] = state.active_producers
        assert active.producer_id == described.producer_id
        assert active.current_transaction_start_offset == 8  # the open transaction's first offset
        producer.commit_transaction(30)
        assert admin.describe_transactions([txn_id])[txn_id].state.value == "CompleteCommit"
        state = admin.describe_producers([KpTP(hub_name, 0)])[KpTP(hub_name, 0)]
        assert state.active_producers[0].current_transaction_start_offset == -1
        with pytest.raises(Exception, match="(?i)not.?found"):
            admin.describe_transactions(["no-such-" + hub_name])
    finally:
        admin.close()


def test_kafka_transactions_pending_offsets_are_unstable_until_commit(gateway, hub_name):
    create_topic(gateway.kafka, hub_name)
    group = hub_name + "-g"
    tp = TopicPartition(hub_name, 0)
    source = Consumer({"bootstrap.servers": gateway.kafka, "group.id": group})
    producer = txn_producer(gateway.kafka, "tx-" + hub_name)
    producer.begin_transaction()
    producer.produce(hub_name, value=b"x", partition=0)
    producer.send_offsets_to_transaction([TopicPartition(hub_name, 0, 5)], source.consumer_group_metadata())

    def committed(isolation, timeout):
        c = Consumer({"bootstrap.servers": gateway.kafka, "group.id": group, "isolation.level": isolation})
        try:
            return c.committed([tp], timeout=timeout)[0].offset
        finally:
            c.close()

    # librdkafka asks with require_stable when reading committed and retries
    # UNSTABLE_OFFSET_COMMIT until its timeout; read_uncommitted sees no offset yet.
    with pytest.raises(KafkaException, match="Timed out"):
        committed("read_committed", 3)
    assert committed("read_uncommitted", 10) < 0
    producer.commit_transaction(30)
    assert committed("read_committed", 10) == 5
    source.close()
