"""Event Hubs REST send with requests, httpx and curl against the real binary; every record's
body, properties and key is read back over Kafka (confluent-kafka) and over HTTP."""

import base64
import json
import subprocess

import httpx
import requests

from test_http_support import BATCH, headers_of, kafka_read, partition_props, stored_counts


def test_http_single_events_with_requests(gateway, hub_name):
    url = f"{gateway.http}/{hub_name}/messages?timeout=60&api-version=2014-01"
    for i in range(2):
        r = requests.post(
            url,
            data=json.dumps({"DeviceId": "dev-01", "Temperature": 37 + i}),
            headers={
                "Content-Type": "application/atom+xml;type=entry;charset=utf-8",
                "BrokerProperties": json.dumps({"PartitionKey": "dev-01", "MessageId": f"m{i}"}),
                "Alert": "Strong Wind",
                "x-ms-retrypolicy": "NoRetry",
            },
            timeout=10,
        )
        assert r.status_code == 201, r.text
        assert r.content == b""
    counts = stored_counts(gateway, hub_name)
    assert sorted(counts) == [0, 0, 0, 2], counts
    partition = counts.index(2)
    props = partition_props(gateway, hub_name, partition)
    assert props["last_enqueued_sequence_number"] == 1
    assert props["last_enqueued_offset"] == "1"
    assert props["last_enqueued_time_utc"].endswith("Z")

    msgs = kafka_read(gateway, hub_name, 2)
    for i, m in enumerate(msgs):
        assert m.partition() == partition
        assert m.offset() == i
        assert m.key() == b"dev-01"
        assert json.loads(m.value()) == {"DeviceId": "dev-01", "Temperature": 37 + i}
        h = headers_of(m)
        assert h["alert"] == b"Strong Wind"
        assert h["message-id"] == f"m{i}".encode()
        for transport in ("content-type", "user-agent", "brokerproperties", "x-ms-retrypolicy", "host"):
            assert transport not in h, h


def test_http_batch_with_httpx_keep_alive(gateway, hub_name):
    batch = [
        {"Body": "Message1"},
        {"Body": "Message2", "UserProperties": {"Alert": "Strong Wind", "Level": 3, "Urgent": True}},
        {"Body": base64.b64encode(b"\x00\x01\xfe\xff").decode(), "IsBodyBase64": True},
        {"Body": "keyed", "BrokerProperties": {"PartitionKey": "k-1", "CorrelationId": "c-9"}},
    ]
    with httpx.Client(base_url=gateway.http, timeout=10) as client:
        for _ in range(2):
            r = client.post(
                f"/{hub_name}/partitions/3/messages",
                content=json.dumps(batch[:3]),
                headers={"Content-Type": BATCH, "Ignored": "header properties are ignored in batches"},
            )
            assert r.status_code == 201, r.text
        r = client.post(f"/{hub_name}/messages", content=json.dumps(batch[3:]), headers={"Content-Type": BATCH})
        assert r.status_code == 201, r.text
    counts = stored_counts(gateway, hub_name)
    assert counts[3] >= 6 and sum(counts) == 7, counts

    msgs = kafka_read(gateway, hub_name, 7)
    on3 = [m for m in msgs if m.partition() == 3 and m.key() is None]
    assert [m.offset() for m in on3] == [0, 1, 2, 3, 4, 5]
    assert [m.value() for m in on3] == [b"Message1", b"Message2", b"\x00\x01\xfe\xff"] * 2
    h = headers_of(on3[1])
    assert h == {"Alert": b"Strong Wind", "Level": b"3", "Urgent": b"true"}, h
    assert headers_of(on3[0]) == {}
    keyed = [m for m in msgs if m.key() == b"k-1"]
    assert len(keyed) == 1 and keyed[0].value() == b"keyed"
    assert headers_of(keyed[0]) == {"correlation-id": b"c-9"}


def test_http_curl_publisher_and_partition_forms(gateway, hub_name):
    def curl(path, *args):
        out = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", f"{gateway.http}{path}", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    assert curl(f"/{hub_name}/publishers/dev-42/messages", "--data-binary", "from publisher") == 201
    assert curl(f"/{hub_name}/publisher/dev-42/messages", "--data-binary", "singular form") == 201
    assert curl(f"/{hub_name}/partitions/1/messages", "-H", "Content-Type: text/plain", "--data-binary", "to p1") == 201
    # Cleartext HTTP/2 (prior knowledge) is served too.
    assert curl(f"/{hub_name}/partitions/2/messages", "--http2-prior-knowledge", "--data-binary", "h2c") == 201
    msgs = kafka_read(gateway, hub_name, 4)
    publisher = [m for m in msgs if m.key() == b"dev-42"]
    assert [m.value() for m in publisher] == [b"from publisher", b"singular form"]
    assert publisher[0].partition() == publisher[1].partition()
    p1 = [m for m in msgs if m.partition() == 1 and m.key() is None]
    assert len(p1) == 1 and p1[0].value() == b"to p1"
    assert headers_of(p1[0]) == {"content-type": b"text/plain"}
    p2 = [m for m in msgs if m.partition() == 2 and m.key() is None]
    assert [m.value() for m in p2] == [b"h2c"]


def test_http_ack_is_durable_across_a_crash(start_gateway, hub_name):
    gw = start_gateway()
    for i in range(5):
        r = requests.post(f"{gw.http}/{hub_name}/partitions/0/messages", data=f"durable-{i}", timeout=10)
        assert r.status_code == 201
    gw.restart(crash=True)  # SIGKILL: no flush on the way out
    props = partition_props(gw, hub_name, 0)
    assert props["last_enqueued_sequence_number"] == 4
    msgs = kafka_read(gw, hub_name, 5, partitions=[0])
    assert [m.value() for m in msgs] == [f"durable-{i}".encode() for i in range(5)]
