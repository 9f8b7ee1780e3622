"""``ketui grep`` as the real command over live etcd, an etcdctl dump and a snapshot of the same
cluster: protobuf objects (ketui's encoder), a custom resource in JSON, a Secret, a Secret
encrypted at rest, an Event, a plain text value and a hostile annotation. Also ``get``'s kubectl
defaults (managedFields hidden) and ``get --events`` over the same cluster."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ketui.core.k8s.encryption import encrypt_value
from ketui.core.k8s.protobuf.encode import encode_object
from tests import cluster_data
from tests.cli.command import ketui
from tests.etcd_harness import EtcdServer

pytestmark = pytest.mark.etcd

SECRET_KEY = bytes(range(32))
ENCRYPTION_CONFIG = {
    "apiVersion": "apiserver.config.k8s.io/v1",
    "kind": "EncryptionConfiguration",
    "resources": [{"resources": ["secrets"], "providers": [
        {"aescbc": {"keys": [{"name": "key1", "secret": base64.b64encode(SECRET_KEY).decode()}]}},
        {"identity": {}},
    ]}],
}  # fmt: skip


def _pod(name: str, image: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", **metadata},
        "spec": {
            "containers": [{"name": "main", "image": image,
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}]}],
            "volumes": [{"name": "creds", "secret": {"secretName": "db-credentials"}}],
        },
    }  # fmt: skip


def _secret(name: str, data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()}, "type": "Opaque",
    }  # fmt: skip


WWW = "/registry/pods/default/www"
API = "/registry/pods/default/api"
CREDS = "/registry/secrets/default/db-credentials"
SEALED = "/registry/secrets/default/sealed"
WIDGET = "/registry/example.com/widgets/default/w1"
EVENT = "/registry/events/default/www.1"
TEXT = "/registry/notes/plain"

VALUES: dict[str, bytes] = {
    WWW: encode_object(_pod("www", "nginx:1.16-alpine", labels={"app": "web"}, managedFields=[
        {"manager": "nginx-deployer", "operation": "Apply", "apiVersion": "v1",
         "time": "2026-12-01T10:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:containers": {}}}}])),
    API: encode_object(_pod("api", "registry.example.com/api:2.0", annotations={
        "mirror": "NGINX-compatible", "evil": "\x1b]0;pwned\x07nginx\u202e"})),
    CREDS: encode_object(_secret("db-credentials", {"password": b"hunter2-nginx"})),
    SEALED: encrypt_value(
        encode_object(_secret("sealed", {"token": b"nginx-token"})),
        provider="aescbc", key_name="key1", secret=SECRET_KEY,
    ),
    WIDGET: json.dumps({"apiVersion": "example.com/v1", "kind": "Widget",
                        "metadata": {"name": "w1", "namespace": "default"},
                        "spec": {"note": "a<b & c", "size": 3}}).encode(),
    EVENT: encode_object({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "www.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "www"},
        "reason": "Pulling", "message": 'Pulling image "nginx:1.16-alpine"', "count": 1,
        "source": {"component": "kubelet"}, "type": "Normal",
        "firstTimestamp": "2026-12-01T10:00:00Z", "lastTimestamp": "2026-12-01T10:00:00Z",
    }),
    TEXT: b"plain text that mentions nginx once",
}  # fmt: skip


@dataclass
class Cluster:
    server: EtcdServer
    dump: Path
    snapshot: Path
    encryption_config: Path
    revisions: dict[str, int]

    def source_args(self, kind: str) -> list[str]:
        if kind == "live":
            return ["--endpoints", self.server.endpoint]
        return ["-s", str(self.dump if kind == "dump" else self.snapshot)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = EtcdServer().start()
    try:
        root = tmp_path_factory.mktemp("grep")
        revisions = {}
        for key, value in VALUES.items():
            server.put(key, value)
            revisions[key] = cluster_data.revision_of(server)
        config = root / "encryption.json"
        config.write_text(json.dumps(ENCRYPTION_CONFIG))
        yield Cluster(
            server, cluster_data.dump(server, root / "dump.json"),
            cluster_data.snapshot(server, root / "snap.db"), config, revisions,
        )  # fmt: skip
    finally:
        server.cleanup()


def grep_json(cluster: Cluster, kind: str, *args: str) -> tuple[list[dict[str, Any]], str]:
    result = ketui("grep", *args, "-o", "json", *cluster.source_args(kind))
    hits = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert result.returncode == (0 if hits else 1), result.stderr.decode()
    return hits, result.stderr.decode()


def hit(cluster: Cluster, key: str, path: str, value: str) -> dict[str, Any]:
    return {"key": key, "revision": cluster.revisions[key], "path": path, "value": value}


SOURCES = ["live", "dump", "snapshot"]


@pytest.mark.parametrize("kind", SOURCES)
def test_a_literal_is_found_in_every_kind_of_value(cluster: Cluster, kind: str) -> None:
    """Protobuf fields, an Event message, a text value, in key order; not a Secret's data (masked
    unless asked for), not an encrypted Secret (counted), not a different case."""
    hits, summary = grep_json(cluster, kind, "nginx")
    assert hits == [
        hit(cluster, EVENT, "message", 'Pulling image "nginx:1.16-alpine"'),
        hit(cluster, TEXT, "", "plain text that mentions nginx once"),
        hit(cluster, API, "metadata.annotations.evil", "\x1b]0;pwned\x07nginx\u202e"),
        hit(cluster, WWW, "spec.containers[0].image", "nginx:1.16-alpine"),
    ]
    assert "4 hits in 4 of 7 keys searched" in summary
    assert "1 not searchable (encrypted, --encryption-config FILE)" in summary


@pytest.mark.parametrize("kind", SOURCES)
def test_secrets_only_when_revealed_and_decrypted(cluster: Cluster, kind: str) -> None:
    config = ["--encryption-config", str(cluster.encryption_config)]
    hits, summary = grep_json(cluster, kind, "nginx", "/registry/secrets/", *config)
    assert hits == [] and "not searchable" not in summary  # decrypted, but data stays masked
    hits, _ = grep_json(cluster, kind, "nginx", "/registry/secrets/", "--show-secrets", *config)
    assert hits == [
        hit(cluster, CREDS, "data.password", "hunter2-nginx"),
        hit(cluster, SEALED, "data.token", "nginx-token"),
    ]
    hits, _ = grep_json(cluster, kind, "db-credentials")  # names are not secret
    assert [(h["key"], h["path"]) for h in hits] == [
        (API, "spec.volumes[0].secret.secretName"),
        (WWW, "spec.volumes[0].secret.secretName"),
        (CREDS, "metadata.name"),
        (CREDS, "metadata.uid"),
    ]


@pytest.mark.parametrize("kind", SOURCES)
def test_field_case_regex_numbers_and_json_escapes(cluster: Cluster, kind: str) -> None:
    image = "spec.containers[*].image"
    hits, _ = grep_json(cluster, kind, "nginx", "--field", image)
    assert hits == [hit(cluster, WWW, "spec.containers[0].image", "nginx:1.16-alpine")]
    hits, _ = grep_json(cluster, kind, "-i", "NGINX", "/registry/pods/")
    assert [h["path"] for h in hits] == [
        "metadata.annotations.evil", "metadata.annotations.mirror", "spec.containers[0].image"
    ]
    hits, _ = grep_json(cluster, kind, "-E", r"^nginx:1\.\d+", "--field", "spec")
    assert [h["key"] for h in hits] == [WWW]
    hits, _ = grep_json(cluster, kind, "8080")  # a varint on the wire, text once decoded
    assert [(h["key"], h["path"], h["value"]) for h in hits] == [
        (API, "spec.containers[0].ports[0].containerPort", "8080"),
        (WWW, "spec.containers[0].ports[0].containerPort", "8080"),
    ]
    hits, _ = grep_json(cluster, kind, "a<b &")  # stored as a\u003cb \u0026 in the JSON value
    assert hits == [hit(cluster, WIDGET, "spec.note", "a<b & c")]
    hits, _ = grep_json(cluster, kind, "web", "--field", "metadata.labels['app']")
    assert [h["key"] for h in hits] == [WWW]


def test_line_output_marks_the_match_and_escapes_the_rest(cluster: Cluster) -> None:
    args = ["grep", "nginx", "/registry/pods/", *cluster.source_args("dump")]
    plain = ketui(*args).stdout.decode()
    assert plain.splitlines() == [
        f"{API}  metadata.annotations.evil: \\x1b]0;pwned\\x07nginx\\u202e",
        f"{WWW}  spec.containers[0].image: nginx:1.16-alpine",
    ]
    colored = ketui(*args, "--color", "always").stdout.decode()
    assert "\\x1b]0;pwned\\x07\x1b[1;31mnginx\x1b[0m\\u202e" in colored
    assert colored.count("\x1b") == 4  # ketui's own marks only


def test_long_values_are_cut_around_the_match(cluster: Cluster, tmp_path: Path) -> None:
    server = EtcdServer().start()
    try:
        note = "x" * 500 + " needle " + "y" * 500
        server.put("/registry/notes/long", note.encode())
        out = ketui("grep", "needle", "--endpoints", server.endpoint).stdout.decode()
        assert out == f"/registry/notes/long  …{'x' * 59} needle {'y' * 59}…\n"
    finally:
        server.cleanup()


def test_max_hits_bad_input_and_no_hits(cluster: Cluster) -> None:
    source = cluster.source_args("snapshot")
    result = ketui("grep", "nginx", "--max-hits", "1", "-o", "json", *source)
    assert len(result.stdout.splitlines()) == 1 and b"stopped at --max-hits" in result.stderr
    for args, message in [
        (["-E", "nginx("], b"bad regular expression 'nginx(':"),
        (["nginx", "--field", "spec.[x"], b"bad field path 'spec.[x'"),
        (["nginx", "--max-hits", "0"], b"--max-hits must be at least 1"),
        ([""], b"empty PATTERN"),
    ]:
        result = ketui("grep", *args, *source)
        assert result.returncode == 1 and result.stdout == b""
        assert result.stderr.startswith(b"ketui: " + message), result.stderr
    result = ketui("grep", "no-such-text-anywhere", *source)
    assert result.returncode == 1 and result.stdout == b""
    assert b"0 hits in 0 of 7 keys searched" in result.stderr


@pytest.mark.parametrize("kind", SOURCES)
def test_get_hides_managed_fields_and_lists_events(cluster: Cluster, kind: str) -> None:
    source = cluster.source_args(kind)
    shown = json.loads(ketui("get", WWW, "-o", "json", *source).stdout)
    assert "managedFields" not in shown["metadata"] and shown["metadata"]["name"] == "www"
    full = json.loads(ketui("get", WWW, "-o", "json", "--show-managed-fields", *source).stdout)
    assert full["metadata"]["managedFields"][0]["manager"] == "nginx-deployer"
    assert {**full["metadata"], "managedFields": 0} == {**shown["metadata"], "managedFields": 0}
    events = json.loads(ketui("get", WWW, "--events", "-o", "json", *source).stdout)
    assert events == [{
        "key": EVENT, "type": "Normal", "reason": "Pulling",
        "message": 'Pulling image "nginx:1.16-alpine"', "count": 1,
        "firstSeen": "2026-12-01T10:00:00Z", "lastSeen": "2026-12-01T10:00:00Z",
        "source": "kubelet",
    }]  # fmt: skip
    table = ketui("get", WWW, "--events", *source).stdout.decode().splitlines()
    assert table[0].split() == ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]
    assert table[1].split()[:2] == ["Normal", "Pulling"]
    assert table[1].endswith('"nginx:1.16-alpine"')
    none = ketui("get", API, "--events", *source)
    assert none.returncode == 0 and b"no events about Pod api" in none.stderr
    text = ketui("get", TEXT, "--events", *source)
    assert text.returncode == 1 and b"not a Kubernetes object with a name" in text.stderr
