"""One event processor process for the load-balancing test: a sync `EventHubConsumerClient`
with a Blob checkpoint store, printing a JSON line whenever it starts or stops consuming a
partition, and closing cleanly (releasing its ownerships) on SIGTERM.

Usage: blob_processor.py BLOB_ADDR AMQP_ADDR HUB CONTAINER
"""

import json
import signal
import sys
import threading

from azure.eventhub import EventHubConsumerClient
from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore

from blob_support import BALANCING, DEV_KEY


def main():
    blob, amqp, hub, container = sys.argv[1:5]
    store = BlobCheckpointStore.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{blob}/devstoreaccount1;",
        container,
    )
    client = EventHubConsumerClient.from_connection_string(
        f"Endpoint=sb://{amqp};SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0;"
        f"UseDevelopmentEmulator=true;EntityPath={hub}",
        consumer_group="$Default",
        checkpoint_store=store,
        **BALANCING,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def say(**event):
        print(json.dumps(event), flush=True)

    def on_event(ctx, event):
        if event is not None:
            ctx.update_checkpoint(event)

    threading.Thread(target=lambda: (stop.wait(), client.close()), daemon=True).start()
    client.receive(
        on_event=on_event,
        on_partition_initialize=lambda ctx: say(event="init", partition=ctx.partition_id),
        on_partition_close=lambda ctx, reason: say(event="close", partition=ctx.partition_id),
        starting_position="-1",
    )
    say(event="stopped")


if __name__ == "__main__":
    main()
