"""Reliability suite (issue 5): faults, bad files, fuzzed values, security properties.

What runs here is the CI slice; ``scripts/reliability.sh`` runs the long mode
(``KETUI_LONG=1`` and a million fuzzed values). See docs/reliability.md.
"""
