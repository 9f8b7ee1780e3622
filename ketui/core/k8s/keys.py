"""What an etcd key of a Kubernetes cluster names: resource, namespace, object name.

Layout (see the storage notes): ``<prefix>/<resource>/<namespace>/<name>`` for namespaced resources,
``<prefix>/<resource>/<name>`` for cluster-scoped ones, and ``<prefix>/<group>/<resource>/...`` for
resources of CRD-defined or aggregated groups. A few historical oddities (``minions`` are nodes,
``services/specs``, ``services/endpoints``, ``controllers`` are replication controllers, ...) are
translated to the resource names users know from kubectl. The key only labels the tree: the value's
own envelope says what an object really is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_PREFIX = "/registry"


@dataclass(frozen=True, slots=True)
class KeyParts:
    """The parts of one key. Fields that do not apply are ``None``.

    ``prefix`` is ``""`` for keys outside the Kubernetes prefix (then only ``label`` is set).
    ``resource`` is the kubectl plural (``nodes`` for ``minions/...``); ``group`` is set for keys
    of the ``<prefix>/<group>/<resource>/...`` form.
    """

    prefix: str
    group: str | None
    resource: str | None
    namespace: str | None
    name: str | None
    label: str

    @property
    def qualified_resource(self) -> str | None:
        """``resource.group`` as kubectl spells it for non-core groups, else the bare resource."""
        if self.resource is None:
            return None
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """A built-in resource: names kubectl accepts and whether it is namespaced."""

    plural: str
    singular: str
    kind: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    group: str | None = None  # set only where the etcd key carries the group


def _r(
    plural: str,
    kind: str,
    short: tuple[str, ...] = (),
    *,
    namespaced: bool = True,
    group: str | None = None,
    singular: str | None = None,
) -> ResourceInfo:
    return ResourceInfo(plural, singular or kind.lower(), kind, short, namespaced, group)


RESOURCES: tuple[ResourceInfo, ...] = (
    _r("pods", "Pod", ("po",)),
    _r("services", "Service", ("svc",)),
    _r("endpoints", "Endpoints", ("ep",), singular="endpoints"),
    _r("configmaps", "ConfigMap", ("cm",)),
    _r("secrets", "Secret"),
    _r("serviceaccounts", "ServiceAccount", ("sa",)),
    _r("events", "Event", ("ev",)),
    _r("limitranges", "LimitRange", ("limits",)),
    _r("resourcequotas", "ResourceQuota", ("quota",)),
    _r("persistentvolumeclaims", "PersistentVolumeClaim", ("pvc",)),
    _r("podtemplates", "PodTemplate"),
    _r("replicationcontrollers", "ReplicationController", ("rc",)),
    _r("deployments", "Deployment", ("deploy",)),
    _r("replicasets", "ReplicaSet", ("rs",)),
    _r("daemonsets", "DaemonSet", ("ds",)),
    _r("statefulsets", "StatefulSet", ("sts",)),
    _r("controllerrevisions", "ControllerRevision"),
    _r("jobs", "Job"),
    _r("cronjobs", "CronJob", ("cj",)),
    _r("horizontalpodautoscalers", "HorizontalPodAutoscaler", ("hpa",)),
    _r("ingresses", "Ingress", ("ing",)),
    _r("networkpolicies", "NetworkPolicy", ("netpol",)),
    _r("poddisruptionbudgets", "PodDisruptionBudget", ("pdb",)),
    _r("endpointslices", "EndpointSlice"),
    _r("leases", "Lease"),
    _r("roles", "Role"),
    _r("rolebindings", "RoleBinding"),
    _r("csistoragecapacities", "CSIStorageCapacity"),
    _r("resourceclaims", "ResourceClaim"),
    _r("resourceclaimtemplates", "ResourceClaimTemplate"),
    _r("podschedulingcontexts", "PodSchedulingContext"),
    _r("leasecandidates", "LeaseCandidate"),
    _r("podcertificaterequests", "PodCertificateRequest"),
    _r("podgroups", "PodGroup"),
    _r("workloads", "Workload"),
    _r("nodes", "Node", ("no",), namespaced=False),
    _r("namespaces", "Namespace", ("ns",), namespaced=False),
    _r("persistentvolumes", "PersistentVolume", ("pv",), namespaced=False),
    _r(
        "componentstatuses",
        "ComponentStatus",
        ("cs",),
        namespaced=False,
        singular="componentstatus",
    ),
    _r("clusterroles", "ClusterRole", namespaced=False),
    _r("clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _r("storageclasses", "StorageClass", ("sc",), namespaced=False),
    _r("csidrivers", "CSIDriver", namespaced=False),
    _r("csinodes", "CSINode", namespaced=False),
    _r("volumeattachments", "VolumeAttachment", namespaced=False),
    _r("priorityclasses", "PriorityClass", ("pc",), namespaced=False),
    _r("runtimeclasses", "RuntimeClass", namespaced=False),
    _r("ingressclasses", "IngressClass", namespaced=False),
    _r("certificatesigningrequests", "CertificateSigningRequest", ("csr",), namespaced=False),
    _r("clustertrustbundles", "ClusterTrustBundle", namespaced=False),
    _r("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", namespaced=False),
    _r("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", namespaced=False),
    _r("validatingadmissionpolicies", "ValidatingAdmissionPolicy", namespaced=False),
    _r("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", namespaced=False),
    _r("mutatingadmissionpolicies", "MutatingAdmissionPolicy", namespaced=False),
    _r("mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding", namespaced=False),
    _r("flowschemas", "FlowSchema", namespaced=False),
    _r("prioritylevelconfigurations", "PriorityLevelConfiguration", namespaced=False),
    _r("podsecuritypolicies", "PodSecurityPolicy", ("psp",), namespaced=False),
    _r("ipaddresses", "IPAddress", namespaced=False),
    _r("servicecidrs", "ServiceCIDR", namespaced=False),
    _r("deviceclasses", "DeviceClass", namespaced=False),
    _r("resourceslices", "ResourceSlice", namespaced=False),
    _r("devicetaintrules", "DeviceTaintRule", namespaced=False),
    _r("resourcepoolstatusrequests", "ResourcePoolStatusRequest", namespaced=False),
    _r("storageversions", "StorageVersion", namespaced=False),
    _r("storageversionmigrations", "StorageVersionMigration", namespaced=False),
    _r("volumeattributesclasses", "VolumeAttributesClass", namespaced=False),
    _r(
        "customresourcedefinitions",
        "CustomResourceDefinition",
        ("crd", "crds"),
        namespaced=False,
        group="apiextensions.k8s.io",
    ),
    _r("apiservices", "APIService", namespaced=False, group="apiregistration.k8s.io"),
)

_BY_PLURAL: dict[str, ResourceInfo] = {r.plural: r for r in RESOURCES}

#: Names kubectl accepts (plural, singular, short names, kind) -> plural, all lower case.
_ALIASES: dict[str, str] = {}
for _res in RESOURCES:
    for _alias in (_res.plural, _res.singular, _res.kind.lower(), *_res.short_names):
        _ALIASES.setdefault(_alias, _res.plural)

#: Cluster-scoped resources (the key has one segment after the resource).
CLUSTER_SCOPED: frozenset[str] = frozenset(r.plural for r in RESOURCES if not r.namespaced)

#: Key segments under the prefix that do not spell the kubectl resource name.
#: Two-segment entries (``services/specs``) are matched before one-segment ones.
STORAGE_SEGMENTS: dict[str, str] = {
    "minions": "nodes",
    "controllers": "replicationcontrollers",
    "ingress": "ingresses",
    "services/specs": "services",
    "services/endpoints": "endpoints",
    "podsecuritypolicy": "podsecuritypolicies",
}

#: Tree labels for odd key segments, keyed by the path under the prefix.
_SEGMENT_LABELS: dict[str, str] = {
    "minions": "minions (nodes)",
    "controllers": "controllers (replicationcontrollers)",
    "ingress": "ingress (ingresses)",
    "services/specs": "specs (services)",
    "services/endpoints": "endpoints (endpoints)",
    "podsecuritypolicy": "podsecuritypolicy (podsecuritypolicies)",
    "ranges": "ranges (IP and port allocations)",
    "ranges/serviceips": "serviceips (service IP range allocation)",
    "ranges/servicenodeports": "servicenodeports (node port range allocation)",
    "masterleases": "masterleases (apiserver endpoint leases)",
}

#: Non-resource keys with fixed meaning, keyed by the path under the prefix.
_SPECIAL_KEYS: dict[str, str] = {
    "ranges/serviceips": "service IP range allocation",
    "ranges/servicenodeports": "node port range allocation",
}

#: Keys kube-apiserver writes outside its prefix.
_OUTSIDE_PREFIX_LABELS: dict[str, str] = {
    "compact_rev_key": "compact_rev_key (kube-apiserver compaction revision)",
}

#: Prefixes other distributions use, tried by :func:`detect_prefix` before anything else.
KNOWN_PREFIXES: tuple[str, ...] = ("/registry", "/kubernetes.io")


def resolve_resource(name: str) -> str | None:
    """kubectl's name for a resource (``deploy``, ``Pod``, ``pod``, ``crds``...) -> its plural.

    Names of the ``resource.group`` form resolve their resource part; unknown names that look like
    a plural (CRD resources) are returned lower-cased, so ``:ciliumendpoints`` still works.
    ``None`` for an empty name.
    """
    text = name.strip().lower()
    if not text:
        return None
    if text in _ALIASES:
        return _ALIASES[text]
    head, dot, _group = text.partition(".")
    if dot and head in _ALIASES:
        return _ALIASES[head]
    return text


def resource_info(resource: str) -> ResourceInfo | None:
    """The built-in resource named by any kubectl alias, or ``None`` for unknown resources."""
    plural = resolve_resource(resource)
    return _BY_PLURAL.get(plural) if plural else None


def storage_paths(resource: str, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Key prefixes (without trailing slash) where objects of ``resource`` are stored.

    ``storage_paths("no")`` -> ``["/registry/minions"]``; unknown resources get the plain
    ``<prefix>/<resource>`` guess (a CRD's path also carries its group, which only the data knows).
    """
    plural = resolve_resource(resource)
    if plural is None:
        return []
    segments = [seg for seg, res in STORAGE_SEGMENTS.items() if res == plural]
    info = _BY_PLURAL.get(plural)
    if info is not None and info.group:
        segments.append(f"{info.group}/{plural}")
    if not segments:
        segments.append(plural)
    return [f"{prefix}/{seg}" for seg in segments]


