"""Helpers for the consumer-group compat tests: group members of each client library that poll
on their own thread and record what they see, waiting for a condition with a deadline, topics
with a chosen partition count, and records spread over partitions.

Every member keeps, under one lock, its current assignment (from the rebalance callbacks), the
list of assignment events and every record it received as (partition, offset, value, round),
where `round` counts the assignments the member had received when the record arrived.

Run as a script (`python kafka_group_support.py BOOTSTRAP GROUP TOPIC CONFIG_JSON`), this file
is one confluent-kafka group member that prints its events as JSON lines on stdout: the tests
run it in a subprocess to SIGKILL it (no LeaveGroup) or restart it.
"""

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# librdkafka settings that keep group tests fast: heartbeats often enough that a rebalance is
# noticed within half a second, and a session timeout at the gateway's default minimum.
CONFLUENT_FAST = {
    "heartbeat.interval.ms": 500,
    "session.timeout.ms": 6000,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
}
# The same for kafka-python and aiokafka.
KP_FAST = {
    "heartbeat_interval_ms": 500,
    "session_timeout_ms": 6000,
    "auto_offset_reset": "earliest",
    "enable_auto_commit": False,
}

GROUP_FLAGS = ("--kafka-group-initial-rebalance-delay-ms", "0", "--kafka-group-min-session-timeout-ms", "1000")


def wait_until(condition, timeout, message):
    """Polls `condition` until it returns something true; fails with `message` (a string or a
    callable building one, e.g. with the gateway log) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(0.05)


def create_topic(bootstrap, name, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=20)


def produce_spread(bootstrap, topic, partitions, count, tag):
    """`count` records, record i to partition i % partitions with value `{tag}-{i}`; returns
    {value: (partition, offset)}."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    reports = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            reports[msg.value()] = (msg.partition(), msg.offset())

    for i in range(count):
        producer.produce(topic, value=f"{tag}-{i}".encode(), key=str(i).encode(),
                         partition=i % partitions, on_delivery=on_delivery)
    assert producer.flush(20) == 0, "records still queued after 20 s"
    assert not errors, errors
    assert len(reports) == count
    return reports


