"""What the bench scripts share: the repository root, first on sys.path.

The scripts run as files (`.venv/bin/python bench/ack.py`), so Python puts bench/ on sys.path,
not the root that holds this checkout's bot/, handlers/, jobs/ and tests/ (the helpers and the
fake Slack the benches drive). A script imports this module before any of those.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
