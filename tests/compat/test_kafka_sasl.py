"""Kafka SASL and authorization against the real gateway, with unmodified clients.

Open mode (default `hubgate serve`): the Event Hubs emulator's documented Kafka settings
(SASL_PLAINTEXT, PLAIN, `$ConnectionString`, the emulator's connection string) work, and so do
clients without SASL. Secured (`SecureSetup`: a CA made here, TLS, Send-only, Listen-only and
Manage policies with random keys): PLAIN with connection strings or policy name/key, and
SCRAM-SHA-256/512, with confluent-kafka, kafka-python, aiokafka and kcat; each right allows
exactly its APIs; raw frames check the state machine and KIP-368 session expiry; no key ever
reaches the log."""

import asyncio
import shutil
import ssl
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError as AioKafkaError
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.errors import KafkaError as KpKafkaError
from kafka.errors import TopicAuthorizationFailedError

from conftest import Gateway
from kafka_sasl_support import RawKafka, sas_token
from kafka_support import confluent_consume
from security_support import SecureSetup, assert_no_secret_in_log

EMULATOR_CONNECTION_STRING = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
)
EMULATOR_CONFIG = {
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "PLAIN",
    "sasl.username": "$ConnectionString",
    "sasl.password": EMULATOR_CONNECTION_STRING,
}
HUBS = [f"sasl-{n}" for n in range(12)]
AUTH_ERRORS = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}


