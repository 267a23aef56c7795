"""Block Kit checked against Slack's limits, with the errors Slack answers (`invalid_blocks`).

SPEC §8: Slack refuses blocks and views that break its limits (≤ 50 blocks a message, 100 in
modals and App Home, section text ≤ 3,000 characters, …), so the emulator refuses them too.
Errors read like Slack's: `<problem> [json-pointer:/blocks/0/text/text]`.
"""

from __future__ import annotations

from typing import Any

KNOWN_BLOCKS = {
    "section",
    "header",
    "context",
    "actions",
    "divider",
    "image",
    "input",
    "rich_text",
    "file",
    "video",
}
KNOWN_ELEMENTS = {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "external_select",
    "file_input",
    "image",
    "multi_channels_select",
    "multi_conversations_select",
    "multi_external_select",
    "multi_static_select",
    "multi_users_select",
    "number_input",
    "overflow",
    "plain_text_input",
    "radio_buttons",
    "rich_text_input",
    "static_select",
    "channels_select",
    "conversations_select",
    "users_select",
    "timepicker",
    "url_text_input",
    "workflow_button",
}


class _Checker:
    """Collects Slack-style error strings: ``<problem> [json-pointer:/path]``."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, msg: str, ptr: str) -> None:
        self.errors.append(f"{msg} [json-pointer:{ptr}]")

    def max_len(self, value: Any, limit: int, ptr: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", ptr)

    def ident(self, obj: dict[str, Any], key: str, ptr: str) -> None:
        if key in obj:
            if not isinstance(obj[key], str) or not obj[key]:
                self.err("must be a non-empty string", f"{ptr}/{key}")
            else:
                self.max_len(obj[key], 255, f"{ptr}/{key}")

    def text(
        self,
        obj: Any,
        ptr: str,
        limit: int,
        *,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.err("missing required field: text", ptr)
            return
        if not isinstance(obj, dict):
            self.err("must be a text object", ptr)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.err(f"must be one of {', '.join(allowed)}", f"{ptr}/type")
        value = obj.get("text")
        if not isinstance(value, str):
            self.err("missing required field: text", f"{ptr}/text")
        elif not value:
            self.err("must be more than 0 characters", f"{ptr}/text")
        else:
            self.max_len(value, limit, f"{ptr}/text")

    def confirm(self, obj: Any, ptr: str) -> None:
        if not isinstance(obj, dict):
            self.err("must be a confirmation dialog object", ptr)
            return
        self.text(obj.get("title"), f"{ptr}/title", 100, plain_only=True)
        self.text(obj.get("text"), f"{ptr}/text", 300)
        self.text(obj.get("confirm"), f"{ptr}/confirm", 30, plain_only=True)
        self.text(obj.get("deny"), f"{ptr}/deny", 30, plain_only=True)

    def options(self, opts: Any, ptr: str, limit: int, *, minimum: int = 1) -> None:
        if not isinstance(opts, list):
            self.err("must be an array", ptr)
            return
        if len(opts) < minimum:
            self.err(f"must provide at least {minimum} items", ptr)
        if len(opts) > limit:
            self.err(f"no more than {limit} items allowed", ptr)
        for i, opt in enumerate(opts):
            p = f"{ptr}/{i}"
            if not isinstance(opt, dict):
                self.err("must be an option object", p)
                continue
            self.text(opt.get("text"), f"{p}/text", 75)
            if "value" in opt:
                self.max_len(opt["value"], 150, f"{p}/value")

    def element(self, el: Any, ptr: str) -> None:
        if not isinstance(el, dict):
            self.err("must be an element object", ptr)
            return
        kind = el.get("type")
        if kind not in KNOWN_ELEMENTS:
            self.err(f"unsupported element type: {kind!r}", f"{ptr}/type")
            return
        self.ident(el, "action_id", ptr)
        if "placeholder" in el:
            self.text(el["placeholder"], f"{ptr}/placeholder", 150, plain_only=True)
        if "confirm" in el:
            self.confirm(el["confirm"], f"{ptr}/confirm")
        if kind == "button":
            self.text(el.get("text"), f"{ptr}/text", 75, plain_only=True)
            self.max_len(el.get("value"), 2000, f"{ptr}/value")
            self.max_len(el.get("url"), 3000, f"{ptr}/url")
            if "style" in el and el["style"] not in ("primary", "danger"):
                self.err("must be one of primary, danger", f"{ptr}/style")
        elif kind == "image":
            if not el.get("image_url") and not el.get("slack_file"):
                self.err("must provide either image_url or slack_file", ptr)
            if not el.get("alt_text"):
                self.err("missing required field: alt_text", f"{ptr}/alt_text")
        elif kind in ("static_select", "multi_static_select"):
            if "options" in el:
                self.options(el["options"], f"{ptr}/options", 100)
            elif "option_groups" not in el:
                self.err("must provide either options or option_groups", ptr)
        elif kind == "overflow":
            self.options(el.get("options"), f"{ptr}/options", 5)
        elif kind in ("checkboxes", "radio_buttons"):
            self.options(el.get("options"), f"{ptr}/options", 10)
        elif kind == "plain_text_input":
            max_length = el.get("max_length")
            if isinstance(max_length, int) and max_length > 3000:
                self.err("must be less than 3001", f"{ptr}/max_length")

    def block(self, block: Any, ptr: str, block_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.err("must be a block object", ptr)
            return
        kind = block.get("type")
        if not kind:
            self.err("missing required field: type", ptr)
            return
        if kind not in KNOWN_BLOCKS:
            self.err(f"unsupported type: {kind!r}", f"{ptr}/type")
            return
        self.ident(block, "block_id", ptr)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                self.err(f"duplicate block_id: {block_id}", f"{ptr}/block_id")
            block_ids.add(block_id)
        if kind == "section":
            fields = block.get("fields")
            if "text" not in block and not fields:
                self.err("must provide either text or fields", ptr)
            if "text" in block:
                self.text(block["text"], f"{ptr}/text", 3000)
            if fields is not None:
                if not isinstance(fields, list):
                    self.err("must be an array", f"{ptr}/fields")
                else:
                    if len(fields) > 10:
                        self.err("no more than 10 items allowed", f"{ptr}/fields")
                    for i, f in enumerate(fields):
                        self.text(f, f"{ptr}/fields/{i}", 2000)
            if "accessory" in block:
                self.element(block["accessory"], f"{ptr}/accessory")
        elif kind == "header":
            self.text(block.get("text"), f"{ptr}/text", 150, plain_only=True)
        elif kind in ("context", "actions"):
            elements = block.get("elements")
            limit = 10 if kind == "context" else 25
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 items", f"{ptr}/elements")
                return
            if len(elements) > limit:
                self.err(f"no more than {limit} items allowed", f"{ptr}/elements")
            action_ids: set[str] = set()
            for i, el in enumerate(elements):
                p = f"{ptr}/elements/{i}"
                if kind == "context":
                    if isinstance(el, dict) and el.get("type") == "image":
                        self.element(el, p)
                    else:
                        self.text(el, p, 3000)
                    continue
                self.element(el, p)
                action_id = el.get("action_id") if isinstance(el, dict) else None
                if isinstance(action_id, str):
                    if action_id in action_ids:
                        self.err(f"duplicate action_id: {action_id}", f"{p}/action_id")
                    action_ids.add(action_id)
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                self.err("must provide either image_url or slack_file", ptr)
            self.max_len(block.get("image_url"), 3000, f"{ptr}/image_url")
            alt = block.get("alt_text")
            if not alt:
                self.err("missing required field: alt_text", f"{ptr}/alt_text")
            self.max_len(alt, 2000, f"{ptr}/alt_text")
            if "title" in block:
                self.text(block["title"], f"{ptr}/title", 2000, plain_only=True)
        elif kind == "input":
            self.text(block.get("label"), f"{ptr}/label", 2000, plain_only=True)
            if "hint" in block:
                self.text(block["hint"], f"{ptr}/hint", 2000, plain_only=True)
            if "element" not in block:
                self.err("missing required field: element", ptr)
            else:
                self.element(block["element"], f"{ptr}/element")
        elif kind == "rich_text":
            if not isinstance(block.get("elements"), list):
                self.err("missing required field: elements", f"{ptr}/elements")
        elif kind == "video":
            for key in ("alt_text", "thumbnail_url", "video_url"):
                if not block.get(key):
                    self.err(f"missing required field: {key}", f"{ptr}/{key}")
            self.text(block.get("title"), f"{ptr}/title", 200, plain_only=True)
        elif kind == "file" and not block.get("external_id"):
            self.err("missing required field: external_id", f"{ptr}/external_id")

    def blocks(self, blocks: Any, ptr: str, limit: int) -> None:
        if not isinstance(blocks, list):
            self.err("must be an array", ptr)
            return
        if len(blocks) > limit:
            self.err(f"no more than {limit} items allowed", ptr)
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{ptr}/{i}", block_ids)


def validate_blocks(blocks: Any, *, limit: int = 50, pointer: str = "/blocks") -> list[str]:
    """Check message blocks against Slack's Block Kit limits; returns Slack-style error strings."""
    checker = _Checker()
    checker.blocks(blocks, pointer, limit)
    return checker.errors


def validate_view(view: Any, *, kinds: tuple[str, ...] = ("modal", "home")) -> list[str]:
    """Check a modal or App Home view; returns Slack-style error strings (empty when valid)."""
    c = _Checker()
    ptr = "/view"
    if not isinstance(view, dict):
        c.err("must be a view object", ptr)
        return c.errors
    kind = view.get("type")
    if kind not in kinds:
        c.err(f"must be one of {', '.join(kinds)}", f"{ptr}/type")
        return c.errors
    c.blocks(view.get("blocks"), f"{ptr}/blocks", 100)
    c.ident(view, "callback_id", ptr)
    c.ident(view, "external_id", ptr)
    c.max_len(view.get("private_metadata"), 3000, f"{ptr}/private_metadata")
    if kind == "modal":
        c.text(view.get("title"), f"{ptr}/title", 24, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                c.text(view[key], f"{ptr}/{key}", 24, plain_only=True)
        raw_blocks = view.get("blocks")
        blocks: list[Any] = raw_blocks if isinstance(raw_blocks, list) else []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            c.err("must provide submit when using input blocks", f"{ptr}/submit")
    return c.errors
