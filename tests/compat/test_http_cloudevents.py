"""CloudEvents over HTTP (binary, structured and batched mode, made with the CloudEvents
Python SDK) read back over Kafka with the SDK's Kafka binding, giving the same events."""

import json

import requests
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from test_http_support import assert_error, kafka_read, stored_counts


def as_kafka_event(msg):
    return ce_kafka.from_binary_event(
        ce_kafka.KafkaMessage(headers=dict(msg.headers() or []), key=msg.key(), value=msg.value())
    )


def same_event(got, want):
    assert got.get_attributes() == want.get_attributes(), (got.get_attributes(), want.get_attributes())
    assert got.get_data() == want.get_data()


def test_http_cloudevents_binary_and_structured(gateway, hub_name):
    binary = CloudEvent(
        attributes={
            "type": "com.example.reading",
            "source": "/sensors/7",
            "id": "b-1",
            "subject": "café room",
            "datacontenttype": "application/json",
            "partitionkey": "sensor-7",
        },
        data={"t": 21.5},
    )
    structured = CloudEvent(
        attributes={
            "type": "com.example.note",
            "source": "/notes",
            "id": "s-1",
            "datacontenttype": "application/json",
            "partitionkey": "sensor-7",
        },
        data={"text": "hello"},
    )
    url = f"{gateway.http}/cloudevents/{hub_name}"
    msg = ce_http.to_binary_event(binary)
    r = requests.post(url, data=msg.body, headers=msg.headers, timeout=10)
    assert r.status_code == 201, r.text
    msg = ce_http.to_structured_event(structured)
    assert msg.headers["content-type"].startswith("application/cloudevents+json")
    r = requests.post(url, data=msg.body, headers=msg.headers, timeout=10)
    assert r.status_code == 201, r.text
    assert sorted(stored_counts(gateway, hub_name)) == [0, 0, 0, 2]

    msgs = kafka_read(gateway, hub_name, 2)
    assert [m.key() for m in msgs] == [b"sensor-7", b"sensor-7"]
    same_event(as_kafka_event(msgs[0]), binary)
    same_event(as_kafka_event(msgs[1]), structured)
    h = dict(msgs[0].headers())
    assert h["ce_subject"] == "café room".encode()
    assert h["content-type"] == b"application/json"


def test_http_cloudevents_batch(gateway, hub_name):
    events = [
        CloudEvent(
            attributes={"type": "t.batch", "source": "/b", "id": f"e-{i}", "datacontenttype": "application/json"},
            data={"n": i},
        )
        for i in range(3)
    ]
    body = "[" + ",".join(ce_http.to_structured_event(e).body.decode() for e in events) + "]"
    r = requests.post(
        f"{gateway.http}/cloudevents/{hub_name}",
        data=body,
        headers={"Content-Type": "application/cloudevents-batch+json"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    msgs = kafka_read(gateway, hub_name, 3)
    assert [m.offset() for m in msgs] == [0, 1, 2], "one request, one partition, in order"
    for got, want in zip(msgs, events):
        same_event(as_kafka_event(got), want)


def test_http_cloudevents_invalid_events_are_refused(gateway, hub_name):
    url = f"{gateway.http}/cloudevents/{hub_name}"
    r = requests.post(url, data="x", headers={"ce-specversion": "1.0", "ce-id": "1", "ce-type": "t"}, timeout=10)
    assert "`source`" in assert_error(r, 400, "BadRequest")["message"]
    r = requests.post(
        url,
        data=json.dumps({"specversion": "1.0", "id": "1", "source": "/s"}),
        headers={"Content-Type": "application/cloudevents+json"},
        timeout=10,
    )
    assert "`type`" in assert_error(r, 400, "BadRequest")["message"]
    r = requests.post(
        url,
        data=json.dumps([{"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}, {"specversion": "1.0", "source": "/s", "type": "t"}]),
        headers={"Content-Type": "application/cloudevents-batch+json"},
        timeout=10,
    )
    message = assert_error(r, 400, "BadRequest")["message"]
    assert "event 1" in message and "`id`" in message
    assert sum(stored_counts(gateway, hub_name)) == 0, "a refused batch stores nothing"
