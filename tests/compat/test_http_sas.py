"""SAS-protected REST routes with tokens made the way the Azure SDKs make them
(quote_plus(resource) + "\\n" + expiry, HMAC-SHA256, base64, urlencoded): 201 with a valid
token, 401 for a bad or expired one, 403 for another hub or a missing right."""

import base64
import hashlib
import hmac
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from conftest import Gateway

from test_http_support import assert_error, kafka_read

SEND_KEY = "c2VuZC1rZXk="
MANAGE_KEY = "bWFuYWdlLWtleQ=="


def sas_token(resource, key_name, key, expiry):
    sr = urllib.parse.quote_plus(resource)
    signed = (sr + "\n" + str(expiry)).encode()
    sig = base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()
    return "SharedAccessSignature " + urllib.parse.urlencode({"sr": resource, "sig": sig, "se": expiry, "skn": key_name})


@pytest.fixture(scope="module")
def sas_gateway():
    directory = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    config = directory / "hubgate.toml"
    config.write_text(
        f"""
[policies.sender]
key = "{SEND_KEY}"
rights = ["send"]

[policies.RootManageSharedAccessKey]
key = "{MANAGE_KEY}"
rights = ["manage"]
"""
    )
    gw = Gateway(directory / "data", ["--config", str(config)]).start()
    yield gw
    gw.kill()
    shutil.rmtree(directory, ignore_errors=True)


def test_http_sas_send_401_403(sas_gateway, hub_name):
    gw = sas_gateway
    url = f"{gw.http}/{hub_name}/messages"
    later = int(time.time()) + 3600
    resource = f"https://ns.servicebus.windows.net/{hub_name}"
    good = sas_token(resource, "sender", SEND_KEY, later)
    r = requests.post(url, data="authorized", headers={"Authorization": good, "BrokerProperties": '{"PartitionKey":"p"}'}, timeout=10)
    assert r.status_code == 201, r.text

    for auth in [
        None,
        sas_token(resource, "sender", "wrong-key", later),
        sas_token(resource, "sender", SEND_KEY, int(time.time()) - 10),
        sas_token(resource, "nobody", SEND_KEY, later),
        good.replace("se=", "se=1"),
    ]:
        headers = {"Authorization": auth} if auth else {}
        assert_error(requests.post(url, data="refused", headers=headers, timeout=10), 401, "Unauthorized")
    other_hub = sas_token("https://ns.servicebus.windows.net/other-hub", "sender", SEND_KEY, later)
    assert_error(requests.post(url, data="refused", headers={"Authorization": other_hub}, timeout=10), 403, "Forbidden")
    # Sending needs Send; creating hubs needs Manage.
    admin_url = f"{gw.http}/admin/hubs/{hub_name}-new"
    assert_error(requests.put(admin_url, json={"partitions": 1}, headers={"Authorization": good}, timeout=10), 403, "Forbidden")
    manage = sas_token("sb://ns.servicebus.windows.net/", "RootManageSharedAccessKey", MANAGE_KEY, later)
    assert requests.put(admin_url, json={"partitions": 1}, headers={"Authorization": manage}, timeout=10).status_code == 201

    # Reads need a token too (Manage implies Listen); only the authorized event was stored.
    assert_error(requests.get(f"{gw.http}/{hub_name}/partitions/0", timeout=10), 401, "Unauthorized")
    counts = []
    for p in range(4):
        r = requests.get(f"{gw.http}/{hub_name}/partitions/{p}", headers={"Authorization": manage}, timeout=10)
        assert r.status_code == 200, r.text
        counts.append(r.json()["last_enqueued_sequence_number"] + 1)
    assert sorted(counts) == [0, 0, 0, 1]
    # With policies, Kafka clients authenticate too: SASL PLAIN with the policy name and key.
    sasl = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "RootManageSharedAccessKey",
        "sasl.password": MANAGE_KEY,
    }
    (m,) = kafka_read(gw, hub_name, 1, **sasl)
    assert m.value() == b"authorized" and m.key() == b"p"