class Member:
    """What one group member has seen, shared between its poll thread and the test."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.assignment = frozenset()
        self.events = []  # (monotonic time, "assign" | "revoke" | "lost", partitions)
        self.records = []  # (partition, offset, value, round)
        self.errors = []
        self.rounds = 0
        self._calls = queue.Queue()
        self._stop = threading.Event()
        self.thread = None

    # -- called from the poll thread -----------------------------------------------------------

    def _assigned(self, partitions, incremental=False):
        partitions = frozenset(partitions)
        with self.lock:
            self.rounds += 1
            self.assignment = (self.assignment | partitions) if incremental else partitions
            self.events.append((time.monotonic(), "assign", partitions))

    def _revoked(self, partitions, kind="revoke"):
        partitions = frozenset(partitions)
        with self.lock:
            self.assignment = self.assignment - frozenset(partitions)
            self.events.append((time.monotonic(), kind, frozenset(partitions)))

    def _record(self, partition, offset, value):
        with self.lock:
            self.records.append((partition, offset, value, self.rounds))

    def _error(self, error):
        with self.lock:
            self.errors.append(error)

    def _take_call(self):
        try:
            return self._calls.get_nowait()
        except queue.Empty:
            return None

    # -- called from the test ------------------------------------------------------------------

    def call(self, fn, timeout=30):
        """Runs fn(client) on the poll thread and returns its result (raises what it raised)."""
        done = queue.Queue()
        self._calls.put((fn, done))
        ok, value = done.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def snapshot(self):
        with self.lock:
            return {
                "assignment": self.assignment,
                "events": list(self.events),
                "records": list(self.records),
                "errors": list(self.errors),
                "rounds": self.rounds,
            }

    def values(self):
        with self.lock:
            return [r[2] for r in self.records]

    def stop(self, timeout=30):
        """Closes the client (a clean LeaveGroup) on its thread and waits for it."""
        self.request_stop()
        self.join(timeout)

    def request_stop(self):
        self._stop.set()

    def join(self, timeout=30):
        if self.thread is not None:
            self.thread.join(timeout)
            assert not self.thread.is_alive(), f"member {self.name} did not close in {timeout} s"

    def start(self):
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()
        return self


def _serve(member, client):
    """Runs the calls the test queued for this member, on the poll thread."""
    while (item := member._take_call()) is not None:
        fn, done = item
        try:
            done.put((True, fn(client)))
        except Exception as e:  # handed back to the caller
            done.put((False, e))


async def _serve_async(member, client):
    while (item := member._take_call()) is not None:
        fn, done = item
        try:
            result = fn(client)
            if asyncio.iscoroutine(result):
                result = await result
            done.put((True, result))
        except Exception as e:
            done.put((False, e))


class ConfluentMember(Member):
    """A confluent-kafka Consumer subscribed to `topics` in `group`."""

    def __init__(self, name, bootstrap, group, topics, commit_on_revoke=False, **config):
        super().__init__(name)
        from confluent_kafka import Consumer, KafkaError, KafkaException

        def on_revoke(consumer, partitions):
            if commit_on_revoke and partitions:
                # The usual pattern: commit what was consumed before giving partitions up.
                try:
                    consumer.commit(asynchronous=False)
                except KafkaException as e:
                    if e.args[0].code() != KafkaError._NO_OFFSET:
                        self._error(e.args[0])
            self._revoked(p.partition for p in partitions)

        self.config = {"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                       **CONFLUENT_FAST, **config}
        self.consumer = Consumer(self.config)
        # With cooperative-sticky, callbacks carry only the partitions added or taken away.
        incremental = self.config.get("partition.assignment.strategy") == "cooperative-sticky"
        self.consumer.subscribe(
            list(topics),
            on_assign=lambda c, ps: self._assigned((p.partition for p in ps), incremental),
            on_revoke=on_revoke,
            on_lost=lambda c, ps: self._revoked((p.partition for p in ps), "lost"),
        )
        self.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                _serve(self, self.consumer)
                msg = self.consumer.poll(0.1)
                if msg is None:
                    continue
                if msg.error() is not None:
                    self._error(msg.error())
                    continue
                self._record(msg.partition(), msg.offset(), msg.value())
        finally:
            self.consumer.close()


class KafkaPythonMember(Member):
    """A kafka-python KafkaConsumer subscribed to `topics` in `group`."""

    def __init__(self, name, bootstrap, group, topics, **config):
        super().__init__(name)
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        member = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                member._revoked(tp.partition for tp in revoked)

            def on_partitions_assigned(self, assigned):
                member._assigned(tp.partition for tp in assigned)

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=name,
                                      **{**KP_FAST, **config})
        self.consumer.subscribe(list(topics), listener=Listener())
        # Fetch the topics' metadata before the first join: a leader that has none yet assigns
        # nothing and rejoins once it arrives, an extra rebalance some tests must not see.
        for topic in topics:
            assert self.consumer.partitions_for_topic(topic), f"no metadata for {topic}"
        self.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                _serve(self, self.consumer)
                try:
                    batches = self.consumer.poll(timeout_ms=100)
                except Exception as e:  # recorded; the test decides whether it matters
                    self._error(e)
                    time.sleep(0.1)
                    continue
                for batch in batches.values():
                    for m in batch:
                        self._record(m.partition, m.offset, m.value)
        finally:
            self.consumer.close()


class AioKafkaMember(Member):
    """An aiokafka AIOKafkaConsumer subscribed to `topics` in `group`, on its own event loop."""

    def __init__(self, name, bootstrap, group, topics, **config):
        super().__init__(name)
        self.args = (bootstrap, group, list(topics), config)
        self._started = threading.Event()
        self._start_error = None
        self.start()
        assert self._started.wait(30), f"aiokafka member {name} did not start"
        if self._start_error is not None:
            raise self._start_error

    def _run(self):
        asyncio.run(self._main())

    async def _main(self):
        from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

        bootstrap, group, topics, config = self.args
        member = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                member._revoked(tp.partition for tp in revoked)

            def on_partitions_assigned(self, assigned):
                member._assigned(tp.partition for tp in assigned)

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=self.name,
                                    **{**KP_FAST, **config})
        try:
            consumer.subscribe(topics, listener=Listener())
            await consumer.start()
        except Exception as e:
            self._start_error = e
            self._started.set()
            return
        self._started.set()
        try:
            while not self._stop.is_set():
                await _serve_async(self, consumer)
                batches = await consumer.getmany(timeout_ms=100)
                for batch in batches.values():
                    for m in batch:
                        self._record(m.partition, m.offset, m.value)
        finally:
            await consumer.stop()


class MemberProcess(Member):
    """A ConfluentMember in a subprocess (this file run as a script), to be killed."""

    def __init__(self, name, bootstrap, group, topic, **config):
        super().__init__(name)
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "kafka_group_support.py"), bootstrap, group, topic,
             json.dumps({"client.id": name, **config})],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE,
        )
        self.stderr = []
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.start()

    def _run(self):
        for raw in self.proc.stdout:
            event = json.loads(raw)
            if "assign" in event:
                self._assigned(event["assign"])
            elif "revoke" in event:
                self._revoked(event["revoke"], event.get("kind", "revoke"))
            elif "record" in event:
                p, o, v = event["record"]
                self._record(p, o, v.encode())
            elif "error" in event:
                self._error(event["error"])

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode("utf-8", "replace").rstrip())

    def kill(self):
        """SIGKILL: the member vanishes without a LeaveGroup."""
        self.proc.kill()
        self.proc.wait(10)
        self.join(10)

    def stop(self, timeout=30):
        """SIGTERM: the script closes its consumer (a LeaveGroup) and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"member process {self.name} ignored SIGTERM:\n" + "\n".join(self.stderr))
        self.join(10)


