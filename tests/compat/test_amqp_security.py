"""Access policies on AMQP with unmodified clients: azure-eventhub (Python) with real keys over
TLS (the test's CA passed as `connection_verify`) and in emulator mode (plain AMQP), and
python-qpid-proton with SASL PLAIN.

The secured gateway has a Send-only, a Listen-only and a Manage policy with random keys
(`security_support.SecureSetup`). The right policies send and receive; a wrong key is refused;
a Send-only policy cannot receive; a receiver whose fixed SAS token expires (the SDK cannot
refresh a token it was given) is stopped; and no key ever reaches the gateway's log, checked
when each gateway stops, after every test that used it.
"""

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken, AzureSasCredential
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient, TransportType
from azure.eventhub.exceptions import AuthenticationError, ConnectError, ConnectionLostError, EventHubError
from conftest import Gateway
from proton import Message
from proton import ConnectionException
from proton.utils import BlockingConnection

from security_support import receive_from_start as receive
from security_support import SecureSetup, assert_no_secret_in_log

HUB = "secured"
PARTITIONS = 2
HUBS_TOML = f"[hubs.{HUB}]\npartitions = {PARTITIONS}\n"


def _secured_gateway(tls: bool):
    directory = Path(tempfile.mkdtemp(prefix="hubgate-compat-"))
    setup = SecureSetup(directory / "setup", tls=tls, extra_toml=HUBS_TOML)
    # Debug level, so that the check for keys in the log covers everything the front end logs.
    flags = [*setup.args(), "--kafka-listen", "off", "--http-listen", "off"]
    gw = Gateway(directory / "data", flags, env={"RUST_LOG": "debug"}).start()
    return directory, setup, gw


def check_log(gw, setup):
    """No key in the whole log, which holds the front end's debug lines about credentials."""
    log = gw.full_log()
    assert any(line in log for line in ("token accepted", "token refused", "SASL PLAIN")), gw.log()
    assert_no_secret_in_log(log, setup.keys())


@pytest.fixture(scope="module")
def tls_gateway():
    directory, setup, gw = _secured_gateway(tls=True)
    yield setup, gw
    try:
        check_log(gw, setup)
    finally:
        gw.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def emulator_gateway():
    directory, setup, gw = _secured_gateway(tls=False)
    yield setup, gw
    try:
        check_log(gw, setup)
    finally:
        gw.kill()
        shutil.rmtree(directory, ignore_errors=True)


def client_args(setup, gw, policy, key=None):
    """`from_connection_string` arguments for `policy` (with `key` in place of its own)."""
    if setup.ca is None:
        text = setup.connection_string(policy, f"sb://{gw.amqp}", HUB) + ";UseDevelopmentEmulator=true"
        extra = {}
    else:
        # A TLS client dials 5671 unless given the gateway's port as a custom endpoint.
        text = setup.connection_string(policy, "sb://localhost", HUB)
        extra = {
            "custom_endpoint_address": f"sb://localhost:{gw.port('amqp')}",
            "transport_type": TransportType.Amqp,
            "connection_verify": str(setup.ca.cert),
        }
    if key is not None:
        text = text.replace(setup.policies[policy].key, key)
    return text, extra


def producer(setup, gw, policy, key=None, **kwargs):
    text, extra = client_args(setup, gw, policy, key)
    return EventHubProducerClient.from_connection_string(text, **extra, **kwargs)


def consumer(setup, gw, policy, key=None, **kwargs):
    text, extra = client_args(setup, gw, policy, key)
    return EventHubConsumerClient.from_connection_string(text, consumer_group="$Default", **extra, **kwargs)


@pytest.fixture(params=["tls", "emulator"])
def secured(request):
    return request.getfixturevalue(f"{request.param}_gateway")


def test_right_policies_send_and_receive(secured):
    setup, gw = secured
    tag = f"{time.time_ns()}"
    with producer(setup, gw, "sender") as p:
        batch = p.create_batch(partition_id="0")
        for i in range(3):
            batch.add(EventData(f"{tag}-{i}"))
        p.send_batch(batch)
    events, errors = receive(consumer(setup, gw, "listener"), 0, 100, timeout=8)
    assert not errors, errors
    bodies = [e.body_as_str() for e in events]
    assert [b for b in bodies if b.startswith(tag)] == [f"{tag}-{i}" for i in range(3)]
    # Manage implies both: its management reads and sends work too.
    with producer(setup, gw, "admin") as p:
        assert p.get_partition_ids() == [str(i) for i in range(PARTITIONS)]
        p.send_event(EventData(f"{tag}-admin"), partition_id="1")
    events, errors = receive(consumer(setup, gw, "admin"), 1, 100, timeout=8)
    assert not errors, errors
    assert f"{tag}-admin" in [e.body_as_str() for e in events]


def test_wrong_key_is_refused(secured):
    setup, gw = secured
    with producer(setup, gw, "sender", key="not-the-key", retry_total=0) as p:
        with pytest.raises((AuthenticationError, ConnectError)):
            p.send_event(EventData("never stored"), partition_id="0")
    events, errors = receive(consumer(setup, gw, "listener", key="not-the-key", retry_total=0), 0, 1, timeout=15)
    assert not events
    assert errors and isinstance(errors[0], (AuthenticationError, ConnectError)), errors


