"""The text viewer: lines prepared once, only visible lines drawn, highlighting per line."""

from __future__ import annotations

from textual.app import App, ComposeResult

from ketui.ui.widgets.text_view import TextView, prepare_text

YAML = """\
apiVersion: v1
data:
  script: |
    #!/bin/sh
    echo key: not a key
  other: 2
kind: ConfigMap
metadata:
  annotations:
    f:metadata: {}
items:
- |
  text: in a list
- name: x
"""


def test_block_scalar_lines_are_marked() -> None:
    prepared = prepare_text(YAML, "yaml")
    marked = [line for line, flag in zip(prepared.lines, prepared.block, strict=True) if flag]
    assert marked == ["    #!/bin/sh", "    echo key: not a key", "  text: in a list"]
    assert prepared.width == max(len(line) for line in YAML.splitlines())


def test_tabs_are_expanded_and_the_last_newline_is_no_line() -> None:
    prepared = prepare_text("a\tb\n", None)
    assert prepared.lines == ["a       b"]


def test_unified_part_of_a_diff_is_found() -> None:
    prepared = prepare_text("status.phase: A → B\n\n--- rev 1\n+++ rev 2\n@@ -1 +1 @@\n", "diff")
    assert prepared.unified_from == 2


class _Viewer(App[None]):
    def compose(self) -> ComposeResult:
        yield TextView("yaml", id="view")


async def test_a_big_text_draws_only_what_is_visible() -> None:
    big = "".join(f"key{i}: value {i}\n" for i in range(100_000))
    app = _Viewer()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(TextView)
        view.show(prepare_text(big, "yaml"))
        await pilot.pause()
        assert view.virtual_size.height == 100_000
        drawn = len(view._cache)
        assert 0 < drawn <= 20  # the lines on screen, not 100,000
        view.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        line = view.render_line(view.scrollable_content_region.height - 1)
        assert line.text.strip() == "key99999: value 99999"


async def test_keys_and_values_get_different_styles() -> None:
    app = _Viewer()
    async with app.run_test(size=(60, 10)) as pilot:
        view = app.query_one(TextView)
        view.show_text("name: www\ncount: 3\n")
        await pilot.pause()
        key, colon, _space, value = list(view.render_line(0))[:4]
        assert (key.text, colon.text, value.text) == ("name", ":", "www")
        assert key.style != value.style and key.style is not None
        number = list(view.render_line(1))[3]
        assert number.text == "3" and number.style != value.style
