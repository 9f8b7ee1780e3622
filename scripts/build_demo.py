"""Rebuild ketui/demo/demo_data.json.gz from ketui/demo/objects/*.yaml and ketui/demo/history.yaml.

Run after editing the demo YAML: ``.venv/bin/python scripts/build_demo.py``. The values are encoded
by ketui's own encoder, so rebuild too when the encoder changes; commit the data file.
"""

from __future__ import annotations

import sys

import yaml

from ketui.demo.build import DATA_FILE, DemoDataError, write_data_file


def main() -> int:
    try:
        count = write_data_file()
    except (DemoDataError, yaml.YAMLError, ValueError, KeyError) as exc:
        print(f"build_demo: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {count} writes to {DATA_FILE} ({DATA_FILE.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