def produce_confluent(config, topic, values, timeout=20):
    """Produces `values` to partition 0; returns the delivery errors (None for success)."""
    producer = Producer({"linger.ms": 5, "message.timeout.ms": 8000, **config})
    errors = []
    for value in values:
        producer.produce(topic, value=value, partition=0, on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(timeout)
    return errors


def first_consumer_error(config, topic, timeout=15.0):
    """Assigns partition 0 from offset 0 and returns the first error the consumer reports."""
    consumer = Consumer({"group.id": f"g-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False, **config})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is not None, "read a record without Listen"
                return message.error()
    finally:
        consumer.close()
    raise AssertionError("the consumer reported no error")


# -- open mode -------------------------------------------------------------------------------


def test_emulator_kafka_config_works_against_default_serve(gateway, hub_name):
    config = {"bootstrap.servers": gateway.kafka, **EMULATOR_CONFIG}
    assert produce_confluent(config, hub_name, [b"a", b"b", b"c"]) == [None, None, None]
    messages = confluent_consume(gateway.kafka, hub_name, 0, 0, 3, **EMULATOR_CONFIG)
    assert [m.value() for m in messages] == [b"a", b"b", b"c"]


def test_emulator_kafka_config_with_kafka_python(gateway, hub_name):
    sasl = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "$ConnectionString",
        "sasl_plain_password": EMULATOR_CONNECTION_STRING,
    }
    producer = KafkaProducer(bootstrap_servers=gateway.kafka, **sasl)
    for value in (b"x", b"y"):
        producer.send(hub_name, value=value, partition=0).get(timeout=20)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=gateway.kafka, consumer_timeout_ms=10000, **sasl)
    consumer.assign([KpTopicPartition(hub_name, 0)])
    consumer.seek(KpTopicPartition(hub_name, 0), 0)
    values = [m.value for _, m in zip(range(2), consumer)]
    consumer.close()
    assert values == [b"x", b"y"]


def test_clients_without_sasl_keep_working_in_open_mode(gateway, hub_name):
    assert produce_confluent({"bootstrap.servers": gateway.kafka}, hub_name, [b"plain"]) == [None]
    assert [m.value() for m in confluent_consume(gateway.kafka, hub_name, 0, 0, 1)] == [b"plain"]


def test_open_mode_handshake_lists_plain(gateway):
    raw = RawKafka(gateway.kafka)
    try:
        assert raw.handshake("SCRAM-SHA-512") == (33, ["PLAIN"])
        assert raw.closed()
    finally:
        raw.close()


# -- secured ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secure():
    """A TLS gateway with Send-only (`sender`), Listen-only (`listener`) and Manage (`admin`)
    policies and the hubs in `HUBS`. At teardown its whole log (debug level for Kafka) is
    checked for every key."""
    directory = Path(tempfile.mkdtemp(prefix="hubgate-sasl-"))
    hubs = "".join(f"[hubs.{name}]\npartitions = 1\n" for name in HUBS)
    setup = SecureSetup(directory / "setup", extra_toml=hubs)
    # Debug level for the Kafka front end, so the key check covers its most detailed logging.
    env = {"RUST_LOG": "info,hubgate_kafka=debug"}
    gw = Gateway(directory / "data", setup.args(), env=env).start()
    gw.setup = setup
    yield gw
    log = gw.full_log()
    gw.kill()
    shutil.rmtree(directory, ignore_errors=True)
    assert_no_secret_in_log(log, setup.keys())


def endpoint(gw):
    return f"sb://{gw.kafka}"


def plain_config(gw, policy, key=None, entity=None):
    setup = gw.setup
    connection_string = setup.connection_string(policy, endpoint(gw), entity)
    if key is not None:
        connection_string = connection_string.replace(setup.policies[policy].key, key)
    return {
        "bootstrap.servers": gw.kafka,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(setup.ca.cert),
        "sasl.mechanism": "PLAIN",
        "sasl.username": "$ConnectionString",
        "sasl.password": connection_string,
    }


def scram_config(gw, policy, mechanism="SCRAM-SHA-512", key=None):
    setup = gw.setup
    return {
        "bootstrap.servers": gw.kafka,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(setup.ca.cert),
        "sasl.mechanism": mechanism,
        "sasl.username": policy,
        "sasl.password": key if key is not None else setup.policies[policy].key,
    }


def auth_errors(config, timeout=10.0):
    """The errors a producer's error callback reports while it tries to connect."""
    seen = []
    producer = Producer({**config, "error_cb": seen.append})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(e.code() == KafkaError._AUTHENTICATION for e in seen):
        producer.poll(0.2)
    return seen


@pytest.mark.parametrize("config", [plain_config, scram_config], ids=["plain-connection-string", "scram-sha-512"])
def test_confluent_send_listen_and_wrong_key(secure, config):
    topic = HUBS[0] if config is plain_config else HUBS[1]
    sender, listener = config(secure, "sender"), config(secure, "listener")
    assert produce_confluent(sender, topic, [b"one", b"two"]) == [None, None]
    error = first_consumer_error(sender, topic)
    assert error.code() in AUTH_ERRORS, error
    extra = {k: v for k, v in listener.items() if k != "bootstrap.servers"}
    messages = confluent_consume(secure.kafka, topic, 0, 0, 2, **extra)
    assert [m.value() for m in messages] == [b"one", b"two"]
    # Listen cannot write.
    refused = produce_confluent(listener, topic, [b"nope"])
    assert refused[0] is not None and refused[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # A wrong key: authentication fails, with the generic message.
    errors = auth_errors(config(secure, "sender", key="d3JvbmcK"))
    failures = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert failures, errors
    assert "invalid credentials" in failures[0].str()


def test_confluent_plain_with_policy_name_and_key_and_entity_path(secure):
    setup = secure.setup
    by_name = {**plain_config(secure, "sender"), "sasl.username": "sender", "sasl.password": setup.policies["sender"].key}
    assert produce_confluent(by_name, HUBS[2], [b"n"]) == [None]
    narrowed = plain_config(secure, "sender", entity=HUBS[2])
    assert produce_confluent(narrowed, HUBS[2], [b"e"]) == [None]
    other = produce_confluent(narrowed, HUBS[3], [b"x"])
    assert other[0] is not None and other[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_consumer_group_needs_listen(secure):
    topic = HUBS[4]
    assert produce_confluent(plain_config(secure, "sender"), topic, [b"g1", b"g2"]) == [None, None]
    group = f"grp-{uuid.uuid4().hex[:6]}"

    def subscribe(config, want):
        consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        got, errors = [], []
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline and len(got) < want and not errors:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                (errors if message.error() else got).append(message.error() or message.value())
            if got:
                consumer.commit(asynchronous=False)
        finally:
            consumer.close()
        return got, errors

    got, errors = subscribe(plain_config(secure, "sender"), 2)
    assert not got and errors and errors[0].code() in AUTH_ERRORS, errors
    got, errors = subscribe(plain_config(secure, "listener"), 2)
    assert got == [b"g1", b"g2"] and not errors


def test_kafka_python_plain_and_scram(secure):
    setup = secure.setup
    topic = HUBS[5]
    common = {"bootstrap_servers": secure.kafka, "security_protocol": "SASL_SSL", "ssl_cafile": str(setup.ca.cert)}
    plain = {**common, "sasl_mechanism": "PLAIN", "sasl_plain_username": "$ConnectionString"}
    producer = KafkaProducer(**plain, sasl_plain_password=setup.connection_string("sender", endpoint(secure)))
    producer.send(topic, value=b"kp-plain", partition=0).get(timeout=20)
    producer.close()
    scram = {**common, "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "listener"}
    consumer = KafkaConsumer(**scram, sasl_plain_password=setup.policies["listener"].key, consumer_timeout_ms=10000)
    consumer.assign([KpTopicPartition(topic, 0)])
    consumer.seek(KpTopicPartition(topic, 0), 0)
    values = [m.value for _, m in zip(range(1), consumer)]
    consumer.close()
    assert values == [b"kp-plain"]
    # Without consumer groups (no coordinator involved), a Send-only policy's Fetch is refused
    # per partition: kafka-python raises TopicAuthorizationFailedError from poll().
    reader = KafkaConsumer(**plain, sasl_plain_password=setup.connection_string("sender", endpoint(secure)))
    reader.assign([KpTopicPartition(topic, 0)])
    reader.seek(KpTopicPartition(topic, 0), 0)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                assert not reader.poll(timeout_ms=500), "read a record without Listen"
    finally:
        reader.close()
    with pytest.raises(KpKafkaError):
        bad = KafkaProducer(**scram, sasl_plain_password="wrong-key", max_block_ms=5000)
        bad.send(topic, value=b"x", partition=0).get(timeout=10)


def test_aiokafka_plain_and_scram(secure):
    setup = secure.setup
    topic = HUBS[6]
    context = ssl.create_default_context(cafile=str(setup.ca.cert))

    async def run():
        producer = AIOKafkaProducer(
            bootstrap_servers=secure.kafka, security_protocol="SASL_SSL", ssl_context=context,
            sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="sender",
            sasl_plain_password=setup.policies["sender"].key,
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"aio", partition=0)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=secure.kafka, security_protocol="SASL_SSL", ssl_context=context,
            sasl_mechanism="PLAIN", sasl_plain_username="$ConnectionString",
            sasl_plain_password=setup.connection_string("listener", endpoint(secure)),
        )
        await consumer.start()
        try:
            tp = __import__("aiokafka").TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            message = await asyncio.wait_for(consumer.getone(), 15)
        finally:
            await consumer.stop()
        return message.value

    assert asyncio.run(run()) == b"aio"

    async def wrong():
        producer = AIOKafkaProducer(
            bootstrap_servers=secure.kafka, security_protocol="SASL_SSL", ssl_context=context,
            sasl_mechanism="PLAIN", sasl_plain_username="sender", sasl_plain_password="wrong",
        )
        try:
            await producer.start()
        finally:
            await producer.stop()

    with pytest.raises(AioKafkaError):
        asyncio.run(wrong())


def test_kcat_with_sasl_settings(secure):
    setup = secure.setup
    topic = HUBS[7]

    def kcat(policy, *args, stdin=None):
        sasl = [
            "-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={setup.ca.cert}",
            "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=$ConnectionString",
            "-X", f"sasl.password={setup.connection_string(policy, endpoint(secure))}",
        ]
        return subprocess.run(["kcat", "-b", secure.kafka, *sasl, *args], input=stdin,
                              capture_output=True, timeout=60)

    produced = kcat("sender", "-P", "-t", topic, "-p", "0", stdin=b"kcat-1\nkcat-2\n")
    assert produced.returncode == 0, produced.stderr
    consumed = kcat("listener", "-C", "-t", topic, "-p", "0", "-o", "beginning", "-c", "2", "-e")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.split() == [b"kcat-1", b"kcat-2"]
    refused = kcat("sender", "-C", "-t", topic, "-p", "0", "-o", "beginning", "-c", "1", "-e")
    assert b"authorization failed" in refused.stderr.lower(), refused.stderr


def test_admin_operations_need_manage(secure):
    def admin(policy):
        return AdminClient({k: v for k, v in plain_config(secure, policy).items()})

    name = f"admin-{uuid.uuid4().hex[:6]}"
    for policy in ("sender", "listener"):
        client = admin(policy)
        futures = client.create_topics([NewTopic(name, 1, 1)], operation_timeout=10)
        with pytest.raises(KafkaException) as refused:
            futures[name].result(15)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        alter = client.alter_configs([ConfigResource("topic", HUBS[8], set_config={"retention.ms": "1000"})])
        with pytest.raises(KafkaException) as refused:
            list(alter.values())[0].result(15)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        deleted = client.delete_topics([HUBS[8]], operation_timeout=10)
        with pytest.raises(KafkaException) as refused:
            deleted[HUBS[8]].result(15)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        records = client.delete_records([TopicPartition(HUBS[8], 0, 0)])
        with pytest.raises(KafkaException) as refused:
            list(records.values())[0].result(15)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        groups = client.delete_consumer_groups(["no-such-group"])
        with pytest.raises(KafkaException) as refused:
            groups["no-such-group"].result(15)
        assert refused.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    client = admin("admin")
    client.create_topics([NewTopic(name, 1, 1)], operation_timeout=10)[name].result(15)
    alter = client.alter_configs([ConfigResource("topic", name, set_config={"retention.ms": "60000"})])
    list(alter.values())[0].result(15)
    list(client.delete_records([TopicPartition(name, 0, 0)]).values())[0].result(15)
    client.delete_topics([name], operation_timeout=10)[name].result(15)
    groups = client.delete_consumer_groups(["no-such-group"])
    with pytest.raises(KafkaException) as missing:
        groups["no-such-group"].result(15)
    assert missing.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND


def test_metadata_lists_only_covered_hubs(secure):
    narrowed = plain_config(secure, "listener", entity=HUBS[9])
    topics = AdminClient(narrowed).list_topics(timeout=15).topics
    assert set(topics) == {HUBS[9]}
    everything = AdminClient(plain_config(secure, "listener")).list_topics(timeout=15).topics
    assert set(HUBS) <= set(everything)


def test_unauthenticated_raw_client_is_closed_after_anything_but_api_versions(secure):
    ca = secure.setup.ca.cert
    raw = RawKafka(secure.kafka, ca)
    try:
        body = raw.api_versions()
        assert body is not None and struct.unpack(">h", body[:2])[0] == 0
        keys = {struct.unpack(">h", body[6 + 6 * i : 8 + 6 * i])[0] for i in range(struct.unpack(">i", body[2:6])[0])}
        assert {17, 36} <= keys
        assert raw.metadata() is None
    finally:
        raw.close()
    raw = RawKafka(secure.kafka, ca)
    try:
        assert raw.metadata() is None, "Metadata as first request must close"
    finally:
        raw.close()


def test_raw_wrong_key_gets_58_without_naming_anything(secure):
    raw = RawKafka(secure.kafka, secure.setup.ca.cert)
    try:
        for user in ("sender", "no-such-policy"):
            error, message, _, _ = raw.plain(user, "wrong")
            assert error == 58
            assert user not in message and "wrong" not in message
            assert raw.closed()
            raw.close()
            raw = RawKafka(secure.kafka, secure.setup.ca.cert)
    finally:
        raw.close()


def test_token_session_expires_and_reauthentication_works(secure):
    setup = secure.setup
    key = setup.policies["listener"].key

    def token_string(ttl):
        token = sas_token("listener", key, f"{endpoint(secure)}/", ttl)
        return f"Endpoint={endpoint(secure)}/;SharedAccessSignature={token}"

    raw = RawKafka(secure.kafka, setup.ca.cert)
    try:
        error, _, _, lifetime = raw.plain("$ConnectionString", token_string(3))
        assert error == 0 and 0 < lifetime <= 3000, lifetime
        assert raw.metadata() is not None
        # Re-authenticate on the same connection with a longer-lived token.
        error, _, _, lifetime = raw.plain("$ConnectionString", token_string(60))
        assert error == 0 and 3000 < lifetime <= 60000, lifetime
        time.sleep(3.5)
        assert raw.metadata() is not None, "the renewed session must outlive the first token"
        # Another principal may not take over the connection.
        other = setup.connection_string("sender", endpoint(secure))
        assert raw.plain("$ConnectionString", other)[0] == 58
    finally:
        raw.close()
    raw = RawKafka(secure.kafka, setup.ca.cert)
    try:
        assert raw.plain("$ConnectionString", token_string(2))[0] == 0
        time.sleep(3)
        assert raw.metadata() is None, "an expired session must be closed"
    finally:
        raw.close()


def test_librdkafka_token_session_ends_with_the_token(secure):
    """librdkafka re-authenticates at 90 % of `session_lifetime_ms` (KIP-368) with the same
    token; once the token has expired that fails, so a record produced after the expiry is
    never written, and the client reports an authentication error."""
    setup = secure.setup
    topic = HUBS[10]
    token = sas_token("sender", setup.policies["sender"].key, f"{endpoint(secure)}/", 6)
    seen = []
    config = {
        **plain_config(secure, "sender"),
        "sasl.password": f"Endpoint={endpoint(secure)}/;SharedAccessSignature={token}",
        "message.timeout.ms": 6000,
        "error_cb": seen.append,
    }
    producer = Producer(config)
    reports = []
    producer.produce(topic, value=b"before", partition=0, on_delivery=lambda e, _m: reports.append(e))
    producer.flush(15)
    assert reports == [None]
    time.sleep(8)
    producer.produce(topic, value=b"after", partition=0, on_delivery=lambda e, _m: reports.append(e))
    producer.flush(15)
    assert len(reports) == 2 and reports[1] is not None, reports
    assert any(e.code() == KafkaError._AUTHENTICATION for e in seen), seen
    extra = {k: v for k, v in plain_config(secure, "listener").items() if k != "bootstrap.servers"}
    assert [m.value() for m in confluent_consume(secure.kafka, topic, 0, 0, 1, **extra)] == [b"before"]


def test_emulator_connection_string_with_a_matching_policy(start_gateway, hub_name, tmp_path):
    """Emulator parity: with a `RootManageSharedAccessKey` policy whose key is the emulator's
    `SAS_KEY_VALUE`, the emulator's documented Kafka settings work unchanged against a
    secured gateway (plaintext on loopback), and any other key is refused."""
    from security_support import Policy

    name = "RootManageSharedAccessKey"
    setup = SecureSetup(tmp_path, tls=False, policies={name: Policy(name, ["manage"], key="SAS_KEY_VALUE")})
    gw = start_gateway(*setup.args())
    config = {"bootstrap.servers": gw.kafka, **EMULATOR_CONFIG}
    assert produce_confluent(config, hub_name, [b"emu"]) == [None]
    messages = confluent_consume(gw.kafka, hub_name, 0, 0, 1, **EMULATOR_CONFIG)
    assert [m.value() for m in messages] == [b"emu"]
    wrong = {**config, "sasl.password": EMULATOR_CONNECTION_STRING.replace("SAS_KEY_VALUE", "OTHER")}
    assert any(e.code() == KafkaError._AUTHENTICATION for e in auth_errors(wrong))
    assert produce_confluent({"bootstrap.servers": gw.kafka, "message.timeout.ms": 3000}, hub_name, [b"x"])[0] is not None


def test_transactions_need_send_and_offsets_need_listen(secure):
    """A transactional producer needs Send (a Listen policy's init_transactions fails with
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED); a Send policy commits a transaction, but its
    send_offsets_to_transaction needs Listen for the group (GROUP_AUTHORIZATION_FAILED)."""
    topic = HUBS[11]
    listener = Producer({**plain_config(secure, "listener"), "transactional.id": f"t-{uuid.uuid4().hex}"})
    with pytest.raises(KafkaException) as refused:
        listener.init_transactions(15)
    assert refused.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, refused.value

    sender = Producer({**plain_config(secure, "sender"), "transactional.id": f"t-{uuid.uuid4().hex}"})
    sender.init_transactions(15)
    sender.begin_transaction()
    sender.produce(topic, b"in a transaction", partition=0)
    sender.commit_transaction(15)

    sender.begin_transaction()
    sender.produce(topic, b"offsets refused", partition=0)
    reader = Consumer({**plain_config(secure, "listener"), "group.id": f"g-{uuid.uuid4().hex}"})
    try:
        with pytest.raises(KafkaException) as denied:
            sender.send_offsets_to_transaction(
                [TopicPartition(topic, 0, 1)], reader.consumer_group_metadata(), 15
            )
        assert denied.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED, denied.value
    finally:
        reader.close()
    sender.abort_transaction(15)

    got = confluent_consume(
        secure.kafka, topic, 0, 0, 1, **plain_config(secure, "listener"), **{"isolation.level": "read_committed"}
    )
    assert [m.value() for m in got] == [b"in a transaction"]
