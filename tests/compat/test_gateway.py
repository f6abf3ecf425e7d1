"""The harness itself: the gateway starts on ephemeral ports, reports them, and stops cleanly."""

import socket


def test_listeners_are_bound_and_reported(start_gateway):
    gw = start_gateway()
    for protocol in ("kafka", "amqp", "http"):
        with socket.create_connection(("127.0.0.1", gw.port(protocol)), timeout=5):
            pass
    assert gw.stop() == 0


def test_off_listener_is_not_bound(start_gateway):
    gw = start_gateway("--amqp-listen", "off")
    assert "amqp" not in gw.addrs
    assert gw.stop() == 0