def _looks_like_group(segment: str) -> bool:
    """API groups are DNS names; built-in resources never contain a dot."""
    return "." in segment


def parse_key(key: bytes | str, prefix: str = DEFAULT_PREFIX) -> KeyParts:
    """Split a key into the parts of the object it stores. Never raises."""
    text = key if isinstance(key, str) else key.decode("utf-8", "replace")
    prefix = prefix.rstrip("/")
    if not text.startswith(prefix + "/"):
        label = _OUTSIDE_PREFIX_LABELS.get(text, text)
        return KeyParts("", None, None, None, None, label)
    rest = text[len(prefix) + 1 :]
    segments = rest.split("/")

    if rest in _SPECIAL_KEYS:
        return KeyParts(prefix, None, segments[0], None, segments[1], _SPECIAL_KEYS[rest])

    group: str | None = None
    two = "/".join(segments[:2])
    if len(segments) >= 2 and two in STORAGE_SEGMENTS:
        resource, tail = STORAGE_SEGMENTS[two], segments[2:]
    elif len(segments) >= 2 and _looks_like_group(segments[0]):
        group, resource, tail = segments[0], segments[1], segments[2:]
    else:
        resource = STORAGE_SEGMENTS.get(segments[0], segments[0])
        tail = segments[1:]

    namespace: str | None = None
    name: str | None = None
    if len(tail) == 1:
        name = tail[0]
    elif len(tail) >= 2:
        if resource in CLUSTER_SCOPED and (group is None or group == _group_of(resource)):
            name = "/".join(tail)
        else:
            namespace, name = tail[0], "/".join(tail[1:])
    qualified = f"{resource}.{group}" if group else resource
    if name is None:
        label = qualified
    elif namespace is None:
        label = f"{qualified} {name}"
    else:
        label = f"{qualified} {namespace}/{name}"
    return KeyParts(prefix, group, resource, namespace, name, label)


