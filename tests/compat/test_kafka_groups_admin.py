"""Consumer-group administration and offset storage with real clients: confluent-kafka's
AdminClient and kafka-python's KafkaAdminClient list, describe and delete groups and their
offsets (OffsetFetch, OffsetDelete, DeleteGroups, LeaveGroup by admin); commit metadata and
leader epochs round trip; simple consumers (assign(), no group membership) commit with
generation -1; offsets of empty groups expire after --kafka-offsets-retention-ms; session
timeouts below the gateway's minimum are refused."""

import time

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient, MemberToRemove
from kafka.structs import OffsetAndMetadata

from kafka_group_support import (
    GROUP_FLAGS,
    ConfluentMember,
    KafkaPythonMember,
    covers,
    create_topic,
    describe,
    produce_spread,
    stop_all,
    wait_until,
)

NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
OFFSET_INVALID = -1001  # librdkafka: no committed offset


def listed(admin, group):
    """The confluent-kafka listing of `group`, or None."""
    result = admin.list_consumer_groups().result(timeout=20)
    assert not result.errors, result.errors
    found = [g for g in result.valid if g.group_id == group]
    assert len(found) <= 1, found
    return found[0] if found else None


def group_offsets(admin, group, topic=None, partitions=()):
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions] or None)
    (future,) = admin.list_consumer_group_offsets([request]).values()
    return {tp.partition: tp for tp in future.result(timeout=20).topic_partitions}


def test_kafka_group_admin_confluent(group_gateway, hub_name):
    """confluent-kafka AdminClient on a group of two members: listed as Stable, described
    with both members (client ids, hosts, assignments) and the range assignor, its commits
    listed; deleting it is refused while it has members (NON_EMPTY_GROUP); after they leave
    it is Empty, its offsets can be altered, and deleting it removes the group and its
    offsets; an unknown group is GROUP_ID_NOT_FOUND."""
    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    admin = AdminClient({"bootstrap.servers": group_gateway.kafka})
    members = [ConfluentMember(f"{hub_name}-m{i}", group_gateway.kafka, group, [hub_name],
                               **{"partition.assignment.strategy": "range"}) for i in range(2)]
    try:
        wait_until(lambda: covers(members, 4), 30,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + group_gateway.log())
        produced = produce_spread(group_gateway.kafka, hub_name, 4, 20, hub_name)
        wait_until(lambda: sum(len(m.values()) for m in members) >= 20, 30, lambda: describe(members))
        for m in members:
            m.call(lambda c: c.commit(asynchronous=False))

        listing = listed(admin, group)
        assert listing is not None, f"{group} not listed"
        assert listing.state == ConsumerGroupState.STABLE, listing.state
        assert listing.is_simple_consumer_group is False
        stable = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}).result(timeout=20)
        assert group in {g.group_id for g in stable.valid}
        empty = admin.list_consumer_groups(states={ConsumerGroupState.EMPTY}).result(timeout=20)
        assert group not in {g.group_id for g in empty.valid}

        description = admin.describe_consumer_groups([group])[group].result(timeout=20)
        assert description.group_id == group
        assert description.state == ConsumerGroupState.STABLE, description.state
        assert description.partition_assignor == "range"
        assert description.is_simple_consumer_group is False
        assert description.coordinator.id == 0
        by_client = {d.client_id: d for d in description.members}
        assert sorted(by_client) == sorted(m.name for m in members), description.members
        assert len({d.member_id for d in description.members}) == 2
        for m in members:
            d = by_client[m.name]
            assert "127.0.0.1" in d.host, d.host
            assert d.group_instance_id is None
            assigned = {(tp.topic, tp.partition) for tp in d.assignment.topic_partitions}
            assert assigned == {(hub_name, p) for p in m.snapshot()["assignment"]}, (m.name, assigned)

        offsets = group_offsets(admin, group)
        assert {p: tp.offset for p, tp in offsets.items()} == {0: 5, 1: 5, 2: 5, 3: 5}
        assert all(tp.topic == hub_name and tp.error is None for tp in offsets.values())

        (future,) = admin.delete_consumer_groups([group]).values()
        with pytest.raises(KafkaException) as refused:
            future.result(timeout=20)
        assert refused.value.args[0].code() == NON_EMPTY_GROUP, refused.value
        assert listed(admin, group) is not None
    finally:
        stop_all(members)

    assert listed(admin, group).state == ConsumerGroupState.EMPTY
    empty = admin.describe_consumer_groups([group])[group].result(timeout=20)
    assert empty.state == ConsumerGroupState.EMPTY and empty.members == []

    # An empty group's offsets can be set by the admin client (OffsetCommit, generation -1).
    (future,) = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(hub_name, 0, 2)])]).values()
    assert [tp.error for tp in future.result(timeout=20).topic_partitions] == [None]
    assert group_offsets(admin, group, hub_name, [0])[0].offset == 2

    (future,) = admin.delete_consumer_groups([group]).values()
    future.result(timeout=20)
    assert listed(admin, group) is None, f"{group} still listed after deletion"
    left = group_offsets(admin, group, hub_name, range(4))
    assert all(tp.offset == OFFSET_INVALID for tp in left.values()), left

    (future,) = admin.delete_consumer_groups([f"unknown-{hub_name}"]).values()
    with pytest.raises(KafkaException) as unknown:
        future.result(timeout=20)
    assert unknown.value.args[0].code() == GROUP_ID_NOT_FOUND, unknown.value


