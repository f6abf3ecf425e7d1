"""azure-eventhub 5.15.1, unmodified, against hubgate's AMQP front end.

The SDK connects with an emulator-style connection string (`UseDevelopmentEmulator=true`, plain
AMQP on the port in the endpoint). Every received event is checked field by field: body,
application properties with their types, partition key, sequence number, offset and enqueued
time.
"""

import datetime
import math
import threading
import time
import uuid

import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub._buffered_producer._partition_resolver import generate_hash_code
from azure.eventhub._pyamqp.types import TYPE, VALUE, AMQPTypes
from azure.eventhub.exceptions import ConnectionLostError, EventHubError

PARTITIONS = 4  # the gateway's default for auto-created hubs


def conn_str(gateway, hub):
    return (
        f"Endpoint=sb://{gateway.amqp};SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey=c2VjcmV0;UseDevelopmentEmulator=true;EntityPath={hub}"
    )


def producer(gateway, hub):
    return EventHubProducerClient.from_connection_string(conn_str(gateway, hub))


def service_partition(key: str, count: int) -> int:
    """The Event Hubs service's partition for an ASCII key: truncating remainder, then abs."""
    return abs(int(math.fmod(generate_hash_code(key), count)))


def typed_properties(i):
    """One property of every type the SDK encodes, with values that differ per event."""
    return {
        "int": 7 + i,  # AMQP int
        "long": {TYPE: AMQPTypes.long, VALUE: 2**40 + i},  # pyamqp's typed form
        "float": 1.5 + i,  # AMQP double
        "bool": i % 2 == 0,
        "string": f"text-{i}",
        "binary": bytes([0, 1, 2, i]),
        "uuid": uuid.UUID(int=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0 + i),
        "timestamp": datetime.datetime(2026, 1, 2, 3, 4, 5, 6000 * (i + 1), tzinfo=datetime.timezone.utc),
    }


def expected_received_properties(props):
    """What the SDK gives back: keys and string values as bytes, datetimes as ms timestamps."""
    out = {}
    for k, v in props.items():
        if isinstance(v, dict):
            v = v[VALUE]
        if isinstance(v, str):
            v = v.encode()
        elif isinstance(v, datetime.datetime):
            v = int(v.timestamp() * 1000)
        out[k.encode()] = v
    return out


def receive(gateway, hub, partition, count, *, batch=False, timeout=20, **kwargs):
    """Receives `count` events from one partition (or stops after `timeout` seconds).

    Returns (events, contexts, errors)."""
    client = EventHubConsumerClient.from_connection_string(conn_str(gateway, hub), consumer_group="$Default")
    events, contexts, errors = [], [], []
    done = threading.Event()

    def on_event(ctx, event):
        if event is None:
            return
        events.append(event)
        contexts.append(ctx.last_enqueued_event_properties)
        if len(events) >= count:
            done.set()

    def on_event_batch(ctx, batch_events):
        for event in batch_events:
            on_event(ctx, event)

    def on_error(ctx, error):
        errors.append(error)
        done.set()

    def run():
        if batch:
            client.receive_batch(
                on_event_batch=on_event_batch, partition_id=str(partition), on_error=on_error, max_wait_time=1, **kwargs
            )
        else:
            client.receive(on_event=on_event, partition_id=str(partition), on_error=on_error, max_wait_time=1, **kwargs)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    done.wait(timeout)
    client.close()
    thread.join(10)
    return events, contexts, errors


def check_event(event, *, body, props, seq, key=None, sent_after=None, sent_before=None):
    assert event.body_as_str() == body
    assert event.properties == expected_received_properties(props)
    assert event.sequence_number == seq
    assert event.offset == str(seq)
    assert event.partition_key == (key.encode() if key is not None else None)
    if sent_after is not None:
        enqueued_ms = event.enqueued_time.timestamp() * 1000
        assert sent_after - 1 <= enqueued_ms <= sent_before + 1, (sent_after, enqueued_ms, sent_before)


