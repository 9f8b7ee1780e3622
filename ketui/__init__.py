"""ketui: a terminal UI for exploring the etcd store behind a Kubernetes cluster."""

__version__ = "0.1.0"
