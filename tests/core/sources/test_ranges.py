"""The prefix range every source selects with: exactly the keys that start with the prefix."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ketui.core.sources.ranges import etcd_range, prefix_end

_bytes = st.binary(max_size=6, min_size=0) | st.sampled_from([b"\xff", b"a\xff\xff", b""])


@given(prefix=_bytes, key=st.binary(max_size=8))
def test_the_range_holds_exactly_the_keys_with_the_prefix(prefix: bytes, key: bytes) -> None:
    end = prefix_end(prefix)
    inside = key >= prefix and (end is None or key < end)
    assert inside == key.startswith(prefix)


def test_etcd_form_of_the_range() -> None:
    assert etcd_range(b"/registry/pods/") == (b"/registry/pods/", b"/registry/pods0")
    assert etcd_range(b"a\xff") == (b"a\xff", b"b")
    assert etcd_range(b"") == (b"\0", b"\0")  # every key
    assert etcd_range(b"\xff\xff") == (b"\xff\xff", b"\0")  # to the end of the keyspace