def test_management_properties(gateway, hub_name):
    with producer(gateway, hub_name) as p:
        props = p.get_eventhub_properties()
        assert props["eventhub_name"] == hub_name
        assert props["partition_ids"] == [str(i) for i in range(PARTITIONS)]
        assert isinstance(props["created_at"], datetime.datetime)
        assert abs(props["created_at"].timestamp() - time.time()) < 60
        assert p.get_partition_ids() == [str(i) for i in range(PARTITIONS)]
        empty = p.get_partition_properties("2")
        assert empty["eventhub_name"] == hub_name
        assert empty["id"] == "2"
        assert empty["is_empty"] is True
        assert empty["beginning_sequence_number"] == 0
        assert empty["last_enqueued_sequence_number"] == -1
        assert empty["last_enqueued_offset"] == "-1"
        before = time.time() * 1000
        batch = p.create_batch(partition_id="2")
        for i in range(3):
            batch.add(EventData(f"e{i}"))
        p.send_batch(batch)
        after = time.time() * 1000
        full = p.get_partition_properties("2")
        assert full["is_empty"] is False
        assert full["last_enqueued_sequence_number"] == 2
        assert full["last_enqueued_offset"] == "2"
        assert before - 1 <= full["last_enqueued_time_utc"].timestamp() * 1000 <= after + 1
    no_retry = EventHubProducerClient.from_connection_string(conn_str(gateway, hub_name), retry_total=0)
    with no_retry, pytest.raises(EventHubError):
        no_retry.get_partition_properties("9")


def test_send_batch_to_partition_every_property_type(gateway, hub_name):
    with producer(gateway, hub_name) as p:
        assert p.create_batch().max_size_in_bytes == 1024 * 1024
        before = time.time() * 1000
        batch = p.create_batch(partition_id="1")
        sent = []
        for i in range(5):
            event = EventData(f"body-{i}")
            event.properties = typed_properties(i)
            batch.add(event)
            sent.append((f"body-{i}", typed_properties(i)))
        p.send_batch(batch)
        p.send_event(EventData("single"), partition_id="1")
        after = time.time() * 1000
    events, _, errors = receive(gateway, hub_name, 1, 6, starting_position="-1")
    assert not errors
    assert len(events) == 6
    for seq, (event, (body, props)) in enumerate(zip(events, sent)):
        check_event(event, body=body, props=props, seq=seq, sent_after=before, sent_before=after)
    check_event(events[5], body="single", props={}, seq=5, sent_after=before, sent_before=after)