def covers(members, partitions):
    """True when every member holds a non-empty assignment, no partition is held twice and all
    `partitions` are held: with eager assignors, a settled generation."""
    held = [m.snapshot()["assignment"] for m in members]
    if any(not a for a in held):
        return False
    union = frozenset().union(*held)
    return sum(len(a) for a in held) == len(union) and union == frozenset(range(partitions))


def stop_all(members):
    """Asks every member to stop, then waits for each (so they leave in parallel)."""
    for m in members:
        m.request_stop()
    for m in members:
        m.join()


def describe(members):
    """The members' assignments and event lists, for assertion messages."""
    lines = []
    for m in members:
        s = m.snapshot()
        lines.append(f"{m.name}: assignment={sorted(s['assignment'])} records={len(s['records'])} "
                     f"errors={s['errors'][:3]} events={[(k, sorted(p)) for _, k, p in s['events']]}")
    return "\n".join(lines)


def _main(bootstrap, group, topic, config_json):
    from confluent_kafka import Consumer

    config = json.loads(config_json)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, **CONFLUENT_FAST, **config})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def emit(event):
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    consumer.subscribe(
        [topic],
        on_assign=lambda c, ps: emit({"assign": [p.partition for p in ps]}),
        on_revoke=lambda c, ps: emit({"revoke": [p.partition for p in ps]}),
        on_lost=lambda c, ps: emit({"revoke": [p.partition for p in ps], "kind": "lost"}),
    )
    try:
        while not stop.is_set():
            msg = consumer.poll(0.1)
            if msg is None:
                continue
            if msg.error() is not None:
                emit({"error": str(msg.error())})
                continue
            emit({"record": [msg.partition(), msg.offset(), msg.value().decode()]})
    finally:
        consumer.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    _main(*sys.argv[1:5])
