"""Fixtures that point azure-eventhub's live test suite at a running hubgate instead of a
namespace created through Azure Resource Manager. Installed as `tests/livetest/conftest.py`
of the unpacked source package, so these override the fixtures of the same name there.

Every test gets its own event hub with two partitions, created over hubgate's admin route
(`PUT /admin/hubs/{hub}` with a Manage SAS token) as the suite's own fixture creates one per
test through Resource Manager; the gateway runs without auto-creation, so the suite's tests of
missing hubs see them missing. The gateway's address and policy come from
`HUBGATE_SUITE_HOST`, `HUBGATE_SUITE_KEY_NAME` and `HUBGATE_SUITE_KEY`.
"""

import base64
import hashlib
import hmac
import os
import time
import urllib.parse
import uuid

import pytest
import requests

CONN_STR = "Endpoint=sb://{}/;SharedAccessKeyName={};SharedAccessKey={};EntityPath={}"


@pytest.fixture()
def live_eventhub():
    host = os.environ["HUBGATE_SUITE_HOST"]
    key_name = os.environ["HUBGATE_SUITE_KEY_NAME"]
    key = os.environ["HUBGATE_SUITE_KEY"]
    hub = "eh" + uuid.uuid4().hex
    resource = f"https://{host}/{hub}"
    expiry = int(time.time()) + 3600
    signed = f"{urllib.parse.quote_plus(resource)}\n{expiry}".encode()
    signature = base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()
    token = (f"SharedAccessSignature sr={urllib.parse.quote_plus(resource)}"
             f"&sig={urllib.parse.quote_plus(signature)}&se={expiry}&skn={key_name}")
    created = requests.put(f"https://{host}/admin/hubs/{hub}", json={"partitions": 2},
                           headers={"Authorization": token}, timeout=30,
                           verify=os.environ["HUBGATE_SUITE_CA_BUNDLE"])
    assert created.status_code == 201, created.text
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
