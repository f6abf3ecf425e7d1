"""The classic consumer-group coordinator with real clients: confluent-kafka, kafka-python,
aiokafka and kcat consumers in groups against the real gateway.

Members share partitions (each partition held by exactly one member, every record consumed
exactly once), partitions move when a member dies without leaving, committed offsets resume
exactly (after a consumer restart and after a gateway kill -9), static members keep their
partitions across a restart, different clients agree on a common assignor, and 50 groups
rebalance at once. Most tests use a module gateway without the initial rebalance delay and with
a 1 s minimum session timeout; the last one shows the default 3 s delay gathers members that
start together into one generation.
"""

import json
import socket
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from kafka_group_support import (
    CONFLUENT_FAST,
    GROUP_FLAGS,
    AioKafkaMember,
    ConfluentMember,
    KafkaPythonMember,
    MemberProcess,
    covers,
    create_topic,
    describe,
    produce_spread,
    stop_all,
    wait_until,
)


def assert_exactly_once(members, produced, rounds_before=None):
    """Every produced record was received once, by the member holding its partition, at the
    offset the producer was told; no member was reassigned while consuming."""
    seen = {}
    for i, m in enumerate(members):
        s = m.snapshot()
        if rounds_before is not None:
            assert s["rounds"] == rounds_before[i], f"{m.name} was rebalanced while consuming:\n{describe(members)}"
        for partition, offset, value, _round in s["records"]:
            if value not in produced:
                continue
            assert value not in seen, f"{value!r} delivered to {seen[value]} and to {m.name}"
            seen[value] = m.name
            assert produced[value] == (partition, offset), (value, produced[value], partition, offset)
            assert partition in s["assignment"], f"{m.name} got {value!r} of partition {partition} it does not hold"
    missing = sorted(set(produced) - set(seen))
    assert not missing, f"{len(missing)} records never consumed, e.g. {missing[:5]}:\n{describe(members)}"


def received(members, produced):
    return sum(1 for m in members for v in m.values() if v in produced)


def produce_and_consume_once(gateway, topic, members, partitions, count, tag):
    """Produces `count` records spread over the topic's partitions and waits until the settled
    `members` have consumed them, each exactly once (see `assert_exactly_once`); returns them."""
    rounds = [m.snapshot()["rounds"] for m in members]
    produced = produce_spread(gateway.kafka, topic, partitions, count, tag)
    wait_until(lambda: received(members, produced) >= count, 30,
               lambda: f"consumed {received(members, produced)} of {count}:\n" + describe(members))
    assert_exactly_once(members, produced, rounds)
    return produced


