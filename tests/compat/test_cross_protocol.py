"""One log, three protocols: what one front end writes, the others read, per docs/MAPPING.md.

- Events sent with azure-eventhub (AMQP) are read with confluent-kafka: body as value, partition
  key as key, application properties as AMQP-encoded headers after the
  `x-amqp-application-properties` marker, enqueued time as timestamp.
- Records produced with confluent-kafka are read with azure-eventhub: value as body, key as
  partition key, headers as binary properties, offset as sequence number and offset.
- Events posted over the REST API are read with azure-eventhub and with kcat.
"""

import json
import struct
import subprocess
import time
import uuid

import requests
from azure.eventhub import EventData
from confluent_kafka import Producer

from kafka_support import confluent_consume
from test_amqp_eventhub import producer, receive


def amqp_string(text: str) -> bytes:
    data = text.encode()
    return bytes([0xA1, len(data)]) + data


def amqp_int(value: int) -> bytes:
    # hubgate encodes with the compact constructor where one exists (smallint for -128..127).
    if -128 <= value <= 127:
        return bytes([0x54]) + struct.pack(">b", value)
    return bytes([0x71]) + struct.pack(">i", value)


def test_amqp_sent_events_read_by_kafka_consumer(gateway, hub_name):
    sent = []
    before = int(time.time() * 1000)
    with producer(gateway, hub_name) as client:
        batch = client.create_batch(partition_id="1")
        for i in range(5):
            event = EventData(f"amqp-body-{i}".encode() * 3)
            event.properties = {"kind": f"order-{i}", "count": 100 + i}
            batch.add(event)
            sent.append(event)
        client.send_batch(batch)
        keyed = EventData(b"keyed-body")
        keyed.properties = {"kind": "keyed"}
        client.send_event(keyed, partition_key="customer-42")
    after = int(time.time() * 1000)

    messages = confluent_consume(gateway.kafka, hub_name, 1, 0, 5)
    for i, message in enumerate(messages):
        assert message.offset() == i
        assert message.key() is None
        assert message.value() == f"amqp-body-{i}".encode() * 3
        headers = message.headers()
        assert ("x-amqp-application-properties", b"amqp") in headers
        assert ("kind", amqp_string(f"order-{i}")) in headers
        assert ("count", amqp_int(100 + i)) in headers
        assert before - 1000 <= message.timestamp()[1] <= after + 1000

    # The keyed event went to the partition its key hashes to; find it by key on every partition.
    found = []
    for partition in range(4):
        try:
            found += confluent_consume(gateway.kafka, hub_name, partition, 0, 6 if partition == 1 else 1, timeout=3)
        except AssertionError:
            continue
    keyed_messages = [m for m in found if m.key() == b"customer-42"]
    assert len(keyed_messages) == 1
    assert keyed_messages[0].value() == b"keyed-body"
    assert ("kind", amqp_string("keyed")) in keyed_messages[0].headers()


def test_kafka_produced_records_read_by_event_hubs_sdk(gateway, hub_name):
    kafka = Producer({"bootstrap.servers": gateway.kafka, "acks": "all", "linger.ms": 5})
    timestamps = [int(time.time() * 1000) - 60_000 + i for i in range(4)]
    for i in range(4):
        kafka.produce(
            hub_name,
            value=json.dumps({"n": i}).encode(),
            key=f"user-{i}".encode(),
            partition=2,
            headers=[("trace", bytes([0, i])), ("source", b"kafka")],
            timestamp=timestamps[i],
        )
    assert kafka.flush(20) == 0

    events, _contexts, errors = receive(gateway, hub_name, "2", 4, starting_position="-1")
    assert errors == []
    assert len(events) == 4
    for i, event in enumerate(events):
        assert event.body_as_str() == json.dumps({"n": i})
        assert event.partition_key == f"user-{i}".encode()  # the SDK returns annotation strings as bytes
        assert event.properties == {b"trace": bytes([0, i]), b"source": b"kafka"}
        assert event.sequence_number == i
        assert event.offset == str(i)
        assert int(event.enqueued_time.timestamp() * 1000) == timestamps[i]


def test_rest_posted_events_read_by_event_hubs_sdk_and_kcat(gateway, hub_name):
    marker = uuid.uuid4().hex
    response = requests.post(
        f"{gateway.http}/{hub_name}/partitions/3/messages",
        data=f"rest-{marker}".encode(),
        headers={"Content-Type": "text/plain", "Region": "eu-west"},
        timeout=20,
    )
    assert response.status_code == 201, response.text

    events, _contexts, errors = receive(gateway, hub_name, "3", 1, starting_position="-1")
    assert errors == []
    assert len(events) == 1
    assert events[0].body_as_str() == f"rest-{marker}"
    assert events[0].properties[b"region"] == b"eu-west"
    assert events[0].sequence_number == 0

    out = subprocess.run(
        ["kcat", "-C", "-b", gateway.kafka, "-t", hub_name, "-p", "3", "-o", "beginning", "-e",
         "-f", "%o|%s|%h\n"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip().splitlines()
    assert len(out) == 1
    offset, value, headers = out[0].split("|", 2)
    assert offset == "0"
    assert value == f"rest-{marker}"
    assert "region=eu-west" in headers


def metric(text: str, name: str, protocol: str, hub: str) -> int:
    prefix = f'{name}{{protocol="{protocol}",hub="{hub}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(line[len(prefix):])
    return 0


def test_metrics_count_records_of_every_protocol(gateway, hub_name):
    kafka = Producer({"bootstrap.servers": gateway.kafka, "acks": "all"})
    for i in range(3):
        kafka.produce(hub_name, value=b"k" * 100, partition=0)
    assert kafka.flush(20) == 0
    with producer(gateway, hub_name) as client:
        batch = client.create_batch(partition_id="0")
        for _ in range(2):
            batch.add(EventData(b"a" * 50))
        client.send_batch(batch)
    assert requests.post(f"{gateway.http}/{hub_name}/partitions/0/messages", data=b"h", timeout=20).status_code == 201
    confluent_consume(gateway.kafka, hub_name, 0, 0, 6)
    events, _contexts, errors = receive(gateway, hub_name, "0", 6, starting_position="-1")
    assert errors == [] and len(events) == 6

    text = requests.get(f"{gateway.http}/metrics", timeout=20).text
    assert metric(text, "hubgate_records_in_total", "kafka", hub_name) == 3
    assert metric(text, "hubgate_records_in_total", "amqp", hub_name) == 2
    assert metric(text, "hubgate_records_in_total", "http", hub_name) == 1
    # Kafka fetches return whole stored batches, so at least the 6 records went out.
    assert metric(text, "hubgate_records_out_total", "kafka", hub_name) >= 6
    assert metric(text, "hubgate_records_out_total", "amqp", hub_name) == 6
    assert metric(text, "hubgate_bytes_out_total", "amqp", hub_name) == 3 * 100 + 2 * 50 + 1
