"""Text from etcd never reaches a terminal as a control sequence (core/safe_text.py, issue 9)."""

from __future__ import annotations

import json

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ketui.core.k8s.render import to_json, to_yaml
from ketui.core.safe_text import (
    UNSAFE,
    json_escaped,
    pieces,
    visible,
    visible_key,
    visible_line,
)

#: Every character class the issue names, and the ones beside them.
HOSTILE = (
    "\x1b]0;PWNED\x07", "\x1b[2J", "\x1b]52;c;aGVsbG8=\x07", "\r", "\x7f", "\x85", "\x9b",
    "\u202a", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\u2028", "\u200f",
)  # fmt: skip
_hostile_text = st.lists(
    st.sampled_from(HOSTILE) | st.text(max_size=5), min_size=1, max_size=6
).map("".join)


def test_every_unsafe_character_becomes_a_visible_escape() -> None:
    key = b"/registry/configmaps/default/evil\x1b]0;PWNED\x07\x1b[2J\x1b]52;c;aGVsbG8=\x07"
    assert visible_key(key) == (
        "/registry/configmaps/default/evil\\x1b]0;PWNED\\x07\\x1b[2J\\x1b]52;c;aGVsbG8=\\x07"
    )
    assert visible_key(b"bad \xff utf-8 \xc2\x9b c1 \xe2\x80\xae rlo") == (
        "bad \\xff utf-8 \\x9b c1 \\u202e rlo"
    )
    assert visible("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
    assert visible_line("tab\tand\nnewline") == "tab\\tand\\nnewline"


@given(_hostile_text)
def test_nothing_unsafe_is_left(text: str) -> None:
    assert not UNSAFE.search(visible(text))
    assert not UNSAFE.search(visible_line(text)) and "\n" not in visible_line(text)
    shown = "".join(piece for piece, _ in pieces(text))
    assert shown == visible_line(text)


@given(_hostile_text, _hostile_text)
def test_yaml_and_json_escape_and_keep_the_value(key: str, value: str) -> None:
    obj = {"metadata": {"annotations": {key: value}, "name": value}}
    for text in (to_yaml(obj), to_json(obj), json_escaped(json.dumps(obj, ensure_ascii=False))):
        assert not UNSAFE.search(text)
    assert yaml.safe_load(to_yaml(obj)) == obj
    assert json.loads(to_json(obj)) == obj
    assert json.loads(json_escaped(json.dumps(obj, ensure_ascii=False))) == obj