@pytest.mark.parametrize("count,strategy", [(2, "range"), (3, "roundrobin")])
def test_kafka_group_confluent_members_share_partitions(group_gateway, hub_name, count, strategy):
    """`count` confluent-kafka consumers in one group split a 6-partition topic evenly, each
    partition held by exactly one member; every record produced afterwards reaches exactly one
    member, the one holding its partition, and nobody is rebalanced while consuming."""
    create_topic(group_gateway.kafka, hub_name, 6)
    group = f"g-{hub_name}"
    members = [
        ConfluentMember(f"{hub_name}-m{i}", group_gateway.kafka, group, [hub_name],
                        **{"partition.assignment.strategy": strategy})
        for i in range(count)
    ]
    try:
        wait_until(lambda: covers(members, 6), 30,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + group_gateway.log())
        assert sorted(len(m.snapshot()["assignment"]) for m in members) == [6 // count] * count, describe(members)
        produce_and_consume_once(group_gateway, hub_name, members, 6, 120, hub_name)
    finally:
        stop_all(members)


def test_kafka_group_cooperative_sticky_moves_only_what_it_must(group_gateway, hub_name):
    """librdkafka's cooperative-sticky assignor over the classic protocol: when a second member
    joins, the first gives up only the partitions that move (never its whole assignment), the
    two end up with 2 partitions each, and records produced afterwards are consumed once."""
    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    cfg = {"partition.assignment.strategy": "cooperative-sticky"}
    first = ConfluentMember(f"{hub_name}-m0", group_gateway.kafka, group, [hub_name], **cfg)
    members = [first]
    try:
        wait_until(lambda: covers([first], 4), 30, lambda: describe([first]) + "\n" + group_gateway.log())
        members.append(ConfluentMember(f"{hub_name}-m1", group_gateway.kafka, group, [hub_name], **cfg))
        wait_until(lambda: covers(members, 4), 30,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + group_gateway.log())
        assert sorted(len(m.snapshot()["assignment"]) for m in members) == [2, 2], describe(members)
        events = [(kind, len(ps)) for _, kind, ps in first.snapshot()["events"]]
        assert ("revoke", 4) not in events and ("lost", 4) not in events, describe(members)
        assert ("revoke", 2) in events, describe(members)
        produce_and_consume_once(group_gateway, hub_name, members, 4, 40, hub_name)
    finally:
        stop_all(members)


def test_kafka_group_commit_on_revoke_hands_over_without_duplicates(group_gateway, hub_name):
    """While records keep arriving, a second and then a third member join a group whose members
    commit synchronously when partitions are revoked (the usual pattern): every record is
    consumed exactly once across the rebalances, because the commits made while the group
    rebalances are accepted and the next owner starts at them."""
    from confluent_kafka import Producer

    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    total = 300
    producer = Producer({"bootstrap.servers": group_gateway.kafka, "linger.ms": 0})
    errors = []
    stop = threading.Event()

    def produce():
        for i in range(total):
            producer.produce(hub_name, value=f"{hub_name}-{i}".encode(), partition=i % 4,
                             on_delivery=lambda err, msg: errors.append(err) if err else None)
            producer.poll(0)
            if stop.wait(0.01):
                break
        producer.flush(20)

    members = [ConfluentMember(f"{hub_name}-m0", group_gateway.kafka, group, [hub_name], commit_on_revoke=True)]
    feeder = threading.Thread(target=produce, daemon=True)
    try:
        wait_until(lambda: covers(members, 4), 30, lambda: describe(members) + "\n" + group_gateway.log())
        feeder.start()
        for i in (1, 2):
            wait_until(lambda: sum(len(m.values()) for m in members) >= 60 * i, 30, lambda: describe(members))
            members.append(ConfluentMember(f"{hub_name}-m{i}", group_gateway.kafka, group, [hub_name], commit_on_revoke=True))
            wait_until(lambda: covers(members, 4), 30,
                       lambda: "the group did not settle:\n" + describe(members) + "\n" + group_gateway.log())
        feeder.join(30)
        assert not errors, errors
        expected = {f"{hub_name}-{i}".encode() for i in range(total)}
        wait_until(lambda: {v for m in members for v in m.values()} >= expected, 30,
                   lambda: f"{len(expected - {v for m in members for v in m.values()})} records missing\n"
                   + describe(members))
        values = [v for m in members for v in m.values()]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        assert not duplicates, f"{len(duplicates)} records consumed twice, e.g. {duplicates[:5]}:\n{describe(members)}"
        assert not [e for m in members for e in m.snapshot()["errors"]], describe(members)
        assert all(m.snapshot()["rounds"] >= 1 for m in members)
    finally:
        stop.set()
        stop_all(members)


def test_kafka_group_killed_member_partitions_move_to_survivors(group_gateway, hub_name):
    """A member in a subprocess is SIGKILLed (no LeaveGroup): once its 2 s session times out,
    the two survivors split all partitions between them and consume the records produced to
    the dead member's partitions."""
    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    short = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 300}
    survivors = [ConfluentMember(f"{hub_name}-s{i}", group_gateway.kafka, group, [hub_name], **short) for i in range(2)]
    victim = MemberProcess(f"{hub_name}-victim", group_gateway.kafka, group, hub_name, **short)
    members = survivors + [victim]
    try:
        wait_until(lambda: covers(members, 4), 40,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + "\n".join(victim.stderr) + group_gateway.log())
        orphaned = victim.snapshot()["assignment"]
        killed_at = time.monotonic()
        victim.kill()
        wait_until(lambda: covers(survivors, 4), 20,
                   lambda: "the dead member's partitions did not move:\n" + describe(survivors) + "\n" + group_gateway.log())
        moved_after = time.monotonic() - killed_at
        # The session timer starts at the victim's last heartbeat (at most 0.3 s before the kill):
        # the partitions moved because the session expired, not earlier.
        assert moved_after >= 1.5, f"partitions moved {moved_after:.2f} s after the kill, before the session timeout"
        assert moved_after < 12, f"partitions moved only {moved_after:.2f} s after the kill"
        produced = produce_and_consume_once(group_gateway, hub_name, survivors, 4, 40, hub_name)
        orphan_values = {v for v, (p, _) in produced.items() if p in orphaned}
        assert orphan_values and orphan_values <= {v for m in survivors for v in m.values()}
    finally:
        if victim.proc.poll() is None:
            victim.kill()
        stop_all(survivors)


