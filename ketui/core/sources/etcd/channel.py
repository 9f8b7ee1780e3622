"""gRPC channels to etcd endpoints: URLs, TLS, and the only calls ketui can make.

Messages come from the etcd v3 API stubs shipped by ``python3-etcd3`` (``etcd3.etcdrpc``). The
generated service stubs are deliberately *not* used: they also expose Put, DeleteRange, Txn and
Compact. Instead :data:`READ_ONLY_RPCS` lists the only methods a channel gets call objects for, so
no code path can write to etcd (a test checks it against a user that only has a read role).

``--insecure-skip-tls-verify``: gRPC Python cannot switch verification off; the certificate the
server presents is fetched and pinned instead (see :func:`_fetch_server_certificate`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# gRPC's C core logs handshake failures straight to stderr, which would tear a full-screen UI;
# ketui reports every failure itself. Set before grpc initialises; a user's own setting wins.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc  # noqa: E402
import grpc.aio  # noqa: E402
from etcd3.etcdrpc import rpc_pb2  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

from ketui.core.pbwire import WireError, iter_fields  # noqa: E402
from ketui.core.source import SourceError  # noqa: E402
from ketui.core.sources.etcd.config import EtcdConfig  # noqa: E402
from ketui.core.sources.etcd.keys_only import parse_keys_only  # noqa: E402

MAX_RECEIVE_BYTES = 256 * 1024 * 1024
"""gRPC's default 4 MiB receive limit is far too small for a page of values from a big cluster."""

KEYS_ONLY_RANGE = ("KV", "Range keys-only")
"""The Range call again, with keys-only replies decoded straight into KeyInfo lists."""

class LeaseIds:
    """LeaseLeases (etcd 3.3+) is newer than the stubs: its request is empty (an ``Empty``
    serializes the same) and its reply is read here: ``leases`` (2), each ``ID`` (1)."""

    @staticmethod
    def FromString(data: bytes) -> list[int]:  # noqa: N802 - the deserializer's protocol name
        try:
            statuses = [v for n, _w, v in iter_fields(data) if n == 2 and isinstance(v, bytes)]
            return sorted(
                v for status in statuses for n, _w, v in iter_fields(status)
                if n == 1 and isinstance(v, int)
            )  # fmt: skip
        except WireError as error:
            raise ValueError(f"not a LeaseLeases reply: {error}") from None


# (service, method) -> (request class, response class). Nothing else can be called.
READ_ONLY_RPCS: dict[tuple[str, str], tuple[Any, Any]] = {
    ("KV", "Range"): (rpc_pb2.RangeRequest, rpc_pb2.RangeResponse),
    ("Watch", "Watch"): (rpc_pb2.WatchRequest, rpc_pb2.WatchResponse),
    ("Maintenance", "Status"): (rpc_pb2.StatusRequest, rpc_pb2.StatusResponse),
    ("Cluster", "MemberList"): (rpc_pb2.MemberListRequest, rpc_pb2.MemberListResponse),
    ("Auth", "Authenticate"): (rpc_pb2.AuthenticateRequest, rpc_pb2.AuthenticateResponse),
    ("Lease", "LeaseTimeToLive"): (
        rpc_pb2.LeaseTimeToLiveRequest,
        rpc_pb2.LeaseTimeToLiveResponse,
    ),
    ("Maintenance", "HashKV"): (rpc_pb2.HashKVRequest, rpc_pb2.HashKVResponse),
    ("Lease", "LeaseLeases"): (empty_pb2.Empty, LeaseIds),
}


@dataclass
class Endpoint:
    """One endpoint's channel, call objects and auth token (simple tokens are per member)."""

    url: str
    target: str
    channel: grpc.aio.Channel
    calls: dict[tuple[str, str], Any] = field(default_factory=dict)
    token: str | None = None


