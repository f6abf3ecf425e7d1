"""Kafka transactions benchmark: a confluent-kafka (librdkafka) transactional producer against
hubgate, next to the same producer without transactions.

For each transaction size (default 1 and 100 records of --size bytes) it runs transactions
back to back for --seconds (begin, produce, commit; each commit waits for the markers to be
durable) and reports transactions/s and records/s; then it sends the same records without
transactions (acks=all, idempotent) for the non-transactional rate.

Run against a release build (it starts the gateway with a temporary data directory and the
default, durable settings unless --bootstrap is given):

    cargo build --release -p hubgate
    .venv/bin/python protocols/kafka/bench/transactions.py --hubgate target/release/hubgate
"""

import argparse
import shutil
import tempfile
import time
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from produce_consume import start_gateway


def transactional(bootstrap, topic, per_txn, size, seconds, partitions):
    producer = Producer({
        "bootstrap.servers": bootstrap, "transactional.id": "bench-" + uuid.uuid4().hex,
        "linger.ms": 1,
    })
    producer.init_transactions(30)
    value = b"x" * size
    txns = records = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        producer.begin_transaction()
        for i in range(per_txn):
            producer.produce(topic, value=value, partition=(records + i) % partitions)
        producer.commit_transaction(60)
        txns += 1
        records += per_txn
    elapsed = time.monotonic() - start
    return txns / elapsed, records / elapsed


def plain(bootstrap, topic, per_batch, size, seconds, partitions):
    """Non-transactional: `per_batch` records, then a flush (so a batch of 1 is one round trip,
    as a one-record transaction is), for --seconds."""
    producer = Producer({
        "bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
        "linger.ms": 1,
    })
    value = b"x" * size
    records = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for i in range(per_batch):
            producer.produce(topic, value=value, partition=(records + i) % partitions)
        producer.flush(60)
        records += per_batch
    elapsed = time.monotonic() - start
    return records / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hubgate", default="target/release/hubgate")
    parser.add_argument("--bootstrap", help="use a running gateway instead of starting one")
    parser.add_argument("--size", type=int, default=1024, help="record size in bytes")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--sizes", default="1,100", help="records per transaction")
    args = parser.parse_args()

    data_dir = proc = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        data_dir = tempfile.mkdtemp(prefix="hubgate-bench-")
        proc, bootstrap = start_gateway(args.hubgate, data_dir)
    try:
        topic = "txn-bench-" + uuid.uuid4().hex[:8]
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for f in admin.create_topics([NewTopic(topic, args.partitions, 1)]).values():
            f.result(20)
        print("| records per transaction | transactions/s | records/s | non-transactional records/s (flush every N) |")
        print("|---|---|---|---|")
        for n in (int(s) for s in args.sizes.split(",")):
            txn_rate, rec_rate = transactional(bootstrap, topic, n, args.size, args.seconds, args.partitions)
            plain_rate = plain(bootstrap, topic, n, args.size, args.seconds, args.partitions)
            print(f"| {n} | {txn_rate:,.0f} | {rec_rate:,.0f} | {plain_rate:,.0f} |", flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
