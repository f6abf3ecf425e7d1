"""A secured gateway for the security tests: a CA made in the test, a server certificate it
signs (and client certificates on demand), and a config file with three access policies —
Send-only, Listen-only and Manage — each with a fresh random key.

`SecureGateway.keys()` lists every configured secret, so a test can check at the end of a run
that none of them reached the gateway's log (`assert_no_secret_in_log`).
"""

import base64
import hashlib
import hmac
import secrets
import subprocess
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass
class TestCa:
    """A throwaway certificate authority in `directory`."""

    directory: Path
    cert: Path = field(init=False)
    key: Path = field(init=False)

    def __post_init__(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert, self.key = self.directory / "ca.pem", self.directory / "ca-key.pem"
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=hubgate test CA", "-keyout", str(self.key), "-out", str(self.cert),
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )

    def issue(self, name: str, subject: str, server: bool, san: str = "DNS:localhost,IP:127.0.0.1") -> tuple[Path, Path]:
        """A certificate for `subject` (e.g. `/CN=localhost`) signed by this CA: (cert, key).
        A server certificate names `san` (OpenSSL `subjectAltName` syntax)."""
        cert, key, csr = (self.directory / f"{name}{ext}" for ext in (".pem", "-key.pem", ".csr"))
        ext = self.directory / f"{name}.ext"
        if server:
            ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
        else:
            ext.write_text("extendedKeyUsage=clientAuth\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(csr))
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
            "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(ext),
        )
        return cert, key


@dataclass
class Policy:
    """One `[policies.NAME]` table. The key is written inline unless `key_file` or `key_env`
    names where the gateway is to read it from (the test then provides the file or variable)."""

    name: str
    rights: list[str]
    key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    hubs: list[str] = field(default_factory=list)
    key_file: Path | None = None
    key_env: str | None = None
    cert_subject: str | None = None

    def toml(self) -> str:
        lines = [f"[policies.{self.name}]"]
        if self.key_file:
            lines.append(f'key_file = "{self.key_file}"')
        elif self.key_env:
            lines.append(f'key_env = "{self.key_env}"')
        else:
            lines.append(f'key = "{self.key}"')
        lines.append(f"rights = {self.rights!r}".replace("'", '"'))
        if self.hubs:
            lines.append(f"hubs = {self.hubs!r}".replace("'", '"'))
        if self.cert_subject:
            lines.append(f'cert_subject = "{self.cert_subject}"')
        return "\n".join(lines) + "\n"

    def token(self, resource: str, expiry: int) -> str:
        """A SAS token for `resource` signed with this policy's key, the Azure SDKs' way."""
        return sas_token(resource, self.name, self.key, expiry)


def sas_token(resource: str, key_name: str, key: str, expiry: int) -> str:
    """`SharedAccessSignature sr=…&sig=…&se=…&skn=…` as the Azure SDKs make it: HMAC-SHA256 over
    quote_plus(resource) + "\\n" + expiry, base64, url-encoded."""
    sr = urllib.parse.quote_plus(resource)
    signed = (sr + "\n" + str(expiry)).encode()
    sig = base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()
    return "SharedAccessSignature " + urllib.parse.urlencode({"sr": resource, "sig": sig, "se": expiry, "skn": key_name})


def fingerprint(pem_path: Path) -> str:
    """SHA-256 of a PEM certificate's DER, hex."""
    import ssl

    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())).hexdigest()


DEFAULT_POLICIES = (("sender", ["send"]), ("listener", ["listen"]), ("admin", ["manage"]))


@dataclass
class SecureSetup:
    """Files for a secured gateway under `directory`: `config`, `ca`, `server_cert`, `server_key`."""

    directory: Path
    tls: bool = True
    extra_toml: str = ""
    policies: dict = field(default_factory=dict)
    client_ca: bool = False  # require client certificates signed by the test CA

    def __post_init__(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.policies:
            self.policies = {name: Policy(name, rights) for name, rights in DEFAULT_POLICIES}
        self.ca = TestCa(self.directory / "ca") if self.tls else None
        if self.ca:
            self.server_cert, self.server_key = self.ca.issue("server", "/CN=localhost", server=True)
        self.config = self.directory / "hubgate.toml"
        self.write_config()

    def write_config(self):
        body = "".join(p.toml() for p in self.policies.values())
        self.config.write_text(self.extra_toml + "\n" + body)

    def args(self) -> list[str]:
        """`hubgate serve` flags for this setup."""
        args = ["--config", str(self.config)]
        if self.ca:
            args += ["--tls-cert", str(self.server_cert), "--tls-key", str(self.server_key)]
            if self.client_ca:
                args += ["--tls-client-ca", str(self.ca.cert)]
        return args

    def keys(self) -> list[str]:
        """Every secret the config holds."""
        return [p.key for p in self.policies.values()]

    def connection_string(self, policy: str, endpoint: str, entity: str | None = None) -> str:
        """An Event Hubs connection string for `policy` at `endpoint` (`sb://host:port`)."""
        text = f"Endpoint={endpoint}/;SharedAccessKeyName={policy};SharedAccessKey={self.policies[policy].key}"
        return text + (f";EntityPath={entity}" if entity else "")


def assert_no_secret_in_log(log_text: str, keys):
    """Fails if any configured key appears in `log_text` (use `Gateway.full_log()`)."""
    for key in keys:
        assert key not in log_text, "a configured key reached the gateway's log"


def receive_from_start(client, partition, count, timeout=30):
    """Reads `count` events of `partition` from the start with an azure-eventhub
    `EventHubConsumerClient` (or until `timeout` s or an error); returns (events, errors) and
    closes the client."""
    events, errors = [], []
    done = threading.Event()

    def on_event(_ctx, event):
        if event is not None:
            events.append(event)
            if len(events) >= count:
                done.set()

    def on_error(_ctx, error):
        errors.append(error)
        done.set()

    thread = threading.Thread(
        target=client.receive,
        kwargs=dict(on_event=on_event, on_error=on_error, partition_id=str(partition), starting_position="-1", max_wait_time=1),
        daemon=True,
    )
    thread.start()
    done.wait(timeout)
    client.close()
    thread.join(15)
    return events, errors