def test_kafka_group_admin_kafka_python(group_gateway, hub_name):
    """kafka-python KafkaAdminClient on a group of two kafka-python members: list_groups and
    describe_groups (state, protocol, members with client ids and decoded assignments),
    list_group_offsets with the commit metadata, remove_group_members (batch LeaveGroup: the
    member is removed, an unknown one is UNKNOWN_MEMBER_ID) and delete_groups
    (NonEmptyGroupError, OK, GroupIdNotFoundError; the offsets go with the group)."""
    import kafka.errors as Errors
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    empty_group = f"e-{hub_name}"
    admin = KafkaAdminClient(bootstrap_servers=group_gateway.kafka)
    members = [KafkaPythonMember(f"{hub_name}-kp{i}", group_gateway.kafka, group, [hub_name],
                                 partition_assignment_strategy=[RoundRobinPartitionAssignor]) for i in range(2)]
    try:
        wait_until(lambda: covers(members, 4), 30,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + group_gateway.log())
        produced = produce_spread(group_gateway.kafka, hub_name, 4, 20, hub_name)
        wait_until(lambda: sum(len(m.values()) for m in members) >= 20, 30, lambda: describe(members))
        for i, m in enumerate(members):
            commits = {KpTopicPartition(hub_name, p): OffsetAndMetadata(5, f"from-{m.name}", -1)
                       for p in m.snapshot()["assignment"]}
            m.call(lambda c, commits=commits: c.commit(commits))
        # A second group with offsets and no members.
        admin.alter_group_offsets(empty_group, {KpTopicPartition(hub_name, 1): OffsetAndMetadata(3, "", -1)})

        groups = {g["group_id"]: g for g in admin.list_groups()}
        assert group in groups and empty_group in groups, groups
        assert groups[group]["protocol_type"] == "consumer"
        # ListGroups v4 filters by state, v5 by type (all of hubgate's groups are classic).
        stable = {g["group_id"] for g in admin.list_groups(states_filter=["Stable"])}
        empty = {g["group_id"] for g in admin.list_groups(states_filter=["Empty"])}
        assert group in stable and empty_group not in stable, stable
        assert empty_group in empty and group not in empty, empty
        classic = {g["group_id"] for g in admin.list_groups(types_filter=["classic"])}
        assert {group, empty_group} <= classic, classic
        assert not admin.list_groups(types_filter=["consumer"]), "no group uses the KIP-848 protocol"

        described = admin.describe_groups([group, f"unknown-{hub_name}"])
        d = described[group]
        assert d["error"] is None, d
        assert (d["group_state"], d["protocol_type"], d["protocol_data"]) == ("Stable", "consumer", "roundrobin")
        assert sorted(m["client_id"] for m in d["members"]) == sorted(m.name for m in members)
        by_client = {m["client_id"]: m for m in d["members"]}
        for m in members:
            assignment = by_client[m.name]["member_assignment"]
            partitions = {p for t in assignment["assigned_partitions"] for p in t["partitions"]
                          if t["topic"] == hub_name}
            assert partitions == set(m.snapshot()["assignment"]), (m.name, assignment)
        # Kafka describes an unknown group as Dead with no members, without an error.
        unknown = described[f"unknown-{hub_name}"]
        assert unknown["group_state"] == "Dead" and unknown["members"] == [], unknown

        offsets = admin.list_group_offsets([group, empty_group])
        assert {tp.partition: (o.offset, o.metadata) for tp, o in offsets[group].items()} == {
            p: (5, f"from-{m.name}") for m in members for p in m.snapshot()["assignment"]
        }
        assert {tp.partition: o.offset for tp, o in offsets[empty_group].items()} == {1: 3}

        removal = admin.remove_group_members(group, [
            MemberToRemove(member_id=by_client[members[0].name]["member_id"]),
            MemberToRemove(member_id="no-such-member"),
        ])
        assert removal == {by_client[members[0].name]["member_id"]: Errors.NoError,
                           "no-such-member": Errors.UnknownMemberIdError}, removal

        deleted = admin.delete_groups([group, empty_group, f"unknown-{hub_name}"])
        assert deleted == {group: "NonEmptyGroupError", empty_group: "OK",
                           f"unknown-{hub_name}": "GroupIdNotFoundError"}, deleted
    finally:
        stop_all(members)

    wait_until(lambda: admin.describe_groups([group])[group]["group_state"] == "Empty", 15,
               lambda: f"{admin.describe_groups([group])}\n{group_gateway.log()}")
    assert admin.delete_groups([group]) == {group: "OK"}
    assert admin.list_group_offsets(group)[group] == {}
    assert group not in {g["group_id"] for g in admin.list_groups()}
    assert empty_group not in {g["group_id"] for g in admin.list_groups()}
    admin.close()


