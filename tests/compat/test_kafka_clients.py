"""kcat (librdkafka 2.0.2), kafka-python 3.0.12 and aiokafka 0.14 against the real gateway.
Every record's key, value, headers (duplicate keys included), timestamp and offset is checked,
and each client reads what another wrote."""

import asyncio
import json
import subprocess

from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KpTopicPartition

from kafka_support import assert_confluent_records, confluent_consume, expected_records


def kcat(*args, stdin=None, timeout=30):
    result = subprocess.run(
        ["kcat", *args], input=stdin, capture_output=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_kafka_kcat_produce_consume_and_list(gateway, hub_name):
    records = expected_records(5, "kcat")
    # kcat takes one key/value per line and headers for the whole run; headers with a
    # duplicate key, as the other tests send them.
    lines = b"".join(r["key"] + b"\t" + r["value"] + b"\n" for r in records)
    kcat(
        "-b", gateway.kafka, "-P", "-t", hub_name, "-p", "1", "-K", "\t",
        "-H", "dup=a", "-H", "dup=b", "-z", "snappy",
        stdin=lines,
    )
    out = kcat(
        "-b", gateway.kafka, "-C", "-t", hub_name, "-p", "1", "-o", "beginning", "-e",
        "-J",
    )
    consumed = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert [(m["offset"], m["key"], m["payload"]) for m in consumed] == [
        (i, r["key"].decode(), r["value"].decode()) for i, r in enumerate(records)
    ]
    assert all(m["headers"] == ["dup", "a", "dup", "b"] for m in consumed)
    assert all(m["partition"] == 1 and m["tstype"] == "create" and m["ts"] > 0 for m in consumed)

    # kcat reads what librdkafka 2.16 wrote, with explicit timestamps, too.
    from test_kafka_confluent import produce

    more = expected_records(3, "ck")
    produce(gateway.kafka, hub_name, more, 1)
    out = kcat(
        "-b", gateway.kafka, "-C", "-t", hub_name, "-p", "1", "-o", "5", "-e", "-J",
    )
    consumed = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert [(m["offset"], m["key"], m["ts"]) for m in consumed] == [
        (5 + i, r["key"].decode(), r["timestamp"]) for i, r in enumerate(more)
    ]
    assert consumed[0]["headers"] == ["dup", "a0", "dup", "b0", "other", "x"]

    listing = json.loads(kcat("-b", gateway.kafka, "-L", "-J", "-t", hub_name))
    assert [(b["id"], b["name"]) for b in listing["brokers"]] == [(0, gateway.kafka)]
    (topic,) = listing["topics"]
    assert topic["topic"] == hub_name
    assert [p["partition"] for p in topic["partitions"]] == [0, 1, 2, 3]
    assert all(p["leader"] == 0 for p in topic["partitions"])


def test_kafka_python_round_trip(gateway, hub_name):
    records = expected_records(20, "kp")
    producer = KafkaProducer(
        bootstrap_servers=gateway.kafka, enable_idempotence=False, compression_type="gzip"
    )
    futures = [
        producer.send(
            hub_name,
            key=r["key"],
            value=r["value"],
            headers=r["headers"],
            timestamp_ms=r["timestamp"],
            partition=2,
        )
        for r in records
    ]
    producer.flush(20)
    metadata = [f.get(timeout=20) for f in futures]
    assert [m.offset for m in metadata] == list(range(20))
    assert all(m.partition == 2 for m in metadata)
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=gateway.kafka, enable_auto_commit=False)
    tp = KpTopicPartition(hub_name, 2)
    consumer.assign([tp])
    consumer.seek(tp, 0)
    got = []
    for _ in range(40):
        for batch in consumer.poll(timeout_ms=500).values():
            got.extend(batch)
        if len(got) >= 20:
            break
    consumer.close()
    assert len(got) == 20
    for i, (m, e) in enumerate(zip(got, records, strict=True)):
        assert (m.offset, m.key, m.value) == (i, e["key"], e["value"])
        assert m.headers == e["headers"]
        assert (m.timestamp, m.timestamp_type) == (e["timestamp"], 0)

    # librdkafka reads what kafka-python wrote.
    assert_confluent_records(confluent_consume(gateway.kafka, hub_name, 2, 0, 20), records)


