"""python-qpid-proton 0.40, unmodified, against hubgate's AMQP front end: `{hub}/Partitions/0`
with SASL PLAIN and without SASL, every body section kind and property type, the reader cap and
refused addresses."""

import datetime
import uuid

import pytest
from proton import Message, char, float32, int32, symbol, timestamp, ulong
from proton.utils import BlockingConnection, LinkDetached


def connect(gateway, sasl):
    url = f"amqp://{gateway.amqp}"
    if sasl:
        return BlockingConnection(url, user="RootManageSharedAccessKey", password="c2VjcmV0", allowed_mechs="PLAIN", timeout=15)
    return BlockingConnection(url, sasl_enabled=False, timeout=15)


def message(i):
    return Message(
        id=uuid.UUID(int=1000 + i),
        correlation_id=f"corr-{i}",
        subject=f"subject-{i}",
        content_type="text/plain",
        creation_time=1_700_000_000.5 + i,
        durable=True,
        priority=7,
        annotations={symbol("x-custom"): f"note-{i}"},
        properties={
            "int": int32(7 + i),
            "long": 2**40 + i,
            "double": 2.25 + i,
            "float": float32(0.5),
            "bool": i % 2 == 0,
            "string": f"s-{i}",
            "binary": bytes([i, 0, 255]),
            "uuid": uuid.UUID(int=77 + i),
            "timestamp": timestamp(1_700_000_000_123 + i),
            "symbol": symbol("sym"),
            "ulong": ulong(5),
            "char": char("x"),
        },
        body=f"value-body-{i}",
    )


def check(received, sent, seq):
    assert received.id == sent.id
    assert received.correlation_id == sent.correlation_id
    assert received.subject == sent.subject
    assert received.content_type == sent.content_type
    assert received.creation_time == pytest.approx(sent.creation_time)
    assert received.durable is True
    assert received.priority == 7
    assert received.body == sent.body
    assert type(received.body) is type(sent.body)
    assert {k: bytes(v) if isinstance(v, memoryview) else v for k, v in received.properties.items()} == sent.properties
    for k, v in sent.properties.items():
        got = received.properties[k]
        if isinstance(v, bytes):
            assert bytes(got) == v  # proton decodes binary as a memoryview
        else:
            assert type(got) is type(v), k
    ann = received.annotations
    assert ann[symbol("x-custom")] == sent.annotations[symbol("x-custom")]
    assert ann[symbol("x-opt-sequence-number")] == seq
    assert ann[symbol("x-opt-offset")] == str(seq)
    assert isinstance(ann[symbol("x-opt-enqueued-time")], timestamp)


@pytest.mark.parametrize("sasl", [True, False], ids=["sasl-plain", "no-sasl"])
def test_send_and_receive_partition_zero(gateway, hub_name, sasl):
    conn = connect(gateway, sasl)
    try:
        sender = conn.create_sender(f"{hub_name}/Partitions/0")
        sent = [message(i) for i in range(3)]
        data_body = Message(body=b"\x00raw-bytes\xff", inferred=True, properties={"k": "v"})
        seq_body = Message(body=[1, "two", 3.0], inferred=True)
        empty_props = Message(body="plain")
        for m in sent + [data_body, seq_body, empty_props]:
            sender.send(m)  # waits for the accepted outcome
        sender.close()
        receiver = conn.create_receiver(f"{hub_name}/Partitions/0", credit=10)
        got = []
        for _ in range(6):
            got.append(receiver.receive(timeout=10))
            receiver.accept()
        for i, m in enumerate(sent):
            check(got[i], m, i)
        assert got[3].body == b"\x00raw-bytes\xff"
        assert got[3].properties == {"k": "v"}
        assert got[3].annotations[symbol("x-opt-sequence-number")] == 3
        assert got[4].body == [1, "two", 3.0]
        assert got[4].inferred
        assert got[5].body == "plain"
        assert got[5].properties is None or got[5].properties == {}
        receiver.close()
    finally:
        conn.close()


def test_consumer_group_address_and_live_delivery(gateway, hub_name):
    conn = connect(gateway, sasl=True)
    try:
        receiver = conn.create_receiver(f"{hub_name}/ConsumerGroups/$Default/Partitions/2", credit=5)
        sender = conn.create_sender(f"{hub_name}/Partitions/2")
        sender.send(Message(body="live"))
        got = receiver.receive(timeout=10)
        receiver.accept()
        assert got.body == "live"
        assert got.annotations[symbol("x-opt-sequence-number")] == 0
    finally:
        conn.close()


def test_sixth_reader_without_owner_level_is_refused(gateway, hub_name):
    conn = connect(gateway, sasl=False)
    try:
        address = f"{hub_name}/ConsumerGroups/$Default/Partitions/1"
        readers = [conn.create_receiver(address, name=f"reader-{i}") for i in range(5)]
        with pytest.raises(LinkDetached) as refused:
            sixth = conn.create_receiver(address, name="reader-6")
            sixth.receive(timeout=5)
        assert "amqp:resource-limit-exceeded" in str(refused.value)
        # Another consumer group is counted separately, and a reader leaving frees a place.
        conn.create_receiver(f"{hub_name}/ConsumerGroups/other/Partitions/1", name="other").close()
        readers.pop().close()
        conn.create_receiver(address, name="reader-7").close()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "address",
    ["no/such/thing/at/all/here", "hub/Partitions/99", "hub/Partitions/abc", "bad name!"],
)
def test_unknown_addresses_are_not_found(gateway, address):
    conn = connect(gateway, sasl=False)
    try:
        with pytest.raises(LinkDetached) as refused:
            # The refusal is an attach followed at once by a detach with the error; proton
            # reports it from whichever call sees the detach.
            conn.create_sender(address).send(Message(body="x"), timeout=5)
        text = str(refused.value)
        assert "amqp:not-found" in text or "amqp:invalid-field" in text, text
        # The connection stays usable after a refused link.
        conn.create_sender("proton-ok/Partitions/0").close()
    finally:
        conn.close()


def test_no_auto_create_refuses_unknown_hub(start_gateway):
    gw = start_gateway("--no-auto-create", "--kafka-listen", "off", "--http-listen", "off")
    conn = connect(gw, sasl=False)
    try:
        with pytest.raises(LinkDetached) as refused:
            conn.create_sender("missing-hub").send(Message(body="x"), timeout=5)
        assert "amqp:not-found" in str(refused.value)
        with pytest.raises(LinkDetached) as refused:
            conn.create_receiver("missing-hub/ConsumerGroups/$Default/Partitions/0").receive(timeout=5)
        assert "amqp:not-found" in str(refused.value)
    finally:
        conn.close()


def test_key_on_a_partition_link_is_kept_not_rerouted(gateway, hub_name):
    conn = connect(gateway, sasl=False)
    try:
        sender = conn.create_sender(f"{hub_name}/Partitions/3", name="s")
        # "device-17" hashes to partition 0 of 4; sent to partition 3 it stays there.
        sender.send(Message(body="keyed", annotations={symbol("x-opt-partition-key"): "device-17"}))
        receiver = conn.create_receiver(f"{hub_name}/Partitions/3", name="r", credit=5)
        got = receiver.receive(timeout=10)
        receiver.accept()
        assert got.body == "keyed"
        assert got.annotations[symbol("x-opt-partition-key")] == "device-17"
        assert got.annotations[symbol("x-opt-sequence-number")] == 0
    finally:
        conn.close()
