"""Security properties (issue 5): read-only, secrets masked, no plaintext on disk, no credentials
printed, TLS verified.

- **Read-only**: a static check over ``ketui/**/*.py`` that no etcd write RPC is referenced (stub
  methods, request messages, gRPC method paths, the python-etcd3 client), the live source's RPC
  table holds only reads, and the whole CLI works for an etcd user whose only role is a read role.
- **Secrets masked** by default in ``ketui get``, ``export``, ``decode`` and ``diff`` output.
- **No plaintext on disk**: ``ketui decode``/``get --encryption-config`` run with ``HOME``,
  ``TMPDIR``, ``XDG_*`` and the working directory in a fresh directory; nothing in it may hold
  the secret afterwards.
- **Credentials** never in ``EtcdConfig``'s repr/str, error messages or CLI stderr.
- **TLS**: a server certificate from another CA is refused unless
  ``--insecure-skip-tls-verify``.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import ketui as ketui_package
from ketui.core.k8s.encryption import encrypt_value
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.source import SourceError
from ketui.core.sources.etcd.channel import READ_ONLY_RPCS
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from tests.etcd_harness import EtcdServer, make_tls_files

PACKAGE = Path(ketui_package.__file__).resolve().parent

# --- (a) read-only: static check ---------------------------------------------------------------

READ_RPCS = {
    ("KV", "Range"),
    ("Watch", "Watch"),
    ("Watch", "Progress"),
    ("Lease", "LeaseTimeToLive"),
    ("Lease", "LeaseLeases"),
    ("Cluster", "MemberList"),
    ("Maintenance", "Status"),
    ("Maintenance", "Hash"),
    ("Maintenance", "HashKV"),
    ("Maintenance", "Snapshot"),
    ("Auth", "Authenticate"),
    ("Auth", "UserGet"),
    ("Auth", "UserList"),
    ("Auth", "RoleGet"),
    ("Auth", "RoleList"),
}
WRITE_RPCS = {
    "Put", "DeleteRange", "Txn", "Compact",
    "LeaseGrant", "LeaseRevoke", "LeaseKeepAlive",
    "MemberAdd", "MemberRemove", "MemberUpdate", "MemberPromote",
    "Alarm", "Defragment", "MoveLeader", "Downgrade",
    "AuthEnable", "AuthDisable", "UserAdd", "UserDelete", "UserChangePassword", "UserGrantRole",
    "UserRevokeRole", "RoleAdd", "RoleDelete", "RoleGrantPermission", "RoleRevokePermission",
}  # fmt: skip
WRITE_REQUESTS = {f"{name}Request" for name in WRITE_RPCS} | {
    "CompactionRequest",
    "AlarmRequest",
    "AuthEnableRequest",
    "AuthUserAddRequest",
    "AuthUserDeleteRequest",
    "AuthUserChangePasswordRequest",
    "AuthUserGrantRoleRequest",
    "AuthUserRevokeRoleRequest",
    "AuthRoleAddRequest",
    "AuthRoleDeleteRequest",
    "AuthRoleGrantPermissionRequest",
    "AuthRoleRevokePermissionRequest",
    "RequestOp",  # a Txn's operations
}
# python-etcd3's high-level client exposes put/delete/transaction/compact...: not to be used.
FORBIDDEN_CALLS = {"client", "Etcd3Client", "MultiEndpointEtcd3Client"}


def write_rpc_uses(source: str, filename: str = "<string>") -> list[str]:
    """Every reference to an etcd write in ``source``: ``file:line: what``."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        name: str | None = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.alias):
            name = node.name.rsplit(".", 1)[-1]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            method = text.rsplit("/", 1)[-1] if text.startswith("/etcdserverpb.") else text
            if method in WRITE_RPCS:
                found.append(f"{filename}:{node.lineno}: string {text!r}")
            continue
        if name in WRITE_RPCS or name in WRITE_REQUESTS:
            found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {name}")
        if (
            name in FORBIDDEN_CALLS
            and isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "etcd3"
        ):
            found.append(f"{filename}:{node.lineno}: etcd3.{name} (the writing client)")
    return found


def test_no_write_rpc_in_ketui() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20  # the scan sees the package
    found = [use for f in files for use in write_rpc_uses(f.read_text(), str(f))]
    assert not found, "etcd write RPCs referenced:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        "stub.Put(rpc_pb2.PutRequest(key=b'k', value=b'v'))",
        "channel.unary_unary('/etcdserverpb.KV/DeleteRange')",
        "RPCS = {('KV', 'Txn'): (a, b)}",
        "from etcd3.etcdrpc.rpc_pb2 import CompactionRequest",
        "client = etcd3.client(host='x')",
        "await calls[('Maintenance', 'Defragment')](req)",
        "rpc_pb2.AuthRoleGrantPermissionRequest(name='r')",
    ],
)
def test_static_check_catches_writes(snippet: str) -> None:
    assert write_rpc_uses(snippet)


