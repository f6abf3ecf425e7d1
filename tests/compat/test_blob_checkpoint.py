"""The Event Hubs Blob checkpoint stores against hubgate alone: azure-eventhub 5.15.1 with
azure-eventhub-checkpointstoreblob 1.2.0 (sync) and -aio 1.2.0, unmodified, using hubgate's
Blob front end for ownership and checkpoints and its AMQP front end for events; Kafka clients
in group `$Default` sharing those checkpoints; and azure-storage-blob's own client for
conditional writes, paging and signatures.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from azure.core import MatchConditions
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceModifiedError
from azure.storage.blob import BlobServiceClient
from confluent_kafka import Consumer, TopicPartition

from blob_support import (
    Processor,
    bodies,
    create_container,
    create_hub,
    flat,
    list_blobs,
    send,
    storage_conn,
)

HERE = Path(__file__).resolve().parent


def checkpoint_prefix(gateway, hub):
    """What the stores list: `{namespace}/{hub}/{group}/checkpoint/`, lower-cased."""
    return f"{gateway.amqp}/{hub}/$default/checkpoint/".lower()


def container_name():
    return "ckpt-" + uuid.uuid4().hex[:12]


@pytest.mark.parametrize("kind", ["sync", "aio"])
def test_a_new_consumer_resumes_after_the_last_checkpoint(gateway, hub_name, kind):
    """N events processed and checkpointed, the consumer stops, M more are sent: a new consumer
    receives exactly the M."""
    container = container_name()
    create_container(gateway, container)
    create_hub(gateway, hub_name, 2)
    first = bodies("first", 2, 5)
    send(gateway, hub_name, first)
    p = Processor(kind, gateway, hub_name, container)
    p.wait_for(10)
    assert sorted(p.stop()) == flat(first), "the first consumer sees each event once"

    prefix = checkpoint_prefix(gateway, hub_name)
    checkpoints = list_blobs(gateway, container, prefix)
    names = sorted(checkpoints)
    assert [n.rsplit("/", 1)[1] for n in names] == ["0", "1"], names
    for name in names:
        assert checkpoints[name].metadata["sequencenumber"] == "4", checkpoints[name].metadata
        assert checkpoints[name].metadata["offset"] == "4"

    second = bodies("second", 2, 3)
    send(gateway, hub_name, second)
    q = Processor(kind, gateway, hub_name, container)
    q.wait_for(6)
    time.sleep(3)  # anything already checkpointed would arrive with the new events
    assert sorted(q.stop()) == flat(second)
    assert not p.errors and not q.errors, (p.errors, q.errors)