def test_kafka_group_committed_offsets_resume_after_consumer_restart(group_gateway, hub_name):
    """A consumer reads 25 of 40 records, commits synchronously and closes; a new consumer in
    the same group starts exactly at the committed offsets: the other 15, none again."""
    create_topic(group_gateway.kafka, hub_name, 2)
    produced = produce_spread(group_gateway.kafka, hub_name, 2, 40, hub_name)
    group = f"g-{hub_name}"

    def consume(consumer, count, timeout=30):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append((msg.partition(), msg.offset(), msg.value()))
        return got

    first_consumer = Consumer({"bootstrap.servers": group_gateway.kafka, "group.id": group, **CONFLUENT_FAST})
    first_consumer.subscribe([hub_name])
    try:
        first = consume(first_consumer, 25)
        assert len(first) == 25, f"first consumer got {len(first)} of 25:\n{group_gateway.log()}"
        first_consumer.commit(asynchronous=False)
        committed = first_consumer.committed([TopicPartition(hub_name, p) for p in range(2)], timeout=10)
    finally:
        first_consumer.close()
    expected_next = {p: max((o for q, o, _ in first if q == p), default=-1) + 1 for p in range(2)}
    assert {tp.partition: tp.offset for tp in committed} == expected_next
    assert all(tp.error is None for tp in committed), committed

    second_consumer = Consumer({"bootstrap.servers": group_gateway.kafka, "group.id": group, **CONFLUENT_FAST})
    second_consumer.subscribe([hub_name])
    try:
        second = consume(second_consumer, 15)
        extra = consume(second_consumer, 1, timeout=1.0)  # nothing else may arrive
    finally:
        second_consumer.close()
    assert extra == [], f"record delivered again: {extra}"
    assert len(second) == 15, f"second consumer got {len(second)} of 15"
    for p in range(2):
        offsets = [o for q, o, _ in second if q == p]
        if expected_next[p] < 20:
            assert offsets[0] == expected_next[p], (p, offsets, expected_next)
    values = [v for _, _, v in first] + [v for _, _, v in second]
    assert sorted(values) == sorted(produced), "a record was skipped or repeated across the restart"


