"""The key tree: counts and bytes on branches, readable labels, lazy expansion, filter, jump."""

from __future__ import annotations

from ketui.core.sources.memory import MemorySource
from ketui.ui.app import make_app
from ketui.ui.widgets.key_tree import KeyTree
from tests.ui.conftest import frozen_clock, wait_until


def labels(tree: KeyTree, node=None) -> list[str]:
    node = node or tree.root
    return [str(child.label) for child in node.children]


async def test_tree_shows_counts_and_readable_labels(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        tree = app.main.query_one(KeyTree)
        await wait_until(pilot, lambda: not app.main.keys_loading and tree.root.children)
        (registry,) = tree.root.children
        assert str(registry.label).startswith("/registry  9 · ")
        registry.expand()
        await pilot.pause()
        names = labels(tree, registry)
        assert any(name.startswith("minions (nodes)  1 ·") for name in names), names
        assert any(name.startswith("pods  4 ·") for name in names), names
        # lazy: the pods branch has no tree nodes until it is expanded
        pods = next(c for c in registry.children if str(c.label).startswith("pods"))
        assert not pods.children
        pods.expand()
        await pilot.pause()
        assert [str(c.label).split()[0] for c in pods.children] == ["default", "kube-system"]


async def test_jump_to_resource_with_short_name(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        tree = app.main.query_one(KeyTree)
        await wait_until(pilot, lambda: not app.main.keys_loading)
        await pilot.press("colon", *"no", "enter")
        await pilot.pause()
        assert tree.cursor_node is not None
        assert tree.cursor_node.data.path == "/registry/minions"
        assert tree.cursor_node.is_expanded
        await pilot.press("colon", *"po", "enter")
        await pilot.pause()
        assert tree.cursor_node.data.path == "/registry/pods"


async def test_filter_as_you_type(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        tree = app.main.query_one(KeyTree)
        await wait_until(pilot, lambda: not app.main.keys_loading)
        await pilot.press("slash", *"coredns")
        await wait_until(pilot, lambda: len(tree.root.children) == 2)
        assert all("coredns" in label for label in labels(tree))
        await pilot.press("escape")
        await wait_until(pilot, lambda: labels(tree)[0].startswith("/registry"))


async def test_refresh_reads_new_keys(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        tree = app.main.query_one(KeyTree)
        await wait_until(pilot, lambda: not app.main.keys_loading)
        memory_source.apply_put(b"/registry/configmaps/default/extra", b"{}")
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: str(tree.root.children[0].label).startswith("/registry  10")
        )
