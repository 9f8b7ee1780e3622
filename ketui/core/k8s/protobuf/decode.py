"""Kubernetes protobuf (storage form) to the object ``encoding/json`` prints, per release view.

The wire work is done by the protobuf C parser (upb) with descriptors built from the schema
(:mod:`ketui.core.k8s.protobuf.descriptors`). Turning the parsed message into Kubernetes JSON is
done by small Python functions generated once per (release view, message) from the schema, so each
field costs one attribute read and, where the rules need it, one presence test. Measured with
``benchmarks/decode.py``: ketui's own pure-Python wire reader (:mod:`ketui.core.pbwire`) needs about
2x the time of this whole decode for the wire reading alone, before any conversion
(docs/performance.md).

The rules implemented are those of ``k8s-schema/README.md`` (numbers refer to its rules):
JSON names and Go field order (5), omitempty/omitzero/pointers (3-5), inline structs (5), typeMeta
only at top level (7), the special messages (8) and release views (9).
"""

from __future__ import annotations

import base64
import json
import json.scanner
import threading
import types
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from ketui.core.gotext import JsonNumber, go_utf8_decode, json_number_int
from ketui.core.k8s.protobuf import schema
from ketui.core.k8s.protobuf.descriptors import message_class
from ketui.core.k8s.protobuf.schema import FieldSpec, KubeView, MessageSpec
from ketui.core.k8s.quantity import canonical_quantity
from ketui.core.pbwire import parse_envelope

