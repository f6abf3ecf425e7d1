"""More admin APIs: broker configs (DescribeConfigs on the BROKER resource), CreatePartitions
with explicit replica assignments, and DescribeTopicPartitions (KIP-966) with its pages."""

import struct

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic

from kafka_support import _string, raw_request

STATIC_BROKER_CONFIG = ConfigSource.STATIC_BROKER_CONFIG.value
DEFAULT_CONFIG = ConfigSource.DEFAULT_CONFIG.value

INVALID_REQUEST = 42
INVALID_REPLICA_ASSIGNMENT = 39
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17


@pytest.fixture
def kp_admin(gateway):
    admin = KafkaAdminClient(bootstrap_servers=gateway.kafka)
    yield admin
    admin.close()


def broker_configs(bootstrap, node="0"):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.BROKER, node)
    (future,) = admin.describe_configs([resource]).values()
    return future.result(timeout=20)


def raw_describe_broker_configs(bootstrap, name):
    """DescribeConfigs v1 for one BROKER resource: (error code, error message, config names)."""
    body = struct.pack(">ib", 1, 4) + _string(name) + struct.pack(">i", -1) + b"\x00"
    data = raw_request(bootstrap, 32, 1, body)
    pos = 4  # throttle time
    (results,) = struct.unpack_from(">i", data, pos)
    assert results == 1
    pos += 4
    error_code, message_len = struct.unpack_from(">hh", data, pos)
    pos += 4
    message = None
    if message_len >= 0:
        message = data[pos : pos + message_len].decode()
        pos += message_len
    pos += 1  # resource type
    (name_len,) = struct.unpack_from(">h", data, pos)
    pos += 2 + name_len
    (count,) = struct.unpack_from(">i", data, pos)
    return error_code, message, count


def test_kafka_admin_broker_configs_describe_the_gateway(gateway):
    configs = broker_configs(gateway.kafka)
    values = {name: entry.value for name, entry in configs.items()}
    assert values["advertised.listeners"] == f"PLAINTEXT://{gateway.kafka}"
    assert values["listeners"] == f"PLAINTEXT://{gateway.kafka}"
    assert values["broker.id"] == values["node.id"] == "0"
    assert values["num.partitions"] == "4"
    assert values["auto.create.topics.enable"] == "true"
    assert values["log.retention.ms"] == "604800000"
    assert values["log.retention.bytes"] == "-1"
    assert values["message.max.bytes"] == "1048588"
    assert values["log.cleanup.policy"] == "delete"
    assert values["socket.request.max.bytes"] == "104857600"
    # Nothing here can be changed over the Kafka protocol.
    assert all(entry.is_read_only for entry in configs.values())
    assert all(not entry.is_sensitive for entry in configs.values())
    assert configs["advertised.listeners"].source == STATIC_BROKER_CONFIG
    assert configs["num.partitions"].source == DEFAULT_CONFIG
    assert configs["log.retention.ms"].source == DEFAULT_CONFIG


def test_kafka_admin_broker_configs_follow_the_gateway_settings(start_gateway):
    gw = start_gateway("--default-partitions", "6", "--no-auto-create")
    configs = broker_configs(gw.kafka)
    assert (configs["num.partitions"].value, configs["num.partitions"].source) == (
        "6",
        STATIC_BROKER_CONFIG,
    )
    auto = configs["auto.create.topics.enable"]
    assert (auto.value, auto.source) == ("false", STATIC_BROKER_CONFIG)


def test_kafka_admin_broker_configs_kafka_python_keys_and_bad_ids(gateway, kp_admin):
    described = kp_admin.describe_configs(
        [KpConfigResource(ConfigResourceType.BROKER, 0, configs={"advertised.listeners": None,
                                                                 "node.id": None})],
        config_filter="all",
    )
    entries = described["broker"]["0"]
    assert sorted(entries) == ["advertised.listeners", "node.id"]
    listeners = entries["advertised.listeners"]
    assert listeners["value"] == f"PLAINTEXT://{gateway.kafka}"
    assert listeners["config_source"] == "STATIC_BROKER_CONFIG"
    assert listeners["config_type"] == "LIST"
    assert listeners["read_only"] is True
    assert entries["node.id"]["config_type"] == "INT"

    # Another node's id, or no number at all: INVALID_REQUEST with a reason. The empty name
    # (cluster-wide dynamic defaults) has no entries.
    for name in ("7", "not-a-node"):
        error_code, message, count = raw_describe_broker_configs(gateway.kafka, name)
        assert (error_code, count) == (INVALID_REQUEST, 0), name
        assert message
    error_code, _message, count = raw_describe_broker_configs(gateway.kafka, "")
    assert (error_code, count) == (0, 0)
    assert raw_describe_broker_configs(gateway.kafka, "0")[2] > 5


