"""CreateTopics as Kafka tools use it: replication factors above 1 (accepted by default, the data
kept once on this node; refused with --kafka-strict-replication-factor) and manual replica
assignments naming this node (accepted) or another one (INVALID_REPLICA_ASSIGNMENT, 39), with
confluent-kafka's AdminClient and kafka-python's KafkaAdminClient."""

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic
from kafka.errors import InvalidReplicationAssignmentError, InvalidReplicationFactorError

from kafka_support import confluent_consume, expected_records
from test_kafka_confluent import produce

NODE = 0  # hubgate's one broker id


def confluent_create(gateway, topic):
    admin = AdminClient({"bootstrap.servers": gateway.kafka})
    (future,) = admin.create_topics([topic], operation_timeout=10).values()
    return admin, future


def reported_replicas(admin, name):
    """Partition -> (leader, replicas, isrs) as Metadata reports them."""
    meta = admin.list_topics(name, timeout=10).topics[name]
    assert meta.error is None, meta.error
    return {p: (m.leader, list(m.replicas), list(m.isrs)) for p, m in meta.partitions.items()}


def test_confluent_replication_factor_3_is_accepted_and_one_replica_reported(gateway, hub_name):
    admin, future = confluent_create(gateway, NewTopic(hub_name, num_partitions=2, replication_factor=3))
    assert future.result(timeout=20) is None
    assert reported_replicas(admin, hub_name) == {0: (NODE, [NODE], [NODE]), 1: (NODE, [NODE], [NODE])}
    # The topic is an ordinary one: its records are acknowledged and read back.
    records = expected_records(3, "rf3")
    assert [offset for err, offset in produce(gateway.kafka, hub_name, records, 1)] == [0, 1, 2]
    assert [m.value() for m in confluent_consume(gateway.kafka, hub_name, 1, 0, 3)] == [
        r["value"] for r in records
    ]


def test_confluent_replication_factor_3_refused_when_strict(start_gateway, hub_name):
    gw = start_gateway("--kafka-strict-replication-factor")
    admin, future = confluent_create(gw, NewTopic(hub_name, num_partitions=1, replication_factor=3))
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=20)
    assert raised.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR
    assert hub_name not in admin.list_topics(timeout=10).topics
    # Factor 1 is still fine under the strict flag.
    _, ok = confluent_create(gw, NewTopic(hub_name, num_partitions=1, replication_factor=1))
    assert ok.result(timeout=20) is None


def test_confluent_replica_assignment_of_this_node_is_accepted(gateway, hub_name):
    admin, future = confluent_create(gateway, NewTopic(hub_name, num_partitions=3, replica_assignment=[[NODE], [NODE], [NODE]]))
    assert future.result(timeout=20) is None
    assert sorted(reported_replicas(admin, hub_name)) == [0, 1, 2]


def test_confluent_replica_assignment_of_another_node_is_refused(gateway, hub_name):
    admin, future = confluent_create(gateway, NewTopic(hub_name, num_partitions=2, replica_assignment=[[NODE], [1]]))
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=20)
    error = raised.value.args[0]
    assert error.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
    assert error.code() == 39
    assert "broker 1" in error.str()
    assert hub_name not in admin.list_topics(timeout=10).topics


def test_kafka_python_replication_factor_3_and_assignments(gateway, hub_name):
    admin = KafkaAdminClient(bootstrap_servers=gateway.kafka)
    try:
        admin.create_topics([KpNewTopic(hub_name, 2, 3)])
        assert hub_name in admin.list_topics()
        (described,) = admin.describe_topics([hub_name])
        assert [p["replica_nodes"] for p in sorted(described["partitions"], key=lambda p: p["partition_index"])] == [
            [NODE],
            [NODE],
        ]

        assigned = hub_name + "-a"
        admin.create_topics([KpNewTopic(assigned, -1, -1, replica_assignments={0: [NODE], 1: [NODE]})])
        (described,) = admin.describe_topics([assigned])
        assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1]

        with pytest.raises(InvalidReplicationAssignmentError):
            admin.create_topics([KpNewTopic(hub_name + "-b", -1, -1, replica_assignments={0: [7]})])
        assert hub_name + "-b" not in admin.list_topics()
    finally:
        admin.close()


def test_kafka_python_replication_factor_3_refused_when_strict(start_gateway, hub_name):
    gw = start_gateway("--kafka-strict-replication-factor")
    admin = KafkaAdminClient(bootstrap_servers=gw.kafka)
    try:
        with pytest.raises(InvalidReplicationFactorError):
            admin.create_topics([KpNewTopic(hub_name, 1, 3)])
        assert hub_name not in admin.list_topics()
    finally:
        admin.close()


def cluster_ids(gw):
    """The cluster id as Metadata and as DescribeCluster report it."""
    admin = AdminClient({"bootstrap.servers": gw.kafka})
    from_metadata = admin.list_topics(timeout=10).cluster_id
    from_describe = admin.describe_cluster(request_timeout=10).result(timeout=20).cluster_id
    assert from_metadata == from_describe
    return from_metadata


def test_cluster_id_is_kept_per_data_dir(start_gateway):
    first = start_gateway()
    before = cluster_ids(first)
    assert before and before != "hubgate-kafka-cluster", before
    assert len(before) == 22, before  # Kafka's format: a base64url UUID
    first.restart()
    assert cluster_ids(first) == before, "the cluster id changed across a restart"
    first.restart(crash=True)
    assert cluster_ids(first) == before, "the cluster id changed across a crash"
    second = start_gateway()
    assert cluster_ids(second) != before, "two data dirs share a cluster id"