def test_kafka_group_static_member_restart_keeps_its_partitions(group_gateway, hub_name):
    """A static member (`group.instance.id`) is SIGKILLed and restarted within its 10 s
    session: it gets back exactly its partitions, and the other member is not rebalanced."""
    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    cfg = {"session.timeout.ms": 10000, "heartbeat.interval.ms": 300}
    other = ConfluentMember(f"{hub_name}-other", group_gateway.kafka, group, [hub_name],
                            **{"group.instance.id": f"{hub_name}-b", **cfg})
    static = MemberProcess(f"{hub_name}-static", group_gateway.kafka, group, hub_name,
                           **{"group.instance.id": f"{hub_name}-a", **cfg})
    restarted = None
    try:
        wait_until(lambda: covers([other, static], 4), 40,
                   lambda: "the group did not settle:\n" + describe([other, static]) + "\n" + group_gateway.log())
        static_partitions = static.snapshot()["assignment"]
        other_before = other.snapshot()
        killed_at = time.monotonic()
        static.kill()
        restarted = MemberProcess(f"{hub_name}-static", group_gateway.kafka, group, hub_name,
                                  **{"group.instance.id": f"{hub_name}-a", **cfg})
        wait_until(lambda: restarted.snapshot()["assignment"], 9,
                   lambda: "the restarted static member got no assignment:\n"
                   + describe([other, restarted]) + "\n" + "\n".join(restarted.stderr) + group_gateway.log())
        rejoined_after = time.monotonic() - killed_at
        assert rejoined_after < 10, f"rejoined {rejoined_after:.1f} s after the kill, beyond the session"
        assert restarted.snapshot()["assignment"] == static_partitions, describe([other, restarted])
        # A rebalance would reach the other member with its next heartbeat (every 0.3 s); give it
        # a few heartbeats' time, then check it was left alone.
        time.sleep(1.5)
        other_after = other.snapshot()
        assert other_after["events"] == other_before["events"], (
            "the other member was rebalanced:\n" + describe([other, restarted]) + "\n" + group_gateway.log())
        assert other_after["assignment"] == other_before["assignment"]
        # Both fetch their partitions.
        produced = produce_spread(group_gateway.kafka, hub_name, 4, 20, hub_name)
        wait_until(lambda: received([other, restarted], produced) >= 20, 30,
                   lambda: describe([other, restarted]))
        assert_exactly_once([other, restarted], produced)
    finally:
        if static.proc.poll() is None:
            static.kill()
        if restarted is not None:
            restarted.kill()
        other.stop()


def test_kafka_group_static_member_duplicate_is_fenced(group_gateway, hub_name):
    """A second consumer with the same `group.instance.id` takes the static member's place;
    the first one is fenced (FENCED_INSTANCE_ID), which librdkafka reports as fatal."""
    create_topic(group_gateway.kafka, hub_name, 2)
    group = f"g-{hub_name}"
    cfg = {"group.instance.id": f"{hub_name}-x", "session.timeout.ms": 10000, "heartbeat.interval.ms": 300}
    first = ConfluentMember(f"{hub_name}-first", group_gateway.kafka, group, [hub_name], **cfg)
    second = None
    try:
        wait_until(lambda: covers([first], 2), 30, lambda: describe([first]) + "\n" + group_gateway.log())
        second = ConfluentMember(f"{hub_name}-second", group_gateway.kafka, group, [hub_name], **cfg)
        wait_until(lambda: covers([second], 2), 30, lambda: describe([first, second]) + "\n" + group_gateway.log())

        def fenced():
            return [e for e in first.snapshot()["errors"] if "fenced" in str(e).lower()]

        errors = wait_until(fenced, 15, lambda: "the replaced member was not fenced:\n"
                            + describe([first, second]) + "\n" + group_gateway.log())
        assert errors[0].code() == KafkaError._FATAL, errors
    finally:
        first.stop()
        if second is not None:
            second.stop()


def _roundrobin():
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    return {"partition_assignment_strategy": [RoundRobinPartitionAssignor]}


def _range_aiokafka():
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor

    return {"partition_assignment_strategy": (RangePartitionAssignor,)}


