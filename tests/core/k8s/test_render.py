"""ketui.core.k8s.render against the upstream fixtures (byte for byte) and Go's documented rules."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ketui.core.k8s.render import go_json_float, hexdump, to_json, to_text, to_yaml
from tests.paths import FIXTURES

RELEASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []
MASTER_JSON = sorted((FIXTURES / "master").glob("*.json")) if FIXTURES.is_dir() else []

needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")

_STRING_OR_SPACE = re.compile(r'("(?:[^"\\]|\\.)*")|\s+')


def _without_layout(text: str) -> str:
    """JSON text with the whitespace between tokens removed (strings kept as they are)."""
    return _STRING_OR_SPACE.sub(lambda m: m.group(1) or "", text)


def _load_fixture(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # 1.22/core.v1.EphemeralContainers.json is not valid JSON upstream


@needs_fixtures
@pytest.mark.parametrize("release", RELEASES)
def test_json_fixtures_byte_for_byte(release: str) -> None:
    """Every fixture .json, parsed and printed with indent 2, is the file (no final newline).

    The 1.17 and 1.22 generator pasted the output of custom marshalers (RawExtension,
    ExtraValue) into the file without re-indenting it, which no Go JSON printer (and no
    kubectl) does; those files must still match token for token.
    """
    exact = layout_only = 0
    failures = []
    for path in sorted((FIXTURES / release).glob("*.json")):
        obj = _load_fixture(path)
        if obj is None:
            continue
        expected = path.read_text(encoding="utf-8")
        got = to_json(obj, indent=2)
        if got == expected:
            exact += 1
        elif release in ("1.17", "1.22") and _without_layout(got) == _without_layout(expected):
            layout_only += 1
        else:
            failures.append(path.name)
    print(f"{release}: JSON {exact} byte-identical, {layout_only} upstream layout-only")
    assert failures == []
    assert exact > 0
    if release not in ("1.17", "1.22"):
        assert layout_only == 0


@needs_fixtures
@pytest.mark.parametrize("path", MASTER_JSON, ids=lambda p: p.stem)
def test_yaml_master_fixtures_byte_for_byte(path: Path) -> None:
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert to_yaml(obj) == path.with_suffix(".yaml").read_text(encoding="utf-8")


@needs_fixtures
def test_yaml_master_fixture_count() -> None:
    assert len(MASTER_JSON) == 197


# ---- JSON unit cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (1.0, "1"),
        (-0.0, "-0"),
        (0.0, "0"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1.23456789e-12, "1.23456789e-12"),
        (5e-324, "5e-324"),
        (-2.5, "-2.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (123456789.125, "123456789.125"),
    ],
)
def test_go_json_float(value: float, text: str) -> None:
    assert go_json_float(value) == text


@pytest.mark.parametrize(
    ("value", "json_text", "yaml_text"),
    [
        (float("nan"), "NaN", ".nan"),
        (float("inf"), "Infinity", ".inf"),
        (float("-inf"), "-Infinity", "-.inf"),
    ],
)
def test_non_finite_floats_print_placeholders(value: float, json_text: str, yaml_text: str) -> None:
    """Go refuses to marshal them; a viewer shows them instead of failing."""
    with pytest.raises(ValueError, match="unsupported value"):
        go_json_float(value)
    assert to_json([value], indent=None) == f"[{json_text}]"
    assert to_yaml({"x": value}) == f"x: {yaml_text}\n"


def test_json_escapes_like_go() -> None:
    """Go's escapes, and DEL too (Go leaves it raw: ketui never writes it to a terminal)."""
    text = "<a href='x'>&\u2028\u2029\x00\x1f\b\f\n\r\t\"\\\x7fé😀"
    assert to_json(text) == (
        "\"\\u003ca href='x'\\u003e\\u0026\\u2028\\u2029\\u0000\\u001f"
        '\\b\\f\\n\\r\\t\\"\\\\\\u007fé😀"'
    )


def test_json_lone_surrogate_becomes_replacement_character() -> None:
    assert to_json(json.loads('"a\\ud800b"')) == '"a\ufffdb"'


def test_json_layout() -> None:
    obj = {"b": 1, "a": [], "c": {}, "d": [1, {"e": None, "f": True}], "g": "x"}
    assert to_json(obj, indent=2) == (
        '{\n  "b": 1,\n  "a": [],\n  "c": {},\n  "d": [\n    1,\n    {\n'
        '      "e": null,\n      "f": true\n    }\n  ],\n  "g": "x"\n}'
    )
    assert to_json(obj, indent=None) == '{"b":1,"a":[],"c":{},"d":[1,{"e":null,"f":true}],"g":"x"}'
    assert to_json({"a": 1}) == '{\n    "a": 1\n}'  # kubectl's four spaces by default
    assert to_json([]) == "[]" and to_json({}) == "{}" and to_json(None) == "null"


def test_json_big_integers_stay_exact() -> None:
    assert to_json([2**63 - 1, -(2**63), 2**64 - 1]) == (
        "[\n    9223372036854775807,\n    -9223372036854775808,\n    18446744073709551615\n]"
    )


