"""The key tree: a lazy view over :class:`KeyIndex` with counts and bytes on every branch."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ketui.core.index.keyindex import IndexNode, KeyIndex
from ketui.core.k8s.keys import segment_label
from ketui.core.k8s.render import human_bytes
from ketui.core.source import KeyInfo
from ketui.ui.messages import KeySelected
from ketui.ui.safe import safe_key, safe_text

#: Children shown per expansion; the rest sit behind a "… N more" node that loads the next page.
PAGE = 500


class More:
    """Data of the "… N more" node: which branch, and where its next page starts."""

    def __init__(self, path: str, start: int) -> None:
        self.path = path
        self.start = start


NodeData = IndexNode | More | None


class KeyTree(Tree[NodeData]):
    """Expanding a branch reads its children from the in-memory index (no etcd round trip).

    The index is filled and updated by the screen; :meth:`sync` re-reads the expanded branches so
    counts, new keys and deleted keys show up without rebuilding the tree.
    """

    HELP = """\
## Key tree
`/registry` → resource → namespace → name, with the number of keys and their total size on every
branch. **enter**/**space** expands a branch or opens a key; **/** filters as you type;
**:pods**, **:deploy**, **:no** … jump to a resource (kubectl short names work).
"""

    BINDINGS = [
        Binding("l", "expand", "Expand", show=False, id="tree.expand"),
        Binding("h", "cursor_parent", "Parent", show=False, id="tree.parent"),
        Binding("j", "cursor_down", "Down", show=False, id="tree.down"),
        Binding("k", "cursor_up", "Up", show=False, id="tree.up"),
    ]

    DEFAULT_CSS = """
    KeyTree { width: 1fr; min-width: 30; }
    """

    def __init__(
        self,
        index: KeyIndex,
        *,
        prefix: str = "/registry",
        id: str | None = None,  # noqa: A002 - Textual's name
    ) -> None:
        super().__init__("etcd", data=None, id=id)
        self.index = index
        self.kube_prefix = prefix
        self.show_root = False
        self.guide_depth = 2

    # -- building --------------------------------------------------------------------------------

    def label_for(self, node: IndexNode) -> Text:
        name = segment_label(node.path, self.kube_prefix) or node.name
        label = safe_text(name)
        if node.is_leaf:
            size = node.info.size if node.info is not None else None
            if size is not None:
                label.append(f"  {human_bytes(size)}", style="dim")
            return label
        total = human_bytes(node.bytes) if not node.unknown else "size ?"
        label.append(f"  {node.count} · {total}", style="dim")
        return label

    def _add_index_child(self, parent: TreeNode[NodeData], child: IndexNode) -> None:
        if child.is_leaf:
            parent.add_leaf(self.label_for(child), data=child)
        else:
            parent.add(self.label_for(child), data=child, allow_expand=True)

    def _fill(self, node: TreeNode[NodeData], path: str, start: int = 0) -> None:
        """Add one page of ``path``'s children to ``node`` (plus a "more" node when needed)."""
        children = self.index.children(path, start, start + PAGE)
        for child in children:
            self._add_index_child(node, child)
        remaining = self.index.child_count(path) - start - len(children)
        if remaining > 0:
            node.add_leaf(
                Text(f"… {remaining} more", style="italic"), data=More(path, start + PAGE)
            )

    def reload(self) -> None:
        """Rebuild from the index, keeping the branches that were expanded open."""
        expanded = self.expanded_paths() or {self.kube_prefix}
        self.clear()
        self._fill(self.root, "")
        self.root.expand()
        self._reexpand(self.root, expanded)

    def _reexpand(self, node: TreeNode[NodeData], expanded: set[str]) -> None:
        for child in node.children:
            if isinstance(child.data, IndexNode) and child.data.path in expanded:
                child.expand()
                self._reexpand(child, expanded)

    def expanded_paths(self) -> set[str]:
        paths: set[str] = set()
        stack = list(self.root.children)
        while stack:
            node = stack.pop()
            if node.is_expanded and isinstance(node.data, IndexNode):
                paths.add(node.data.path)
                stack.extend(node.children)
        return paths

    def sync(self) -> None:
        """Bring every expanded branch in line with the index (counts, added and removed keys)."""
        self._sync_node(self.root, "")

    def _sync_node(self, node: TreeNode[NodeData], path: str) -> None:
        shown_count = sum(1 for c in node.children if isinstance(c.data, IndexNode))
        wanted = self.index.children(path, 0, max(PAGE, shown_count))
        wanted_by_path = {child.path: child for child in wanted}
        current: dict[str, TreeNode[NodeData]] = {}
        for child in list(node.children):
            data = child.data
            if isinstance(data, More):
                child.remove()
            elif isinstance(data, IndexNode):
                if (
                    data.path not in wanted_by_path
                    or data.is_leaf != wanted_by_path[data.path].is_leaf
                ):
                    child.remove()
                else:
                    current[data.path] = child
        if len(current) != len(wanted):
            # Keys were added: rebuild this level in order, keeping expanded children's subtrees.
            expanded = {p for p, c in current.items() if c.is_expanded}
            node.remove_children()
            current = {}
            for wanted_child in wanted:
                self._add_index_child(node, wanted_child)
            for tree_child in node.children:
                if isinstance(tree_child.data, IndexNode):
                    current[tree_child.data.path] = tree_child
                    if tree_child.data.path in expanded:
                        tree_child.expand()
        for child_path, tree_child in current.items():
            fresh = wanted_by_path[child_path]
            if tree_child.data != fresh:
                tree_child.data = fresh
                tree_child.set_label(self.label_for(fresh))
            if tree_child.is_expanded and not fresh.is_leaf:
                self._sync_node(tree_child, child_path)
        remaining = self.index.child_count(path) - len(wanted)
        if remaining > 0:
            node.add_leaf(Text(f"… {remaining} more", style="italic"), data=More(path, len(wanted)))

    def show_matches(self, matches: list[KeyInfo], total: int) -> None:
        """Replace the tree with a flat list of matching keys (filter as you type)."""
        self.clear()
        for info in matches:
            node = IndexNode(
                info.key.decode(errors="replace"), "", 1, info.size or 0, 0, True, info
            )
            label = safe_key(info.key)
            if info.size is not None:
                label.append(f"  {human_bytes(info.size)}", style="dim")
            self.root.add_leaf(label, data=node)
        if total > len(matches):
            self.root.add_leaf(Text(f"… {total - len(matches)} more matches", style="italic"))
        self.root.expand()
        self.move_cursor(self.root.children[0] if self.root.children else None)

    # -- navigation ------------------------------------------------------------------------------

    def reveal_path(self, path: str, *, expand: bool = False) -> bool:
        """Expand the branches down to ``path`` (and ``path`` itself with ``expand``), move the
        cursor there; False when the index has no such path."""
        if self.index.node(path) is None:
            return False
        node = self.root
        for part_path in _ancestors(path):
            match = next(
                (
                    c
                    for c in node.children
                    if isinstance(c.data, IndexNode) and c.data.path == part_path
                ),
                None,
            )
            if match is None:
                return False
            node = match
            if part_path != path or expand:
                self._ensure_filled(node)
                node.expand()
        # Node lines are laid out on the next refresh: move the cursor then.
        self.call_after_refresh(self._move_to, node)
        return True

    def _move_to(self, node: TreeNode[NodeData]) -> None:
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)

    def _ensure_filled(self, node: TreeNode[NodeData]) -> None:
        if isinstance(node.data, IndexNode) and not node.data.is_leaf and not node.children:
            self._fill(node, node.data.path)

    # -- events ----------------------------------------------------------------------------------

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        self._ensure_filled(event.node)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, More):
            parent = event.node.parent
            event.node.remove()
            if parent is not None:
                self._fill(parent, data.path, data.start)

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, IndexNode) and data.is_leaf and data.info is not None:
            self.post_message(KeySelected(data.info.key))


def _ancestors(path: str) -> list[str]:
    """``"/registry/pods/x"`` -> ``["/registry", "/registry/pods", "/registry/pods/x"]``."""
    parts = path.split("/")
    return [p for p in ("/".join(parts[:i]) for i in range(1, len(parts) + 1)) if p]
