"""Real etcd servers for tests: loopback only, free ports, temporary data dirs, always cleaned up.

``EtcdServer`` runs one member; ``EtcdCluster`` (below) several. ``etcdctl(...)`` runs the real
``etcdctl`` against a server, which is how tests write data and make dumps and snapshots.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Where scripts/install.sh unpacks Debian's etcd 3.5 (what users run); tests prefer it.
ETCD_35 = Path(__file__).resolve().parent.parent / ".venv" / "etcd-3.5" / "usr" / "bin"


def _binary(name: str) -> str | None:
    """``KETUI_TEST_ETCD``/``KETUI_TEST_ETCDCTL`` when set (etcdctl defaults to the etcd
    server's folder), else the etcd 3.5 that scripts/install.sh unpacked, else ``PATH``."""
    given = os.environ.get(f"KETUI_TEST_{name.upper()}")
    if given:
        return given
    server = os.environ.get("KETUI_TEST_ETCD")
    if server and (Path(server).parent / name).exists():
        return str(Path(server).parent / name)
    if not server and (ETCD_35 / name).exists():
        return str(ETCD_35 / name)
    return shutil.which(name)


ETCD = _binary("etcd")
ETCDCTL = _binary("etcdctl")
MISSING_REASON = (
    "the etcd server binary is not installed: run scripts/install.sh "
    "(Debian packages etcd-server and etcd-client, and etcd 3.5 unpacked into .venv)"
)


def etcd_version() -> str:
    """The version of the etcd server the tests run (``3.5.16``), or ``""`` when there is none."""
    if not ETCD:
        return ""
    out = subprocess.run([ETCD, "--version"], capture_output=True, text=True).stdout
    first = out.splitlines()[0] if out else ""
    return first.rsplit(" ", 1)[-1]


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORTS = range(12000, min(_ephemeral_start(), 32768))
_handed_out: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range: a port the kernel picked (bind to 0) is
    free only until some outgoing connection takes it, before etcd binds it ("address already in
    use", seen in CI). None is handed out twice in one run."""
    for port in random.sample(_PORTS, 200):
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class TLSFiles:
    """Paths of a CA and certificates for TLS tests (made by the tls fixture)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass
class EtcdServer:
    """One etcd member on 127.0.0.1."""

    name: str = "default"
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ketui-etcd-")))
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    tls: TLSFiles | None = None
    initial_cluster: str | None = None
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def command(self) -> list[str]:
        assert ETCD, MISSING_REASON
        cmd = [
            ETCD,
            "--name", self.name,
            "--data-dir", str(self.data_dir / "data"),
            "--listen-client-urls", self.endpoint,
            "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.initial_cluster or f"{self.name}={self.peer_url}",
            "--initial-cluster-state", "new",
            "--initial-cluster-token", f"ketui-test-{self.peer_port}",
            "--logger", "zap",
            "--log-level", "error",
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
        ]
        if self.tls:
            cmd += [
                "--cert-file", str(self.tls.server_cert),
                "--key-file", str(self.tls.server_key),
                "--trusted-ca-file", str(self.tls.ca),
                "--client-cert-auth",
            ]
        return cmd + self.extra_args

    def start(self, wait: bool = True) -> EtcdServer:
        self.log_path = self.data_dir / "etcd.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"etcd exited early:\n{self.log_tail()}")
            result = self.etcdctl("endpoint", "health", "--command-timeout=1s", check=False)
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"etcd did not become healthy in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path and self.log_path.exists():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def etcdctl_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        env["ETCDCTL_API"] = "3"
        env["ETCDCTL_ENDPOINTS"] = self.endpoint
        if self.tls:
            env["ETCDCTL_CACERT"] = str(self.tls.ca)
            env["ETCDCTL_CERT"] = str(self.tls.client_cert)
            env["ETCDCTL_KEY"] = str(self.tls.client_key)
        return env

    def etcdctl(
        self, *args: str, input: bytes | None = None, check: bool = True  # noqa: A002
    ) -> subprocess.CompletedProcess[bytes]:
        assert ETCDCTL, MISSING_REASON
        result = subprocess.run(
            [ETCDCTL, *args], input=input, env=self.etcdctl_env(), capture_output=True, timeout=60
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"etcdctl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}"
            )
        return result

    def put(self, key: str | bytes, value: str | bytes) -> None:
        """Write with etcdctl; the value goes through stdin so any bytes are allowed."""
        k = key.decode() if isinstance(key, bytes) else key
        v = value.encode() if isinstance(value, str) else value
        self.etcdctl("put", k, input=v)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def make_tls_files(directory: Path, *, client_name: str = "ketui-test") -> TLSFiles:
    """A fresh CA, a server certificate for 127.0.0.1/localhost and a client certificate.

    The client certificate's common name is ``client_name`` (etcd takes it as the user name when
    auth is on). EC P-256 keys keep this fast.
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)

    def issue(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer_key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name | None,
        *,
        ca: bool = False,
        usages: list[x509.ObjectIdentifier] | None = None,
        sans: list[x509.GeneralName] | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer or name(subject))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    import ipaddress

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = issue("ketui-test-ca", ca_key, ca_key, None, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = issue(
        "localhost",
        server_key,
        ca_key,
        ca_cert.subject,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = issue(
        client_name, client_key, ca_key, ca_cert.subject, usages=[ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    files = TLSFiles(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )
    pem = serialization.Encoding.PEM
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    files.server_cert.write_bytes(server_cert.public_bytes(pem))
    files.client_cert.write_bytes(client_cert.public_bytes(pem))
    write_key(server_key, files.server_key)
    write_key(client_key, files.client_key)
    return files


@dataclass
class EtcdCluster:
    """``size`` etcd members on 127.0.0.1 forming one cluster (plain HTTP)."""

    size: int = 3
    members: list[EtcdServer] = field(default_factory=list)
    frozen: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.members:
            self.members = [EtcdServer(name=f"m{i}") for i in range(self.size)]
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        token = f"ketui-test-cluster-{self.members[0].peer_port}"
        for member in self.members:
            member.initial_cluster = initial
            # every member needs the same token (a later flag wins over the per-member default)
            member.extra_args += ["--initial-cluster-token", token]

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def start(self) -> EtcdCluster:
        for member in self.members:
            member.start(wait=False)
        for member in self.members:
            member.wait_ready()
        return self

    def running(self) -> list[EtcdServer]:
        """Members that are up and not frozen."""
        return [
            m
            for i, m in enumerate(self.members)
            if m.process and m.process.poll() is None and i not in self.frozen
        ]

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Signal one member: SIGKILL (default) and SIGTERM wait for it; SIGSTOP freezes it."""
        self.members[index].kill(sig)
        if sig == signal.SIGSTOP:
            self.frozen.add(index)

    def resume(self, index: int) -> None:
        """SIGCONT a member frozen with SIGSTOP."""
        self.members[index].kill(signal.SIGCONT)
        self.frozen.discard(index)

    def restart(self, index: int) -> None:
        """Start a killed member again on its data dir and ports."""
        member = self.members[index]
        member.stop()
        member.start(wait=False)
        member.wait_ready()

    def etcdctl(
        self, *args: str, input: bytes | None = None, check: bool = True  # noqa: A002
    ) -> subprocess.CompletedProcess[bytes]:
        """etcdctl against every running member (it fails over like any client)."""
        live = self.running()
        assert live, "no running member"
        env = live[0].etcdctl_env()
        env["ETCDCTL_ENDPOINTS"] = ",".join(m.endpoint for m in live)
        assert ETCDCTL, MISSING_REASON
        result = subprocess.run(
            [ETCDCTL, *args], input=input, env=env, capture_output=True, timeout=60
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"etcdctl {' '.join(args)} failed: {result.stderr.decode()}")
        return result

    def cleanup(self) -> None:
        for member in self.members:
            if member.process and member.process.poll() is None:
                member.kill(signal.SIGCONT)
        for member in self.members:
            member.cleanup()