def test_json_rejects_non_string_keys_and_unknown_types() -> None:
    with pytest.raises(ValueError):
        to_json({1: "x"})
    with pytest.raises(ValueError):
        to_json({"x": object()})


# ---- YAML unit cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "line"),
    [
        # Strings that go-yaml would read back as something else are double-quoted.
        ("1", 'k: "1"'),
        ("1.0", 'k: "1.0"'),
        ("0x1F", 'k: "0x1F"'),
        ("0o17", 'k: "0o17"'),
        ("1_000", 'k: "1_000"'),
        ("09", 'k: "09"'),
        ("-1", 'k: "-1"'),
        ("+.5", 'k: "+.5"'),
        (".5", 'k: ".5"'),
        ("1e3", 'k: "1e3"'),
        ("true", 'k: "true"'),
        ("True", 'k: "True"'),
        ("yes", 'k: "yes"'),
        ("Y", 'k: "Y"'),
        ("on", 'k: "on"'),
        ("OFF", 'k: "OFF"'),
        ("null", 'k: "null"'),
        ("~", 'k: "~"'),
        ("", 'k: ""'),
        (".inf", 'k: ".inf"'),
        ("-.Inf", 'k: "-.Inf"'),
        (".NaN", 'k: ".NaN"'),
        ("1:20", 'k: "1:20"'),  # YAML 1.1 base-60 float
        ("2024-05-01", 'k: "2024-05-01"'),
        ("2024-5-1", 'k: "2024-5-1"'),
        ("2008-01-01T01:01:01Z", 'k: "2008-01-01T01:01:01Z"'),
        ("2008-01-01 01:01:01", 'k: "2008-01-01 01:01:01"'),
        ("a\tb", 'k: "a\\tb"'),
        ("a\x01b", 'k: "a\\x01b"'),
        ("😀", 'k: "\\U0001F600"'),
        ("\ufeffx", 'k: "\\uFEFFx"'),
        # Strings the emitter cannot write plain get single quotes.
        (":", "k: ':'"),
        ("- x", "k: '- x'"),
        ("#", "k: '#'"),
        ("a #b", "k: 'a #b'"),
        ("key: value", "k: 'key: value'"),
        (" lead", "k: ' lead'"),
        ("trail ", "k: 'trail '"),
        ("@x", "k: '@x'"),
        ("*x", "k: '*x'"),
        ("'q", "k: '''q'"),
        ('"q', "k: '\"q'"),
        ("---", "k: '---'"),
        # Plain.
        ("a#b", "k: a#b"),
        ("a:b", "k: a:b"),
        ("<<", "k: <<"),
        ("1.2.3", "k: 1.2.3"),
        ("1e400", "k: 1e400"),  # ParseFloat range error: go-yaml reads it as a string
        ("2024-13-01", "k: 2024-13-01"),
        ("2023-02-29", "k: 2023-02-29"),
        ("yes please", "k: yes please"),
        ("nameValue", "k: nameValue"),
        ("héllo 日本", "k: héllo 日本"),
        ("-", "k: '-'"),
        ("-x", "k: -x"),
        # Numbers go through their JSON text, as sigs.k8s.io/yaml reads them back.
        (7, "k: 7"),
        (-7, "k: -7"),
        (2**64 - 1, "k: 18446744073709551615"),
        (2**64, "k: 1.8446744073709552e+19"),
        (0.5, "k: 0.5"),
        (1.0, "k: 1"),
        (-0.0, "k: 0"),
        (1e21, "k: 1e+21"),
        (1e-7, "k: 1e-07"),
        (0.0001, "k: 0.0001"),
        (0.00001, "k: 1e-05"),
        (1234567.5, "k: 1.2345675e+06"),
        (True, "k: true"),
        (None, "k: null"),
        ({}, "k: {}"),
        ([], "k: []"),
    ],
)
def test_yaml_scalars(value: Any, line: str) -> None:
    assert to_yaml({"k": value}) == line + "\n"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("a\nb", "k: |-\n  a\n  b\n"),
        ("a\nb\n", "k: |\n  a\n  b\n"),
        ("a\n\n", "k: |+\n  a\n\n"),
        (" a\nb", "k: |2-\n   a\n  b\n"),
        ("a\n\tb", 'k: "a\\n\\tb"\n'),  # a tab is not printable: no block style
        ("a \nb", 'k: "a \\nb"\n'),
    ],
)
def test_yaml_multiline_strings(value: str, text: str) -> None:
    assert to_yaml({"k": value}) == text


def test_yaml_document_ending_in_keep_block_has_no_end_marker() -> None:
    assert to_yaml({"a": "x\n\n"}) == "a: |+\n  x\n\n"


def test_yaml_keys_sorted_like_go_yaml() -> None:
    keys = ["b", "a10", "a9", "B", "_x", "a1", "a01"]
    text = to_yaml(dict.fromkeys(keys, 0))
    assert [line.split(":")[0] for line in text.splitlines()] == [
        "_x", "B", "a1", "a01", "a9", "a10", "b",
    ]  # fmt: skip


