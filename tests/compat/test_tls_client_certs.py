"""TLS client certificates on the Kafka and AMQP listeners: with `--tls-client-ca`, a
certificate whose subject a policy names (`cert_subject`) authenticates the connection as that
policy, with that policy's rights — confluent-kafka over `SSL` without SASL, python-qpid-proton
over AMQPS with SASL ANONYMOUS and no token."""

import time

import confluent_kafka
import pytest
from proton import Message, SSLDomain
from proton.utils import BlockingConnection, LinkDetached

from conftest import Gateway
from security_support import Policy, SecureSetup, assert_no_secret_in_log


@pytest.fixture
def secured(tmp_path, hub_name):
    setup = SecureSetup(
        tmp_path / "setup",
        client_ca=True,
        extra_toml=f"[hubs.{hub_name}]\npartitions = 1\n",
        policies={
            "device": Policy("device", ["send"], cert_subject="CN=device-1"),
            "reader": Policy("reader", ["listen"], cert_subject="CN=reader-1"),
            "admin": Policy("admin", ["manage"]),
        },
    )
    gw = Gateway(tmp_path / "data", [*setup.args(), "--http-listen", "off"]).start()
    certs = {name: setup.ca.issue(name, f"/CN={name}", server=False) for name in ("device-1", "reader-1")}
    yield setup, gw, certs
    gw.kill()
    assert_no_secret_in_log(gw.full_log(), setup.keys())


def kafka_tls(setup, gw, cert_key):
    cert, key = cert_key
    return {
        "bootstrap.servers": gw.kafka,
        "security.protocol": "SSL",
        "ssl.ca.location": str(setup.ca.cert),
        "ssl.certificate.location": str(cert),
        "ssl.key.location": str(key),
    }


def consume_one(config, hub, timeout=20.0):
    """Reads partition 0 from the start without a group; returns the first message or error."""
    consumer = confluent_kafka.Consumer({**config, "group.id": "unused", "enable.auto.commit": False})
    try:
        consumer.assign([confluent_kafka.TopicPartition(hub, 0, confluent_kafka.OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                return msg
        raise AssertionError("nothing read in time")
    finally:
        consumer.close()


def test_kafka_client_certificate_acts_as_its_policy(secured, hub_name):
    setup, gw, certs = secured
    producer = confluent_kafka.Producer({**kafka_tls(setup, gw, certs["device-1"]), "acks": "all"})
    results = []
    producer.produce(hub_name, b"from a device", partition=0, on_delivery=lambda err, msg: results.append(err))
    assert producer.flush(30) == 0
    assert results == [None], results

    # The Send-only certificate cannot read; the Listen certificate reads what was sent.
    refused = consume_one(kafka_tls(setup, gw, certs["device-1"]), hub_name)
    assert refused.error() is not None
    # librdkafka looks up the group coordinator even for an assigned consumer, so the refusal
    # may come from FindCoordinator (30) before the Fetch (29).
    assert refused.error().code() in (
        confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED,
        confluent_kafka.KafkaError.GROUP_AUTHORIZATION_FAILED,
    ), refused.error()
    got = consume_one(kafka_tls(setup, gw, certs["reader-1"]), hub_name)
    assert got.error() is None, got.error()
    assert got.value() == b"from a device"

    # The Listen certificate cannot produce.
    denied = []
    producer = confluent_kafka.Producer(
        {**kafka_tls(setup, gw, certs["reader-1"]), "acks": "all", "message.timeout.ms": 10000}
    )
    producer.produce(hub_name, b"not allowed", partition=0, on_delivery=lambda err, msg: denied.append(err))
    producer.flush(20)
    assert len(denied) == 1 and denied[0] is not None
    assert denied[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED, denied[0]


def amqp_tls(setup, gw, cert_key):
    cert, key = cert_key
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(str(setup.ca.cert))
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    domain.set_credentials(str(cert), str(key), None)
    return BlockingConnection(
        f"amqps://localhost:{gw.port('amqp')}", ssl_domain=domain, allowed_mechs="ANONYMOUS", timeout=15
    )


def test_amqp_client_certificate_acts_as_its_policy(secured, hub_name):
    setup, gw, certs = secured
    conn = amqp_tls(setup, gw, certs["device-1"])
    try:
        conn.create_sender(f"{hub_name}/Partitions/0", name="s").send(Message(body="by certificate"))
        # The refusal is an Attach answered by a Detach: proton may report it when the link
        # opens or at the first receive, so both are inside the check. A receiver that was not
        # refused gets the message sent above, and the check fails.
        with pytest.raises(LinkDetached) as refused:
            receiver = conn.create_receiver(f"{hub_name}/ConsumerGroups/$default/Partitions/0", name="r", credit=5)
            receiver.receive(timeout=10)
        assert "unauthorized-access" in str(refused.value)
    finally:
        conn.close()

    conn = amqp_tls(setup, gw, certs["reader-1"])
    try:
        receiver = conn.create_receiver(f"{hub_name}/ConsumerGroups/$default/Partitions/0", name="r", credit=5)
        got = receiver.receive(timeout=10)
        receiver.accept()
        assert got.body == "by certificate"
    finally:
        conn.close()
