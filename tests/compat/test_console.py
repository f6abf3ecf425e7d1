"""The web console at `/console` in headless Chromium (Debian's package, driven by
playwright-core from npm): records written over Kafka, AMQP and HTTP shown on the hub page with
their decoded properties, a Kafka group's lag, an event sent from the form and read back by a
Kafka consumer, a hub created and deleted from the Hubs page, and the sign-in when access
policies exist (Listen looks, Manage changes). Every script fails on a page error or a request
to another host.

With `HUBGATE_CONSOLE_SCREENSHOTS=1` the hub test also writes `docs/console/overview.png` and
`docs/console/hub.png`.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from azure.eventhub import EventData, EventHubProducerClient
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import ROOT, Gateway, run_node
from kafka_support import confluent_consume
from security_support import SecureSetup, assert_no_secret_in_log

def node_result(result):
    """The JSON line a console script prints last."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_console_assets_headers(gateway):
    base = gateway.http
    root = requests.get(f"{base}/", allow_redirects=False, timeout=10)
    assert root.status_code == 303 and root.headers["Location"] == "/console"
    page = requests.get(f"{base}/console", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    script = requests.get(f"{base}/console/assets/app.js", timeout=10)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Cache-Control"] == "no-cache"
    again = requests.get(f"{base}/console/assets/app.js", headers={"If-None-Match": script.headers["ETag"]}, timeout=10)
    assert again.status_code == 304


def steady_traffic(gateway, hub, stop):
    """Events over HTTP and Kafka every 200 ms until `stop` is set, for a chart worth a
    screenshot."""
    producer = Producer({"bootstrap.servers": gateway.kafka})
    i = 0
    while not stop.is_set():
        requests.post(f"{gateway.http}/{hub}/messages", data=f"tick {i}".encode(), timeout=10)
        for _ in range(1 + i % 3):
            producer.produce(hub, value=f"tick {i}".encode())
        producer.poll(0)
        i += 1
        stop.wait(0.2)
    producer.flush(10)


def test_console_hub_page_groups_send_and_hub_admin(start_gateway, hub_name):
    screenshots = os.environ.get("HUBGATE_CONSOLE_SCREENSHOTS") == "1"
    # Screenshots show the storage URL: a relative data directory, as in the README, rather
    # than a temporary path.
    data_dir = Path("hubgate-data") if screenshots else None
    gateway = start_gateway(data_dir=data_dir)
    try:
        check_hub_page(gateway, hub_name, screenshots)
    finally:
        if data_dir:
            gateway.kill()
            shutil.rmtree(data_dir, ignore_errors=True)


def check_hub_page(gateway, hub_name, screenshots):
    base = gateway.http
    assert requests.put(f"{base}/admin/hubs/{hub_name}", json={"partitions": 1}, timeout=10).status_code == 201

    producer = Producer({"bootstrap.servers": gateway.kafka})
    producer.produce(hub_name, value=b'{"from":"kafka"}', key=b"k-kafka", partition=0, headers=[("trace", b"\x00\x01")])
    for i in range(4):
        producer.produce(hub_name, value=f"kafka {i}".encode(), partition=0)
    assert producer.flush(20) == 0

    conn = (
        f"Endpoint=sb://{gateway.amqp};SharedAccessKeyName=any;SharedAccessKey=any;"
        f"UseDevelopmentEmulator=true;EntityPath={hub_name}"
    )
    with EventHubProducerClient.from_connection_string(conn) as client:
        event = EventData("from amqp")
        event.properties = {"count": 7, "ratio": 1.5, "flag": True, "name": "amqp-name"}
        event.content_type = "application/json"
        event.message_id = "m-amqp"
        batch = client.create_batch(partition_key="pk-amqp")
        batch.add(event)
        client.send_batch(batch)

    sent = requests.post(
        f"{base}/{hub_name}/messages",
        data=b"from http",
        headers={"BrokerProperties": json.dumps({"PartitionKey": "pk-http", "MessageId": "m-http"}), "Alert": "strong wind"},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text

    # A Kafka group that committed the first 2 of the 7 records: lag 5.
    group = f"{hub_name}-group"
    committer = Consumer({"bootstrap.servers": gateway.kafka, "group.id": group, "enable.auto.commit": False})
    committer.commit(offsets=[TopicPartition(hub_name, 0, 2)], asynchronous=False)
    committer.close()

    env = {}
    stop = threading.Event()
    traffic = None
    if screenshots:
        shots = ROOT / "docs" / "console"
        shots.mkdir(parents=True, exist_ok=True)
        env["HUBGATE_CONSOLE_SCREENSHOT_DIR"] = str(shots)
        traffic = threading.Thread(target=steady_traffic, args=(gateway, f"{hub_name}-traffic", stop))
        traffic.start()
        time.sleep(30)  # six history samples
    new_hub = f"{hub_name}-new"
    try:
        found = node_result(run_node("console_hub.js", base, hub_name, group, "5", new_hub, timeout=180, env=env))
    finally:
        stop.set()
        if traffic:
            traffic.join()
    assert found["lag"] == "5" and found["events"] == 7 and found["createdAndDeleted"] == new_hub
    assert found["consoleErrors"] == [], found["consoleErrors"]

    # The event sent from the form, read by a Kafka consumer.
    [message] = confluent_consume(gateway.kafka, hub_name, 0, 7, 1)
    assert message.value() == b"from the console"
    assert ("origin", b"console") in (message.headers() or [])
    assert requests.get(f"{base}/{new_hub}", timeout=10).status_code == 404
    gateway.wait_for_log(f"deleted hub over HTTP")


def sas_token(resource, name, key, ttl=600):
    expiry = int(time.time()) + ttl
    sr = urllib.parse.quote_plus(resource)
    sig = base64.b64encode(hmac.new(key.encode(), f"{sr}\n{expiry}".encode(), hashlib.sha256).digest()).decode()
    return f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote_plus(sig)}&se={expiry}&skn={name}"


@pytest.fixture
def secured():
    directory = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    setup = SecureSetup(directory / "setup", tls=False)
    gw = Gateway(directory / "data", setup.args()).start()
    yield gw, setup
    gw.kill()
    shutil.rmtree(directory, ignore_errors=True)


def test_console_sign_in_listen_looks_manage_changes(secured, hub_name):
    gw, setup = secured
    base = gw.http
    admin = {"Authorization": sas_token(f"{base}/", "admin", setup.policies["admin"].key)}
    assert requests.get(f"{base}/admin/hubs", timeout=10).status_code == 401
    assert requests.get(f"{base}/admin/access", timeout=10).json() == {"required": True}
    assert requests.put(f"{base}/admin/hubs/{hub_name}", json={"partitions": 1}, headers=admin, timeout=10).status_code == 201
    assert requests.post(f"{base}/{hub_name}/messages", data=b"secured", headers=admin, timeout=10).status_code == 201

    found = node_result(run_node(
        "console_auth.js", base, hub_name, setup.policies["listener"].key, setup.policies["admin"].key, timeout=180))
    assert "401" in found["wrongKey"] and "403" in found["listenCreate"]
    # What the server refused stays refused; what Manage did happened.
    assert requests.get(f"{base}/admin/hubs/{hub_name}-listen", headers=admin, timeout=10).status_code == 404
    assert requests.get(f"{base}/admin/hubs/{hub_name}-manage", headers=admin, timeout=10).status_code == 200
    # The refused requests are the only console errors (Chromium logs every failed response).
    assert all("401" in e or "403" in e for e in found["consoleErrors"]), found["consoleErrors"]
    assert_no_secret_in_log(gw.full_log(), setup.keys())


def test_console_live_kafka_group(group_gateway, hub_name):
    """A subscribed confluent-kafka consumer: the Groups page shows it Stable with its member
    and both assigned partitions, and refuses a reset while it is in the group; once it has
    left, the reset goes through and a new member starts from the reset offsets."""
    gw = group_gateway
    assert requests.put(f"{gw.http}/admin/hubs/{hub_name}", json={"partitions": 2}, timeout=10).status_code == 201
    producer = Producer({"bootstrap.servers": gw.kafka})
    for i in range(6):
        producer.produce(hub_name, value=f"g{i}".encode(), partition=i % 2)
    assert producer.flush(20) == 0
    group = f"{hub_name}-live"
    config = {
        "bootstrap.servers": gw.kafka, "group.id": group, "client.id": "console-test-client",
        "auto.offset.reset": "earliest", "enable.auto.commit": False, "session.timeout.ms": 6000,
    }
    consumer = Consumer(config)
    consumer.subscribe([hub_name])
    read = []
    deadline = time.monotonic() + 30
    while len(read) < 6 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            read.append(message)
    assert len(read) == 6
    consumer.commit(asynchronous=False)
    try:
        found = node_result(run_node("console_groups.js", gw.http, group, hub_name, timeout=180))
        assert found["state"] == "Stable" and found["lag"] == "0"
        assert found["consoleErrors"] == [] or all("409" in e for e in found["consoleErrors"]), found["consoleErrors"]
    finally:
        consumer.close()
    reset = requests.post(f"{gw.http}/admin/groups/{group}/offsets", json={"hub": hub_name, "to": "earliest"}, timeout=10)
    assert reset.status_code == 200, reset.text
    assert requests.get(f"{gw.http}/admin/groups/{group}", timeout=10).json()["lag"] == 6
    again = Consumer(config)
    again.subscribe([hub_name])
    first = None
    deadline = time.monotonic() + 30
    while first is None and time.monotonic() < deadline:
        message = again.poll(0.5)
        if message is not None and message.error() is None:
            first = message
    again.close()
    assert first is not None and first.offset() == 0, "the new member starts from the reset offset"
    # Empty now: the delete goes through the coordinator, and the offsets are gone.
    deleted = requests.delete(f"{gw.http}/admin/groups/{group}", timeout=10)
    assert deleted.status_code == 204, deleted.text
    listed = requests.get(f"{gw.http}/admin/groups", timeout=10).json()["groups"]
    assert group not in [g["group"] for g in listed], listed