def test_kafka_aiokafka_round_trip(gateway, hub_name):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition as AioTopicPartition

    records = expected_records(15, "aio")

    async def scenario():
        producer = AIOKafkaProducer(bootstrap_servers=gateway.kafka, compression_type="lz4")
        await producer.start()
        try:
            offsets = []
            for r in records:
                meta = await producer.send_and_wait(
                    hub_name,
                    key=r["key"],
                    value=r["value"],
                    headers=r["headers"],
                    timestamp_ms=r["timestamp"],
                    partition=3,
                )
                offsets.append(meta.offset)
        finally:
            await producer.stop()
        assert offsets == list(range(15))

        consumer = AIOKafkaConsumer(bootstrap_servers=gateway.kafka, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = AioTopicPartition(hub_name, 3)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            got = []
            while len(got) < 15:
                batches = await asyncio.wait_for(consumer.getmany(timeout_ms=500), 20)
                for batch in batches.values():
                    got.extend(batch)
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(scenario())
    for i, (m, e) in enumerate(zip(got, records, strict=True)):
        assert (m.offset, m.key, m.value) == (i, e["key"], e["value"])
        assert list(m.headers) == e["headers"]
        assert (m.timestamp, m.timestamp_type) == (e["timestamp"], 0)
    assert_confluent_records(confluent_consume(gateway.kafka, hub_name, 3, 0, 15), records)


def test_kafka_kafkajs_produce_and_admin(gateway, hub_name):
    from conftest import run_node
    from kafka_support import BASE_TS

    out = json.loads(run_node("kafka_produce.js", gateway.kafka, hub_name, str(BASE_TS)).stdout)
    assert out["created"] is True
    assert [(r["partition"], r["errorCode"], r["baseOffset"]) for r in out["first"]] == [(1, 0, "0")]
    assert [(r["partition"], r["errorCode"], r["baseOffset"]) for r in out["second"]] == [(1, 0, "5")]
    offsets = {o["partition"]: (o["low"], o["high"]) for o in out["offsets"]}
    assert offsets == {0: ("0", "0"), 1: ("0", "10")}
    by_time = {o["partition"]: o["offset"] for o in out["byTime"]}
    assert by_time[1] == "3"
    (topic,) = out["metadata"]["topics"]
    assert topic["name"] == hub_name and len(topic["partitions"]) == 2

    from kafka_support import batch_codec, raw_fetch_first_batch

    assert batch_codec(raw_fetch_first_batch(gateway.kafka, hub_name, 1)) == 1  # gzip, as sent
    messages = confluent_consume(gateway.kafka, hub_name, 1, 0, 10)
    for i, m in enumerate(messages):
        assert (m.offset(), m.key(), m.value()) == (i, f"kjs-key-{i}".encode(), (f"kjs-value-{i}" * 10).encode())
        assert m.headers() == [("source", b"kafkajs"), ("index", str(i).encode())]
        assert m.timestamp() == (1, BASE_TS + i * 1000)


def test_kafka_over_tls(start_gateway, hub_name, tmp_path):
    """--tls-cert/--tls-key serve Kafka over TLS (security.protocol=SSL)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    gw = start_gateway("--tls-cert", str(cert), "--tls-key", str(key))
    tls = {"security.protocol": "SSL", "ssl.ca.location": str(cert)}
    from test_kafka_confluent import produce

    records = expected_records(5, "tls")
    reports = produce(gw.kafka, hub_name, records, 0, **tls)
    assert [offset for _, offset in reports] == list(range(5))
    assert_confluent_records(confluent_consume(gw.kafka, hub_name, 0, 0, 5, **tls), records)
    # A plaintext client gets nowhere on the TLS listener.
    out = subprocess.run(
        ["kcat", "-b", gw.kafka, "-L", "-m", "3"], capture_output=True, timeout=30
    )
    assert out.returncode != 0
