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
