"""The Textual application. Renders and dispatches; all data work lives in :mod:`ketui.core`."""
