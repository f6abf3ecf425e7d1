"""Stand-in for the `test/service.py` module that kafka-python's source package leaves out.

kafka-python's integration fixtures import `ExternalService` (a broker someone else runs) and
`SpawnedService` (a broker they start from a Kafka distribution). hubgate's suite always points
them at a running gateway, so only the external form does anything.
"""


class ExternalService:
    """A broker that is already running at `host:port`; nothing to start or stop."""

    def __init__(self, host, port):
        self.host = host
        self.port = port

    def open(self):
        pass

    def close(self):
        pass

    def start(self):
        pass

    def stop(self):
        pass

    def dump_logs(self):
        pass

    def wait_for(self, pattern, timeout=30):
        return True


class SpawnedService:
    """Starting a Kafka distribution is not supported: the suite runs against hubgate."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("the integration suite runs only against an external broker (KAFKA_URI)")