@pytest.mark.parametrize(
    "member_class, config, split",
    [
        (KafkaPythonMember, _roundrobin, [[0, 2], [1, 3]]),
        (AioKafkaMember, _range_aiokafka, [[0, 1], [2, 3]]),
    ],
    ids=["kafka-python-roundrobin", "aiokafka-range"],
)
def test_kafka_group_python_clients_commit_and_resume(group_gateway, hub_name, member_class, config, split):
    """Two kafka-python consumers with the round-robin assignor, or two aiokafka consumers with
    the range assignor, split 4 partitions as their assignor does, consume everything once and
    commit; after both close, a new member of the group receives only what was produced since."""
    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    cfg = config()
    members = [member_class(f"{hub_name}-m{i}", group_gateway.kafka, group, [hub_name], **cfg) for i in range(2)]
    try:
        wait_until(lambda: covers(members, 4), 30,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + group_gateway.log())
        assert sorted(sorted(m.snapshot()["assignment"]) for m in members) == split, describe(members)
        produce_and_consume_once(group_gateway, hub_name, members, 4, 40, hub_name + "-a")
        for m in members:
            m.call(lambda c: c.commit())
    finally:
        stop_all(members)

    later = produce_spread(group_gateway.kafka, hub_name, 4, 20, hub_name + "-b")
    resumed = member_class(f"{hub_name}-again", group_gateway.kafka, group, [hub_name], **cfg)
    try:
        wait_until(lambda: len(resumed.values()) >= 20, 30,
                   lambda: describe([resumed]) + "\n" + group_gateway.log())
        assert sorted(resumed.values()) == sorted(later), "records before the commit were delivered again"
        assert_exactly_once([resumed], later)
    finally:
        resumed.stop()


def test_kafka_group_mixed_clients_agree_on_common_protocol(group_gateway, hub_name):
    """kafka-python (round-robin preferred, range too), aiokafka (range only) and
    confluent-kafka (range only) in one group: the coordinator picks the one protocol all
    support, range, so each member holds two consecutive partitions of 6; all records are
    consumed exactly once."""
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor as AioRange
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    create_topic(group_gateway.kafka, hub_name, 6)
    group = f"g-{hub_name}"
    members = [
        KafkaPythonMember(f"{hub_name}-kp", group_gateway.kafka, group, [hub_name],
                          partition_assignment_strategy=[RoundRobinPartitionAssignor, RangePartitionAssignor]),
        AioKafkaMember(f"{hub_name}-aio", group_gateway.kafka, group, [hub_name], partition_assignment_strategy=(AioRange,)),
        ConfluentMember(f"{hub_name}-ck", group_gateway.kafka, group, [hub_name], **{"partition.assignment.strategy": "range"}),
    ]
    try:
        wait_until(lambda: covers(members, 6), 40,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + group_gateway.log())
        assert sorted(sorted(m.snapshot()["assignment"]) for m in members) == [[0, 1], [2, 3], [4, 5]], describe(members)
        produce_and_consume_once(group_gateway, hub_name, members, 6, 60, hub_name)
    finally:
        stop_all(members)


