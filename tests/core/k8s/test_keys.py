"""Key parsing: namespaced vs cluster-scoped, groups, oddities, prefixes, kubectl names."""

from __future__ import annotations

import pytest

from ketui.core.k8s.keys import (
    KeyParts,
    detect_prefix,
    parse_key,
    resolve_resource,
    resource_info,
    segment_label,
    storage_paths,
)


@pytest.mark.parametrize(
    ("key", "group", "resource", "namespace", "name"),
    [
        (b"/registry/pods/default/www", None, "pods", "default", "www"),
        (b"/registry/namespaces/kube-system", None, "namespaces", None, "kube-system"),
        (b"/registry/minions/node-1", None, "nodes", None, "node-1"),
        (b"/registry/services/specs/default/kubernetes", None, "services", "default", "kubernetes"),
        (
            b"/registry/services/endpoints/default/kubernetes",
            None,
            "endpoints",
            "default",
            "kubernetes",
        ),
        (b"/registry/controllers/ns/rc", None, "replicationcontrollers", "ns", "rc"),
        (b"/registry/ingress/ns/web", None, "ingresses", "ns", "web"),
        (
            b"/registry/clusterroles/system:aggregate-to-admin",
            None,
            "clusterroles",
            None,
            "system:aggregate-to-admin",
        ),
        (b"/registry/ranges/serviceips", None, "ranges", None, "serviceips"),
        (b"/registry/masterleases/10.0.0.1", None, "masterleases", None, "10.0.0.1"),
        (
            b"/registry/apiregistration.k8s.io/apiservices/v1.apps",
            "apiregistration.k8s.io",
            "apiservices",
            None,
            "v1.apps",
        ),
        (
            b"/registry/cilium.io/ciliumendpoints/ns/name",
            "cilium.io",
            "ciliumendpoints",
            "ns",
            "name",
        ),
        (
            b"/registry/example.com/widgets/cluster-widget",
            "example.com",
            "widgets",
            None,
            "cluster-widget",
        ),
        (b"/registry/widgets/ns/a", None, "widgets", "ns", "a"),  # unknown resource, 2 segments
        (b"/registry/pods", None, "pods", None, None),
    ],
)
def test_parse_key(
    key: bytes, group: str | None, resource: str, namespace: str | None, name: str | None
) -> None:
    parts = parse_key(key)
    assert (parts.prefix, parts.group, parts.resource, parts.namespace, parts.name) == (
        "/registry",
        group,
        resource,
        namespace,
        name,
    )


def test_labels() -> None:
    assert parse_key(b"/registry/pods/default/www").label == "pods default/www"
    assert parse_key(b"/registry/minions/n1").label == "nodes n1"
    assert parse_key(b"/registry/cilium.io/ciliumendpoints/a/b").qualified_resource == (
        "ciliumendpoints.cilium.io"
    )
    assert parse_key(b"/registry/ranges/servicenodeports").label == "node port range allocation"
    assert segment_label("/registry/minions") == "minions (nodes)"
    assert segment_label("/registry/services/specs") == "specs (services)"
    assert segment_label("/registry/pods") is None
    assert "compaction" in (segment_label("compact_rev_key") or "")


def test_other_prefixes_and_foreign_keys() -> None:
    assert parse_key(b"/kubernetes.io/pods/a/b", "/kubernetes.io").namespace == "a"
    foreign = parse_key(b"/calico/v1/ipam")
    assert foreign == KeyParts("", None, None, None, None, "/calico/v1/ipam")
    assert parse_key(b"\xff\xfe/registry").prefix == ""  # undecodable bytes never raise


def test_detect_prefix() -> None:
    assert detect_prefix([b"/registry/pods/a/b", b"/registry/cilium.io/x/y/z"]) == "/registry"
    openshift = [b"/kubernetes.io/minions/m", b"/kubernetes.io/cilium.io/x/y/z"]
    assert detect_prefix(openshift) == "/kubernetes.io"
    assert (
        detect_prefix([b"/k3s/registry/pods/a/b", b"/k3s/registry/leases/a/b"]) == "/k3s/registry"
    )
    assert detect_prefix([b"hello", b"/x"]) == "/registry"
    assert detect_prefix([]) == "/registry"


@pytest.mark.parametrize(
    ("alias", "plural"),
    [
        ("deploy", "deployments"),
        ("po", "pods"),
        ("svc", "services"),
        ("cm", "configmaps"),
        ("ns", "namespaces"),
        ("no", "nodes"),
        ("ds", "daemonsets"),
        ("sts", "statefulsets"),
        ("rs", "replicasets"),
        ("rc", "replicationcontrollers"),
        ("ep", "endpoints"),
        ("ev", "events"),
        ("sa", "serviceaccounts"),
        ("pv", "persistentvolumes"),
        ("pvc", "persistentvolumeclaims"),
        ("crd", "customresourcedefinitions"),
        ("ing", "ingresses"),
        ("netpol", "networkpolicies"),
        ("pdb", "poddisruptionbudgets"),
        ("hpa", "horizontalpodautoscalers"),
        ("cj", "cronjobs"),
        ("sc", "storageclasses"),
        ("csr", "certificatesigningrequests"),
        ("limits", "limitranges"),
        ("quota", "resourcequotas"),
        ("Pod", "pods"),
        ("pod", "pods"),
        ("Deployment", "deployments"),
        ("deployments.apps", "deployments"),
        ("lease", "leases"),
        ("ciliumendpoints", "ciliumendpoints"),
    ],
)
def test_resolve_resource(alias: str, plural: str) -> None:
    assert resolve_resource(alias) == plural


def test_resource_info_and_storage_paths() -> None:
    assert resolve_resource("  ") is None
    info = resource_info("no")
    assert info is not None and not info.namespaced and info.kind == "Node"
    assert storage_paths("no") == ["/registry/minions"]
    assert storage_paths("svc", "/kubernetes.io") == ["/kubernetes.io/services/specs"]
    assert storage_paths("apiservices") == ["/registry/apiregistration.k8s.io/apiservices"]
    assert storage_paths("pods") == ["/registry/pods"]
