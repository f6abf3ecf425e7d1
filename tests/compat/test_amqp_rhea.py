"""rhea 3.0.5 (npm), unmodified, against hubgate's AMQP front end: send to and receive from
`{hub}/Partitions/0` with SASL PLAIN and without SASL, plus a selector filter with rhea's numeric
descriptor."""

import json

import pytest
from conftest import run_node


@pytest.mark.parametrize("mode", ["sasl", "plain"])
def test_rhea_send_and_receive(gateway, hub_name, mode):
    result = run_node("amqp_rhea.js", str(gateway.port("amqp")), hub_name, mode, timeout=60)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["sent"] == 4
    all_events = report["all"]
    assert [e["sequence_number"] for e in all_events] == [0, 1, 2, 3]
    assert [e["offset"] for e in all_events] == ["0", "1", "2", "3"]
    for i, e in enumerate(all_events):
        assert e["message_id"] == f"rhea-{i}"
        assert e["subject"] == f"subject-{i}"
        assert e["properties"] == {"n": i, "text": f"t-{i}", "flag": i % 2 == 0}
        if i % 2 == 0:
            assert e["body"] == f"string-body-{i}"
        else:
            assert e["body"] == {"hex": bytes([i, 0xFF, 0x00]).hex()}
        assert isinstance(e["enqueued_time"], int) and e["enqueued_time"] > 1_600_000_000_000
        assert e.get("partition_key") is None  # JSON drops undefined
    assert report["filtered"] == all_events[2:]
    mgmt = report["management"]
    assert mgmt["correlation_id"] == "req-1"
    assert mgmt["to"] == f"mgmt-reply-{mode}"
    assert mgmt["status"] == 200
    body = mgmt["body"]
    assert body["name"] == hub_name
    assert body["partition"] == "0"
    assert body["begin_sequence_number"] == 0
    assert body["last_enqueued_sequence_number"] == 3
    assert body["last_enqueued_offset"] == "3"
    assert body["is_partition_empty"] is False
    assert body["last_enqueued_time_utc"]["date"] == all_events[3]["enqueued_time"]


def test_rhea_refused_links(gateway, hub_name):
    result = run_node("amqp_rhea_refusals.js", str(gateway.port("amqp")), hub_name, timeout=60)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["idempotent"]["condition"] == "amqp:not-implemented"
    assert report["no-such-partition"]["condition"] == "amqp:not-found"
    assert "42" in report["no-such-partition"]["description"]
    assert report["bad-address"]["condition"] == "amqp:not-found"
    assert report["bad-filter"]["condition"] == "amqp:invalid-field"
    assert "x-opt-offset < '5'" in report["bad-filter"]["description"]
    for error in report.values():
        assert error["info"], error  # pyamqp needs a non-null info map