def test_kafka_group_kcat_balanced_consumers(group_gateway, hub_name):
    """Two `kcat -G` balanced consumers split 4 partitions (their rebalance lines on stderr say
    which) and between them print every record once, each from its own partitions."""
    create_topic(group_gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    procs, outputs, assigned, errs = [], [], [], []
    for i in range(2):
        proc = subprocess.Popen(
            ["kcat", "-b", group_gateway.kafka, "-G", group, "-J", "-u", "-o", "beginning",
             "-X", "heartbeat.interval.ms=500", "-X", "session.timeout.ms=6000", hub_name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        procs.append(proc)
        outputs.append([])
        assigned.append([])
        errs.append([])

        def read_out(proc=proc, out=outputs[i]):
            for line in proc.stdout:
                if line.strip():
                    out.append(json.loads(line))

        def read_err(proc=proc, log=errs[i], current=assigned[i]):
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                log.append(line)
                # "% Group g rebalanced (memberid ...): assigned: topic [0], topic [2]"
                if "rebalanced" in line and "assigned:" in line:
                    parts = line.split("assigned:", 1)[1]
                    current.append({int(x.split("]")[0]) for x in parts.split("[")[1:]})
                elif "rebalanced" in line and "revoked" in line:
                    current.append(set())

        threading.Thread(target=read_out, daemon=True).start()
        threading.Thread(target=read_err, daemon=True).start()

    def settled():
        latest = [a[-1] if a else set() for a in assigned]
        return all(latest) and sum(map(len, latest)) == 4 and set().union(*latest) == set(range(4))

    try:
        wait_until(settled, 30, lambda: f"kcat members did not settle: {assigned}\n{errs}\n{group_gateway.log()}")
        final = [a[-1] for a in assigned]
        produced = produce_spread(group_gateway.kafka, hub_name, 4, 40, hub_name)
        wait_until(lambda: sum(len(o) for o in outputs) >= 40, 30,
                   lambda: f"kcat printed {sum(len(o) for o in outputs)} of 40 records\n{errs}")
        seen = set()
        for i, out in enumerate(outputs):
            for m in out:
                value = m["payload"].encode()
                assert value in produced and value not in seen, m
                seen.add(value)
                assert produced[value] == (m["partition"], m["offset"]), m
                assert m["partition"] in final[i], (i, m, final)
        assert seen == set(produced)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kafka_group_offsets_survive_gateway_kill(start_gateway, hub_name):
    """Offsets committed before a kill -9 are there after the restart on the same data dir
    (same port): the still-running member rejoins, resumes at them and receives only new
    records, and a new consumer of the group later resumes at its last commit."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka import ConsumerGroupTopicPartitions

    port = _free_port()
    gateway = start_gateway("--kafka-listen", f"127.0.0.1:{port}", *GROUP_FLAGS)
    create_topic(gateway.kafka, hub_name, 2)
    group = f"g-{hub_name}"
    produced = produce_spread(gateway.kafka, hub_name, 2, 20, hub_name + "-a")
    member = ConfluentMember(f"{hub_name}-m", gateway.kafka, group, [hub_name],
                             **{"reconnect.backoff.max.ms": 500})
    try:
        wait_until(lambda: received([member], produced) >= 20, 30, lambda: describe([member]) + "\n" + gateway.log())
        member.call(lambda c: c.commit(asynchronous=False))
        rounds = member.snapshot()["rounds"]

        gateway.restart(crash=True)
        admin = AdminClient({"bootstrap.servers": gateway.kafka})
        request = [ConsumerGroupTopicPartitions(group, [TopicPartition(hub_name, p) for p in range(2)])]
        (future,) = admin.list_consumer_group_offsets(request).values()
        offsets = {tp.partition: tp.offset for tp in future.result(timeout=20).topic_partitions}
        assert offsets == {0: 10, 1: 10}, f"committed offsets after kill -9: {offsets}\n{gateway.log()}"

        # The member's session is gone with the old process: it has to join again.
        wait_until(lambda: member.snapshot()["rounds"] > rounds and covers([member], 2), 60,
                   lambda: "the member did not rejoin after the restart:\n" + describe([member]) + "\n" + gateway.log())
        later = produce_spread(gateway.kafka, hub_name, 2, 10, hub_name + "-b")
        wait_until(lambda: received([member], later) >= 10, 30, lambda: describe([member]) + "\n" + gateway.log())
        values = member.values()
        assert sorted(values) == sorted(list(produced) + list(later)), "records delivered again after the restart"
        member.call(lambda c: c.commit(asynchronous=False))
    finally:
        member.stop()

    newest = produce_spread(gateway.kafka, hub_name, 2, 6, hub_name + "-c")
    fresh = ConfluentMember(f"{hub_name}-fresh", gateway.kafka, group, [hub_name])
    try:
        wait_until(lambda: len(fresh.values()) >= 6, 30, lambda: describe([fresh]) + "\n" + gateway.log())
        assert sorted(fresh.values()) == sorted(newest), "the new consumer did not resume at the commit"
    finally:
        fresh.stop()


def test_kafka_group_fifty_groups_rebalance_at_once(group_gateway, hub_name):
    """50 groups of 2 confluent-kafka members, all started together on one 4-partition topic:
    every group settles (both members assigned, all 4 partitions covered, none twice) well
    within the session timeout."""
    create_topic(group_gateway.kafka, hub_name, 4)
    groups = [[ConfluentMember(f"{hub_name}-g{g}-m{i}", group_gateway.kafka, f"g{g}-{hub_name}", [hub_name],
                               **{"session.timeout.ms": 10000}) for i in range(2)]
              for g in range(50)]
    started = time.monotonic()
    everyone = [m for members in groups for m in members]
    try:
        def unsettled():
            return [g for g, members in enumerate(groups) if not covers(members, 4)]

        wait_until(lambda: not unsettled(), 60,
                   lambda: f"{len(unsettled())} groups did not settle, e.g.:\n"
                   + describe(groups[unsettled()[0]]) + "\n" + group_gateway.log())
        elapsed = time.monotonic() - started
        print(f"50 groups x 2 members settled in {elapsed:.1f} s")
        assert elapsed < 30, f"50 groups took {elapsed:.1f} s to settle"
        assert not [e for m in everyone for e in m.snapshot()["errors"]], describe(everyone[:4])
    finally:
        stop_all(everyone)


def test_kafka_group_default_initial_rebalance_delay(gateway, hub_name):
    """With the default 3 s initial rebalance delay, two confluent-kafka members started
    together are both in the group's first generation: each gets exactly one assignment, with
    partitions, and nobody is revoked and reassigned; the first assignment comes after the
    delay. (Without the delay the first member would get all partitions alone and then give
    half of them up in a second rebalance.)"""
    create_topic(gateway.kafka, hub_name, 4)
    group = f"g-{hub_name}"
    started = time.monotonic()
    members = [ConfluentMember(f"{hub_name}-m{i}", gateway.kafka, group, [hub_name]) for i in range(2)]
    try:
        wait_until(lambda: covers(members, 4), 30,
                   lambda: "the group did not settle:\n" + describe(members) + "\n" + gateway.log())
        elapsed = time.monotonic() - started
        first_assignment = min(m.snapshot()["events"][0][0] for m in members) - started
        # A second generation would reach the members with their next heartbeat (0.5 s).
        time.sleep(1.0)
        for m in members:
            kinds = [(kind, sorted(ps)) for _, kind, ps in m.snapshot()["events"]]
            assert kinds == [("assign", sorted(m.snapshot()["assignment"]))], (
                f"more than one generation after {elapsed:.2f} s:\n{describe(members)}\n{gateway.log()}")
        assert first_assignment >= 2.5, (
            f"first assignment {first_assignment:.2f} s after start: the 3 s delay was not applied")
    finally:
        stop_all(members)


def test_kafka_group_kafkajs_members_share_commit_and_admin(group_gateway, hub_name):
    """Two kafkajs consumers of one group (its round-robin assigner) split a 4-partition topic,
    receive every record once from the partitions they were assigned, and commit; the kafkajs
    admin then reads the committed offsets, describes, lists and deletes the group, after which
    its offsets are gone."""
    from conftest import run_node

    group = f"g-{hub_name}"
    out = json.loads(run_node("kafka_group.js", group_gateway.kafka, hub_name, group, "4", "40").stdout)
    assignments = {int(member): set(parts) for member, parts in out["assignments"].items()}
    assert len(assignments) == 2 and all(assignments.values()), out["assignments"]
    assert assignments[0].isdisjoint(assignments[1])
    assert assignments[0] | assignments[1] == {0, 1, 2, 3}
    values = [r["value"] for r in out["received"]]
    assert sorted(values) == sorted(f"kjs-{i}" for i in range(40)), "a record was lost or delivered twice"
    for r in out["received"]:
        assert r["partition"] in assignments[r["member"]], f"{r} came from a partition of the other member"
    (described,) = out["described"]["groups"]
    assert (described["errorCode"], described["state"], described["protocolType"]) == (0, "Stable", "consumer")
    assert len(described["members"]) == 2
    assert all(m["clientHost"] == "/127.0.0.1" for m in described["members"])
    (offsets,) = out["offsets"]
    assert {p["partition"]: p["offset"] for p in offsets["partitions"]} == {p: "10" for p in range(4)}
    listed = {g["groupId"]: g["protocolType"] for g in out["listed"]["groups"]}
    assert listed.get(group) == "consumer", listed
    assert out["deleted"] == [{"groupId": group, "errorCode": 0}]
    (after,) = out["afterDelete"]
    assert {p["offset"] for p in after["partitions"]} == {"-1"}
