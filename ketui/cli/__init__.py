"""The ``ketui`` command line."""