def test_live_source_rpc_table_is_read_only() -> None:
    """EtcdSource builds its calls from this table and nothing else."""
    assert set(READ_ONLY_RPCS) <= READ_RPCS, set(READ_ONLY_RPCS) - READ_RPCS


# --- helpers -------------------------------------------------------------------------------------

PLAINTEXT = "s3cr3t-hunter2-Pa55"
PASSWORD = "pw-Zq9-never-printed"
SECRET_KEY = "/registry/secrets/default/db-creds"


def secret_object() -> dict[str, object]:
    last_applied = (
        '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db-creds"},'
        f'"stringData":{{"password":"{PLAINTEXT}"}}}}'
    )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db-creds",
            "namespace": "default",
            "uid": "0b6e2f3c-6a43-4c55-9a0c-1f0c6b1d2e3f",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied},
        },
        "data": {"password": base64.b64encode(PLAINTEXT.encode()).decode(), "user": "YWRtaW4="},
        "type": "Opaque",
    }


FORMS = (PLAINTEXT, base64.b64encode(PLAINTEXT.encode()).decode())


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [form for form in FORMS if form.encode() in data]


def run_ketui(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return subprocess.run(
        [sys.executable, "-m", "ketui", *args],
        capture_output=True,
        timeout=60,
        env={**base, **(env or {})},
        cwd=cwd,
    )


def ketui_many(
    runs: dict[str, tuple[str, ...]], env: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, subprocess.CompletedProcess[bytes]]:
    """Independent ``ketui`` runs, four at a time (most of each is interpreter start-up)."""
    with ThreadPoolExecutor(4) as pool:
        futures: dict[str, Future[subprocess.CompletedProcess[bytes]]] = {
            name: pool.submit(run_ketui, *args, env=env, cwd=cwd) for name, args in runs.items()
        }
        return {name: future.result() for name, future in futures.items()}


# --- (b) secrets masked ----------------------------------------------------------------------


@pytest.mark.etcd
def test_secrets_masked_in_cli_output(etcd: EtcdServer, tmp_path: Path) -> None:
    value = encode_object(secret_object())
    etcd.put(SECRET_KEY, value)
    etcd.put("/registry/configmaps/default/plain", encode_object(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}}
    ))  # fmt: skip
    before = tmp_path / "before.json"
    before.write_bytes(etcd.etcdctl("get", "", "--prefix", "-w", "json").stdout)
    changed = secret_object()
    changed["data"] = {"password": base64.b64encode(b"other").decode()}
    etcd.put(SECRET_KEY, encode_object(changed))
    etcd.put(SECRET_KEY, value)  # back to the plaintext, so a diff shows it if unmasked
    etcd.put("/registry/secrets/default/db-creds-2", value)
    (tmp_path / "value.bin").write_bytes(value)
    live = ("--endpoints", etcd.endpoint)
    runs = ketui_many({
        "get yaml": ("get", SECRET_KEY, *live),
        "get json": ("get", SECRET_KEY, "-o", "json", *live),
        "get --rev": ("get", SECRET_KEY, "--rev", "2", *live),
        "export": ("export", "/registry/", str(tmp_path / "export"), *live),
        "decode": ("decode", str(tmp_path / "value.bin")),
        "decode json": ("decode", "-o", "json", str(tmp_path / "value.bin")),
        "diff": ("diff", "@4", "@", "/registry/", *live),  # password: other -> secret
        "diff dump": ("diff", str(before), "@", "/registry/", *live),
        "watch": ("watch", "/registry/", "--rev", "1", "--max-events", "5", "-o", "json",
                       *live),
    })  # fmt: skip
    for name, result in runs.items():
        assert result.returncode == 0, f"{name}: {result.stderr.decode()}"
        assert not leaks(result.stdout + result.stderr), f"{name} printed the secret"
    exported = [p for p in (tmp_path / "export").rglob("*") if p.is_file()]
    assert len(exported) == 3
    for path in exported:
        assert not leaks(path.read_bytes()), f"{path} holds the secret"
    assert b"db-creds" in runs["get yaml"].stdout  # the object itself is shown
    shown = run_ketui("get", SECRET_KEY, "--show-secrets", *live)
    assert leaks(shown.stdout), "--show-secrets does not reveal the value"
    revealed = run_ketui("decode", "--show-secrets", str(tmp_path / "value.bin"))
    assert leaks(revealed.stdout)


