"""Implementations of :class:`ketui.core.source.Source`."""