__all__ = ["decode_message", "decode_object", "decode_storage", "go_duration"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_GO_ZERO_SECONDS = -62135596800  # 0001-01-01T00:00:00Z, Go's zero time
# Calling the unbound method is about twice as fast as ``m.HasField`` on upb messages.
_has = timestamp_pb2.Timestamp.HasField


# --- special messages (rule 8) -------------------------------------------------------------


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _text(value: str | bytes) -> str:
    """upb hands back proto2 strings that are not valid UTF-8 as bytes; Go prints one U+FFFD
    per invalid byte."""
    return value if value.__class__ is str else go_utf8_decode(value)  # type: ignore[arg-type]


_TIME_CACHE: dict[int, str] = {}  # Unix seconds -> RFC 3339 without the "Z"
_TIME_Z: dict[int, str] = {}  # Unix seconds -> metav1.Time JSON; read inline by the converters


def _seconds_text(seconds: int) -> str | None:
    text = _TIME_CACHE.get(seconds)
    if text is None:
        if seconds == _GO_ZERO_SECONDS:
            return None
        try:
            t = _EPOCH + timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(f"time out of range: {seconds} seconds") from None
        text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        if len(_TIME_CACHE) > 4096:
            _TIME_CACHE.clear()
            _TIME_Z.clear()
        _TIME_CACHE[seconds] = text
        if seconds:  # 0 needs the zero-length test in _time
            _TIME_Z[seconds] = text + "Z"
    return text


def _time(m: Any) -> str | None:
    seconds = m.f1
    if seconds == 0 and not _has(m, "f1") and not _has(m, "f2"):
        return None  # zero-length message: the zero time
    text = _seconds_text(seconds)
    return None if text is None else text + "Z"


def _microtime(m: Any) -> str | None:
    seconds, nanos = m.f1, m.f2
    if seconds == 0 and not _has(m, "f1") and not _has(m, "f2"):
        return None
    extra, nanos = divmod(nanos, 1_000_000_000)
    seconds += extra
    if seconds == _GO_ZERO_SECONDS and nanos == 0:
        return None
    text = _seconds_text(seconds)
    return None if text is None else f"{text}.{nanos // 1000:06d}Z"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if u >= size:
                return sign + _frac(u, size) + unit
    hours, rest = divmod(u, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _frac(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _frac(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{part:0{digits}d}".rstrip("0")


def _duration(m: Any) -> str:
    return go_duration(m.f1)


def _int_or_string(m: Any) -> int | str:
    return _text(m.f3) if m.f1 == 1 else m.f2


def _quantity(m: Any) -> str:
    if not _has(m, "f1"):
        return "0"
    text = _text(m.f1)
    # Go prints the parsed value; text it cannot parse makes it refuse the object: shown as is
    return canonical_quantity(text) or text


def _group_version(m: Any) -> str:
    group, version = _text(m.f1), _text(m.f2)
    return f"{group}/{version}" if group else version


def _string_list(m: Any) -> list[str]:
    return list(map(_text, m.f1[:]))


# Embedded JSON keeps its number texts (Go copies the bytes through; see JsonNumber).
_RAW_JSON = json.JSONDecoder(parse_float=JsonNumber, parse_int=json_number_int)
_scan_json: Any = json.scanner.make_scanner(_RAW_JSON)  # type: ignore[arg-type]


def _json_value(raw: bytes) -> Any:
    try:
        try:
            # The C scanner directly: json.loads' wrappers cost as much as parsing a small
            # FieldsV1. Go stores compact JSON; anything else takes the full path.
            text = raw.decode()
            value, end = _scan_json(text, 0)
            if end == len(text):
                return value
        except (StopIteration, UnicodeDecodeError):
            pass
        return _RAW_JSON.decode(raw.decode())
    except RecursionError:
        raise ValueError("embedded JSON nested too deeply") from None
    except ValueError:
        # Go would refuse to print the object; showing the text keeps the rest readable.
        return go_utf8_decode(raw)


def _raw_json(m: Any) -> Any:
    raw = m.f1
    return _json_value(raw) if raw else None


def _raw_extension(m: Any) -> Any:
    raw = m.f1
    if not raw:
        return None
    if raw[:3] == b"\xd9\xd9\xf7":
        from ketui.core.k8s.cbor import cbor_to_json

        return cbor_to_json(raw)
    return _json_value(raw)


def _fields_v1(m: Any) -> Any:
    raw = m.f1
    if not raw:
        return None
    first = raw[0]
    if first == 0xF6 or 0xA0 <= first <= 0xBF or 0xC6 <= first <= 0xDB:
        from ketui.core.k8s.cbor import cbor_fieldsv1_to_json

        return cbor_fieldsv1_to_json(raw)
    return _json_value(raw)


# form -> value function of the sub-message (schemaOr* forms are generated: they need the view)
_SPECIAL_VALUE = {
    "time": _time,
    "microtime": _microtime,
    "duration": _duration,
    "intOrString": _int_or_string,
    "quantity": _quantity,
    "groupVersion": _group_version,
    "stringList": _string_list,
}
_RAW_JSON_BY_NAME = {
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_extension,
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": _fields_v1,
}


def _schema_or_array(m: Any, conv: Any) -> Any:
    if m.f2:
        return list(map(conv, m.f2[:]))
    return conv(m.f1) if _has(m, "f1") else None


def _schema_or_bool(m: Any, conv: Any) -> Any:
    return conv(m.f2) if _has(m, "f2") else m.f1


def _schema_or_string_array(m: Any, conv: Any) -> Any:
    if m.f2:
        return list(map(_text, m.f2[:]))
    return conv(m.f1) if _has(m, "f1") else None


_SCHEMA_OR = {
    "schemaOrArray": "_schema_or_array",
    "schemaOrBool": "_schema_or_bool",
    "schemaOrStringArray": "_schema_or_string_array",
}


# --- converter generation --------------------------------------------------------------------

class _Dropped(threading.local):
    """The ``(message index, field number)`` of fields on the wire that the view does not print,
    met during the current decode of this thread (one list per :func:`_fill`)."""

    fields: list[tuple[int, int]] | None = None


_DROPPED = _Dropped()


def _note_dropped(index: int, number: int) -> None:
    if _DROPPED.fields is not None:
        _DROPPED.fields.append((index, number))


_BASE_GLOBALS: dict[str, Any] = {
    "_has": _has,
    "_dropped": _note_dropped,
    "_TZ": _TIME_Z,
    "_b64": _b64,
    "_s": _text,
    "_raw_extension": _raw_extension,
    "_fields_v1": _fields_v1,
    "_raw_json": _raw_json,
    "_schema_or_array": _schema_or_array,
    "_schema_or_bool": _schema_or_bool,
    "_schema_or_string_array": _schema_or_string_array,
    **{f"_{form}": fn for form, fn in _SPECIAL_VALUE.items()},
}
_CODE_CACHE: dict[str, types.CodeType] = {}


class _Converters:
    """The generated functions of one view, as globals ``F<index>`` (``fill(m, d)``: add the JSON
    keys of a message to ``d`` in Go order; for inline structs and the top level) and ``V<index>``
    (``conv(m) -> dict``). ``safe`` variants decode strings that are not UTF-8."""

    def __init__(self, view: KubeView, safe: bool) -> None:
        self.view = view
        self.safe = safe
        self.globals: dict[str, Any] = dict(_BASE_GLOBALS)

    def compiled_fill(self, index: int) -> Any:
        """The fill function of a message, compiled now (not the stub :meth:`ref` reserves)."""
        name = self.ref(index, "F")
        fill = self.globals[name] = self._compile(index, "F")
        return fill

    def ref(self, index: int, prefix: str = "V") -> str:
        """Global name of the F (fill) or V (conv) function of a message. A stub reserves the name
        first so recursive messages (JSONSchemaProps) can refer to it; the real function replaces
        the stub on its first call."""
        name = f"{prefix}{index}"
        if name in self.globals:
            return name

        def stub(*args: Any) -> Any:
            real = self._compile(index, prefix)
            self.globals[name] = real
            return real(*args)

        self.globals[name] = stub
        return name

    def _compile(self, index: int, prefix: str) -> Any:
        spec = self.view.message(index)
        body = _Generator(self, spec).body()
        if prefix == "F":
            source = "def fill(m, d):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
        else:
            lines = ["d = {}", *body, "return d"]
            source = "def conv(m):\n" + "".join(f"    {line}\n" for line in lines)
        code = _CODE_CACHE.get(source)
        if code is None:
            module = compile(source, f"<ketui converter {spec.name}>", "exec")
            code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
            _CODE_CACHE[source] = code
        return types.FunctionType(code, self.globals)

    def cls(self, index: int) -> str:
        name = f"C{index}"
        if name not in self.globals:
            self.globals[name] = message_class(index, not self.safe)
        return name


class _Generator:
    """Python source of one message's fill function."""

    def __init__(self, conv: _Converters, spec: MessageSpec) -> None:
        self.conv = conv
        self.spec = spec
        self.lines: list[str] = []
        self.sparse = self._is_sparse()
        self.tmp_count = 0

    def _is_sparse(self) -> bool:
        """Messages made only of optional fields (VolumeSource, SecurityContext, ...) usually have
        few of them set: one ListFields() call then beats a presence test per field, and its
        values are used directly (a second attribute read would build a second wrapper)."""
        printed = [f for f in self.spec.fields if f.inline or (f.json and not f.json_skip)]
        return len(printed) >= 6 and all(
            f.pointer or f.repeated or f.kind in ("map", "bytes") or f.extra for f in printed
        )

    def body(self) -> list[str]:
        if self.sparse:
            self.lines.append("p = {x.number: y for x, y in m.ListFields()}")
        for i, f in enumerate(self.spec.fields):
            self._field(f, i)
        for number, _name, repeated in self.spec.dropped:  # on the wire, not in this release
            present = f"len(m.f{number})" if repeated and not self.sparse else self._has(number)
            self.lines.append(f"if {present}: _dropped({self.spec.index}, {number})")
        return self.lines

    def _has(self, number: int) -> str:
        return f"{number} in p" if self.sparse else f"_has(m, 'f{number}')"

    def _s(self, expr: str) -> str:
        return f"_s({expr})" if self.conv.safe else expr

    def _declared(self, f: FieldSpec) -> int | None:
        """Message type the descriptor declares for this field (newest release's type)."""
        raw = schema.raw_message(self.spec.index)
        for rf in raw.fields:
            if rf.number == f.number:
                return rf.ref if rf.kind == "message" else None
        return None

    def _value(self, kind: str, message: int | None, var: str, declared: int | None) -> str:
        """Expression for the JSON value of one (non-repeated) value held in ``var``."""
        if kind == "string":
            return self._s(var)
        if kind == "bytes":
            return f"_b64({var})"
        if kind != "message":
            return var
        assert message is not None
        if declared is not None and declared != message:
            # an older release used another message type for this field: re-parse the bytes
            var = f"{self.conv.cls(message)}.FromString({var}.SerializeToString())"
        form = schema.special_form(message)
        if form is None or form[0] == "envelope":
            return f"{self.conv.ref(message)}({var})"
        name = form[0]
        if name == "rawJSON":
            fn = _RAW_JSON_BY_NAME.get(schema.MESSAGE_NAMES[message], _raw_json)
            return f"{fn.__name__}({var})"
        if name in _SCHEMA_OR:
            props = schema.schema_or_props(message)
            return f"{_SCHEMA_OR[name]}({var}, {self.conv.ref(props)})"
        if name == "time":
            return f"(_TZ.get(({self._tmp()} := {var}).f1) or _time({self._tmp(False)}))"
        return f"_{name}({var})"

    def _tmp(self, new: bool = True) -> str:
        if new:
            self.tmp_count += 1
        return f"t{self.tmp_count}"

    def _field(self, f: FieldSpec, i: int) -> None:
        add = self.lines.append
        key = repr(f.json)
        attr = f"p[{f.number}]" if self.sparse else f"m.f{f.number}"
        declared = self._declared(f) if f.kind == "message" else None
        special = schema.special_form(f.message) if f.kind == "message" and f.message else None
        if f.inline:
            fill = self.conv.ref(f.message, "F")  # type: ignore[arg-type]
            src = attr
            if declared is not None and declared != f.message:
                src = f"{self.conv.cls(f.message)}.FromString({attr}.SerializeToString())"  # type: ignore[arg-type]
            if f.pointer or f.extra:
                add(f"if {self._has(f.number)}: {fill}({src}, d)")
            else:
                add(f"{fill}({src}, d)")
            return
        if not f.json or f.json_skip:
            return
        v = f"v{i}"
        if f.kind == "map":
            vkind, vmsg = f.map_value, f.message
            # Go sorts map keys by their bytes: the same order as Python's for str keys (UTF-8
            # keeps code point order) and for the safe classes' bytes keys
            if self.conv.safe:
                # entry list with bytes keys (proto_descriptors): the last entry of a key wins
                val = self._value(vkind or "string", vmsg, "e.value", vmsg)
                expr = f"{{_s(k): {val} for k, e in sorted({{e.key: e for e in {v}}}.items())}}"
            else:
                # keys then v[k]: upb maps' items() is a slow pure-Python view
                val = self._value(vkind or "string", vmsg, f"{v}[k]", vmsg)
                expr = f"{{k: {val} for k in sorted({v})}}"
            self._nil_or(f, v, key, expr)
            return
        if f.repeated:
            # v[:] copies a upb repeated field to a list in one C call; iterating it goes through
            # __getitem__ element by element (about twice the time)
            val = self._value(f.kind, f.message, "x", declared)
            if val == "x":
                expr = f"{v}[:]"
            elif val.endswith("(x)") and val[:-3].isidentifier():
                expr = f"list(map({val[:-3]}, {v}[:]))"
            else:
                expr = f"[{val} for x in {v}[:]]"
            self._nil_or(f, v, key, expr)
            return
        if special is not None and special[1] == "slice":
            # list wrapper: a Go slice, nil when absent (omitempty drops nil and empty)
            val = self._value(f.kind, f.message, attr, declared)
            has = self._has(f.number)
            if f.omitempty:
                add(f"if {has} and {attr}.f1: d[{key}] = {val}")
            elif f.extra:
                add(f"if {has}: d[{key}] = {val}")
            else:
                add(f"d[{key}] = {val} if {has} else None")
            return
        if f.kind == "bytes" or f.pointer or f.extra:
            val = self._value(f.kind, f.message, attr, declared)
            has = self._has(f.number)
            if f.kind == "bytes" and f.omitempty and not f.extra:
                # a []byte: omitempty drops an empty one, present on the wire or not
                add(f"if {has} and {attr}: d[{key}] = {val}")
            elif f.omitempty or f.extra:
                add(f"if {has}: d[{key}] = {val}")
            else:
                add(f"d[{key}] = {val} if {has} else None")
            return
        val = self._value(f.kind, f.message, attr, declared)
        if f.kind == "message":
            if f.omitzero:
                add(f"{v} = {val}")
                add(f"if {v} is not None: d[{key}] = {v}")
            else:
                add(f"d[{key}] = {val}")
        elif f.omitempty:
            add(f"{v} = {attr}")
            add(f"if {v}: d[{key}] = {self._value(f.kind, None, v, None)}")
        else:
            add(f"d[{key}] = {val}")

    def _nil_or(self, f: FieldSpec, v: str, key: str, expr: str) -> None:
        """Lists and maps: absent on the wire means nil (``null`` unless omitempty)."""
        add = self.lines.append
        if self.sparse:
            add(f"if {f.number} in p: {v} = p[{f.number}]; d[{key}] = {expr}")
            if not (f.omitempty or f.extra):
                add(f"else: d[{key}] = None")
            return
        add(f"{v} = m.f{f.number}")
        if f.omitempty or f.extra:
            add(f"if {v}: d[{key}] = {expr}")
        else:
            add(f"d[{key}] = {expr} if {v} else None")


_CONVERTERS: dict[tuple[int, bool, bool], _Converters] = {}


def _converters(view: KubeView, safe: bool) -> _Converters:
    key = (view.tag, view.explicit, safe)
    conv = _CONVERTERS.get(key)
    if conv is None:
        conv = _CONVERTERS[key] = _Converters(view, safe)
    return conv


# --- public API ------------------------------------------------------------------------------


def _parse(index: int, raw: bytes) -> tuple[Any, bool]:
    """Parse with UTF-8 verification (fast converters); bytes holding a string that is not UTF-8
    are parsed again without it and need the "safe" converters. Returns (message, safe)."""
    try:
        return message_class(index).FromString(raw), False
    except DecodeError:
        pass
    try:
        return message_class(index, False).FromString(raw), True
    except DecodeError as exc:
        raise ValueError(f"malformed protobuf: {exc}") from None


_FILLS: dict[tuple[int, bool, bool, int], Any] = {}  # (view tag, explicit, safe, index) -> fill


def _fill(
    index: int, raw: bytes, d: dict[str, Any], view: KubeView
) -> list[tuple[int, int]]:
    """Decode into ``d``; returns the ``(message, field)`` of what the view dropped."""
    msg, safe = _parse(index, raw)
    key = (view.tag, view.explicit, safe, index)
    fill = _FILLS.get(key)
    if fill is None:
        fill = _FILLS[key] = _converters(view, safe).compiled_fill(index)
    outer, _DROPPED.fields = _DROPPED.fields, []  # an embedded object has its own list
    try:
        fill(msg, d)
    except RecursionError:
        raise ValueError("object nested too deeply") from None
    finally:
        dropped, _DROPPED.fields = _DROPPED.fields, outer
    return dropped


def decode_message(index: int, raw: bytes, view: KubeView) -> dict[str, Any]:
    """Decode ``raw`` as schema message ``index`` (no kind/apiVersion). Raises ValueError."""
    d: dict[str, Any] = {}
    _fill(index, raw, d, view)
    return d


def decode_object(
    api_version: str,
    kind: str,
    raw: bytes,
    view: KubeView | None = None,
    *,
    dropped: list[tuple[int, int]] | None = None,
) -> dict[str, Any] | None:
    """Decode ``raw`` (the ``runtime.Unknown`` raw bytes, without envelope) into the kubectl-shaped
    object, ``"kind"`` and ``"apiVersion"`` first. None when the kind is not in the schema;
    ValueError when the bytes are malformed. ``view`` defaults to the newest release's.
    ``dropped`` receives ``(message index, field number)`` of each field on the wire that the
    view does not print."""
    index = schema.kind_message_index(api_version, kind)
    if index is None:
        return None
    if view is None:
        view = schema.view_for(None)
    d: dict[str, Any] = {}
    if view.message(index).type_meta:
        if kind:
            d["kind"] = kind
        if api_version:
            d["apiVersion"] = api_version
    found = _fill(index, raw, d, view)
    if dropped is not None:
        dropped.extend(found)
    return d


def decode_storage(data: bytes, view: KubeView | None = None) -> dict[str, Any] | None:
    """Convenience: envelope + :func:`decode_object` (None when the kind is unknown)."""
    envelope = parse_envelope(data)
    return decode_object(envelope.api_version, envelope.kind, envelope.raw, view)
