"""Fixtures that point azure-eventhub's live test suite at a running hubgate instead of a
namespace created through Azure Resource Manager. Installed as `tests/livetest/conftest.py`
of the unpacked source package, so these override the fixtures of the same name there.

Every test gets its own event hub, auto-created with two partitions on first use, as the
suite's own fixture creates one per test. The gateway's address and policy come from
`HUBGATE_SUITE_HOST`, `HUBGATE_SUITE_KEY_NAME` and `HUBGATE_SUITE_KEY`.
"""

import os
import uuid

import pytest

CONN_STR = "Endpoint=sb://{}/;SharedAccessKeyName={};SharedAccessKey={};EntityPath={}"


@pytest.fixture()
def live_eventhub():
    host = os.environ["HUBGATE_SUITE_HOST"]
    key_name = os.environ["HUBGATE_SUITE_KEY_NAME"]
    key = os.environ["HUBGATE_SUITE_KEY"]
    hub = "eh" + uuid.uuid4().hex
    yield {
        "resource_group": "hubgate",
        "hostname": host,
        "key_name": key_name,
        "access_key": key,
        "namespace": host,
        "event_hub": hub,
        "consumer_group": "$Default",
        "partition": "0",
        "connection_str": CONN_STR.format(host, key_name, key, hub),
    }