@pytest.mark.etcd
def test_raw_output_of_a_secret_needs_show_secrets(etcd: EtcdServer) -> None:
    etcd.put(SECRET_KEY, encode_object(secret_object()))
    result = run_ketui("get", SECRET_KEY, "-o", "raw", "--endpoints", etcd.endpoint)
    assert not leaks(result.stdout) or result.returncode != 0


# --- (c) decrypted plaintext never written to disk ---------------------------------------------

AES_KEY = bytes(range(32))


def encryption_config(path: Path) -> Path:
    secret = base64.b64encode(AES_KEY).decode()
    path.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        "  - resources: [secrets]\n    providers:\n"
        "      - aesgcm:\n          keys:\n"
        f"            - name: key1\n              secret: {secret}\n"
        "      - identity: {}\n"
    )
    return path


def files_holding_secret(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and leaks(p.read_bytes())]


@pytest.mark.etcd
def test_decrypted_plaintext_never_on_disk(etcd: EtcdServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for sub in ("tmp", "config", "cache", "data", "state", "work"):
        (home / sub).mkdir(parents=True)
    env = {
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
    }
    config = encryption_config(tmp_path / "encryption.yaml")
    stored = encrypt_value(
        encode_object(secret_object()),
        provider="aesgcm",
        key_name="key1",
        secret=AES_KEY,
        etcd_key=SECRET_KEY.encode(),
    )
    assert not leaks(stored)
    value_file = tmp_path / "value.bin"
    value_file.write_bytes(stored)
    etcd.put(SECRET_KEY, stored)
    dump = tmp_path / "dump.json"
    dump.write_bytes(etcd.etcdctl("get", "", "--prefix", "-w", "json").stdout)
    work = home / "work"
    cfg = ("--encryption-config", str(config))
    runs = ketui_many(
        {
            "decode": ("decode", *cfg, "--key", SECRET_KEY, str(value_file)),
            "decode shown": (
                "decode",
                *cfg,
                "--show-secrets",
                "--key",
                SECRET_KEY,
                str(value_file),
            ),
            "get live": ("get", SECRET_KEY, *cfg, "--show-secrets", "--endpoints", etcd.endpoint),
            "get dump": ("get", SECRET_KEY, *cfg, "--show-secrets", "-s", str(dump)),
            "export": ("export", "/registry/", str(work / "export"), *cfg, "-s", str(dump)),
        },
        env=env,
        cwd=work,
    )
    for name, result in runs.items():
        assert result.returncode == 0, f"{name}: {result.stderr.decode()}"
    assert leaks(runs["decode shown"].stdout), "not decrypted: the test would prove nothing"
    assert leaks(runs["get live"].stdout) and leaks(runs["get dump"].stdout)
    assert (work / "export").is_dir()
    assert not files_holding_secret(home), files_holding_secret(home)


# --- (d) credentials never printed -----------------------------------------------------------


def test_config_repr_hides_password() -> None:
    config = EtcdConfig.from_env_and_args(user=f"alice:{PASSWORD}", env={})
    assert config.password == PASSWORD
    for text in (repr(config), str(config), f"{config}", repr([config])):
        assert PASSWORD not in text
    from_env = EtcdConfig.from_env_and_args(
        env={"ETCDCTL_USER": "bob", "ETCDCTL_PASSWORD": PASSWORD}
    )
    assert from_env.password == PASSWORD and PASSWORD not in repr(from_env)


def test_unreachable_endpoint_does_not_print_password() -> None:
    port = _closed_port()
    endpoint = f"127.0.0.1:{port}"
    runs = ketui_many(
        {
            "--password": ("ls", "--endpoints", endpoint, "--user", "alice", "--password",
                           PASSWORD, "--dial-timeout", "1s"),
            "--user u:p": ("ls", "--endpoints", endpoint, "--user", f"alice:{PASSWORD}",
                           "--dial-timeout", "1s"),
            "no --user": ("ls", "--password", PASSWORD),  # refused before connecting
        }
    )  # fmt: skip
    env = {
        "ETCDCTL_ENDPOINTS": endpoint,
        "ETCDCTL_USER": "alice",
        "ETCDCTL_PASSWORD": PASSWORD,
        "ETCDCTL_DIAL_TIMEOUT": "1s",
    }
    runs["env"] = run_ketui("ls", env=env)
    for result in runs.values():
        assert result.returncode == 1, result.stderr.decode()
        assert b"Traceback" not in result.stderr
        assert PASSWORD.encode() not in result.stdout + result.stderr


def _closed_port() -> int:
    from tests.etcd_harness import free_port

    return free_port()  # bound and released: nothing listens there


@dataclass(frozen=True)
class AuthEtcd:
    server: EtcdServer
    root: str  # "root:<password>" for etcdctl


@pytest.fixture
def auth_etcd(etcd: EtcdServer) -> Iterator[AuthEtcd]:
    """``etcd`` with auth on: root, and user ``viewer`` whose only role reads everything."""
    etcd.put(SECRET_KEY, encode_object(secret_object()))
    etcd.put("/registry/configmaps/default/plain", encode_object(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}}
    ))  # fmt: skip
    root_password = "root-Pw-1"
    for args in (
        ("user", "add", f"root:{root_password}", "--interactive=false"),
        ("role", "add", "reader"),
        ("role", "grant-permission", "reader", "--from-key", "read", ""),
        ("user", "add", f"viewer:{PASSWORD}", "--interactive=false"),
        ("user", "grant-role", "viewer", "reader"),
        ("auth", "enable"),
    ):
        etcd.etcdctl(*args)
    yield AuthEtcd(etcd, f"root:{root_password}")


