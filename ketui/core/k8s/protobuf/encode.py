"""kubectl-shaped object to the bytes kube-apiserver stores (``k8s\\x00`` + runtime.Unknown).

The reverse of :mod:`ketui.core.k8s.protobuf.decode`, for the newest release: used to build the demo
keyspace and test data. It reproduces what the gogo-protobuf marshaller writes: every non-pointer
scalar and message even when zero (``alwaysWritten``), pointers only when set, ``[]byte`` when not
nil, map entries sorted by key, fields in number order (upb's encoder writes that order too).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any

from ketui.core.k8s.protobuf import schema
from ketui.core.k8s.protobuf.descriptors import message_class
from ketui.core.k8s.protobuf.schema import FieldSpec, KubeView

__all__ = ["encode_object", "encode_message", "go_json_bytes"]

_VIEW = schema.view_for("master")
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"


def go_json_bytes(value: Any) -> bytes:
    """Compact JSON as Go's ``encoding/json`` writes it (HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode("utf-8")


def _parse_time(text: str) -> tuple[int, int]:
    """RFC 3339 (``Z`` or offset, optional fraction) -> (Unix seconds, nanoseconds)."""
    main, _, frac_zone = text.partition(".")
    nanos = 0
    if frac_zone:
        digits = ""
        for ch in frac_zone:
            if not ch.isdigit():
                break
            digits += ch
        nanos = int((digits + "000000000")[:9])
        main += frac_zone[len(digits) :]
    try:
        t = datetime.fromisoformat(main.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {text!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    delta = t - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return delta.days * 86400 + delta.seconds, nanos


def _set_special(msg: Any, form: str, value: Any, index: int, view: KubeView) -> None:
    if form in ("time", "microtime"):
        if value is None:
            return  # Go's zero time marshals to an empty message
        seconds, nanos = _parse_time(value)
        msg.f1 = seconds
        msg.f2 = nanos if form == "microtime" else 0
    elif form == "duration":
        raise ValueError("encoding metav1.Duration is not supported (no API field uses it)")
    elif form == "intOrString":
        if isinstance(value, str):
            msg.f1, msg.f2, msg.f3 = 1, 0, value
        else:
            msg.f1, msg.f2, msg.f3 = 0, int(value or 0), ""
    elif form == "quantity":
        msg.f1 = "0" if value is None else str(value)
    elif form == "rawJSON":
        if value is not None:
            msg.f1 = go_json_bytes(value)
    elif form == "stringList":
        msg.f1.extend(value or [])
    elif form == "groupVersion":
        group, _, version = str(value).rpartition("/")
        msg.f1, msg.f2 = group, version
    elif form in ("schemaOrArray", "schemaOrStringArray", "schemaOrBool"):
        props = schema.schema_or_props(index)
        if form == "schemaOrBool":
            msg.f1 = value is not False
            if isinstance(value, dict):
                _fill(msg.f2, props, value, view)
                msg.f2.SetInParent()
        elif isinstance(value, list):
            for item in value:
                if form == "schemaOrArray":
                    _fill(msg.f2.add(), props, item, view)
                else:
                    msg.f2.append(item)
        elif isinstance(value, dict):
            _fill(msg.f1, props, value, view)
            msg.f1.SetInParent()
    else:
        raise ValueError(f"cannot encode special form {form}")


def _scalar(kind: str, value: Any) -> Any:
    if kind == "bytes":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError):
            raise ValueError(f"not base64: {value!r:.40}") from None
    if kind == "double" or kind == "float":
        return float(value)
    return value


def _message_value(sub: Any, index: int, value: Any, view: KubeView) -> None:
    form = schema.special_form(index)
    if form is not None and form[0] != "envelope":
        _set_special(sub, form[0], value, index, view)
    else:
        _fill(sub, index, value if value is not None else {}, view)
    sub.SetInParent()


def _set_field(msg: Any, f: FieldSpec, value: Any, view: KubeView) -> None:
    attr = f"f{f.number}"
    if f.kind == "map":
        if value is None:
            return
        target = getattr(msg, attr)
        for key in sorted(value):
            item = value[key]
            if f.map_value == "message":
                assert f.message is not None
                _message_value(target[key], f.message, item, view)
            else:
                target[key] = _scalar(f.map_value or "string", item)
        return
    if f.repeated:
        if value is None:
            return
        target = getattr(msg, attr)
        for item in value:
            if f.kind == "message":
                assert f.message is not None
                _message_value(target.add(), f.message, item, view)
            else:
                target.append(_scalar(f.kind, item))
        return
    if f.kind == "message":
        assert f.message is not None
        form = schema.special_form(f.message)
        is_slice = form is not None and form[1] == "slice"
        if value is None and (f.pointer or is_slice):
            return
        _message_value(getattr(msg, attr), f.message, value, view)
        return
    if value is None:
        if f.pointer or f.kind == "bytes" or not f.always_written:
            return
        value = {"string": "", "bool": False, "double": 0.0, "float": 0.0}.get(f.kind, 0)
        setattr(msg, attr, value)
        return
    setattr(msg, attr, _scalar(f.kind, value))


def _fill(msg: Any, index: int, obj: dict[str, Any], view: KubeView) -> None:
    if not isinstance(obj, dict):
        raise ValueError(f"{schema.MESSAGE_NAMES[index]}: expected an object, got {obj!r:.40}")
    for f in view.message(index).fields:
        if f.inline:
            assert f.message is not None
            sub = getattr(msg, f"f{f.number}")
            keys = {g.json for g in view.message(f.message).fields}
            if f.pointer and not keys & obj.keys():
                continue
            _fill(sub, f.message, obj, view)
            sub.SetInParent()
        elif f.json and not f.json_skip:
            _set_field(msg, f, obj.get(f.json), view)


def encode_message(index: int, obj: dict[str, Any], view: KubeView = _VIEW) -> bytes:
    """Protobuf bytes of one schema message (no envelope)."""
    msg = message_class(index)()
    _fill(msg, index, obj, view)
    data: bytes = msg.SerializeToString(deterministic=True)
    return data


def encode_object(obj: dict[str, Any], view: KubeView = _VIEW) -> bytes:
    """Storage bytes of a kubectl-shaped object (needs ``apiVersion`` and ``kind``) as the release
    of ``view`` writes them (default: master). ValueError for a kind missing from the schema or
    values of the wrong shape."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise ValueError("object needs string apiVersion and kind")
    index = schema.kind_message_index(api_version, kind)
    if index is None:
        raise ValueError(f"{api_version} {kind} is not in the protobuf schema")
    try:
        raw = encode_message(index, obj, view)
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"cannot encode {api_version} {kind}: {exc}") from None
    unknown = message_class(schema.message_index(_UNKNOWN))()
    unknown.f1.f1 = api_version
    unknown.f1.f2 = kind
    unknown.f2 = raw
    unknown.f3 = ""
    unknown.f4 = ""
    envelope: bytes = unknown.SerializeToString(deterministic=True)
    return b"k8s\x00" + envelope
