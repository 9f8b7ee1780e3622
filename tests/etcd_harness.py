"""Real etcd servers for the tests: loopback only, free ports, temporary data dirs, always cleaned up.

``EtcdServer`` runs one member; ``EtcdCluster`` (below) several. ``etcdctl(...)`` runs the real
``etcdctl`` against a server, which is how tests write data and make dumps and snapshots.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")
MISSING_REASON = (
    "the etcd server binary is not installed: run scripts/install.sh "
    "(Debian packages etcd-server and etcd-client)"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        self, *args: str, input: bytes | None = None, check: bool = True
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
