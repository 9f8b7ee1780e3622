"""Fast decoding of keys-only ``Range`` replies into :class:`KeyInfo` lists.

Reading five fields of 100k upb ``KeyValue`` messages one attribute at a time costs about
0.1 s of Python (each read is a name lookup plus a new Python object), more than etcdctl spends
decoding and printing the same reply. This module parses the reply's bytes with a different
schema instead, one that yields *columns*:

``kvs`` (field 2) is declared as a single embedded message ``Columns`` whose fields are
``repeated``. Protobuf merges every occurrence of a singular message field and concatenates
repeated fields while parsing, so upb turns the reply into one list of keys, one of create
revisions, and so on, entirely in C. ``map(KeyInfo, ...)`` then builds the objects without any
attribute reads.

Proto3 omits zero values, so a column only lines up with the keys when every key has a non-zero
value: true for ``key``, ``create_revision``, ``mod_revision`` and ``version`` of any existing
key, checked anyway. ``lease`` is zero for most keys: an empty column means no key has a lease,
a full one lines up; otherwise (some keys leased, such as Events) the leases are read from a
normal parse of the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Any

from etcd3.etcdrpc import rpc_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from ketui.core.bulk import gc_paused
from ketui.core.source import KeyInfo

_PACKAGE = "ketui.etcd_keys_only"


def _columns_response_class() -> Any:
    """Build the column schema of a RangeResponse (field numbers from etcd's rpc.proto/kv.proto)."""
    fdp = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="ketui_etcd_keys_only.proto", package=_PACKAGE, syntax="proto3"
    )
    header = file.message_type.add(name="Header")  # etcdserverpb.ResponseHeader
    header.field.add(name="revision", number=3, type=fdp.TYPE_INT64, label=fdp.LABEL_OPTIONAL)
    columns = file.message_type.add(name="Columns")  # mvccpb.KeyValue, every field repeated
    for name, number, kind in (
        ("key", 1, fdp.TYPE_BYTES),
        ("create_revision", 2, fdp.TYPE_INT64),
        ("mod_revision", 3, fdp.TYPE_INT64),
        ("version", 4, fdp.TYPE_INT64),
        ("lease", 6, fdp.TYPE_INT64),
    ):
        columns.field.add(name=name, number=number, type=kind, label=fdp.LABEL_REPEATED)
    response = file.message_type.add(name="Response")  # etcdserverpb.RangeResponse
    for name, number, type_name in (("header", 1, "Header"), ("kvs", 2, "Columns")):
        response.field.add(
            name=name,
            number=number,
            type=fdp.TYPE_MESSAGE,
            type_name=f".{_PACKAGE}.{type_name}",
            label=fdp.LABEL_OPTIONAL,
        )
    response.field.add(name="more", number=3, type=fdp.TYPE_BOOL, label=fdp.LABEL_OPTIONAL)
    response.field.add(name="count", number=4, type=fdp.TYPE_INT64, label=fdp.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.Response"))


_ColumnsResponse = _columns_response_class()


@dataclass(slots=True)
class KeysPage:
    """One keys-only Range reply, parsed but not yet turned into :class:`KeyInfo` objects.

    Parsing is cheap (upb, in C); building the objects is not, so the caller can ask etcd for
    the next page (it needs only :attr:`last_key` and :attr:`more`) before calling :meth:`infos`.
    """

    revision: int
    more: bool
    last_key: bytes | None
    left: int
    """Keys of the requested range after this page (the reply's count less its keys)."""
    _columns: Any
    _data: bytes

    def keys(self) -> list[bytes]:
        """The page's keys, without building :class:`KeyInfo` objects."""
        return list(self._columns.key)

    def infos(self) -> list[KeyInfo]:
        """The page's keys in order, with ``size=None`` (etcd sends no sizes in keys-only mode)."""
        columns = self._columns
        count = len(columns.key)
        revisions = (columns.create_revision, columns.mod_revision, columns.version)
        with gc_paused():
            if all(len(column) == count for column in revisions):
                leases: Any = columns.lease
                if not leases:
                    leases = repeat(0)
                elif len(leases) != count:
                    leases = [kv.lease for kv in rpc_pb2.RangeResponse.FromString(self._data).kvs]
                return list(map(KeyInfo, columns.key, *revisions, leases))
            # A zero revision or version: impossible for existing keys; decode field by field.
            return [
                KeyInfo(kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
                for kv in rpc_pb2.RangeResponse.FromString(self._data).kvs
            ]


def parse_keys_only(data: bytes) -> KeysPage:
    """Parse the bytes of a keys-only ``RangeResponse`` (the gRPC response deserializer)."""
    reply = _ColumnsResponse.FromString(data)
    columns = reply.kvs
    keys = columns.key
    last_key = keys[-1] if keys else None
    left = max(int(reply.count) - len(keys), 0)
    return KeysPage(int(reply.header.revision), bool(reply.more), last_key, left, columns, data)
