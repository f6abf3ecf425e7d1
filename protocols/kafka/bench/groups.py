"""Consumer-group benchmark: rebalances and commits with librdkafka (confluent-kafka) consumers.

Phase 1, rebalance: --groups groups of --members consumers each subscribe at once to one topic
of --partitions partitions; reports, per consumer, the time from subscribe() to holding its
share of a balanced assignment, and the wall time until every group is balanced.
Phase 2, member leaving: one consumer per group closes (LeaveGroup); reports the time until
the rest of its group holds every partition again.
Phase 3, commits: one consumer commits synchronously --commits times; reports commits/s and
the commit latency (OffsetCommit acknowledged after the durable write).

Run against a release build (it starts the gateway with a temporary data directory, the
default durable settings and no initial rebalance delay unless --bootstrap is given):

    cargo build --release -p hubgate
    .venv/bin/python protocols/kafka/bench/groups.py --hubgate target/release/hubgate
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from produce_consume import percentile, start_gateway  # noqa: E402


class Member:
    """One consumer polling in its own thread, recording when its assignment changes."""

    def __init__(self, bootstrap, group, topic):
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
        })
        self.topic = topic
        self.assigned = set()
        self.changed = threading.Event()
        self.stop = threading.Event()
        self.subscribed_at = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_assign(self, _consumer, partitions):
        self.assigned = {p.partition for p in partitions}
        self.changed.set()

    def on_revoke(self, _consumer, _partitions):
        self.assigned = set()

    def run(self):
        self.subscribed_at = time.perf_counter()
        self.consumer.subscribe([self.topic], on_assign=self.on_assign, on_revoke=self.on_revoke)
        while not self.stop.is_set():
            self.consumer.poll(0.05)
        self.consumer.close()


def wait_balanced(groups, partitions, deadline):
    """Waits until every group's members hold disjoint shares covering every partition;
    returns, per group, the moment it got there."""
    done = {}
    while len(done) < len(groups) and time.perf_counter() < deadline:
        now = time.perf_counter()
        for name, members in groups.items():
            if name in done:
                continue
            shares = [m.assigned for m in members]
            union = set().union(*shares)
            if union == set(range(partitions)) and sum(map(len, shares)) == partitions and all(shares):
                done[name] = now
        time.sleep(0.005)
    return done


def rebalance(bootstrap, topic, n_groups, n_members, partitions):
    groups = {f"bench-{topic}-{g}": [Member(bootstrap, f"bench-{topic}-{g}", topic)
                                      for _ in range(n_members)]
              for g in range(n_groups)}
    started = time.perf_counter()
    for members in groups.values():
        for m in members:
            m.thread.start()
    balanced = wait_balanced(groups, partitions, started + 120)
    if len(balanced) < n_groups:
        raise RuntimeError(f"only {len(balanced)} of {n_groups} groups balanced in 120 s")
    per_group = [(balanced[g] - started) * 1000 for g in groups]
    print(f"rebalance: {n_groups} groups x {n_members} members, {partitions} partitions: all "
          f"balanced after {max(per_group):.0f} ms; per group p50 {percentile(per_group, 50):.0f} ms "
          f"p99 {percentile(per_group, 99):.0f} ms")

    # One member per group leaves; the others take its partitions over.
    for members in groups.values():
        members[0].stop.set()
    left = time.perf_counter()
    rest = {g: members[1:] for g, members in groups.items()}
    balanced = wait_balanced(rest, partitions, left + 120)
    if len(balanced) < n_groups:
        raise RuntimeError(f"only {len(balanced)} of {n_groups} groups rebalanced in 120 s")
    per_group = [(balanced[g] - left) * 1000 for g in rest]
    print(f"member leaves: survivors hold every partition after p50 {percentile(per_group, 50):.0f} ms "
          f"p99 {percentile(per_group, 99):.0f} ms max {max(per_group):.0f} ms")
    for members in rest.values():
        for m in members:
            m.stop.set()
    for members in groups.values():
        for m in members:
            m.thread.join(30)


def commits(bootstrap, topic, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-commit-{topic}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        consumer.commit(offsets=[TopicPartition(topic, 0, i + 1)], asynchronous=False)
        latencies.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - started
    committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    consumer.close()
    if committed != count:
        raise RuntimeError(f"committed offset {committed}, expected {count}")
    print(f"commits: {count / elapsed:.0f}/s; latency p50 {statistics.median(latencies):.2f} ms "
          f"p99 {percentile(latencies, 99):.2f} ms max {max(latencies):.2f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubgate", default="target/release/hubgate")
    parser.add_argument("--bootstrap", help="use a running gateway instead of starting one")
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--commits", type=int, default=2000)
    args = parser.parse_args()

    proc = data_dir = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        data_dir = tempfile.mkdtemp(prefix="hubgate-bench-")
        proc, bootstrap = start_gateway(args.hubgate, data_dir,
                                        ("--kafka-group-initial-rebalance-delay-ms", "0"))
    try:
        topic = f"groups-{os.getpid()}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(30)
        rebalance(bootstrap, topic, args.groups, args.members, args.partitions)
        commits(bootstrap, topic, args.commits)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
