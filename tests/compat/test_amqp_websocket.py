"""AMQP over WebSocket on the HTTPS listener (`wss://HOST:PORT/$servicebus/websocket`) with
azure-eventhub 5.15.1's `TransportType.AmqpOverWebsocket` (websocket-client) and @azure/event-hubs
6.0.4's `webSocketOptions` (the `ws` package).

The gateway serves TLS with a certificate from a CA made in the test, which the SDK gets as
`connection_verify`, and checks access policies: the same SASL/`$cbs` authentication and link
rights as on the AMQP listener. The SDK dials port 443 for WebSockets unless given the HTTPS
listener's address as `custom_endpoint_address` (it appends `/$servicebus/websocket` itself).
"""

import json
import shutil
import ssl
import tempfile
import time
from pathlib import Path

import pytest
import websocket
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient, TransportType
from azure.eventhub.exceptions import AuthenticationError, ConnectError
from conftest import Gateway, run_node

from security_support import receive_from_start as receive
from security_support import SecureSetup, assert_no_secret_in_log

HUB = "wshub"
PARTITIONS = 2


@pytest.fixture(scope="module")
def ws_gateway():
    directory = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    setup = SecureSetup(directory / "setup", extra_toml=f"[hubs.{HUB}]\npartitions = {PARTITIONS}\n")
    gw = Gateway(directory / "data", [*setup.args(), "--kafka-listen", "off"], env={"RUST_LOG": "debug"}).start()
    yield setup, gw
    try:
        log = gw.full_log()
        assert "token accepted" in log or "SASL PLAIN" in log, gw.log()
        assert_no_secret_in_log(log, setup.keys())
    finally:
        gw.kill()
        shutil.rmtree(directory, ignore_errors=True)


def ws_args(setup, gw, policy, key=None):
    text = setup.connection_string(policy, "sb://localhost", HUB)
    if key is not None:
        text = text.replace(setup.policies[policy].key, key)
    extra = {
        "transport_type": TransportType.AmqpOverWebsocket,
        "custom_endpoint_address": f"sb://localhost:{gw.port('http')}",
        "connection_verify": str(setup.ca.cert),
    }
    return text, extra


def test_python_sdk_sends_and_receives_over_websocket_tls(ws_gateway):
    setup, gw = ws_gateway
    tag = f"{time.time_ns()}"
    text, extra = ws_args(setup, gw, "sender")
    with EventHubProducerClient.from_connection_string(text, **extra) as producer:
        assert producer.get_partition_ids() == [str(i) for i in range(PARTITIONS)]
        batch = producer.create_batch(partition_id="1")
        for i in range(3):
            event = EventData(f"{tag}-{i}")
            event.properties = {"n": i}
            batch.add(event)
        producer.send_batch(batch)
        producer.send_event(EventData(b"x" * 200_000), partition_id="1")  # several AMQP frames
    text, extra = ws_args(setup, gw, "listener")
    client = EventHubConsumerClient.from_connection_string(text, consumer_group="$Default", **extra)
    events, errors = receive(client, 1, 4)
    assert not errors, errors
    ours = [e for e in events if e.body_as_str().startswith(tag)]
    assert [e.body_as_str() for e in ours] == [f"{tag}-{i}" for i in range(3)]
    assert [e.properties[b"n"] for e in ours] == [0, 1, 2]
    assert events[-1].body_as_str() == "x" * 200_000
    # The same records over the plain AMQP listener: one log behind both.
    client = EventHubConsumerClient.from_connection_string(
        setup.connection_string("listener", "sb://localhost", HUB), consumer_group="$Default",
        custom_endpoint_address=f"sb://localhost:{gw.port('amqp')}", transport_type=TransportType.Amqp,
        connection_verify=str(setup.ca.cert),
    )
    plain, errors = receive(client, 1, 4)
    assert not errors, errors
    assert [e.sequence_number for e in plain] == [e.sequence_number for e in events]


def test_js_sdk_sends_and_receives_over_websocket_tls(ws_gateway):
    setup, gw = ws_gateway
    tag = f"js-{time.time_ns()}"
    text = setup.connection_string("admin", "sb://localhost", HUB)
    result = run_node("amqp_eventhubs_ws.js", text, str(gw.port("http")), tag,
                      env={"NODE_EXTRA_CA_CERTS": str(setup.ca.cert)})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["partitionIds"] == [str(i) for i in range(PARTITIONS)]
    assert [e["body"] for e in report["received"]] == [f"{tag}-{i}" for i in range(3)]
    assert [e["n"] for e in report["received"]] == [0, 1, 2]


def test_websocket_applies_the_same_authentication(ws_gateway):
    setup, gw = ws_gateway
    text, extra = ws_args(setup, gw, "sender", key="not-the-key")
    with EventHubProducerClient.from_connection_string(text, retry_total=0, **extra) as producer:
        with pytest.raises((AuthenticationError, ConnectError)):
            producer.send_event(EventData("never stored"), partition_id="0")
    # A Send-only policy cannot read over WebSocket either.
    text, extra = ws_args(setup, gw, "sender")
    client = EventHubConsumerClient.from_connection_string(text, consumer_group="$Default", retry_total=0, **extra)
    events, errors = receive(client, 0, 1, timeout=15)
    assert not events
    assert errors, "a Send-only policy read a partition over WebSocket"


def test_upgrade_needs_the_amqp_subprotocol(ws_gateway):
    setup, gw = ws_gateway
    url = f"wss://localhost:{gw.port('http')}/$servicebus/websocket"
    sslopt = {"ca_certs": str(setup.ca.cert), "cert_reqs": ssl.CERT_REQUIRED}
    for subprotocols in (None, ["mqtt"]):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, subprotocols=subprotocols, sslopt=sslopt, timeout=10)
        assert refused.value.status_code == 400
    # `amqp` (rhea) and `AMQPWSB10` (pyamqp) both name the binding.
    for name in ("amqp", "AMQPWSB10"):
        ws = websocket.create_connection(url, subprotocols=[name], sslopt=sslopt, timeout=10)
        try:
            assert ws.getsubprotocol() == name.lower()
            # The AMQP listener's answer to an unknown protocol header: its own, then close.
            ws.send_binary(b"AMQP\x09\x09\x09\x09")
            assert ws.recv() == b"AMQP\x03\x01\x00\x00"
        finally:
            ws.close()