def test_kafka_group_admin_removes_static_member_by_instance_id(group_gateway, hub_name):
    """kafka-python's remove_group_members with a `group.instance.id` (batch LeaveGroup v3+):
    the static member is removed (an unknown instance id is UNKNOWN_MEMBER_ID), the consumer
    finds out and joins again under a new member id with the same instance id."""
    import kafka.errors as Errors

    create_topic(group_gateway.kafka, hub_name, 2)
    group = f"g-{hub_name}"
    instance = f"{hub_name}-static"
    admin = KafkaAdminClient(bootstrap_servers=group_gateway.kafka)
    member = ConfluentMember(f"{hub_name}-m", group_gateway.kafka, group, [hub_name],
                             **{"group.instance.id": instance, "heartbeat.interval.ms": 300})
    try:
        wait_until(lambda: covers([member], 2), 30, lambda: describe([member]) + "\n" + group_gateway.log())
        (before,) = admin.describe_groups([group])[group]["members"]
        assert before["group_instance_id"] == instance, before
        removal = admin.remove_group_members(group, [MemberToRemove(group_instance_id=instance),
                                                     MemberToRemove(group_instance_id="nobody")])
        assert removal == {instance: Errors.NoError, "nobody": Errors.UnknownMemberIdError}, removal

        def rejoined():
            d = admin.describe_groups([group])[group]
            return (d["group_state"] == "Stable" and len(d["members"]) == 1
                    and d["members"][0]["member_id"] != before["member_id"] and d["members"][0])

        after = wait_until(rejoined, 20, lambda: f"{admin.describe_groups([group])}\n{describe([member])}\n{group_gateway.log()}")
        assert after["group_instance_id"] == instance, after
    finally:
        member.stop()
        admin.close()


