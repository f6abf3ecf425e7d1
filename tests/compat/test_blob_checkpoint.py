"""The Event Hubs Blob checkpoint stores against hubgate alone: azure-eventhub 5.15.1 with
azure-eventhub-checkpointstoreblob 1.2.0 (sync) and -aio 1.2.0, unmodified, using hubgate's
Blob front end for ownership and checkpoints and its AMQP front end for events; Kafka clients
in group `$Default` sharing those checkpoints; and azure-storage-blob's own client for
conditional writes, paging and signatures.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from azure.core import MatchConditions
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceModifiedError
from azure.storage.blob import BlobServiceClient
from confluent_kafka import Consumer, TopicPartition

from blob_support import (
    Processor,
    bodies,
    create_container,
    create_hub,
    flat,
    list_blobs,
    send,
    storage_conn,
)

HERE = Path(__file__).resolve().parent


def checkpoint_prefix(gateway, hub):
    """What the stores list: `{namespace}/{hub}/{group}/checkpoint/`, lower-cased."""
    return f"{gateway.amqp}/{hub}/$default/checkpoint/".lower()


def container_name():
    return "ckpt-" + uuid.uuid4().hex[:12]


@pytest.mark.parametrize("kind", ["sync", "aio"])
def test_a_new_consumer_resumes_after_the_last_checkpoint(gateway, hub_name, kind):
    """N events processed and checkpointed, the consumer stops, M more are sent: a new consumer
    receives exactly the M."""
    container = container_name()
    create_container(gateway, container)
    create_hub(gateway, hub_name, 2)
    first = bodies("first", 2, 5)
    send(gateway, hub_name, first)
    p = Processor(kind, gateway, hub_name, container)
    p.wait_for(10)
    assert sorted(p.stop()) == flat(first), "the first consumer sees each event once"

    prefix = checkpoint_prefix(gateway, hub_name)
    checkpoints = list_blobs(gateway, container, prefix)
    names = sorted(checkpoints)
    assert [n.rsplit("/", 1)[1] for n in names] == ["0", "1"], names
    for name in names:
        assert checkpoints[name].metadata["sequencenumber"] == "4", checkpoints[name].metadata
        assert checkpoints[name].metadata["offset"] == "4"

    second = bodies("second", 2, 3)
    send(gateway, hub_name, second)
    q = Processor(kind, gateway, hub_name, container)
    q.wait_for(6)
    time.sleep(3)  # anything already checkpointed would arrive with the new events
    assert sorted(q.stop()) == flat(second)
    assert not p.errors and not q.errors, (p.errors, q.errors)


def start_processor(gateway, hub, container):
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "blob_processor.py"), gateway.addrs["blob"], gateway.amqp, hub, container],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    owned = set()
    lock = threading.Lock()

    def pump():
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with lock:
                if event["event"] == "init":
                    owned.add(event["partition"])
                elif event["event"] == "close":
                    owned.discard(event["partition"])

    threading.Thread(target=pump, daemon=True).start()

    def current():
        with lock:
            return set(owned)

    return proc, current


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_processes_split_the_partitions_and_one_takes_over_when_the_other_stops(gateway, hub_name):
    container = container_name()
    create_container(gateway, container)
    create_hub(gateway, hub_name, 4)
    everything = {"0", "1", "2", "3"}
    a, owned_a = start_processor(gateway, hub_name, container)
    b = None
    try:
        wait_until(lambda: owned_a() == everything, 30, "the first processor to own every partition")
        b, owned_b = start_processor(gateway, hub_name, container)
        wait_until(
            lambda: len(owned_a()) == 2 and len(owned_b()) == 2 and owned_a() | owned_b() == everything,
            40,
            "an even, disjoint split",
        )
        assert not owned_a() & owned_b()
        # The ownership blobs say the same, each with its owner's id.
        prefix = f"{gateway.amqp}/{hub_name}/$default/ownership/".lower()
        owners = {n.rsplit("/", 1)[1]: b_.metadata["ownerid"] for n, b_ in list_blobs(gateway, container, prefix).items()}
        assert set(owners) == everything and len(set(owners.values())) == 2, owners
        a.terminate()
        assert a.wait(30) == 0
        wait_until(lambda: owned_b() == everything, 30, "the second processor to take over every partition")
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def test_checkpoints_and_ownership_survive_a_gateway_kill(start_gateway, hub_name):
    gw = start_gateway()
    container = container_name()
    create_container(gw, container)
    create_hub(gw, hub_name, 2)
    first = bodies("before", 2, 4)
    send(gw, hub_name, first)
    p = Processor("sync", gw, hub_name, container)
    p.wait_for(8)
    assert sorted(p.stop()) == flat(first)
    ownership_prefix = f"{gw.amqp}/{hub_name}/$default/ownership/".lower()
    ownership = {n: (b.etag, b.metadata) for n, b in list_blobs(gw, container, ownership_prefix).items()}
    assert len(ownership) == 2, ownership
    amqp_before = gw.amqp

    gw.kill()
    gw.start()
    # The namespace in the names is the old AMQP address: ownership blobs are stored as written.
    after = {n: (b.etag, b.metadata) for n, b in list_blobs(gw, container, ownership_prefix).items()}
    assert after == ownership
    old_checkpoints = list_blobs(gw, container, f"{amqp_before}/{hub_name}/$default/checkpoint/".lower())
    assert {n.rsplit("/", 1)[1]: b.metadata["sequencenumber"] for n, b in old_checkpoints.items()} == {"0": "3", "1": "3"}

    second = bodies("after", 2, 2)
    send(gw, hub_name, second)
    q = Processor("sync", gw, hub_name, container)
    q.wait_for(4)
    time.sleep(3)
    assert sorted(q.stop()) == flat(second), "resumed after the checkpoints written before the kill"


def kafka_consumer(gateway, **extra):
    return Consumer(
        {
            "bootstrap.servers": gateway.kafka,
            "group.id": "$Default",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **extra,
        }
    )


def kafka_drain(consumer, count, timeout=30):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        got.append(msg)
    return got


def test_a_kafka_consumer_in_default_resumes_where_the_processor_checkpointed(gateway, hub_name):
    container = container_name()
    create_container(gateway, container)
    create_hub(gateway, hub_name, 2)
    first = bodies("old", 2, 3)
    send(gateway, hub_name, first)
    p = Processor("aio", gateway, hub_name, container)
    p.wait_for(6)
    p.stop()
    second = bodies("new", 2, 2)
    send(gateway, hub_name, second)

    consumer = kafka_consumer(gateway)
    committed = consumer.committed([TopicPartition(hub_name, 0), TopicPartition(hub_name, 1)], timeout=10)
    assert [tp.offset for tp in committed] == [3, 3], "sequence number 2 checkpointed → offset 3 committed"
    consumer.subscribe([hub_name])
    got = kafka_drain(consumer, 4)
    time.sleep(2)
    got += kafka_drain(consumer, 1, timeout=1)
    consumer.close()
    assert sorted(m.value().decode() for m in got) == flat(second)

    # Lag of the group is reported like any Kafka group's.
    metrics = requests.get(f"{gateway.http}/metrics", timeout=10).text
    lines = [l for l in metrics.splitlines() if l.startswith("hubgate_consumer_lag") and f'hub="{hub_name}"' in l]
    assert sorted(lines) == sorted(
        f'hubgate_consumer_lag{{group="$Default",hub="{hub_name}",partition="{i}"}} 2' for i in range(2)
    ), lines


def test_a_processor_resumes_where_a_kafka_consumer_of_default_committed(gateway, hub_name):
    container = container_name()
    create_container(gateway, container)
    create_hub(gateway, hub_name, 2)
    sent = bodies("k", 2, 5)
    send(gateway, hub_name, sent)
    consumer = kafka_consumer(gateway)
    # Commit offset 2 in partition 0 and 4 in partition 1: the processor must start there.
    consumer.commit(offsets=[TopicPartition(hub_name, 0, 2), TopicPartition(hub_name, 1, 4)], asynchronous=False)
    consumer.close()
    listed = list_blobs(gateway, container, checkpoint_prefix(gateway, hub_name))
    assert {n.rsplit("/", 1)[1]: (b.metadata["sequencenumber"], b.metadata["offset"]) for n, b in listed.items()} == {
        "0": ("1", "1"),
        "1": ("3", "3"),
    }
    p = Processor("sync", gateway, hub_name, container)
    p.wait_for(4)
    time.sleep(3)
    assert sorted(p.stop()) == sorted(sent[0][2:] + sent[1][4:])


def blob_service(gateway, **kwargs):
    return BlobServiceClient.from_connection_string(storage_conn(gateway, **kwargs))


def test_conditional_writes_race_one_winner_one_412(gateway):
    container = blob_service(gateway).create_container(container_name())
    blob = container.get_blob_client("owner/0")
    etag = blob.upload_blob(b"", metadata={"ownerid": "nobody"})["etag"]
    for round_ in range(10):
        barrier = threading.Barrier(2)
        outcomes = []

        def writer(name):
            client = blob_service(gateway).get_blob_client(container.container_name, "owner/0")
            barrier.wait()
            try:
                r = client.set_blob_metadata(
                    {"ownerid": name}, etag=etag, match_condition=MatchConditions.IfNotModified
                )
                outcomes.append(("won", name, r["etag"]))
            except ResourceModifiedError as e:
                outcomes.append(("lost", name, e.status_code, e.error_code))

        threads = [threading.Thread(target=writer, args=(f"w{round_}-{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [o for o in outcomes if o[0] == "won"]
        lost = [o for o in outcomes if o[0] == "lost"]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert lost[0][2:] == (412, "ConditionNotMet")
        props = blob.get_blob_properties()
        assert props.metadata == {"ownerid": won[0][1]} and props.etag == won[0][2] != etag
        etag = won[0][2]
    # Create-only puts race the same way: one 201, one 409 BlobAlreadyExists.
    outcomes = []
    barrier = threading.Barrier(2)

    def creator(i):
        client = blob_service(gateway).get_blob_client(container.container_name, "fresh")
        barrier.wait()
        try:
            client.upload_blob(b"", overwrite=False, metadata={"n": str(i)})
            outcomes.append(201)
        except HttpResponseError as e:
            outcomes.append((e.status_code, e.error_code))

    threads = [threading.Thread(target=creator, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == sorted([201, (409, "BlobAlreadyExists")], key=str), outcomes


def test_paging_through_5000_blobs(gateway):
    container = blob_service(gateway).create_container(container_name())
    names = [f"page/{i:05d}" for i in range(5000)]

    def upload(chunk):
        client = blob_service(gateway).get_container_client(container.container_name)
        for name in chunk:
            client.upload_blob(name, b"", metadata={"i": name[-5:]})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(upload, [names[i::16] for i in range(16)]))
    container.upload_blob("zz-other", b"")
    pages = list(container.list_blobs(name_starts_with="page/", include=["metadata"], results_per_page=700).by_page())
    seen = [b.name for page in pages for b in page]
    assert len(pages) == 8  # 7 × 700 + 100
    assert seen == names
    everything = [b.name for b in container.list_blobs()]
    assert everything == names + ["zz-other"], "5,000 per page by default, then the next page"


def test_a_bad_signature_is_refused(gateway):
    bad_key = "A" * 86 + "=="
    service = blob_service(gateway, key=bad_key)
    with pytest.raises(ClientAuthenticationError) as caught:
        service.create_container(container_name())
    assert caught.value.status_code == 403 and caught.value.error_code == "AuthenticationFailed"


def test_with_access_policies_unsigned_and_dev_key_requests_are_refused(start_gateway, tmp_path):
    key = "c3RvcmFnZSBrZXkgb2YgdGhlIHByb2QgYWNjb3VudA=="
    config = tmp_path / "hubgate.toml"
    config.write_text(
        '[policies.RootManageSharedAccessKey]\nkey = "secret"\nrights = ["manage"]\n'
        f'[storage_accounts.prodacct]\nkey = "{key}"\n'
    )
    gw = start_gateway("--config", str(config))
    name = container_name()
    unsigned = requests.put(f"http://{gw.addrs['blob']}/prodacct/{name}?restype=container", timeout=10)
    assert unsigned.status_code == 403 and unsigned.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert "<Code>AuthenticationFailed</Code>" in unsigned.text
    with pytest.raises(ClientAuthenticationError):
        blob_service(gw).create_container(name)  # devstoreaccount1 is not served in secured mode
    service = BlobServiceClient.from_connection_string(storage_conn(gw, account="prodacct", key=key))
    service.create_container(name)
    assert service.get_container_client(name).get_container_properties().name == name
    assert "secret" not in gw.full_log() and key not in gw.full_log()


def test_checkpoint_groups_are_kafka_groups_to_the_admin_api(start_gateway, hub_name):
    """A group that only ever checkpointed through Blob is listed and described by Kafka's
    admin API, with its committed offsets."""
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient

    gw = start_gateway()
    create_hub(gw, hub_name, 2)
    container = blob_service(gw).create_container(container_name())
    name = f"{gw.amqp}/{hub_name}/$default/checkpoint/1".lower()
    container.upload_blob(name, b"", metadata={"offset": "6", "sequencenumber": "6"})
    admin = AdminClient({"bootstrap.servers": gw.kafka})
    groups = admin.list_consumer_groups(request_timeout=10).result()
    assert "$Default" in [g.group_id for g in groups.valid]
    request = [ConsumerGroupTopicPartitions("$Default", [TopicPartition(hub_name, 1)])]
    offsets = admin.list_consumer_group_offsets(request)["$Default"].result()
    assert [(tp.partition, tp.offset) for tp in offsets.topic_partitions] == [(1, 7)]


def test_blob_over_tls(start_gateway, tmp_path):
    """With --tls-cert/--tls-key the Blob listener speaks HTTPS like every other listener."""
    from test_amqp_tls import self_signed

    cert, key = self_signed(tmp_path)
    gw = start_gateway("--tls-cert", str(cert), "--tls-key", str(key))
    from blob_support import DEV_KEY

    service = BlobServiceClient(
        account_url=f"https://{gw.addrs['blob']}/devstoreaccount1",
        credential={"account_name": "devstoreaccount1", "account_key": DEV_KEY},
        connection_verify=str(cert),
    )
    container = service.create_container(container_name())
    etag = container.upload_blob("x", b"", metadata={"ownerid": "a"}).get_blob_properties().etag
    assert container.get_blob_client("x").get_blob_properties().etag == etag
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://{gw.addrs['blob']}/devstoreaccount1/x?restype=container", timeout=5)
