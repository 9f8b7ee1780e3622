"""``python -m ketui``."""

from ketui.cli.main import main

raise SystemExit(main())
