"""protobuf descriptors built from the schema, so the C (upb) parser does the wire work.

One file holds every message of every release. Each field is declared once, with the type of the
newest release that has it (a field number never changes its wire type across releases:
scripts/gen_schema.py refuses a schema where it would). Where an older release used another
message type for the same field, the converters re-parse that sub-message with the old type.
Fields are named ``f<number>``.
"""

from __future__ import annotations

from functools import cache, lru_cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from ketui.core.k8s.protobuf.schema import MESSAGE_NAMES, raw_message

FDP = descriptor_pb2.FieldDescriptorProto
_SCALAR_TYPES = {
    "string": FDP.TYPE_STRING,
    "bytes": FDP.TYPE_BYTES,
    "bool": FDP.TYPE_BOOL,
    "int32": FDP.TYPE_INT32,
    "int64": FDP.TYPE_INT64,
    "uint32": FDP.TYPE_UINT32,
    "uint64": FDP.TYPE_UINT64,
    "double": FDP.TYPE_DOUBLE,
    "float": FDP.TYPE_FLOAT,
}
_FILE = "ketui_k8s_schema.proto"


def proto_name(index: int) -> str:
    """Descriptor name of a message: its full name with dots made underscores (one flat file)."""
    return MESSAGE_NAMES[index].replace(".", "_")


def _message_type(index: int, safe_maps: bool) -> descriptor_pb2.DescriptorProto:
    msg = descriptor_pb2.DescriptorProto(name=proto_name(index))
    for f in raw_message(index).fields:
        name = f"f{f.number}"
        if f.kind == "map":
            value_kind, value_message = f.ref
            entry = msg.nested_type.add(name=f"E{f.number}")
            entry.options.map_entry = not safe_maps
            key_type = FDP.TYPE_BYTES if safe_maps else FDP.TYPE_STRING
            entry.field.add(name="key", number=1, label=FDP.LABEL_OPTIONAL, type=key_type)
            value = entry.field.add(name="value", number=2, label=FDP.LABEL_OPTIONAL)
            if value_kind == "message":
                value.type = FDP.TYPE_MESSAGE
                value.type_name = "." + proto_name(value_message)
            else:
                value.type = _SCALAR_TYPES[value_kind]
            msg.field.add(
                name=name,
                number=f.number,
                label=FDP.LABEL_REPEATED,
                type=FDP.TYPE_MESSAGE,
                type_name=f".{proto_name(index)}.E{f.number}",
            )
            continue
        label = FDP.LABEL_REPEATED if f.flags & 1 else FDP.LABEL_OPTIONAL
        if f.kind == "message":
            msg.field.add(
                name=name,
                number=f.number,
                label=label,
                type=FDP.TYPE_MESSAGE,
                type_name="." + proto_name(f.ref),
            )
        else:
            msg.field.add(name=name, number=f.number, label=label, type=_SCALAR_TYPES[f.kind])
    return msg


@lru_cache(maxsize=2)
def _pool(verify_utf8: bool) -> descriptor_pool.DescriptorPool:
    """Two variants of the same messages, both with proto2 semantics (explicit presence, unpacked
    repeated scalars). ``verify_utf8`` (edition 2023, its default utf8_validation VERIFY) makes the
    parser reject strings that are not UTF-8; the plain proto2 variant accepts them (upb then hands
    them to Python as bytes), which the decoder's slower "safe" converters handle. Its maps are
    plain repeated entry messages with a ``bytes`` key (same wire format; the converters keep the
    last entry of a key, as Go does): upb returns a non-UTF-8 string map key as bytes but then
    cannot look it up, and bytes keys also sort the way Go sorts them."""
    if verify_utf8:
        fdp = descriptor_pb2.FileDescriptorProto(
            name=_FILE, syntax="editions", edition=descriptor_pb2.EDITION_2023
        )
        fdp.options.features.repeated_field_encoding = descriptor_pb2.FeatureSet.EXPANDED
    else:
        fdp = descriptor_pb2.FileDescriptorProto(name=_FILE, syntax="proto2")
    fdp.message_type.extend(_message_type(i, not verify_utf8) for i in range(len(MESSAGE_NAMES)))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return pool


@cache
def message_class(index: int, verify_utf8: bool = True) -> type[Message]:
    """The generated protobuf class of a schema message (descriptors are built on first use)."""
    pool = _pool(verify_utf8)
    cls: type[Message] = message_factory.GetMessageClass(
        pool.FindMessageTypeByName(proto_name(index))
    )
    return cls