def test_kafka_group_offset_delete(group_gateway, hub_name):
    """OffsetDelete (API 47) through kafka-python's delete_group_offsets: refused per partition
    with GROUP_SUBSCRIBED_TO_TOPIC while a member is subscribed to the topic; once the group is
    empty the partition's offset is removed and the others stay."""
    import kafka.errors as Errors

    create_topic(group_gateway.kafka, hub_name, 2)
    group = f"g-{hub_name}"
    admin = KafkaAdminClient(bootstrap_servers=group_gateway.kafka)
    member = KafkaPythonMember(f"{hub_name}-kp", group_gateway.kafka, group, [hub_name])
    try:
        wait_until(lambda: covers([member], 2), 30, lambda: describe([member]) + "\n" + group_gateway.log())
        member.call(lambda c: c.commit({KpTopicPartition(hub_name, p): OffsetAndMetadata(1, "", -1)
                                        for p in range(2)}))
        refused = admin.delete_group_offsets(group, [KpTopicPartition(hub_name, 0)])
        assert refused == {KpTopicPartition(hub_name, 0): Errors.GroupSubscribedToTopicError}, refused
    finally:
        member.stop()
    try:
        deleted = admin.delete_group_offsets(group, [KpTopicPartition(hub_name, 0)])
        assert deleted == {KpTopicPartition(hub_name, 0): Errors.NoError}, deleted
        remaining = admin.list_group_offsets(group)[group]
        assert {tp.partition: o.offset for tp, o in remaining.items() if o.offset >= 0} == {1: 1}, remaining
        with pytest.raises(Errors.GroupIdNotFoundError):
            admin.delete_group_offsets(f"unknown-{hub_name}", [KpTopicPartition(hub_name, 0)])
    finally:
        admin.close()


def test_kafka_group_commit_metadata_and_leader_epoch_round_trip(group_gateway, hub_name):
    """Simple consumers (assign(), no subscription: OffsetCommit with generation -1 and no
    member id) commit offsets with a metadata string and a leader epoch; committed() and the
    admin clients return all three. Such a group is listed as a simple consumer group."""
    create_topic(group_gateway.kafka, hub_name, 3)
    produce_spread(group_gateway.kafka, hub_name, 3, 30, hub_name)
    group = f"g-{hub_name}"
    consumer = Consumer({"bootstrap.servers": group_gateway.kafka, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(hub_name, p, 0) for p in range(3)])
        consumer.commit(offsets=[
            TopicPartition(hub_name, 0, 4, metadata="confluent meta ✓", leader_epoch=0),
            TopicPartition(hub_name, 1, 7, leader_epoch=0),
            TopicPartition(hub_name, 2, 9, metadata="no epoch"),
        ], asynchronous=False)
        committed = {tp.partition: tp for tp in
                     consumer.committed([TopicPartition(hub_name, p) for p in range(3)], timeout=10)}
    finally:
        consumer.close()
    assert (committed[0].offset, committed[0].metadata, committed[0].leader_epoch) == (4, "confluent meta ✓", 0)
    # No metadata is stored as an empty string, which librdkafka may hand back as None.
    assert (committed[1].offset, committed[1].metadata or "", committed[1].leader_epoch) == (7, "", 0)
    assert (committed[2].offset, committed[2].metadata, committed[2].leader_epoch) == (9, "no epoch", None)

    # kafka-python: a consumer with a group id and assign() commits with generation -1 too.
    kp_group = f"kp-{hub_name}"
    kp = KafkaConsumer(bootstrap_servers=group_gateway.kafka, group_id=kp_group, enable_auto_commit=False)
    try:
        tps = [KpTopicPartition(hub_name, p) for p in range(3)]
        kp.assign(tps)
        kp.commit({tps[0]: OffsetAndMetadata(3, "kafka-python", 0), tps[2]: OffsetAndMetadata(11, "", -1)})
        assert kp.committed(tps[0], metadata=True) == OffsetAndMetadata(3, "kafka-python", 0)
        assert kp.committed(tps[1]) is None
        assert kp.committed(tps[2], metadata=True) == OffsetAndMetadata(11, "", -1)
    finally:
        kp.close()

    kp_admin = KafkaAdminClient(bootstrap_servers=group_gateway.kafka)
    try:
        offsets = kp_admin.list_group_offsets(group)[group]
        # confluent-kafka sends its metadata string with the C string's terminating NUL
        # (metadata_size counts it), and the gateway keeps the bytes as sent.
        stored = offsets[KpTopicPartition(hub_name, 0)]
        assert stored._replace(metadata=stored.metadata.rstrip("\x00")) == OffsetAndMetadata(4, "confluent meta ✓", 0)
        assert offsets[KpTopicPartition(hub_name, 1)] == OffsetAndMetadata(7, "", 0)
    finally:
        kp_admin.close()

    admin = AdminClient({"bootstrap.servers": group_gateway.kafka})
    for g in (group, kp_group):
        listing = listed(admin, g)
        assert listing is not None, f"{g} not listed"
        assert listing.is_simple_consumer_group is True and listing.state == ConsumerGroupState.EMPTY, listing
    # librdkafka reads the committed offset of a simple consumer group back on assign().
    resumed = Consumer({"bootstrap.servers": group_gateway.kafka, "group.id": group, "enable.auto.commit": False})
    try:
        resumed.assign([TopicPartition(hub_name, 0)])  # OFFSET_STORED: starts at the commit
        msg = None
        deadline = time.monotonic() + 20
        while msg is None and time.monotonic() < deadline:
            msg = resumed.poll(0.5)
        assert msg is not None and msg.error() is None, msg and msg.error()
        assert msg.offset() == 4
    finally:
        resumed.close()


