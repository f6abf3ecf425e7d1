"""Raw Kafka frames for the SASL tests: just enough of the wire protocol to drive the server's
SASL state machine by hand (ApiVersions, SaslHandshake, SaslAuthenticate, Metadata), and SAS
token signing as the Azure SDKs do it."""

import base64
import hashlib
import hmac
import socket
import ssl
import struct
import time
import urllib.parse

API_METADATA, API_SASL_HANDSHAKE, API_API_VERSIONS, API_SASL_AUTHENTICATE = 3, 17, 18, 36


def sas_token(policy: str, key: str, resource: str, ttl_secs: float) -> str:
    """A `SharedAccessSignature` token for `resource`, expiring in `ttl_secs`."""
    sr = urllib.parse.quote_plus(resource)
    se = str(int(time.time() + ttl_secs))
    sig = base64.b64encode(hmac.new(key.encode(), f"{sr}\n{se}".encode(), hashlib.sha256).digest()).decode()
    return f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote_plus(sig)}&se={se}&skn={policy}"


class RawKafka:
    """One connection speaking classic (non-flexible) request versions."""

    def __init__(self, addr: str, cafile=None, timeout=5.0):
        host, port = addr.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        if cafile:
            context = ssl.create_default_context(cafile=str(cafile))
            sock = context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.correlation = 0

    def close(self):
        self.sock.close()

    def send(self, api: int, version: int, body: bytes) -> int:
        self.correlation += 1
        client = b"hubgate-raw"
        header = struct.pack(">hhih", api, version, self.correlation, len(client)) + client
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        return self.correlation

    def read_frame(self):
        """The next frame, or None when the server closed the connection."""
        head = self._exactly(4)
        if head is None:
            return None
        (size,) = struct.unpack(">i", head)
        return self._exactly(size)

    def _exactly(self, n: int):
        out = b""
        while len(out) < n:
            try:
                chunk = self.sock.recv(n - len(out))
            except (ConnectionResetError, ssl.SSLError, OSError):
                return None
            if not chunk:
                return None
            out += chunk
        return out

    def request(self, api: int, version: int, body: bytes):
        """Sends a request; returns the response body (after the correlation id) or None."""
        correlation = self.send(api, version, body)
        frame = self.read_frame()
        if frame is None:
            return None
        assert struct.unpack(">i", frame[:4])[0] == correlation
        return frame[4:]

    def api_versions(self):
        return self.request(API_API_VERSIONS, 0, b"")

    def metadata(self):
        """Metadata v1 for every topic (null list)."""
        return self.request(API_METADATA, 1, struct.pack(">i", -1))

    def handshake(self, mechanism: str, version=1):
        """(error code, mechanisms) of a SaslHandshake, or None when closed."""
        body = self.request(API_SASL_HANDSHAKE, version, _string(mechanism))
        if body is None:
            return None
        error, count = struct.unpack(">hi", body[:6])
        mechanisms, rest = [], body[6:]
        for _ in range(count):
            (length,) = struct.unpack(">h", rest[:2])
            mechanisms.append(rest[2 : 2 + length].decode())
            rest = rest[2 + length :]
        return error, mechanisms

    def authenticate(self, token: bytes):
        """(error code, message, auth bytes, session lifetime ms) of a SaslAuthenticate v1."""
        body = self.request(API_SASL_AUTHENTICATE, 1, struct.pack(">i", len(token)) + token)
        if body is None:
            return None
        error, msg_len = struct.unpack(">hh", body[:4])
        rest = body[4:]
        message = None
        if msg_len >= 0:
            message, rest = rest[:msg_len].decode(), rest[msg_len:]
        (auth_len,) = struct.unpack(">i", rest[:4])
        auth, rest = rest[4 : 4 + auth_len], rest[4 + auth_len :]
        (lifetime,) = struct.unpack(">q", rest[:8])
        return error, message, auth, lifetime

    def plain(self, user: str, password: str):
        assert self.handshake("PLAIN")[0] == 0
        return self.authenticate(b"\0" + user.encode() + b"\0" + password.encode())

    def closed(self, wait=3.0) -> bool:
        """Whether the server closes the connection (without sending anything) within `wait`."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True
        except TimeoutError:
            return False


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw
