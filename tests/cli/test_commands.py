"""The headless commands, run as the real ``ketui`` command against dumps, snapshots and live etcd.

The ``-o json`` forms are a contract: they are compared exactly.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import cluster_data
from tests.cluster_data import Entry, Written
from tests.etcd_harness import EtcdServer
from tests.paths import REPO

pytestmark = pytest.mark.etcd

CM1 = "/registry/configmaps/default/cm1"
CM2 = "/registry/configmaps/kube-system/cm2"
CM3 = "/registry/configmaps/default/cm3"
GONE = "/registry/configmaps/default/gone"
NS = "/registry/namespaces/default"


@dataclass
class World:
    server: EtcdServer
    written: Written
    before: Path  # dump right after populate()
    dump: Path  # dump at the end
    snapshot: Path
    after_revision: int  # revision of `before`
    revision: int
    entries: list[Entry]

    def entry(self, key: str) -> Entry:
        return next(e for e in self.entries if e.key == key.encode())

    def source_args(self, kind: str) -> list[str]:
        if kind == "live":
            return ["--endpoints", self.server.endpoint]
        return ["-s", str(self.dump if kind == "dump" else self.snapshot)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = EtcdServer().start()
    try:
        root = tmp_path_factory.mktemp("cli")
        written = cluster_data.populate(server)
        before = cluster_data.dump(server, root / "before.json")
        after_revision = cluster_data.revision_of(server)
        # The "kubectl apply" an operator wants to see: one added, one changed, one removed.
        server.put(CM3, cluster_data.configmap("cm3", "default", {"k": "v"}))
        server.put(CM2, cluster_data.configmap("cm2", "kube-system", {"x": "z"}))
        server.etcdctl("del", NS)
        dump = cluster_data.dump(server, root / "after.json")
        snapshot = cluster_data.snapshot(server, root / "after.db")
        revision, entries = cluster_data.entries_of_dump(dump)
        yield World(server, written, before, dump, snapshot, after_revision, revision, entries)
    finally:
        server.cleanup()


def ketui(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    result = subprocess.run(
        [sys.executable, "-m", "ketui", *args], cwd=REPO, env=env, capture_output=True, timeout=60
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    if check:
        assert result.returncode == 0, result.stderr.decode()
    return result


def out_json(*args: str) -> Any:
    return json.loads(ketui(*args).stdout)


SOURCES = ["dump", "snapshot", "live"]


@pytest.mark.parametrize("kind", SOURCES)
def test_ls_json_contract(world: World, kind: str) -> None:
    under = [e for e in world.entries if e.key.startswith(b"/registry/configmaps/")]
    by_ns: dict[str, list[Entry]] = {}
    for e in under:
        by_ns.setdefault(e.key.decode().split("/")[3], []).append(e)
    assert out_json("ls", "/registry/configmaps/", "-o", "json", *world.source_args(kind)) == {
        "prefix": "/registry/configmaps/",
        "count": len(under),
        "bytes": sum(len(e.value) for e in under),
        "children": [
            {"name": ns, "count": len(es), "bytes": sum(len(e.value) for e in es)}
            for ns, es in sorted(by_ns.items())
        ],
    }
    top = out_json("ls", "-o", "json", *world.source_args(kind))
    assert top == {
        "prefix": "",
        "count": len(world.entries),
        "bytes": sum(len(e.value) for e in world.entries),
        "children": [
            {
                "name": name,
                "count": len([e for e in world.entries if e.key.startswith(name.encode() + b"/")]),
                "bytes": sum(
                    len(e.value) for e in world.entries if e.key.startswith(name.encode() + b"/")
                ),
            }
            for name in ("/other", "/registry")
        ],
    }


@pytest.mark.parametrize("kind", SOURCES)
def test_ls_count_and_table(world: World, kind: str) -> None:
    args = world.source_args(kind)
    assert ketui("ls", "/registry", "--count", *args).stdout == b"6\n"
    assert out_json("ls", "/registry/", "--count", "-o", "json", *args) == {
        "prefix": "/registry/",
        "count": 6,
    }
    table = ketui("ls", "/registry", *args).stdout.decode().splitlines()
    assert table[0].split() == ["NAME", "COUNT", "BYTES"]
    assert [line.split()[0] for line in table[1:-1]] == [
        "configmaps/", "events/", "pods/", "secrets/",
    ]  # fmt: skip
    assert table[-1].split()[:3] == ["total", "/registry", "6"]


@pytest.mark.parametrize("kind", SOURCES)
def test_get_json_is_the_served_object(world: World, kind: str) -> None:
    """As kube-apiserver serves it (resourceVersion from the key's mod_revision, in Go field
    order) and kubectl prints it (managedFields only with --show-managed-fields)."""
    command = ("get", CM1, "-o", "json", *world.source_args(kind))
    result = ketui(*command, "--show-managed-fields")
    obj = json.loads(result.stdout)
    stored = json.loads(cluster_data.CM1_V3)
    mod_revision = world.entry(CM1).mod_revision
    assert list(obj["metadata"]) == [
        "name", "namespace", "uid", "resourceVersion", "creationTimestamp", "managedFields",
    ]  # fmt: skip
    assert obj["metadata"].pop("resourceVersion") == str(mod_revision)
    assert obj == stored
    assert result.stdout.startswith(b'{\n    "kind": "ConfigMap",\n    "apiVersion": "v1",\n')
    default = json.loads(ketui(*command).stdout)
    assert list(default["metadata"]) == [
        "name", "namespace", "uid", "resourceVersion", "creationTimestamp",
    ]  # fmt: skip
    del obj["metadata"]["managedFields"]
    assert default == {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(mod_revision)}}


def test_get_yaml_masks_secrets_unless_asked(world: World) -> None:
    args = world.source_args("dump")
    masked = yaml.safe_load(ketui("get", "/registry/secrets/default/db", *args).stdout)
    assert masked["data"] == {"password": "<masked: 7 bytes>"}
    shown = yaml.safe_load(
        ketui("get", "/registry/secrets/default/db", "--show-secrets", *args).stdout
    )
    assert base64.b64decode(shown["data"]["password"]) == b"hunter2"


def test_get_pod_protobuf_and_raw(world: World) -> None:
    args = world.source_args("snapshot")
    command = ("get", "/registry/pods/default/pod-a", "-o", "json", "--kube-version", "master",
               "--show-managed-fields")  # fmt: skip
    pod = json.loads(ketui(*command, *args).stdout)  # a master fixture: master's fields
    expected = json.loads((cluster_data.FIXTURES / "core.v1.Pod.json").read_text())
    assert pod == expected
    raw = ketui("get", "/other/binary", "-o", "raw", *args).stdout
    assert raw == cluster_data.BINARY


def test_get_at_a_past_revision_and_errors(world: World) -> None:
    live = world.source_args("live")
    old = json.loads(
        ketui("get", CM1, "-o", "json", "--rev", str(world.written.first_revision), *live).stdout
    )
    assert old["data"] == {"a": "1"}
    missing = ketui("get", "/registry/nope", *live, check=False)
    assert missing.returncode == 1
    assert missing.stderr == b"ketui: key not found: /registry/nope\n"
    binary = ketui("get", "/other/binary", *live, check=False)
    assert binary.returncode == 1 and b"-o raw" in binary.stderr
    older = ketui("get", CM1, "--rev", "1", *world.source_args("dump"), check=False)
    assert older.returncode == 1
    assert older.stderr.startswith(b"ketui: revision 1 is not available")


@pytest.mark.parametrize("kind", ["snapshot", "live"])
def test_history_json_contract(world: World, kind: str) -> None:
    args = world.source_args(kind)
    cm1 = world.entry(CM1)
    assert out_json("history", CM1, "-o", "json", *args) == [
        {"revision": cm1.create_revision, "create_revision": cm1.create_revision,
         "version": 1, "op": "put", "size": len(cluster_data.CM1_V1)},
        {"revision": cm1.mod_revision - 1, "create_revision": cm1.create_revision,
         "version": 2, "op": "put", "size": len(cluster_data.CM1_V2)},
        {"revision": cm1.mod_revision, "create_revision": cm1.create_revision,
         "version": 3, "op": "put", "size": len(cluster_data.CM1_V3)},
    ]  # fmt: skip
    gone = out_json("history", GONE, "-o", "json", *args)
    assert isinstance(gone, list)
    assert [(r["op"], r["revision"]) for r in gone] == [
        ("put", gone[0]["create_revision"]),
        ("delete", world.written.last_revision),
    ]
    table = ketui("history", CM1, *args).stdout.decode().splitlines()
    assert table[0].split() == ["REVISION", "OP", "CREATE_REVISION", "VERSION", "SIZE"]
    assert table[-1] == "compaction revision: 0"


def test_history_of_a_dump_has_one_entry(world: World) -> None:
    cm2 = world.entry(CM2)
    assert out_json("history", CM2, "-o", "json", *world.source_args("dump")) == [
        {"revision": cm2.mod_revision, "create_revision": cm2.create_revision,
         "version": 2, "op": "put", "size": len(cm2.value)},
    ]  # fmt: skip


def test_watch_json_contract_live(world: World) -> None:
    start = world.written.first_revision + 1  # the leased event, cm1 twice, the delete
    lines = ketui(
        "watch", "/registry/", "--rev", str(start), "--max-events", "4", "-o", "json",
        *world.source_args("live"),
    ).stdout.decode().splitlines()  # fmt: skip
    assert [json.loads(line) for line in lines] == [
        {"op": "put", "key": "/registry/events/default/ev1", "revision": start, "kind": None,
         "namespace": "default", "name": "ev1", "size": 5},
        {"op": "put", "key": CM1, "revision": start + 1, "kind": "ConfigMap",
         "namespace": "default", "name": "cm1", "size": len(cluster_data.CM1_V2)},
        {"op": "put", "key": CM1, "revision": start + 2, "kind": "ConfigMap",
         "namespace": "default", "name": "cm1", "size": len(cluster_data.CM1_V3)},
        {"op": "delete", "key": GONE, "revision": start + 3, "kind": "ConfigMap",
         "namespace": "default", "name": "gone", "size": 0},
    ]  # fmt: skip


def test_watch_stops_on_timeout_and_offline_ends(world: World) -> None:
    quiet = ketui("watch", "/quiet/", "--timeout", "0.5", *world.source_args("live"))
    assert quiet.stdout == b""
    dump = ketui("watch", "--rev", "1", *world.source_args("dump"))
    assert dump.stdout == b""
    replay = ketui("watch", GONE, "--rev", "1", *world.source_args("snapshot")).stdout
    assert [line.split()[:3] for line in replay.decode().splitlines()] == [
        [str(world.entry(CM1).create_revision + 2), "PUT", GONE],
        [str(world.written.last_revision), "DELETE", GONE],
    ]


def test_diff_json_contract(world: World) -> None:
    expected = {"added": [CM3], "removed": [NS], "changed": [CM2]}
    assert out_json("diff", str(world.before), str(world.dump), "-o", "json") == expected
    at_rev = f"@{world.after_revision}"
    assert out_json("diff", at_rev, "@", "-o", "json", *world.source_args("live")) == expected
    assert out_json("diff", at_rev, "@", "-o", "json", *world.source_args("snapshot")) == expected
    mixed = out_json("diff", str(world.before), str(world.snapshot), "/registry/configmaps/",
                     "-o", "json")  # fmt: skip
    assert mixed == {"added": [CM3], "removed": [], "changed": [CM2]}
    table = ketui("diff", str(world.before), str(world.dump)).stdout.decode().splitlines()
    assert table == [
        f"+ {CM3}",
        f"~ {CM2}",
        "    data.x: y → z",
        f"- {NS}",
        "1 added, 1 removed, 1 changed",
    ]


def test_stats_json(world: World) -> None:
    stats = out_json("stats", "-o", "json", "--top", "2", *world.source_args("live"))
    assert isinstance(stats, dict)
    assert stats["count"] == len(world.entries)
    assert stats["bytes"] == sum(len(e.value) for e in world.entries)
    resources = {r["resource"]: (r["count"], r["bytes"]) for r in stats["resources"]}
    cms = [e for e in world.entries if e.key.startswith(b"/registry/configmaps/")]
    assert resources["configmaps"] == (len(cms), sum(len(e.value) for e in cms))
    assert resources["<other>"] == (2, 256)
    assert [item["key"] for item in stats["largest"]] == [
        "/registry/pods/default/pod-a", "/other/binary",
    ]  # fmt: skip
    assert stats["leased"] == {"count": 1, "bytes": 5, "leases": 1}


def test_export_writes_kubectl_ready_yaml(world: World, tmp_path: Path) -> None:
    target = tmp_path / "export"
    result = ketui("export", "/registry/", str(target), *world.source_args("snapshot"))
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*.yaml"))
    assert written == [
        "configmaps/default/cm1.yaml",
        "configmaps/default/cm3.yaml",
        "configmaps/kube-system/cm2.yaml",
        "pods/default/pod-a.yaml",
        "secrets/default/db.yaml",
    ]
    assert sorted(result.stdout.decode().split()) == sorted(str(target / p) for p in written)
    cm1 = yaml.safe_load((target / "configmaps/default/cm1.yaml").read_text())
    assert cm1 == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm1", "namespace": "default"},
        "data": {"a": "3", "b": "new"},
    }
    pod = yaml.safe_load((target / "pods/default/pod-a.yaml").read_text())
    assert "status" not in pod
    assert not {"resourceVersion", "uid", "managedFields"} & set(pod["metadata"])
    secret = yaml.safe_load((target / "secrets/default/db.yaml").read_text())
    assert secret["data"] == {"password": "<masked: 7 bytes>"}
    assert b"skipped /registry/events/default/ev1" in result.stderr
    assert b"1 Secret(s) masked" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["ls", "-s", "/nonexistent/file"], b"ketui: /nonexistent/file: cannot open"),
        (["ls", "-s", "README.md"], b"not an etcdctl JSON dump"),
        (["diff", "@x", "@", "--endpoints", "127.0.0.1:1"], b"ketui: bad revision '@x'"),
        # checked before the source is opened: no kubeadm note or error first
        (["diff", "@7", "@x", "--kubeadm=/nonexistent/etcd.yaml"], b"ketui: bad revision '@x'"),
        (["ls", "-s", "a.json", "--endpoints", "x:1"], b"not both"),
    ],
)
def test_user_errors_are_one_line(args: list[str], message: bytes) -> None:
    result = ketui(*args, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith(b"ketui: ") and result.stderr.count(b"\n") == 1


def test_unreachable_endpoint_fails_fast(tmp_path: Path) -> None:
    from tests.etcd_harness import free_port

    result = ketui(
        "ls", "--endpoints", f"127.0.0.1:{free_port()}", "--dial-timeout", "1s",
        "--command-timeout", "2s", check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(b"ketui: ")


def test_keys_that_are_not_utf8_print_escaped(tmp_path: Path) -> None:
    """Bad bytes in keys come out as \\xNN, even where stdout refuses undecodable text."""
    keys = [b"/registry/pods/\xff\xfe/x", b"/registry/\xffpods/ns/x"]
    kvs = [
        {"key": base64.b64encode(k).decode(), "create_revision": 2, "mod_revision": 2,
         "version": 1, "value": "eA=="}
        for k in keys
    ]  # fmt: skip
    dump = tmp_path / "bad.json"
    dump.write_text(json.dumps({"header": {"revision": 2}, "kvs": kvs, "count": 2}))
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    env = {k: v for k, v in env.items() if not k.startswith("ETCDCTL_")}

    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "ketui", *args, "-s", str(dump)],
            cwd=REPO, env=env, capture_output=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode("utf-8")

    assert json.loads(run("ls", "/registry/pods", "-o", "json"))["children"] == [
        {"name": "\\xff\\xfe", "count": 1, "bytes": 1}
    ]
    assert "\\xff\\xfe/" in run("ls", "/registry/pods")
    resources = json.loads(run("stats", "-o", "json"))["resources"]
    assert {r["resource"] for r in resources} == {"pods", "\\xffpods"}
    assert "\\xffpods" in run("stats")


def test_truncated_dump_error_names_offset(world: World, tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_bytes(world.dump.read_bytes()[:500])
    result = ketui("get", CM1, "-s", str(cut), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"ketui: {cut}: not an etcdctl JSON dump".encode())
    assert b"at byte " in result.stderr


def test_incomplete_dump_is_reported(world: World, tmp_path: Path) -> None:
    """A dump written with --limit still lists what it holds, with a warning on stderr."""
    limited = tmp_path / "limited.json"
    text = world.dump.read_bytes()
    assert text.rstrip().endswith(b"}") and b'],"count":' in text
    limited.write_bytes(text.replace(b'],"count":', b'],"more":true,"count":'))
    result = ketui("ls", "--count", "-s", str(limited))
    assert result.stdout.strip() == str(len(world.entries)).encode()
    warning = f"{limited}: incomplete dump ('more' is true: written with --limit)"
    assert result.stderr == f"ketui: warning: {warning}\n".encode()
    diff = ketui("diff", str(limited), str(world.dump), "-o", "json")
    assert b"incomplete dump" in diff.stderr


def test_get_decrypts_with_the_encryption_config(etcd: EtcdServer, tmp_path: Path) -> None:
    from ketui.core.k8s.encryption import encrypt_value

    secret = bytes(range(32))
    config = tmp_path / "enc.yaml"
    config.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        "- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n"
        f"        secret: {base64.b64encode(secret).decode()}\n"
    )
    key = "/registry/secrets/default/db"
    etcd.put(key, encrypt_value(cluster_data.SECRET, provider="aescbc", key_name="key1",
                                secret=secret))  # fmt: skip
    live = ["--endpoints", etcd.endpoint]
    locked = ketui("get", key, *live, check=False)
    assert locked.returncode == 1
    assert locked.stderr.decode() == (
        f"ketui: {key}: cannot decode: encrypted with aescbc key 'key1': give the encryption "
        "config to decrypt (--encryption-config FILE); -o raw prints the bytes\n"
    )
    opened = ketui("get", key, "-o", "json", "--show-secrets", "--encryption-config",
                   str(config), *live)  # fmt: skip
    assert json.loads(opened.stdout)["data"] == json.loads(cluster_data.SECRET)["data"]
    bad = ketui("get", key, "--encryption-config", str(tmp_path / "none.yaml"), *live, check=False)
    assert bad.returncode == 1 and bad.stderr.startswith(b"ketui: cannot read encryption config")


def test_tls_flags_and_kubeadm_discovery(etcd_tls: EtcdServer, tmp_path: Path) -> None:
    from tests.core.sources.etcd.test_kubeadm import fake_kubernetes_tree

    tls = etcd_tls.tls
    assert tls is not None
    etcd_tls.put("/registry/namespaces/default", cluster_data.NAMESPACE)
    flags = ["--endpoints", etcd_tls.endpoint, "--cacert", str(tls.ca),
             "--cert", str(tls.client_cert), "--key", str(tls.client_key)]  # fmt: skip
    assert ketui("ls", "--count", *flags).stdout == b"1\n"
    no_cert = ketui("ls", "--count", "--endpoints", etcd_tls.endpoint, "--cacert", str(tls.ca),
                    "--dial-timeout", "1s", "--command-timeout", "2s", check=False)  # fmt: skip
    assert no_cert.returncode == 1 and no_cert.stderr.startswith(b"ketui: ")
    manifest = fake_kubernetes_tree(tmp_path, tls, etcd_tls.client_port)
    found = ketui("ls", "/registry", "-o", "json", f"--kubeadm={manifest}")
    assert json.loads(found.stdout)["children"] == [
        {"name": "namespaces", "count": 1, "bytes": len(cluster_data.NAMESPACE)}
    ]
    assert found.stderr.decode().startswith(f"ketui: kubeadm: etcd manifest {manifest}")


def test_diff_exact_compares_values_with_equal_metadata(tmp_path: Path) -> None:
    """Dumps of two unrelated clusters can share revisions: --exact compares the bytes."""

    def write(name: str, value: bytes) -> str:
        kv = {"key": base64.b64encode(b"/k").decode(), "create_revision": 2, "mod_revision": 2,
              "version": 1, "value": base64.b64encode(value).decode()}  # fmt: skip
        path = tmp_path / name
        path.write_text(json.dumps({"header": {"revision": 2}, "kvs": [kv], "count": 1}))
        return str(path)

    a, b = write("a.json", b"one"), write("b.json", b"two")
    assert out_json("diff", a, b, "-o", "json")["changed"] == []
    assert out_json("diff", a, b, "-o", "json", "--exact")["changed"] == ["/k"]


def test_raw_output_of_a_secret_needs_show_secrets(world: World, tmp_path: Path) -> None:
    """``-o raw`` bypasses masking: refused for a Secret (by key or by kind) without the flag."""
    key = "/registry/secrets/default/db"
    args = world.source_args("dump")
    refused = ketui("get", key, "-o", "raw", *args, check=False)
    assert (refused.returncode, refused.stdout) == (1, b"")
    assert refused.stderr.decode() == (
        f"ketui: {key}: is a Secret: -o raw prints its data unmasked; add --show-secrets\n"
    )
    assert ketui("get", key, "-o", "raw", "--show-secrets", *args).stdout == cluster_data.SECRET
    # A Secret kept under an unusual key is recognised by its kind.
    elsewhere = tmp_path / "elsewhere.json"
    value = base64.b64encode(cluster_data.SECRET).decode()
    kv = {"key": base64.b64encode(b"/other/db").decode(), "create_revision": 2,
          "mod_revision": 2, "version": 1, "value": value}  # fmt: skip
    elsewhere.write_text(json.dumps({"header": {"revision": 2}, "kvs": [kv], "count": 1}))
    assert ketui("get", "/other/db", "-o", "raw", "-s", str(elsewhere), check=False).returncode == 1
    assert ketui("get", "/other/binary", "-o", "raw", *args).stdout == cluster_data.BINARY


def test_kube_version_detected_next_to_the_kubeadm_manifest(
    etcd_tls: EtcdServer, tmp_path: Path
) -> None:
    """--kubeadm=MANIFEST: the kube-apiserver manifest is looked for in the same directory."""
    from tests.core.k8s.test_releases import MANIFEST
    from tests.core.sources.etcd.test_kubeadm import fake_kubernetes_tree
    from tests.k8s_values import pod_value

    assert etcd_tls.tls is not None
    manifest = fake_kubernetes_tree(tmp_path, etcd_tls.tls, etcd_tls.client_port)
    apiserver = MANIFEST.replace("{image}", "registry.k8s.io/kube-apiserver:v1.29.3")
    (manifest.parent / "kube-apiserver.yaml").write_text(apiserver)
    key = "/registry/pods/default/www"
    etcd_tls.put(key, pod_value())
    pod = json.loads(ketui("get", key, "-o", "json", f"--kubeadm={manifest}").stdout)
    assert pod["metadata"]["creationTimestamp"] is None  # the 1.29 view (newer ones leave it out)


def test_untrusted_server_certificate_suggests_cacert(etcd_tls: EtcdServer, tmp_path: Path) -> None:
    from tests.etcd_harness import make_tls_files

    tls = etcd_tls.tls
    assert tls is not None
    other = make_tls_files(tmp_path / "other-pki")
    result = ketui("ls", "--count", "--endpoints", etcd_tls.endpoint, "--cacert", str(other.ca),
                   "--cert", str(tls.client_cert), "--key", str(tls.client_key),
                   "--dial-timeout", "1s", "--command-timeout", "2s", check=False)  # fmt: skip
    assert result.returncode == 1
    message = result.stderr.decode()
    assert message.startswith("ketui: cannot reach etcd: ") and message.count("\n") == 1
    assert "the server's certificate is not trusted: check --cacert" in message
    assert "--cert/--key" not in message
