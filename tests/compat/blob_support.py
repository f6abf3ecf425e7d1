"""Shared pieces of the Blob checkpoint-store tests: connection strings, hubs, sends, and an
event processor (sync or aio `BlobCheckpointStore`) that checkpoints every event it receives."""

import asyncio
import json
import threading
import time

import requests
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.storage.blob import BlobServiceClient

DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def storage_conn(gateway, account="devstoreaccount1", key=DEV_KEY):
    """The explicit form every store accepts (Python 1.2.0 refuses UseDevelopmentStorage=true)."""
    endpoint = "http://" + gateway.addrs["blob"] + "/" + account
    return (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint={endpoint};"
    )


def eventhub_conn(gateway, hub):
    return (
        f"Endpoint=sb://{gateway.amqp};SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey=c2VjcmV0;UseDevelopmentEmulator=true;EntityPath={hub}"
    )


def create_container(gateway, name):
    BlobServiceClient.from_connection_string(storage_conn(gateway)).create_container(name)


def create_hub(gateway, hub, partitions):
    r = requests.put(f"{gateway.http}/admin/hubs/{hub}", json={"partitions": partitions}, timeout=10)
    assert r.status_code == 201, r.text


def send(gateway, hub, bodies_by_partition):
    """Sends {partition: [body, ...]} as one batch per partition."""
    producer = EventHubProducerClient.from_connection_string(eventhub_conn(gateway, hub))
    with producer:
        for partition, bodies in bodies_by_partition.items():
            batch = producer.create_batch(partition_id=str(partition))
            for body in bodies:
                batch.add(EventData(body))
            producer.send_batch(batch)


def bodies(prefix, partitions, per_partition):
    return {p: [f"{prefix}-{p}-{i}" for i in range(per_partition)] for p in range(partitions)}


def flat(by_partition):
    return sorted(b for bs in by_partition.values() for b in bs)


def store_for(kind, gateway, container):
    if kind == "aio":
        from azure.eventhub.extensions.checkpointstoreblobaio import BlobCheckpointStore
    else:
        from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore
    return BlobCheckpointStore.from_connection_string(storage_conn(gateway), container)


# Short load-balancing cycles so ownership settles in seconds (expiry stays 6 × interval).
BALANCING = {"load_balancing_interval": 1.0}


class Processor:
    """An `EventHubConsumerClient` with a Blob checkpoint store, in a background thread; every
    event is checkpointed before the next is counted."""

    def __init__(self, kind, gateway, hub, container, starting_position="-1"):
        self.kind = kind
        self.received = []
        self.errors = []
        self._lock = threading.Lock()
        self._args = (gateway, hub, container, starting_position)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        gateway, hub, container, start = self._args
        if self.kind == "aio":
            asyncio.run(self._run_aio(gateway, hub, container, start))
            return
        client = EventHubConsumerClient.from_connection_string(
            eventhub_conn(gateway, hub),
            consumer_group="$Default",
            checkpoint_store=store_for("sync", gateway, container),
            **BALANCING,
        )
        self._client = client

        def on_event(ctx, event):
            ctx.update_checkpoint(event)
            with self._lock:
                self.received.append(event.body_as_str())

        def on_error(ctx, error):
            self.errors.append(repr(error))

        closer = threading.Thread(target=lambda: (self._stop.wait(), client.close()), daemon=True)
        closer.start()
        client.receive(on_event=on_event, on_error=on_error, starting_position=start)

    async def _run_aio(self, gateway, hub, container, start):
        from azure.eventhub.aio import EventHubConsumerClient as AioClient

        store = store_for("aio", gateway, container)
        client = AioClient.from_connection_string(
            eventhub_conn(gateway, hub),
            consumer_group="$Default",
            checkpoint_store=store,
            **BALANCING,
        )

        async def on_event(ctx, event):
            await ctx.update_checkpoint(event)
            with self._lock:
                self.received.append(event.body_as_str())

        async def on_error(ctx, error):
            self.errors.append(repr(error))

        task = asyncio.ensure_future(client.receive(on_event=on_event, on_error=on_error, starting_position=start))
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        await client.close()
        await asyncio.wait_for(task, 30)
        await store.close()

    def wait_for(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{self.kind} processor got {len(self.received)} of {count}: errors {self.errors}")

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the processor did not stop"
        return list(self.received)


def list_blobs(gateway, container, prefix):
    client = BlobServiceClient.from_connection_string(storage_conn(gateway)).get_container_client(container)
    return {b.name: b for b in client.list_blobs(name_starts_with=prefix, include=["metadata"])}


def emit(**event):
    print(json.dumps(event), flush=True)
