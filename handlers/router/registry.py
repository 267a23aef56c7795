"""The `/mlops` subcommands: each declared once, where its handler lives.

A feature module declares its subcommands with `@subcommand(usage, help)` (the name is the
word after `/mlops` in the usage, so the two cannot disagree); the router finds them here,
`/mlops help` lists them, and an error shows the right usage line. Nothing else needs editing
to add one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.policy.file import Policy
from bot.policy.permissions import Action, Permissions
from handlers.blocks import Reply
from handlers.router.invocation import Invocation

Handler = Callable[[Invocation], Reply]


@dataclass(frozen=True)
class Subcommand:
    """One `/mlops` subcommand."""

    name: str
    usage: str  # e.g. "/mlops show <model> [<version>|@<alias>]"
    help: str  # one line: what it does
    run: Handler
    # What the domain asks Permissions.can before acting (None: anyone may run it, and it
    # changes nothing).
    action: Action | None = None

    @property
    def decision(self) -> bool:
        """It changes something: queued ahead of read-only work, never refused as busy."""
        return self.action is not None

    def allowed(self, permissions: Permissions, user: str, channel: str | None) -> bool:
        """`user` may run this in `channel`: the policy's command rules allow it and, when it
        needs an action, the user may take that action on some model."""
        if permissions.may_run(user, self.name, channel) is not None:
            return False
        return self.action is None or permissions.can_somewhere(user, self.action, channel)

    def usage_line(self) -> str:
        return f"`{self.usage}` — {self.help}"


_SUBCOMMANDS: dict[str, Subcommand] = {}
HELP = Subcommand(
    "help",
    "/mlops help [subcommand]",
    "usage of every subcommand, or of one",
    lambda inv: Reply(""),
)


def subcommand(
    usage: str,
    help: str,  # noqa: A002
    *,
    action: Action | None = None,
) -> Callable[[Handler], Handler]:
    """Declare the decorated function as the handler of `/mlops <name>`, `usage` being
    `/mlops <name> …`; `action` is the permission a decision needs (help lists it only for
    users who may take it)."""
    prefix, _, rest = usage.partition(" ")
    name = rest.partition(" ")[0]
    if prefix != "/mlops" or not name:
        raise ValueError(f"a usage starts with `/mlops <name>`, not {usage!r}")

    def declare(fn: Handler) -> Handler:
        if name in _SUBCOMMANDS or name == HELP.name:
            raise ValueError(f"/mlops {name} is declared twice")
        _SUBCOMMANDS[name] = Subcommand(name, usage, help, fn, action)
        return fn

    return declare


def find(name: str) -> Subcommand | None:
    """The subcommand called `name` (help is answered by the router itself)."""
    return _SUBCOMMANDS.get(name)


def all_subcommands() -> list[Subcommand]:
    """Help first, then the others in the order their modules declared them."""
    return [HELP, *_SUBCOMMANDS.values()]


def usage(name: str | None = None, shown: Callable[[Subcommand], bool] | None = None) -> str:
    """Usage lines: of one subcommand, or of all of them (those `shown` keeps)."""
    if name == HELP.name:
        return HELP.usage_line()
    sub = find(name) if name else None
    if sub is not None and (shown is None or shown(sub)):
        return sub.usage_line()
    return "\n".join(s.usage_line() for s in all_subcommands() if shown is None or shown(s))


def unknown_commands(policy: Policy) -> list[str]:
    """Subcommand names in the policy's `[permissions]` rules that no subcommand has: a typo
    there would leave the command it meant unrestricted, so `serve` refuses to start."""
    rules = policy.file.permissions
    named = set(rules.commands) | {c for rule in rules.channels.values() for c in rule.commands}
    return sorted(named - set(_SUBCOMMANDS) - {HELP.name})


def usage_of(name: str) -> str | None:
    """The bare usage of one subcommand, for an error reply."""
    sub = HELP if name == HELP.name else find(name)
    return sub.usage if sub is not None else None
