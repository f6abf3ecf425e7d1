"""Webhooks with GitHub-, Stripe- and generic-style HMAC signatures computed here: valid,
wrong secret, tampered body and stale timestamp; refused requests store nothing."""

import hashlib
import hmac
import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests
from conftest import Gateway

from test_http_support import assert_error, headers_of, kafka_read, stored_counts

GITHUB_SECRET = "It's a Secret to Everybody"
STRIPE_SECRET = "whsec_compat_test"
GENERIC_SECRET = "generic-secret"


@pytest.fixture(scope="module")
def hooks_gateway():
    directory = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    config = directory / "hubgate.toml"
    config.write_text(
        f"""
[webhooks.gh-events]
signature = "github"
secret = "{GITHUB_SECRET}"
partition_key_pointer = "/repository/full_name"

[webhooks.stripe-events]
signature = "stripe"
secret = "{STRIPE_SECRET}"
tolerance_secs = 300
headers = ["Stripe-Signature"]

[webhooks.generic-events]
signature = "hmac"
secret = "{GENERIC_SECRET}"
header = "X-Signature"
prefix = "sha256="
partition_key_header = "X-Tenant"
headers = ["X-Tenant"]
"""
    )
    gw = Gateway(directory / "data", ["--config", str(config)]).start()
    yield gw
    gw.kill()
    shutil.rmtree(directory, ignore_errors=True)


def github_sig(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def stripe_sig(secret, body, t):
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def hub_exists(gw, hub):
    return requests.get(f"{gw.http}/{hub}", timeout=10).status_code == 200


def test_http_webhook_github(hooks_gateway):
    gw, hub = hooks_gateway, "gh-events"
    body = json.dumps({"action": "opened", "repository": {"full_name": "octo/hello"}}).encode()
    base = {"Content-Type": "application/json", "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-1"}
    url = f"{gw.http}/webhooks/{hub}"
    cases = [
        {**base, "X-Hub-Signature-256": github_sig("wrong secret", body)},
        {**base, "X-Hub-Signature-256": github_sig(GITHUB_SECRET, body + b" ")},  # signed other bytes
        base,  # unsigned
    ]
    for headers in cases:
        assert_error(requests.post(url, data=body, headers=headers, timeout=10), 401, "Unauthorized")
    tampered = body.replace(b"opened", b"closed")
    r = requests.post(url, data=tampered, headers={**base, "X-Hub-Signature-256": github_sig(GITHUB_SECRET, body)}, timeout=10)
    assert_error(r, 401, "Unauthorized")
    assert not hub_exists(gw, hub), "a refused webhook must store nothing"

    r = requests.post(url, data=body, headers={**base, "X-Hub-Signature-256": github_sig(GITHUB_SECRET, body)}, timeout=10)
    assert r.status_code == 201, r.text
    assert sum(stored_counts(gw, hub)) == 1
    (m,) = kafka_read(gw, hub, 1)
    assert m.value() == body
    assert m.key() == b"octo/hello"
    h = headers_of(m)
    assert h["content-type"] == b"application/json"
    assert h["x-github-event"] == b"pull_request"
    assert h["x-github-delivery"] == b"d-1"
    assert "x-hub-signature-256" not in h


def test_http_webhook_stripe(hooks_gateway):
    gw, hub = hooks_gateway, "stripe-events"
    body = json.dumps({"id": "evt_1", "type": "charge.succeeded"}).encode()
    url = f"{gw.http}/webhooks/{hub}"
    now = int(time.time())
    refused = [
        stripe_sig(STRIPE_SECRET, body, now - 3600),  # stale timestamp
        stripe_sig("whsec_wrong", body, now),  # wrong secret
        stripe_sig(STRIPE_SECRET, b'{"id":"evt_2"}', now),  # signature of another body
    ]
    for sig in refused:
        r = requests.post(url, data=body, headers={"Stripe-Signature": sig, "Content-Type": "application/json"}, timeout=10)
        assert_error(r, 401, "Unauthorized")
    assert not hub_exists(gw, hub)
    sig = stripe_sig(STRIPE_SECRET, body, now)
    r = requests.post(url, data=body, headers={"Stripe-Signature": sig, "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 201, r.text
    (m,) = kafka_read(gw, hub, 1)
    assert m.value() == body and m.key() is None
    assert headers_of(m)["stripe-signature"] == sig.encode()


def test_http_webhook_generic_hmac_and_header_key(hooks_gateway):
    gw, hub = hooks_gateway, "generic-events"
    url = f"{gw.http}/webhooks/{hub}"
    bodies = [b"alpha", b"beta", b"gamma"]
    for body in bodies:
        sig = "sha256=" + hmac.new(GENERIC_SECRET.encode(), body, hashlib.sha256).hexdigest()
        r = requests.post(url, data=body, headers={"X-Signature": sig, "X-Tenant": "tenant-7"}, timeout=10)
        assert r.status_code == 201, r.text
    r = requests.post(url, data=b"delta", headers={"X-Signature": "sha256=00", "X-Tenant": "tenant-7"}, timeout=10)
    assert_error(r, 401, "Unauthorized")
    counts = stored_counts(gw, hub)
    assert sorted(counts) == [0, 0, 0, 3], "one key, one partition"
    msgs = kafka_read(gw, hub, 3)
    assert [m.value() for m in msgs] == bodies
    assert all(m.key() == b"tenant-7" and headers_of(m)["x-tenant"] == b"tenant-7" for m in msgs)


def test_http_webhook_unconfigured_hub_round_robin(hooks_gateway, hub_name):
    gw = hooks_gateway
    for i in range(8):
        r = requests.post(f"{gw.http}/webhooks/{hub_name}", data=f"e{i}", headers={"Content-Type": "text/plain"}, timeout=10)
        assert r.status_code == 201
    assert stored_counts(gw, hub_name) == [2, 2, 2, 2]
    msgs = kafka_read(gw, hub_name, 8)
    assert sorted(m.value() for m in msgs) == sorted(f"e{i}".encode() for i in range(8))
    assert all(headers_of(m)["content-type"] == b"text/plain" for m in msgs)
