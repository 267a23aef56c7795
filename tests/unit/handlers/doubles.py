"""Doubles of what Bolt injects into a listener: Ack (Bolt's own), a recording respond."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingRespond:
    """Stands in for Bolt's `Respond`: keeps each message instead of POSTing it."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **message: Any) -> None:
        self.messages.append(message)

    def text(self) -> str:
        """Everything a user would read in the messages so far."""
        import json

        return "\n".join(
            str(m.get("text", "")) + json.dumps(m.get("blocks", []), ensure_ascii=False)
            for m in self.messages
        )