def _group_of(resource: str) -> str | None:
    info = _BY_PLURAL.get(resource)
    return info.group if info else None


def segment_label(path: str, prefix: str = DEFAULT_PREFIX) -> str | None:
    """A readable tree label for the node at ``path`` when its segment is odd, else ``None``.

    ``segment_label("/registry/minions")`` -> ``"minions (nodes)"``.
    """
    prefix = prefix.rstrip("/")
    if path in _OUTSIDE_PREFIX_LABELS:
        return _OUTSIDE_PREFIX_LABELS[path]
    if not path.startswith(prefix + "/"):
        return None
    return _SEGMENT_LABELS.get(path[len(prefix) + 1 :])


def detect_prefix(keys: Iterable[bytes | str], default: str = DEFAULT_PREFIX) -> str:
    """The Kubernetes key prefix used by ``keys`` (``/registry``, ``/kubernetes.io``, ...).

    Votes for the path before a known resource segment (``.../pods/``, ``.../namespaces/``), so a
    custom ``--etcd-prefix`` such as ``/k3s/registry`` is found too. ``default`` when nothing votes.
    """
    votes: Counter[str] = Counter()
    markers = set(_BY_PLURAL) | set(STORAGE_SEGMENTS) | {"ranges", "masterleases"}
    for raw in keys:
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        segments = text.split("/")
        # "/registry/pods/ns/x" -> ["", "registry", "pods", ...]: try each position of a resource.
        for i in range(1, min(len(segments) - 1, 4)):
            if not segments[i]:
                continue
            nxt = segments[i + 1]
            # <prefix>/<resource>/... or <prefix>/<group>/<resource>/<name>
            if nxt in markers or (_looks_like_group(nxt) and len(segments) > i + 3):
                votes["/".join(segments[: i + 1])] += 1
                break
    if not votes:
        return default
    best, best_votes = votes.most_common(1)[0]
    for known in KNOWN_PREFIXES:
        if votes.get(known, 0) == best_votes:
            return known
    return best