def test_kafka_group_offsets_of_empty_groups_expire(start_gateway, hub_name):
    """With --kafka-offsets-retention-ms 2000, the offsets of a group without members are
    removed once the retention has passed; a group that keeps a member keeps its offsets,
    and its retention starts when it becomes empty."""
    gateway = start_gateway(*GROUP_FLAGS, "--kafka-offsets-retention-ms", "2000")
    create_topic(gateway.kafka, hub_name, 2)
    admin = AdminClient({"bootstrap.servers": gateway.kafka})
    simple, active = f"s-{hub_name}", f"a-{hub_name}"
    (future,) = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(simple, [TopicPartition(hub_name, 0, 1)])]).values()
    future.result(timeout=20)
    member = ConfluentMember(f"{hub_name}-m", gateway.kafka, active, [hub_name])
    try:
        wait_until(lambda: covers([member], 2), 30, lambda: describe([member]) + "\n" + gateway.log())
        member.call(lambda c: c.commit(offsets=[TopicPartition(hub_name, 1, 1)], asynchronous=False))
        started = time.monotonic()
        wait_until(lambda: group_offsets(admin, simple, hub_name, [0])[0].offset == OFFSET_INVALID, 30,
                   lambda: f"the empty group's offsets outlived the retention:\n{gateway.log()}")
        print(f"offsets of the empty group expired {time.monotonic() - started:.1f} s after the commit")
        # Well past the retention, the group with a member still has its commit.
        time.sleep(max(0.0, started + 3.0 - time.monotonic()))
        assert group_offsets(admin, active, hub_name, [1])[1].offset == 1, "a member's group lost its offsets"
    finally:
        member.stop()
    left_at = time.monotonic()
    assert group_offsets(admin, active, hub_name, [1])[1].offset == 1, "offsets expired as the group became empty"
    wait_until(lambda: group_offsets(admin, active, hub_name, [1])[1].offset == OFFSET_INVALID, 30,
               lambda: f"the offsets of the group that became empty did not expire:\n{gateway.log()}")
    kept = time.monotonic() - left_at
    assert kept >= 1.5, f"offsets expired {kept:.2f} s after the group became empty, before the 2 s retention"
    assert listed(admin, simple) is None and listed(admin, active) is None


def test_kafka_group_session_timeout_below_minimum_is_refused(group_gateway, hub_name):
    """A kafka-python consumer asking for a 500 ms session (the gateway's minimum is 1 s) is
    refused with INVALID_SESSION_TIMEOUT and never gets partitions."""
    import kafka.errors as Errors

    create_topic(group_gateway.kafka, hub_name, 1)
    consumer = KafkaConsumer(hub_name, bootstrap_servers=group_gateway.kafka, group_id=f"g-{hub_name}",
                             session_timeout_ms=500, heartbeat_interval_ms=100)
    try:
        with pytest.raises(Errors.InvalidSessionTimeoutError):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                consumer.poll(timeout_ms=200)
        assert not consumer.assignment()
    finally:
        consumer.close()
