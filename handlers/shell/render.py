"""Block Kit as terminal text, for the local shell (no Slack imports; plain dicts in, text out).

Headers are underlined, fields become `label: value` lines, context lines are indented, and
buttons are numbered `[1 Approve] [2 Reject…]` so the shell can press them by number.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

# The emoji the bot uses (and a few common ones); others stay as `:name:`.
EMOJI = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "warning": "⚠️",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "gear": "⚙️",
    "unlock": "🔓",
    "lock": "🔒",
    "point_right": "👉",
    "arrow_up_small": "🔼",
    "arrow_down_small": "🔽",
    "arrow_right": "➡️",
    "information_source": "ℹ️",
    "chart_with_upwards_trend": "📈",
    "chart_with_downwards_trend": "📉",
    "bar_chart": "📊",
    "rotating_light": "🚨",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "large_orange_circle": "🟠",
    "large_blue_circle": "🔵",
    "white_circle": "⚪",
    "tada": "🎉",
    "rocket": "🚀",
    "eyes": "👀",
    "mag": "🔍",
    "bell": "🔔",
    "repeat": "🔁",
    "leftwards_arrow_with_hook": "↩️",
    "calendar": "📅",
    "clock3": "🕒",
    "robot_face": "🤖",
    "paperclip": "📎",
    "thumbsup": "👍",
    "+1": "👍",
    "thumbsdown": "👎",
}

_ESCAPE = re.compile(r"<([^<>]+)>")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_QUOTE = re.compile(r"^(?:>|&gt;) ?(.*)$", re.MULTILINE)
RULE = "─" * 48


@dataclass
class Button:
    """A pressable element of a rendered message: its number and the raw element."""

    number: int
    label: str
    block_id: str
    element: dict[str, Any]

    @property
    def action_id(self) -> str:
        return str(self.element.get("action_id") or "")

    @property
    def confirm(self) -> dict[str, Any] | None:
        value = self.element.get("confirm")
        return value if isinstance(value, dict) else None


@dataclass
class Rendered:
    lines: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


def _escape_to_text(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # <@U123> or <@U123|name>
        return "@" + (label or target[1:])
    if target.startswith("#"):  # <#C123|name>
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label if label.startswith("@") else "@" + (label or target[len("!subteam^") :])
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):  # <!here>, <!channel>
        return "@" + target[1:]
    if label:  # <url|text>
        return f"{label} ({target})"
    return target


def _outside_code(text: str, fn: Any) -> str:
    parts = _CODE.split(text)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def mrkdwn(text: str) -> str:
    """Slack mrkdwn as readable plain text: mentions, links, emoji, bold/italic markers."""

    def plain_parts(part: str) -> str:
        part = _ESCAPE.sub(_escape_to_text, part)
        part = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), part)
        part = _BOLD.sub(r"\1", part)
        part = _ITALIC.sub(r"\1", part)
        return _STRIKE.sub(r"\1", part)

    text = _outside_code(text, plain_parts)
    text = _QUOTE.sub(r"> \1", text)  # mrkdwn block quotes: `>text` or `&gt;text`
    return html.unescape(text)


def text_of(obj: Any) -> str:
    """The text of a text object (plain_text or mrkdwn) or of a plain string."""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return mrkdwn(obj)
    if isinstance(obj, dict):
        raw = str(obj.get("text") or "")
        if obj.get("type") == "plain_text":
            return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), raw)
        return mrkdwn(raw)
    return str(obj)


def _field_line(obj: Any) -> list[str]:
    """`*Label*\\nvalue` → `Label: value`; anything else as it is."""
    raw = obj.get("text", "") if isinstance(obj, dict) else str(obj)
    lines = text_of(obj).splitlines() or [""]
    is_label = isinstance(raw, str) and raw.lstrip().startswith("*") and len(lines) > 1
    if is_label:
        head, rest = lines[0].strip(), [line.strip() for line in lines[1:] if line.strip()]
        if len(rest) <= 1:
            return [f"{head}: {rest[0] if rest else ''}".rstrip()]
        return [f"{head}:"] + [f"  {line}" for line in rest]
    return lines


class _Numberer:
    def __init__(self, start: int) -> None:
        self.next = start
        self.buttons: list[Button] = []

    def button(self, element: dict[str, Any], block_id: str) -> str:
        label = text_of(element.get("text")) or element.get("action_id") or "button"
        b = Button(self.next, str(label), block_id, element)
        self.next += 1
        self.buttons.append(b)
        return f"[{b.number} {b.label}]"


def _element(element: dict[str, Any], block_id: str, numbers: _Numberer) -> str:
    kind = element.get("type")
    if kind == "button":
        shown = numbers.button(element, block_id)
        url = element.get("url")
        return f"{shown} ({url})" if url else shown
    if kind in ("static_select", "external_select", "users_select", "conversations_select"):
        return f"[select: {text_of(element.get('placeholder')) or kind}]"
    if kind == "overflow":
        return "[…]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in ("mrkdwn", "plain_text"):
        return text_of(element)
    return f"[{kind}]"


def render_blocks(blocks: list[dict[str, Any]], start: int = 1) -> Rendered:
    """Blocks as text lines; buttons numbered from `start`."""
    numbers = _Numberer(start)
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id") or "")
        if kind == "header":
            title = text_of(block.get("text"))
            lines += [title, "═" * min(max(len(title), 3), 72)]
        elif kind == "section":
            if block.get("text"):
                lines += text_of(block["text"]).splitlines()
            for f in block.get("fields") or []:
                lines += _field_line(f)
            accessory = block.get("accessory")
            if isinstance(accessory, dict):
                lines.append("  " + _element(accessory, block_id, numbers))
        elif kind == "context":
            parts = [_element(e, block_id, numbers) for e in block.get("elements") or []]
            lines += ["  " + line for line in " · ".join(parts).splitlines()]
        elif kind == "divider":
            lines.append(RULE)
        elif kind == "actions":
            parts = [_element(e, block_id, numbers) for e in block.get("elements") or []]
            lines.append(" ".join(parts))
        elif kind == "image":
            title = text_of(block.get("title"))
            lines.append(
                f"[image: {title or block.get('alt_text', '')}] {block.get('image_url', '')}"
            )
        elif kind == "input":
            label = text_of(block.get("label"))
            optional = " (optional)" if block.get("optional") else ""
            lines.append(f"✎ {label}{optional}")
            if block.get("hint"):
                lines.append("  " + text_of(block["hint"]))
        elif kind == "rich_text":
            lines.append(_rich_text(block))
        else:
            lines.append(f"[{kind} block]")
    return Rendered(lines, numbers.buttons)


def _rich_text(block: dict[str, Any]) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(str(node.get("text", "")))
            elif node.get("type") == "user":
                out.append("@" + str(node.get("user_id", "")))
            elif node.get("type") == "link":
                out.append(str(node.get("text") or node.get("url", "")))
            for child in node.get("elements") or []:
                walk(child)

    walk(block)
    return "".join(out)


def render_message(message: dict[str, Any], start: int = 1) -> Rendered:
    """A message (text, blocks, attachments) as lines; falls back to `text` without blocks."""
    blocks = message.get("blocks")
    if isinstance(blocks, list) and blocks:
        rendered = render_blocks(blocks, start)
    else:
        rendered = Rendered(mrkdwn(str(message.get("text") or "")).splitlines())
    for att in message.get("attachments") or []:
        if isinstance(att, dict):
            inner = render_blocks(att.get("blocks") or [], start + len(rendered.buttons))
            text = [mrkdwn(str(att.get("text") or ""))] if att.get("text") else []
            rendered.lines += ["| " + line for line in text + inner.lines]
            rendered.buttons += inner.buttons
    return rendered


def boxed(title: str, lines: list[str]) -> str:
    """A framed block of output: `┌─ title`, `│ line`…, `└─`."""
    body = [f"│ {line}".rstrip() for line in lines] or ["│"]
    return "\n".join([f"┌─ {title}", *body, "└─"])
