"""`ketui decode` as a user runs it: a subprocess fed raw values and etcdctl JSON documents."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ketui.core.k8s.encryption import encrypt_value
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.pbwire import len_field
from tests.etcd_harness import EtcdServer
from tests.k8s_values import envelope, pod_value, secret_value

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "www", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
}
KEY = bytes(range(32))


def ketui_decode(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ketui", "decode", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def etcdctl_json(*kvs: tuple[bytes, bytes]) -> bytes:
    """An `etcdctl get ... -w json` document (the layout etcdctl 3.4 prints)."""
    doc = {
        "header": {"cluster_id": 1, "member_id": 2, "revision": 9, "raft_term": 2},
        "kvs": [
            {
                "key": base64.b64encode(k).decode(),
                "create_revision": 5 + i,
                "mod_revision": 5 + i,
                "version": 1,
                "value": base64.b64encode(v).decode(),
            }
            for i, (k, v) in enumerate(kvs)
        ],
        "count": len(kvs),
    }
    return json.dumps(doc).encode() + b"\n"


def test_raw_value_prints_yaml() -> None:
    result = ketui_decode(stdin=encode_object(POD))
    assert result.returncode == 0, result.stderr
    obj = yaml.safe_load(result.stdout)
    assert obj["kind"] == "Pod" and obj["metadata"]["labels"] == {"app": "web"}
    assert obj["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert result.stdout.startswith("apiVersion: v1\n")


def test_etcdctl_trailing_newline_and_json_output(tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_bytes(encode_object(POD) + b"\n")
    result = ketui_decode(str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert list(obj)[:2] == ["kind", "apiVersion"]
    assert obj["metadata"]["name"] == "www"
    assert '\n    "apiVersion": "v1"' in result.stdout  # kubectl's 4-space indent


def test_kube_version_flag() -> None:
    newest = ketui_decode("-o", "json", stdin=pod_value())
    old = ketui_decode("-o", "json", "--kube-version", "1.29", stdin=pod_value())
    assert "creationTimestamp" not in json.loads(newest.stdout)["metadata"]
    assert json.loads(old.stdout)["metadata"]["creationTimestamp"] is None


def test_etcdctl_json_document_as_yaml_documents() -> None:
    doc = etcdctl_json(
        (b"/registry/pods/default/www", encode_object(POD)),
        (b"/registry/example.com/widgets/default/w", b'{"apiVersion":"example.com/v1","kind":"W"}'),
        (b"compact_rev_key", b"\x00\x00\x00\x00\x00\x00\x00\x05"),
    )
    result = ketui_decode(stdin=doc)
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["kind"] for d in docs] == ["Pod", "W"]
    assert "\n---\n" in result.stdout
    assert "compact_rev_key: not a Kubernetes object: 8 bytes of binary data" in result.stderr


def test_etcdctl_json_document_as_json_list() -> None:
    doc = etcdctl_json(
        (b"/registry/pods/default/a", pod_value("a")),
        (b"/registry/pods/default/b", pod_value("b")),
    )
    result = ketui_decode("-o", "json", stdin=doc)
    assert result.returncode == 0, result.stderr
    assert [o["metadata"]["name"] for o in json.loads(result.stdout)] == ["a", "b"]


def test_empty_etcdctl_document() -> None:
    result = ketui_decode("-o", "json", stdin=b'{"header":{"revision":3}}\n')
    assert result.returncode == 0 and json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"", "ketui: empty input: nothing to decode\n"),
        (b"hello\n", "ketui: not a Kubernetes object: 5 bytes of text\n"),
        (pod_value()[:-9], "ketui: malformed protobuf envelope: "),
        (b'{"kind": ', "ketui: malformed JSON: "),
    ],
)
def test_bad_input_exits_1_with_one_line(stdin: bytes, message: str) -> None:
    result = ketui_decode(stdin=stdin)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    missing = ketui_decode(str(tmp_path / "nope"))
    assert missing.returncode == 1 and missing.stderr.startswith("ketui: cannot read ")
    bad_version = ketui_decode("--kube-version", "one", stdin=pod_value())
    assert bad_version.returncode == 1 and "invalid Kubernetes version 'one'" in bad_version.stderr
    bad_config = tmp_path / "enc.yaml"
    bad_config.write_text("kind: Nope\n")
    bad = ketui_decode("--encryption-config", str(bad_config), stdin=pod_value())
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1


def test_secrets_masked_unless_shown() -> None:
    value = secret_value(data={"password": b"hunter2"})
    masked = ketui_decode(stdin=value)
    assert masked.returncode == 0
    assert yaml.safe_load(masked.stdout)["data"] == {"password": "<masked: 7 bytes>"}
    assert "hunter2" not in masked.stdout and "aHVudGVyMg==" not in masked.stdout
    assert "--show-secrets" in masked.stderr
    shown = ketui_decode("--show-secrets", stdin=value)
    assert yaml.safe_load(shown.stdout)["data"] == {"password": "aHVudGVyMg=="}


def test_encrypted_value_with_config(tmp_path: Path) -> None:
    config = tmp_path / "enc.yaml"
    config.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        "- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: key1\n"
        f"        secret: {base64.b64encode(KEY).decode()}\n  - identity: {{}}\n"
    )
    etcd_key = b"/registry/secrets/default/db"
    value = encrypt_value(
        secret_value(data={"a": b"b"}),
        provider="aesgcm",
        key_name="key1",
        secret=KEY,
        etcd_key=etcd_key,
    )
    no_config = ketui_decode(stdin=value + b"\n")
    assert no_config.returncode == 1
    assert "aesgcm key 'key1'" in no_config.stderr and "--encryption-config" in no_config.stderr
    no_key = ketui_decode("--encryption-config", str(config), stdin=value + b"\n")
    assert no_key.returncode == 1 and "--key KEY" in no_key.stderr
    ok = ketui_decode(
        "--encryption-config", str(config), "--key", etcd_key.decode(), stdin=value + b"\n"
    )
    assert ok.returncode == 0, ok.stderr
    assert yaml.safe_load(ok.stdout)["metadata"]["name"] == "db"
    # plain `etcdctl get KEY` prints the key line first: it is the authenticated data
    with_key_line = ketui_decode(
        "--encryption-config", str(config), stdin=etcd_key + b"\n" + value + b"\n"
    )
    assert with_key_line.returncode == 0, with_key_line.stderr
    assert "input is `etcdctl get` output" in with_key_line.stderr
    document = ketui_decode(
        "--encryption-config", str(config), stdin=etcdctl_json((etcd_key, value))
    )
    assert document.returncode == 0, document.stderr
    assert yaml.safe_load(document.stdout)["kind"] == "Secret"


@pytest.mark.etcd
def test_etcdctl_pipeline_prints_the_pod(etcd: EtcdServer) -> None:
    etcd.put("/registry/pods/default/www", encode_object(POD))
    printed = etcd.etcdctl("get", "/registry/pods/default/www", "--print-value-only").stdout
    result = ketui_decode(stdin=printed)
    assert result.returncode == 0, result.stderr
    obj = yaml.safe_load(result.stdout)
    assert (obj["kind"], obj["metadata"]["name"]) == ("Pod", "www")
    assert obj["spec"]["containers"][0]["name"] == "nginx"
    with_key = etcd.etcdctl("get", "/registry/pods/default/www").stdout
    assert yaml.safe_load(ketui_decode(stdin=with_key).stdout)["metadata"]["name"] == "www"
    document = etcd.etcdctl("get", "/registry/", "--prefix", "-w", "json").stdout
    as_json = ketui_decode("-o", "json", stdin=document)
    assert as_json.returncode == 0, as_json.stderr
    assert [o["metadata"]["name"] for o in json.loads(as_json.stdout)] == ["www"]


def test_unknown_kind_prints_raw_fields_with_a_warning() -> None:
    raw = len_field(1, len_field(1, b"route-a"))
    result = ketui_decode("-o", "json", stdin=envelope("route.openshift.io/v1", "Route", raw))
    assert result.returncode == 0, result.stderr
    assert "route-a" in result.stdout
    assert result.stderr == (
        "ketui: warning: apiVersion route.openshift.io/v1 kind Route is not in ketui's schema: "
        "showing raw protobuf fields\n"
    )
