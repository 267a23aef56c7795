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


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as each bench prints them beside its table."""
    import os

    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def replace_section(readme: Path, section: str, body: str) -> None:
    """Put ``body`` (which starts with the ``section`` heading) in place of that section of
    ``readme``, up to the next ``## `` heading; appended when the section is new."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    start = text.find(section)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        nxt = text.find("\n## ", start + len(section))
        text = text[:start] + body + (text[nxt + 1 :] if nxt != -1 else "")
    readme.write_text(text)
