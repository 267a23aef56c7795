"""Phase timing shared by the bench workers (stdlib only: it also runs in Evidently's venv)."""

from __future__ import annotations

import time


class Laps:
    """Seconds spent per named phase, each measured from the end of the previous one."""

    def __init__(self, started: float) -> None:
        self.phases: dict[str, float] = {}
        self._mark = started

    def lap(self, name: str) -> None:
        """Close the phase ``name`` now."""
        now = time.perf_counter()
        self.phases[name] = now - self._mark
        self._mark = now