def test_yaml_keys_are_quoted_like_values() -> None:
    assert to_yaml({"1": "x", "yes": "y", "a b": "z"}) == '"1": x\na b: z\n"yes": "y"\n'


def test_yaml_sequences_and_nesting() -> None:
    obj = {"a": [{"b": 1, "c": [1, 2]}, [3, 4], []], "d": {"e": {}}}
    assert to_yaml(obj) == ("a:\n- b: 1\n  c:\n  - 1\n  - 2\n- - 3\n  - 4\n- []\nd:\n  e: {}\n")
    assert to_yaml([]) == "[]\n"
    assert to_yaml(None) == "null\n"
    assert to_yaml("s") == "s\n"


def test_yaml_long_strings_fold_after_80_columns() -> None:
    """libyaml (and go-yaml's port) breaks at the first space once the line is past 80."""
    words = " ".join(["word"] * 30)
    text = to_yaml({"description": words})
    assert text == (
        "description: " + " ".join(["word"] * 14) + "\n  " + " ".join(["word"] * 16) + "\n"
    )
    assert yaml.safe_load(text) == {"description": words}


def test_to_text_and_formats() -> None:
    assert to_text({"a": 1}, "yaml") == "a: 1\n"
    assert to_text({"a": 1}, "json") == '{\n    "a": 1\n}\n'
    with pytest.raises(ValueError, match="unknown output format"):
        to_text({}, "xml")


# ---- hexdump -----------------------------------------------------------------------------------


def test_hexdump_layout() -> None:
    data = b"hello world\x00\x01abcdefghijklmnopq"
    assert hexdump(data) == (
        "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 00 01 61 62 63  |hello world..abc|\n"
        "00000010  64 65 66 67 68 69 6a 6b  6c 6d 6e 6f 70 71        |defghijklmnopq|\n"
        "0000001e\n"
    )
    assert hexdump(b"") == ""
    with pytest.raises(ValueError):
        hexdump(b"x", width=0)


@pytest.mark.skipif(shutil.which("hexdump") is None, reason="hexdump not installed")
@pytest.mark.parametrize("size", [1, 7, 8, 9, 16, 17, 100, 256])
def test_hexdump_matches_hexdump_c(size: int) -> None:
    data = bytes(range(256))[:size] if size <= 256 else b""
    expected = subprocess.run(
        ["hexdump", "-C"], input=data, capture_output=True, check=True
    ).stdout.decode("ascii")
    # hexdump -C collapses repeated lines into "*"; our input has none.
    assert hexdump(data) == expected


# ---- properties --------------------------------------------------------------------------------


def _floats(value: Any) -> Any:
    """Numbers as floats: Go prints whole floats without ".0", so they read back as ints."""
    if isinstance(value, dict):
        return {key: _floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "NaN" if math.isnan(value) else float(value)  # NaN != NaN
    return value


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=500)
@given(_json_values)
def test_json_round_trips(value: Any) -> None:
    text = to_json(value)
    assert _floats(json.loads(text)) == _floats(value)
    assert to_json(value, indent=None) == _without_layout(text)


@settings(max_examples=200, deadline=500)
@given(_json_values)
def test_yaml_never_fails_on_json_values(value: Any) -> None:
    assert to_yaml(value).endswith("\n")


_safe_text = st.text(alphabet="ab .#:-_'\"\n\t\\é|>@%*&!?[]{},", max_size=30)


@settings(max_examples=300, deadline=500)
@given(st.dictionaries(_safe_text, _safe_text, max_size=5))
def test_yaml_strings_read_back_unchanged(value: dict[str, str]) -> None:
    assert yaml.safe_load(to_yaml(value)) == value


def test_first_lines_of_a_big_yaml_come_before_the_whole() -> None:
    """The viewer shows the first screen of a big object while the rest is still rendered: the
    callback gets complete lines, once, a prefix of the same text to_yaml returns."""
    obj = {"items": [{"name": f"item-{i}", "labels": {"n": str(i)}} for i in range(20_000)]}
    calls: list[str] = []
    whole = to_yaml(obj, first_lines=calls.append)
    assert whole == to_yaml(obj)
    assert len(calls) == 1
    first = calls[0]
    assert first.endswith("\n") and whole.startswith(first)
    assert 100 < first.count("\n") < whole.count("\n") // 10


_TREES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@given(_TREES)
def test_first_lines_never_change_the_yaml(obj: Any) -> None:
    calls: list[str] = []
    whole = to_yaml(obj, first_lines=calls.append)
    assert len(calls) <= 1 and all(whole.startswith(first) for first in calls)


@pytest.mark.parametrize("obj", [{"\u200b": None}, {"a": "x\u202ey"}, {"k": "line\n\n"}])
def test_first_lines_are_escaped_like_the_whole(obj: Any) -> None:
    """Found by the property test above (CI, 2026-12-07): the early first lines skipped the final
    escaping of invisible characters that the whole text gets."""
    calls: list[str] = []
    whole = to_yaml(obj, first_lines=calls.append)
    assert calls and whole.startswith(calls[0])