class Channels:
    """Opens an :class:`Endpoint` per URL with the configuration's TLS and keepalive settings.

    TLS credentials are read (or, with ``--insecure-skip-tls-verify``, fetched) once and shared by
    every endpoint.
    """

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self._tls_credentials: grpc.ChannelCredentials | None = None
        self._tls_target_override: str | None = None

    async def open(self, url: str) -> Endpoint:
        target, tls = self.parse_endpoint(url)
        cfg = self.config
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
            ("grpc.keepalive_time_ms", int(cfg.keepalive_time * 1000)),
            ("grpc.keepalive_timeout_ms", int(cfg.keepalive_timeout * 1000)),
            # etcd's enforcement policy refuses pings without an active call (GOAWAY).
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.http2.max_pings_without_data", 0),
            # by default a client pings at most every 5 minutes while it sends nothing itself,
            # and a watch sends nothing: without this a frozen member went unnoticed for minutes
            ("grpc.http2.min_sent_ping_interval_without_data_ms", int(cfg.keepalive_time * 1000)),
            # a flow-control (BDP) ping left unanswered by a frozen member blocks keepalive
            # pings; give every ping the keepalive timeout instead of gRPC's default minute
            ("grpc.http2.ping_timeout_ms", int(cfg.keepalive_timeout * 1000)),
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
            ("grpc.enable_retries", 0),
        ]
        if tls:
            credentials = await self._credentials(target)
            if self._tls_target_override:
                options.append(("grpc.ssl_target_name_override", self._tls_target_override))
            channel = grpc.aio.secure_channel(target, credentials, options=options)
        else:
            channel = grpc.aio.insecure_channel(target, options=options)
        endpoint = Endpoint(url=url, target=target, channel=channel)
        for (service, method), (req_cls, resp_cls) in READ_ONLY_RPCS.items():
            path = f"/etcdserverpb.{service}/{method}"
            make = channel.stream_stream if service == "Watch" else channel.unary_unary
            endpoint.calls[(service, method)] = make(
                path,
                request_serializer=req_cls.SerializeToString,
                response_deserializer=resp_cls.FromString,
            )
            if (service, method) == ("KV", "Range"):
                endpoint.calls[KEYS_ONLY_RANGE] = make(
                    path,
                    request_serializer=req_cls.SerializeToString,
                    response_deserializer=parse_keys_only,
                )
        return endpoint

    def parse_endpoint(self, url: str) -> tuple[str, bool]:
        """``(host:port, uses TLS)`` of an endpoint URL; a bare ``host:port`` follows the config."""
        if "://" not in url:
            return url, self.config.uses_tls
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"unsupported etcd endpoint {url!r} (use http:// or https://)")
        port = parts.port or 2379
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return f"{host}:{port}", parts.scheme == "https"

    async def _credentials(self, target: str) -> grpc.ChannelCredentials:
        if self._tls_credentials is not None:
            return self._tls_credentials
        cfg = self.config
        key = _read_file(cfg.key, "--key") if cfg.key else None
        cert = _read_file(cfg.cert, "--cert") if cfg.cert else None
        roots: bytes | None
        if cfg.insecure_skip_tls_verify:
            roots, self._tls_target_override = await asyncio.to_thread(
                _fetch_server_certificate, target, cfg.cert, cfg.key, cfg.dial_timeout
            )
        else:
            roots = _read_file(cfg.cacert, "--cacert") if cfg.cacert else None
        self._tls_credentials = grpc.ssl_channel_credentials(
            root_certificates=roots, private_key=key, certificate_chain=cert
        )
        return self._tls_credentials


def _read_file(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read {flag} {path}: {error.strerror or error}") from None


def _fetch_server_certificate(
    target: str, cert: str | None, key: str | None, timeout: float
) -> tuple[bytes, str | None]:
    """The certificate the server presents, fetched without verification, to be trusted as is.

    gRPC Python has no switch to turn certificate verification off (etcdctl's Go client sets
    ``InsecureSkipVerify``). ``--insecure-skip-tls-verify`` therefore pins whatever certificate
    the endpoint presents at connect time as the only trusted root, and accepts it under the
    name written in it. Traffic stays encrypted and later connections must present the same
    certificate; what is skipped, as with etcdctl, is checking who issued it.
    """
    from cryptography import x509

    host, _, port = target.rpartition(":")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert and key:
        context.load_cert_chain(cert, key)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
            with context.wrap_socket(sock) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as error:
        raise SourceError(f"cannot fetch the TLS certificate of {target}: {error}") from None
    if not der:
        raise SourceError(f"{target} presented no TLS certificate")
    certificate = x509.load_der_x509_certificate(der)
    name: str | None = None
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
        name = dns[0] if dns else None
    except x509.ExtensionNotFound:
        pass
    if name is None:
        cns = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        name = str(cns[0].value) if cns else None
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    return pem, name
