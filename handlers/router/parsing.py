"""Parsing `/mlops` text into a subcommand and arguments. Never raises on any input."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

MAX_TEXT = 4000  # Slack caps slash-command text; anything longer is cut, not rejected
MAX_TOKENS = 64

_ESCAPE = re.compile(r"<([^<>]*)>")
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}


@dataclass(frozen=True)
class Token:
    """One argument: its text, and what it is when it was a Slack escape."""

    text: str
    kind: str = "word"  # word | user | channel | usergroup | link | special
    id: str | None = None  # Slack ID for user/channel/usergroup


@dataclass(frozen=True)
class Parsed:
    sub: str
    args: list[Token] = field(default_factory=list)

    def words(self) -> list[str]:
        return [t.text for t in self.args]


def tokenize(text: str) -> list[Token]:
    """Split on whitespace, honour straight and curly quotes, decode Slack escapes.

    An unbalanced quote runs to the end of the text. Never raises.
    """
    text = (text or "")[:MAX_TEXT]
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n and len(tokens) < MAX_TOKENS:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _QUOTES:
            close = _QUOTES[ch]
            j = text.find(close, i + 1)
            if j == -1:
                j = n
            tokens.append(Token(html.unescape(text[i + 1 : j])))
            i = j + 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        tokens.append(_word(text[i:j]))
        i = j
    return tokens


def _word(raw: str) -> Token:
    m = _ESCAPE.fullmatch(raw)
    if not m:
        return Token(html.unescape(raw))
    inner = m.group(1)
    ref, _, label = inner.partition("|")
    if ref.startswith("@") and len(ref) > 1:
        return Token(raw, "user", ref[1:])
    if ref.startswith("#") and len(ref) > 1:
        return Token(raw, "channel", ref[1:])
    if ref.startswith("!subteam^"):
        return Token(raw, "usergroup", ref[len("!subteam^") :])
    if ref.startswith("!"):
        return Token(raw, "special", ref[1:])
    return Token(html.unescape(label or ref), "link")


def parse(text: str) -> Parsed:
    """The subcommand (lower-cased, "help" when empty) and its arguments."""
    tokens = tokenize(text)
    if not tokens:
        return Parsed("help")
    return Parsed(tokens[0].text.lower(), tokens[1:])
