"""Admin round trips with confluent-kafka's AdminClient and kafka-python's KafkaAdminClient:
create / describe / alter / delete topics, add partitions, delete records, offsets for times."""

import time

import pytest
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient
from kafka.admin import NewPartitions as KpNewPartitions
from kafka.admin import NewTopic as KpNewTopic

from kafka_support import BASE_TS, confluent_consume, expected_records
from test_kafka_confluent import produce


def wait(futures):
    return {key: f.result(timeout=20) for key, f in futures.items()}


def topic_configs(admin, name):
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    (entries,) = wait(admin.describe_configs([resource])).values()
    return {k: (v.value, v.source) for k, v in entries.items()}


SOURCE_DEFAULT = 5
SOURCE_TOPIC = 1


def test_kafka_admin_confluent_topic_lifecycle(gateway, hub_name):
    admin = AdminClient({"bootstrap.servers": gateway.kafka})
    wait(admin.create_topics([NewTopic(hub_name, 3, 1, config={"retention.ms": "3600000"})]))
    with pytest.raises(KafkaException) as exists:
        wait(admin.create_topics([NewTopic(hub_name, 3, 1)]))
    assert exists.value.args[0].code() == 36  # TOPIC_ALREADY_EXISTS

    configs = topic_configs(admin, hub_name)
    assert configs["retention.ms"] == ("3600000", SOURCE_TOPIC)
    assert configs["retention.bytes"] == ("-1", SOURCE_DEFAULT)
    assert configs["cleanup.policy"] == ("delete", SOURCE_DEFAULT)
    assert configs["max.message.bytes"] == ("1048588", SOURCE_DEFAULT)
    assert configs["message.timestamp.type"] == ("CreateTime", SOURCE_DEFAULT)

    resource = ConfigResource(
        ConfigResource.Type.TOPIC,
        hub_name,
        incremental_configs=[
            ConfigEntry("retention.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
            ConfigEntry("max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    wait(admin.incremental_alter_configs([resource]))
    configs = topic_configs(admin, hub_name)
    assert configs["retention.bytes"] == ("1048576", SOURCE_TOPIC)
    assert configs["retention.ms"] == ("604800000", SOURCE_DEFAULT)
    assert configs["max.message.bytes"] == ("2000000", SOURCE_TOPIC)
    # The new limit applies to produce at once: a 1.5 MB record (over the 1048588 default) fits.
    from confluent_kafka import Producer

    big = Producer({"bootstrap.servers": gateway.kafka, "message.max.bytes": 4_000_000})
    errors = []
    big.produce(hub_name, value=b"y" * 1_500_000, partition=0, on_delivery=lambda e, m: errors.append(e))
    big.flush(20)
    assert errors == [None]

    # Non-incremental AlterConfigs replaces the set: what it does not name returns to the
    # default.
    replace = ConfigResource(ConfigResource.Type.TOPIC, hub_name, set_config={"retention.ms": "5000000"})
    wait(admin.alter_configs([replace]))
    configs = topic_configs(admin, hub_name)
    assert configs["retention.ms"] == ("5000000", SOURCE_TOPIC)
    assert configs["retention.bytes"] == ("-1", SOURCE_DEFAULT)
    assert configs["max.message.bytes"] == ("1048588", SOURCE_DEFAULT)

    # A hub switches between delete and compact; a policy Kafka does not define is refused.
    def set_policy(policy):
        entry = ConfigEntry("cleanup.policy", policy, incremental_operation=AlterConfigOpType.SET)
        wait(admin.incremental_alter_configs([ConfigResource(ConfigResource.Type.TOPIC, hub_name, incremental_configs=[entry])]))

    set_policy("compact")
    assert topic_configs(admin, hub_name)["cleanup.policy"] == ("compact", SOURCE_TOPIC)
    with pytest.raises(KafkaException) as refused:
        set_policy("compacted")
    assert refused.value.args[0].code() == 40  # INVALID_CONFIG
    assert topic_configs(admin, hub_name)["cleanup.policy"] == ("compact", SOURCE_TOPIC)
    set_policy("delete")
    assert topic_configs(admin, hub_name)["cleanup.policy"][0] == "delete"

    wait(admin.create_partitions([NewPartitions(hub_name, 5)]))
    metadata = admin.list_topics(hub_name, timeout=10)
    assert sorted(metadata.topics[hub_name].partitions) == [0, 1, 2, 3, 4]
    with pytest.raises(KafkaException) as shrink:
        wait(admin.create_partitions([NewPartitions(hub_name, 2)]))
    assert shrink.value.args[0].code() == 37  # INVALID_PARTITIONS

    # The new partition takes records.
    records = expected_records(4, "p4")
    produce(gateway.kafka, hub_name, records, 4)
    assert [m.key() for m in confluent_consume(gateway.kafka, hub_name, 4, 0, 4)] == [
        r["key"] for r in records
    ]

    # DeleteRecords moves the low watermark; -1 (OFFSET_END) means the high watermark.
    (result,) = wait(admin.delete_records([TopicPartition(hub_name, 4, 2)])).values()
    assert result.low_watermark == 2
    assert [m.offset() for m in confluent_consume(gateway.kafka, hub_name, 4, 2, 2)] == [2, 3]
    (result,) = wait(admin.delete_records([TopicPartition(hub_name, 4, -1)])).values()
    assert result.low_watermark == 4

    wait(admin.delete_topics([hub_name]))
    deadline = time.monotonic() + 10
    while hub_name in admin.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.2)
    assert hub_name not in admin.list_topics(timeout=10).topics


def test_kafka_admin_confluent_describe_cluster(gateway):
    admin = AdminClient({"bootstrap.servers": gateway.kafka})
    cluster = admin.describe_cluster().result(timeout=20)
    assert [(n.id, n.host, n.port) for n in cluster.nodes] == [(0, "127.0.0.1", gateway.port("kafka"))]
    assert cluster.controller.id == 0
    assert cluster.cluster_id == admin.list_topics(timeout=10).cluster_id


def test_kafka_admin_kafka_python_round_trip(gateway, hub_name):
    admin = KafkaAdminClient(bootstrap_servers=gateway.kafka)
    try:
        admin.create_topics(
            [KpNewTopic(hub_name, 2, 1, topic_configs={"message.timestamp.type": "LogAppendTime"})]
        )
        assert hub_name in admin.list_topics()
        described = admin.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, hub_name)])
        entry = described["topic"][hub_name]["message.timestamp.type"]
        assert (entry["value"], entry["config_source"]) == ("LogAppendTime", "DYNAMIC_TOPIC_CONFIG")

        # Non-incremental AlterConfigs, then the (default) incremental one.
        admin.alter_configs(
            [KpConfigResource(ConfigResourceType.TOPIC, hub_name, configs={"retention.ms": "7200000"})],
            incremental=False,
        )
        admin.alter_configs(
            [KpConfigResource(ConfigResourceType.TOPIC, hub_name, configs={"retention.bytes": "99999"})]
        )
        admin.create_partitions({hub_name: KpNewPartitions(total_count=3)})

        cadmin = AdminClient({"bootstrap.servers": gateway.kafka})
        configs = topic_configs(cadmin, hub_name)
        assert configs["retention.ms"] == ("7200000", SOURCE_TOPIC)
        # kafka-python re-sends the other dynamic configs with a non-incremental AlterConfigs.
        assert configs["message.timestamp.type"] == ("LogAppendTime", SOURCE_TOPIC)
        assert configs["retention.bytes"] == ("99999", SOURCE_TOPIC)
        assert sorted(cadmin.list_topics(hub_name, timeout=10).topics[hub_name].partitions) == [0, 1, 2]

        # Back to producer timestamps (DELETE resets a config to its default).
        admin.alter_configs(
            [KpConfigResource(ConfigResourceType.TOPIC, hub_name,
                              configs={"message.timestamp.type": ("DELETE", None)})]
        )
        assert topic_configs(cadmin, hub_name)["message.timestamp.type"] == ("CreateTime", SOURCE_DEFAULT)

        records = expected_records(6, "kpadmin")
        produce(gateway.kafka, hub_name, records, 2)
        low = admin.delete_records({KpTopicPartition(hub_name, 2): 3})
        assert low[KpTopicPartition(hub_name, 2)]["low_watermark"] == 3

        cluster = admin.describe_cluster()
        assert cluster["controller_id"] == 0
        assert [(b["broker_id"], b["port"]) for b in cluster["brokers"]] == [(0, gateway.port("kafka"))]

        # offsets_for_times through kafka-python's consumer.
        consumer = KafkaConsumer(bootstrap_servers=gateway.kafka)
        tp = KpTopicPartition(hub_name, 2)
        found = consumer.offsets_for_times({tp: BASE_TS + 4000})
        assert (found[tp].offset, found[tp].timestamp) == (4, BASE_TS + 4000)
        assert consumer.offsets_for_times({tp: BASE_TS + 4500})[tp].offset == 5
        assert consumer.offsets_for_times({tp: BASE_TS + 10**7})[tp] is None
        assert consumer.beginning_offsets([tp]) == {tp: 3}
        assert consumer.end_offsets([tp]) == {tp: 6}
        consumer.close()

        admin.delete_topics([hub_name])
        assert hub_name not in admin.list_topics()
    finally:
        admin.close()