def test_partition_key_routes_with_the_service_hash(gateway, hub_name):
    keys = ["device-17", "$0cb", "p4*!jioeO/z-!-;w:dh", "alpha"]
    with producer(gateway, hub_name) as p:
        for key in keys:
            batch = p.create_batch(partition_key=key)
            for i in range(2):
                event = EventData(f"{key}-{i}")
                event.properties = {"n": i}
                batch.add(event)
            p.send_batch(batch)
        per_partition = {str(i): p.get_partition_properties(str(i)) for i in range(PARTITIONS)}
    expected = {}
    for key in keys:
        expected.setdefault(service_partition(key, PARTITIONS), []).append(key)
    for partition in range(PARTITIONS):
        keys_here = expected.get(partition, [])
        state = per_partition[str(partition)]
        assert state["last_enqueued_sequence_number"] == 2 * len(keys_here) - 1
        if not keys_here:
            continue
        events, _, errors = receive(gateway, hub_name, partition, 2 * len(keys_here), starting_position="-1")
        assert not errors
        bodies = [e.body_as_str() for e in events]
        assert bodies == [f"{k}-{i}" for k in keys_here for i in range(2)]
        for seq, event in enumerate(events):
            key = keys_here[seq // 2]
            check_event(event, body=f"{key}-{seq % 2}", props={"n": seq % 2}, seq=seq, key=key)


def test_send_without_key_or_partition_round_robins(gateway, hub_name):
    with producer(gateway, hub_name) as p:
        for i in range(8):
            batch = p.create_batch()
            batch.add(EventData(f"rr-{i}"))
            p.send_batch(batch)
        counts = [p.get_partition_properties(str(i))["last_enqueued_sequence_number"] + 1 for i in range(PARTITIONS)]
    assert counts == [2, 2, 2, 2]
    bodies = []
    for partition in range(PARTITIONS):
        events, _, errors = receive(gateway, hub_name, partition, 2, starting_position="-1")
        assert not errors
        assert [e.sequence_number for e in events] == [0, 1]
        assert all(e.partition_key is None for e in events)
        bodies += [e.body_as_str() for e in events]
    assert sorted(bodies) == sorted(f"rr-{i}" for i in range(8))


def test_send_event_with_partition_key(gateway, hub_name):
    with producer(gateway, hub_name) as p:
        event = EventData(b"\x00\xffraw")
        event.properties = {"k": "v"}
        p.send_event(event, partition_key="single-key")
    partition = service_partition("single-key", PARTITIONS)
    events, _, errors = receive(gateway, hub_name, partition, 1, starting_position="-1")
    assert not errors
    assert len(events) == 1
    assert b"".join(events[0].body) == b"\x00\xffraw"
    assert events[0].partition_key == b"single-key"
    assert events[0].properties == {b"k": b"v"}


def test_event_near_one_mebibyte_and_over_limit_batch(gateway, hub_name):
    big = bytes(range(256)) * 4000  # 1,024,000 bytes
    with producer(gateway, hub_name) as p:
        batch = p.create_batch(partition_id="0")
        batch.add(EventData(big))
        p.send_batch(batch)
        too_big = p.create_batch(partition_id="0")
        with pytest.raises(ValueError):
            too_big.add(EventData(b"x" * (1024 * 1024 + 1)))
        assert p.get_partition_properties("0")["last_enqueued_sequence_number"] == 0
    events, _, errors = receive(gateway, hub_name, 0, 1, starting_position="-1")
    assert not errors
    assert b"".join(events[0].body) == big
    assert events[0].sequence_number == 0


@pytest.fixture
def ten_events(gateway, hub_name):
    """Ten events on partition 0, sent one second-half apart in two groups of five; returns
    their enqueued times (ms)."""
    with producer(gateway, hub_name) as p:
        for group in range(2):
            batch = p.create_batch(partition_id="0")
            for i in range(5):
                batch.add(EventData(f"ev-{group * 5 + i}"))
            p.send_batch(batch)
            time.sleep(0.05)
    events, _, errors = receive(gateway, hub_name, 0, 10, starting_position="-1")
    assert not errors
    assert [e.body_as_str() for e in events] == [f"ev-{i}" for i in range(10)]
    return [int(round(e.enqueued_time.timestamp() * 1000)) for e in events]


@pytest.mark.parametrize("batch", [False, True], ids=["receive", "receive_batch"])
def test_start_positions(gateway, hub_name, ten_events, batch):
    def seqs(expect, **kwargs):
        # Stops at the expected count (the log ends at sequence number 9, so nothing can follow);
        # an expected empty result waits 3 s for events that must not come.
        events, _, errors = receive(gateway, hub_name, 0, max(expect, 1), batch=batch, timeout=3 if expect == 0 else 20, **kwargs)
        assert not errors
        for e in events:
            assert e.body_as_str() == f"ev-{e.sequence_number}"
            assert e.offset == str(e.sequence_number)
        return [e.sequence_number for e in events]

    assert seqs(10, starting_position="-1") == list(range(10))
    # Offsets (strings) and sequence numbers (ints), exclusive by default.
    assert seqs(6, starting_position="3") == list(range(4, 10))
    assert seqs(7, starting_position="3", starting_position_inclusive=True) == list(range(3, 10))
    assert seqs(3, starting_position=6) == list(range(7, 10))
    assert seqs(4, starting_position=6, starting_position_inclusive=True) == list(range(6, 10))
    # Enqueued time: each group of five shares one enqueued time; the second came later.
    assert ten_events[0] == ten_events[4] < ten_events[5] == ten_events[9]
    first = datetime.datetime.fromtimestamp(ten_events[0] / 1000, tz=datetime.timezone.utc)
    assert seqs(10, starting_position=first, starting_position_inclusive=True) == list(range(10))
    assert seqs(5, starting_position=first) == list(range(5, 10))
    second = datetime.datetime.fromtimestamp(ten_events[5] / 1000, tz=datetime.timezone.utc)
    assert seqs(5, starting_position=second, starting_position_inclusive=True) == list(range(5, 10))
    last = datetime.datetime.fromtimestamp(ten_events[9] / 1000, tz=datetime.timezone.utc)
    exclusive = seqs(0, starting_position=last)
    assert exclusive == []


@pytest.mark.parametrize("batch", [False, True], ids=["receive", "receive_batch"])
def test_latest_sees_only_new_events(gateway, hub_name, ten_events, batch):
    client = EventHubConsumerClient.from_connection_string(conn_str(gateway, hub_name), consumer_group="$Default")
    got = []
    done = threading.Event()

    def on_event(ctx, event):
        got.append(event)
        done.set()

    def on_event_batch(ctx, events):
        for event in events:
            on_event(ctx, event)

    if batch:
        target, callback = client.receive_batch, dict(on_event_batch=on_event_batch, max_wait_time=1)
    else:
        target, callback = client.receive, dict(on_event=on_event)
    thread = threading.Thread(
        target=target,
        kwargs=dict(partition_id="0", starting_position="@latest", **callback),
        daemon=True,
    )
    thread.start()
    time.sleep(2)  # the receive link is attached by now
    with producer(gateway, hub_name) as p:
        p.send_event(EventData("new"), partition_id="0")
    assert done.wait(15)
    client.close()
    thread.join(10)
    assert [e.body_as_str() for e in got] == ["new"]
    assert got[0].sequence_number == 10


def test_track_last_enqueued_event_properties(gateway, hub_name, ten_events):
    events, contexts, errors = receive(
        gateway, hub_name, 0, 3, starting_position="-1", track_last_enqueued_event_properties=True
    )
    assert not errors
    assert len(events) >= 3
    info = contexts[0]
    assert info["sequence_number"] == 9
    assert info["offset"] == "9"
    assert abs(info["enqueued_time"].timestamp() * 1000 - ten_events[9]) < 1000
    assert abs(info["retrieval_time"].timestamp() - time.time()) < 30


def test_higher_owner_level_steals_the_partition(gateway, hub_name, ten_events):
    first = EventHubConsumerClient.from_connection_string(conn_str(gateway, hub_name), consumer_group="$Default")
    first_events, first_errors = [], []
    started = threading.Event()

    def on_event(ctx, event):
        first_events.append(event)
        started.set()

    def on_error(ctx, error):
        first_errors.append(error)

    thread = threading.Thread(
        target=first.receive,
        kwargs=dict(on_event=on_event, on_error=on_error, partition_id="0", owner_level=1, starting_position="-1"),
        daemon=True,
    )
    thread.start()
    assert started.wait(15)
    events, _, errors = receive(gateway, hub_name, 0, 10, starting_position="-1", owner_level=2)
    assert not errors
    assert len(events) == 10
    deadline = time.time() + 15
    while not first_errors and time.time() < deadline:
        time.sleep(0.1)
    first.close()
    thread.join(10)
    assert first_errors, "the lower owner level was not disconnected"
    assert isinstance(first_errors[0], ConnectionLostError)
    assert "amqp:link:stolen" in str(first_errors[0])
    # A lower owner level than the current one is refused the same way.
    holder = EventHubConsumerClient.from_connection_string(conn_str(gateway, hub_name), consumer_group="$Default")
    holder_started = threading.Event()
    holder_thread = threading.Thread(
        target=holder.receive,
        kwargs=dict(on_event=lambda c, e: holder_started.set(), partition_id="0", owner_level=5, starting_position="-1"),
        daemon=True,
    )
    holder_thread.start()
    assert holder_started.wait(15)
    _, _, errors = receive(gateway, hub_name, 0, 1, starting_position="-1", owner_level=3, timeout=15)
    holder.close()
    holder_thread.join(10)
    assert errors and "amqp:link:stolen" in str(errors[0])


def test_unknown_hub_without_auto_create(start_gateway):
    gw = start_gateway("--no-auto-create", "--kafka-listen", "off", "--http-listen", "off")
    client = EventHubProducerClient.from_connection_string(conn_str(gw, "missing"), retry_total=0)
    with client:
        with pytest.raises(EventHubError) as error:
            client.get_eventhub_properties()
        assert "Status code: 404" in str(error.value), error.value
        assert "event hub `missing` does not exist" in str(error.value) or "hub `missing` does not exist" in str(error.value), error.value
        with pytest.raises(EventHubError) as error:
            client.send_event(EventData("x"))
        assert "NotFound" in str(error.value) or "amqp:not-found" in str(error.value), error.value


def test_more_sends_than_one_credit_window_never_stall(gateway, hub_name):
    # The gateway grants 200 credits per link and refills them as deliveries are settled.
    with producer(gateway, hub_name) as p:
        for i in range(450):
            p.send_event(EventData(f"e{i}"), partition_id="3")
        assert p.get_partition_properties("3")["last_enqueued_sequence_number"] == 449
    events, _, errors = receive(gateway, hub_name, 3, 450, starting_position="-1", timeout=60)
    assert not errors
    assert [e.body_as_str() for e in events] == [f"e{i}" for i in range(450)]
    assert [e.sequence_number for e in events] == list(range(450))
