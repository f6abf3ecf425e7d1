"""Hub admin, read, health and metrics routes with requests; consumer lag in /metrics after a
Kafka consumer commits."""

import requests

from test_http_support import kafka_read


def test_http_admin_hub_lifecycle(gateway, hub_name):
    base = gateway.http
    r = requests.put(f"{base}/admin/hubs/{hub_name}", json={"partitions": 2, "retention_ms": 3600000}, timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["partition_count"] == 2 and r.json()["retention_ms"] == 3600000
    hub = requests.get(f"{base}/{hub_name}", timeout=10).json()
    assert hub["name"] == hub_name and hub["type"] == "com.microsoft:eventhub"
    assert hub["partition_ids"] == ["0", "1"]
    r = requests.put(f"{base}/admin/hubs/{hub_name}", json={"partitions": 3, "retention_ms": -1}, timeout=10)
    assert r.status_code == 200, r.text
    assert requests.get(f"{base}/{hub_name}", timeout=10).json()["partition_ids"] == ["0", "1", "2"]
    r = requests.put(f"{base}/admin/hubs/{hub_name}", json={"partitions": 1}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "BadRequest"
    empty = requests.get(f"{base}/{hub_name}/partitions/2", timeout=10).json()
    assert empty["is_partition_empty"] is True and empty["last_enqueued_sequence_number"] == -1
    assert requests.delete(f"{base}/admin/hubs/{hub_name}", timeout=10).status_code == 204
    assert requests.get(f"{base}/{hub_name}", timeout=10).status_code == 404
    assert requests.delete(f"{base}/admin/hubs/{hub_name}", timeout=10).status_code == 404


def test_http_health_and_metrics(gateway, hub_name):
    base = gateway.http
    assert requests.get(f"{base}/healthz", timeout=10).json()["status"] == "healthy"
    assert requests.get(f"{base}/readyz", timeout=10).json()["status"] == "ready"
    for i in range(3):
        assert requests.post(f"{base}/{hub_name}/partitions/0/messages", data=f"m-{i}", timeout=10).status_code == 201
    r = requests.get(f"{base}/metrics", timeout=10)
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert f'hubgate_records_in_total{{protocol="http",hub="{hub_name}"}} 3\n' in text, text
    assert f'hubgate_bytes_in_total{{protocol="http",hub="{hub_name}"}} 9\n' in text, text
    assert 'hubgate_requests_total{protocol="http",status="201"}' in text


def test_http_metrics_consumer_lag(gateway, hub_name):
    """A Kafka consumer reads 3 records and commits offset 1: lag 2 in /metrics."""
    base = gateway.http
    for i in range(3):
        assert requests.post(f"{base}/{hub_name}/partitions/0/messages", data=f"m-{i}", timeout=10).status_code == 201
    msgs = kafka_read(gateway, hub_name, 3, partitions=[0])
    from confluent_kafka import Consumer, TopicPartition

    # A simple consumer (no subscription): OffsetCommit with generation -1.
    consumer = Consumer({"bootstrap.servers": gateway.kafka, "group.id": f"lag-{hub_name}", "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(hub_name, 0, msgs[0].offset() + 1)], asynchronous=False)
    finally:
        consumer.close()
    text = requests.get(f"{base}/metrics", timeout=10).text
    assert f'hubgate_consumer_lag{{group="lag-{hub_name}",hub="{hub_name}",partition="0"}} 2\n' in text, text