def test_send_only_policy_cannot_receive_and_listen_only_cannot_send(secured):
    setup, gw = secured
    events, errors = receive(consumer(setup, gw, "sender", retry_total=0), 0, 1, timeout=15)
    assert not events
    # The refused attach (amqp:unauthorized-access, not retried) surfaces as the link's error.
    assert errors and isinstance(errors[0], (AuthenticationError, ConnectionLostError)), errors
    assert "'Listen' claim(s) are required" in str(errors[0]), errors[0]
    with producer(setup, gw, "admin") as admin:
        before = admin.get_partition_properties("0")["last_enqueued_sequence_number"]
        with producer(setup, gw, "listener", retry_total=0) as p:
            # The send link is refused with amqp:unauthorized-access; pyamqp then fails the
            # pending send as not delivered.
            with pytest.raises(EventHubError):
                p.send_event(EventData("never stored"), partition_id="0")
        assert admin.get_partition_properties("0")["last_enqueued_sequence_number"] == before


def sas_token(setup, policy, resource, expiry):
    """A token signed as the SDK signs one (quote_plus(resource) + newline + expiry)."""
    import base64
    import hashlib
    import hmac
    import urllib.parse

    sr = urllib.parse.quote_plus(resource)
    key = setup.policies[policy].key.encode()
    sig = base64.b64encode(hmac.new(key, f"{sr}\n{expiry}".encode(), hashlib.sha256).digest()).decode()
    return "SharedAccessSignature " + urllib.parse.urlencode({"sr": resource, "sig": sig, "se": expiry, "skn": policy})


class FixedToken:
    """A token credential (azure-core's `get_token` protocol) handing out one SAS token and
    claiming it lasts an hour, so the SDK never renews it and never notices it expired: only
    the gateway's detach can stop the receiver."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *_scopes, **_kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.mark.parametrize("credential", ["azure_sas_credential", "token_credential"])
def test_receiver_whose_token_expires_is_detached(emulator_gateway, credential):
    setup, gw = emulator_gateway
    tag = f"{time.time_ns()}"
    with producer(setup, gw, "sender") as p:
        p.send_event(EventData(f"{tag}-before"), partition_id="1")
    expiry = int(time.time()) + 6
    token = sas_token(setup, "listener", f"sb://{gw.amqp}/{HUB}", expiry)
    client = EventHubConsumerClient(
        fully_qualified_namespace=gw.amqp,
        eventhub_name=HUB,
        consumer_group="$Default",
        credential=AzureSasCredential(token) if credential == "azure_sas_credential" else FixedToken(token),
        use_tls=False,
        retry_total=0,
    )
    events, errors = [], []
    failed = threading.Event()

    def on_event(_ctx, event):
        if event is not None:
            events.append(event)

    def on_error(_ctx, error):
        errors.append((time.time(), error))
        failed.set()

    thread = threading.Thread(
        target=client.receive,
        kwargs=dict(on_event=on_event, on_error=on_error, partition_id="1", starting_position="-1", max_wait_time=1),
        daemon=True,
    )
    thread.start()
    assert failed.wait(40), "the receiver was not stopped after its token expired"
    client.close()
    thread.join(15)
    assert f"{tag}-before" in [e.body_as_str() for e in events]
    when, error = errors[0]
    assert when > expiry, (when, expiry, error)
    if credential == "azure_sas_credential":
        # The SDK knows the token's `se` and gives up itself once it has passed.
        assert isinstance(error, AuthenticationError), error
    else:
        # The gateway detached the link with amqp:unauthorized-access (not retried).
        assert isinstance(error, (AuthenticationError, ConnectionLostError)), error
        assert "expired and was not renewed" in str(error), error


def test_proton_sasl_plain_right_and_wrong(emulator_gateway):
    setup, gw = emulator_gateway
    url = f"amqp://{gw.amqp}"
    with pytest.raises(ConnectionException):
        BlockingConnection(url, user="sender", password="wrong", allowed_mechs="PLAIN", timeout=15)
    with pytest.raises(ConnectionException):
        BlockingConnection(url, user="nobody", password=setup.policies["sender"].key, allowed_mechs="PLAIN", timeout=15)
    body = f"proton-{time.time_ns()}"
    send = BlockingConnection(url, user="sender", password=setup.policies["sender"].key, allowed_mechs="PLAIN", timeout=15)
    try:
        send.create_sender(f"{HUB}/Partitions/0", name="s").send(Message(body=body))
    finally:
        send.close()
    listen = BlockingConnection(url, user="listener", password=setup.policies["listener"].key, allowed_mechs="PLAIN", timeout=15)
    try:
        receiver = listen.create_receiver(f"{HUB}/Partitions/0", name="r", credit=100)
        seen = []
        deadline = time.monotonic() + 15
        while body not in seen and time.monotonic() < deadline:
            seen.append(receiver.receive(timeout=10).body)
            receiver.accept()
        assert body in seen
        # The listener may not send.
        with pytest.raises(Exception) as refused:
            listen.create_sender(f"{HUB}/Partitions/0", name="s").send(Message(body="never stored"))
        assert "unauthorized" in str(refused.value).lower(), refused.value
    finally:
        listen.close()