def test_kafka_admin_create_partitions_with_assignments(gateway, kp_admin, hub_name):
    kp_admin.create_topics([KpNewTopic(hub_name, 2, 1)])

    def grow(total, assignments):
        response = kp_admin.create_partitions(
            {hub_name: {"count": total, "assignments": assignments}}, raise_errors=False
        )
        (result,) = response.results
        assert result.name == hub_name
        return result.error_code

    # Refused: another broker, two replicas on one node, no broker, the wrong number of
    # assignments. Nothing changes.
    assert grow(3, [[1]]) == INVALID_REPLICA_ASSIGNMENT
    assert grow(3, [[0, 0]]) == INVALID_REPLICA_ASSIGNMENT
    assert grow(3, [[]]) == INVALID_REPLICA_ASSIGNMENT
    assert grow(4, [[0]]) == INVALID_REPLICA_ASSIGNMENT
    assert len(kp_admin.describe_topics([hub_name])[0]["partitions"]) == 2

    # Every new partition on this node: accepted.
    assert grow(4, [[0], [0]]) == 0
    partitions = kp_admin.describe_topics([hub_name])[0]["partitions"]
    assert sorted(p["partition_index"] for p in partitions) == [0, 1, 2, 3]

    # librdkafka's form of the same request.
    admin = AdminClient({"bootstrap.servers": gateway.kafka})
    (future,) = admin.create_partitions([NewPartitions(hub_name, 5, [[0]])]).values()
    future.result(timeout=20)
    assert len(admin.list_topics(hub_name, timeout=10).topics[hub_name].partitions) == 5


def pages(admin, topics, limit, cursor=None):
    """Every page of a DescribeTopicPartitions walk: [(topics as (name, error, [indexes]))]."""
    out = []
    while True:
        result = admin.describe_topic_partitions(topics, response_partition_limit=limit,
                                                 cursor=cursor)
        out.append([(t["name"], t["error_code"], [p["partition_index"] for p in t["partitions"]])
                    for t in result["topics"]])
        cursor = result["next_cursor"]
        if cursor is None:
            return out
        assert len(out) < 50, out


def test_kafka_admin_describe_topic_partitions_pages(kp_admin, hub_name):
    a, b = f"{hub_name}-a", f"{hub_name}-b"
    missing = f"{hub_name}-c"
    kp_admin.create_topics([KpNewTopic(b, 2, 1), KpNewTopic(a, 3, 1)])

    # Whole topics in name order; the unknown one has its error code and costs nothing.
    result = kp_admin.describe_topic_partitions([missing, b, a])
    assert result["next_cursor"] is None
    assert [(t["name"], t["error_code"]) for t in result["topics"]] == [
        (a, 0), (b, 0), (missing, UNKNOWN_TOPIC_OR_PARTITION)]
    first = result["topics"][0]
    assert str(first["topic_id"]) == str(kp_admin.describe_topics([a])[0]["topic_id"])
    assert first["is_internal"] is False
    for p in first["partitions"]:
        assert (p["error_code"], p["leader_id"], p["leader_epoch"]) == (0, 0, 0)
        assert p["replica_nodes"] == p["isr_nodes"] == [0]
        assert p["offline_replicas"] == []

    # Two partitions a page: a page can end inside a topic or at its end.
    assert pages(kp_admin, [a, b, missing], 2) == [
        [(a, 0, [0, 1])],
        [(a, 0, [2]), (b, 0, [0])],
        [(b, 0, [1]), (missing, UNKNOWN_TOPIC_OR_PARTITION, [])],
    ]
    assert pages(kp_admin, [a, b], 3) == [[(a, 0, [0, 1, 2])], [(b, 0, [0, 1])]]
    # The cursor's topic starts at its partition; topics before it are skipped.
    assert pages(kp_admin, [a, b], 10, cursor={"topic_name": b, "partition_index": 1}) == [
        [(b, 0, [1])]]

    # No names: every topic, in name order.
    everything = kp_admin.describe_topic_partitions([])
    names = [t["name"] for t in everything["topics"]]
    assert names == sorted(names)
    assert a in names and b in names and missing not in names


def test_kafka_admin_describe_topic_partitions_refusals(kp_admin, hub_name):
    kp_admin.create_topics([KpNewTopic(hub_name, 1, 1)])
    other = f"{hub_name}-other"
    invalid = [
        # The cursor names a topic that was not asked for.
        dict(topics=[hub_name], response_partition_limit=10,
             cursor={"topic_name": other, "partition_index": 0}),
        # A negative cursor partition.
        dict(topics=[hub_name], response_partition_limit=10,
             cursor={"topic_name": hub_name, "partition_index": -1}),
        # A page that can hold nothing.
        dict(topics=[hub_name], response_partition_limit=0),
    ]
    for request in invalid:
        result = kp_admin.describe_topic_partitions(**request)
        assert [(t["name"], t["error_code"], t["partitions"]) for t in result["topics"]] == [
            (hub_name, INVALID_REQUEST, [])], request
        assert result["next_cursor"] is None

    result = kp_admin.describe_topic_partitions(["no spaces allowed"])
    assert [(t["name"], t["error_code"]) for t in result["topics"]] == [
        ("no spaces allowed", INVALID_TOPIC_EXCEPTION)]
