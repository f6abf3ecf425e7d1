"""Kafka benchmark: librdkafka (confluent-kafka) producer -> hubgate -> consumer.

Phase 1, throughput: N records of --size bytes, acks=all, as fast as the producer goes;
reports MB/s and records/s from the first send to the last delivery report.
Phase 2, catch-up: the consumer reads those records back from offset 0 (stored batches are
served as stored); reports MB/s.
Phase 3, latency: records sent at --rate per second (about half of what phase 1 reached is a
fair load) while a consumer reads them; each value carries its send time, so the consumer
measures produce->consume latency. Produce->ack latency comes from the delivery reports.

Run against a release build (it starts the gateway with a temporary data directory and the
default, durable settings unless --bootstrap is given):

    cargo build --release -p hubgate
    .venv/bin/python protocols/kafka/bench/produce_consume.py --hubgate target/release/hubgate
"""

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def start_gateway(binary, data_dir, extra=()):
    proc = subprocess.Popen(
        [binary, "--log-format", "json", "serve", "--data-dir", data_dir,
         "--kafka-listen", "127.0.0.1:0", "--amqp-listen", "off", "--http-listen", "off", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    addr = None
    for raw in proc.stderr:
        event = json.loads(raw)
        fields = event.get("fields", {})
        if fields.get("message") == "listening" and fields.get("protocol") == "kafka":
            addr = fields["addr"]
        if fields.get("message") == "hubgate ready":
            break
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    if addr is None:
        raise RuntimeError("gateway did not start")
    return proc, addr


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def throughput(bootstrap, topic, count, size):
    producer = Producer({
        "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
        "batch.size": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
        "queue.buffering.max.messages": 1_000_000, "compression.type": "none",
    })
    value = os.urandom(size)
    delivered = [0]
    errors = [0]

    def on_delivery(err, _msg):
        if err is None:
            delivered[0] += 1
        else:
            errors[0] += 1

    started = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce(topic, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    assert errors[0] == 0 and delivered[0] == count, (delivered, errors)
    return count * size / elapsed / 1e6, count / elapsed


def catch_up(bootstrap, topic, partitions, count):
    """Reads the first `count` records back from offset 0 as fast as the consumer goes."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
        "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760,
    })
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    received = 0
    size = 0
    started = time.perf_counter()
    while received < count:
        for m in consumer.consume(10_000, 1.0):
            if m.error() is None:
                received += 1
                size += len(m.value())
    elapsed = time.perf_counter() - started
    consumer.close()
    return size / elapsed / 1e6, received / elapsed


def latency(bootstrap, topic, partitions, rate, seconds, size):
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
        "fetch.wait.max.ms": 100, "fetch.min.bytes": 1,
    })
    ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)]
    consumer.assign([TopicPartition(topic, p, ends[p]) for p in range(partitions)])
    total = rate * seconds
    e2e = []
    done = threading.Event()

    def consume():
        # One message per call: consume(n, timeout) would hold messages back until n arrive.
        while len(e2e) < total and not done.is_set():
            m = consumer.poll(0.1)
            if m is not None and m.error() is None:
                sent = struct.unpack_from(">d", m.value(), 0)[0]
                e2e.append(time.perf_counter() - sent)

    reader = threading.Thread(target=consume)
    reader.start()
    time.sleep(1.0)  # let the consumer park its fetches
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 1})
    acks = []
    padding = os.urandom(size - 8)
    started = time.perf_counter()
    for i in range(total):
        target = started + i / rate
        now = time.perf_counter()
        if target > now:
            time.sleep(target - now)
        sent = time.perf_counter()
        producer.produce(
            topic, value=struct.pack(">d", sent) + padding,
            on_delivery=lambda err, _m, sent=sent: acks.append(time.perf_counter() - sent),
        )
        producer.poll(0)
    producer.flush(60)
    reader.join(30)
    done.set()
    consumer.close()
    return acks, e2e


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hubgate", default="target/release/hubgate")
    parser.add_argument("--bootstrap", help="use a running gateway instead of starting one")
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=int, default=20_000, help="records/s in the latency phase")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    proc = data_dir = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        data_dir = tempfile.mkdtemp(prefix="hubgate-bench-")
        proc, bootstrap = start_gateway(args.hubgate, data_dir)
    try:
        topic = f"bench-{int(time.time())}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for f in admin.create_topics([NewTopic(topic, args.partitions, 1)]).values():
            f.result(20)
        mbps, rps = throughput(bootstrap, topic, args.records, args.size)
        print(f"produce: {args.records} x {args.size} B, acks=all: {mbps:.1f} MB/s, {rps:,.0f} records/s")
        mbps, rps = catch_up(bootstrap, topic, args.partitions, args.records)
        print(f"catch-up fetch of those records: {mbps:.1f} MB/s, {rps:,.0f} records/s")
        acks, e2e = latency(bootstrap, topic, args.partitions, args.rate, args.seconds, args.size)
        ms = lambda v: f"{v * 1000:.2f} ms"  # noqa: E731
        print(f"latency at {args.rate} records/s for {args.seconds} s ({len(e2e)} consumed):")
        print(f"  produce->ack      p50 {ms(percentile(acks, 50))}  p99 {ms(percentile(acks, 99))}")
        print(f"  produce->consume  p50 {ms(percentile(e2e, 50))}  p99 {ms(percentile(e2e, 99))}")
        assert len(e2e) == args.rate * args.seconds, "records lost in the latency phase"
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