@pytest.mark.etcd
def test_cli_works_for_a_read_only_user(auth_etcd: AuthEtcd, tmp_path: Path) -> None:
    """Every command succeeds for a user that may only read: no write RPC is ever needed."""
    server = auth_etcd.server
    login = ("--endpoints", server.endpoint, "--user", "viewer", "--password", PASSWORD)
    runs = ketui_many(
        {
            "ls": ("ls", *login),
            "ls --count": ("ls", "/registry/", "--count", *login),
            "get": ("get", SECRET_KEY, *login),
            "history": ("history", SECRET_KEY, *login),
            "stats": ("stats", *login),
            "export": ("export", "/registry/", str(tmp_path / "out"), *login),
            "watch": ("watch", "/registry/", "--rev", "1", "--max-events", "2", *login),
        }
    )
    for name, result in runs.items():
        assert result.returncode == 0, f"{name}: {result.stderr.decode()}"
        assert PASSWORD.encode() not in result.stdout + result.stderr
    # The read role really is read-only: a write by the same user is refused by etcd.
    denied = server.etcdctl("put", "/x", "y", f"--user=viewer:{PASSWORD}", check=False)
    assert denied.returncode != 0 and b"permission denied" in denied.stderr


@pytest.mark.etcd
def test_wrong_password_message_hides_it(auth_etcd: AuthEtcd) -> None:
    wrong = PASSWORD + "-wrong"
    result = run_ketui("ls", "--endpoints", auth_etcd.server.endpoint, "--user", "viewer",
                   "--password", wrong)  # fmt: skip
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert wrong not in stderr and PASSWORD not in stderr
    assert "auth" in stderr.lower() or "login" in stderr.lower() or "password" in stderr.lower()

    config = EtcdConfig(endpoints=[auth_etcd.server.endpoint], user="viewer", password=wrong)

    async def list_keys() -> None:
        source = EtcdSource(config)
        try:
            await source.count(b"")
        finally:
            await source.close()

    with pytest.raises(SourceError) as error:
        asyncio.run(list_keys())
    assert wrong not in str(error.value) and wrong not in repr(error.value)


# --- (e) TLS verification ----------------------------------------------------------------------


@pytest.mark.etcd
def test_tls_other_ca_refused_unless_skip_verify(etcd_tls: EtcdServer, tmp_path: Path) -> None:
    tls = etcd_tls.tls
    assert tls is not None
    other = make_tls_files(tmp_path / "other")
    client = ("--cert", str(tls.client_cert), "--key", str(tls.client_key))
    endpoint = ("--endpoints", etcd_tls.endpoint, "--dial-timeout", "2s")
    good = run_ketui("ls", *endpoint, "--cacert", str(tls.ca), *client)
    assert good.returncode == 0, good.stderr.decode()
    wrong_ca = run_ketui("ls", *endpoint, "--cacert", str(other.ca), *client)
    assert wrong_ca.returncode == 1, "a server certificate from another CA was accepted"
    assert b"Traceback" not in wrong_ca.stderr
    system_roots = run_ketui("ls", *endpoint, *client)  # no --cacert: the system's CAs do not apply
    assert system_roots.returncode == 1, "the test CA's certificate passed system verification"
    skipped = run_ketui("ls", *endpoint, "--cacert", str(other.ca), *client,
                    "--insecure-skip-tls-verify")  # fmt: skip
    assert skipped.returncode == 0, skipped.stderr.decode()
