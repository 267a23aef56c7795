"""The `/mlops` listener called directly, with Bolt's Ack and a recording respond."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.policy.file import Policy, PolicyFile
from bot.runtime import Runtime
from handlers.app import build_services
from handlers.context import SERVICES_KEY
from handlers.router import registry
from handlers.router.command import handle_mlops
from tests.unit.handlers.doubles import RecordingRespond


@pytest.fixture
def context(runtime: Runtime) -> BoltContext:
    """A Bolt context with the services injected, work after the ack done inline."""
    return context_of(runtime)


def context_of(runtime: Runtime, policy: Policy | None = None) -> BoltContext:
    """`context` over `runtime`, with `policy` instead of the runtime's when given."""
    import handlers  # noqa: F401  (declares the subcommands)

    if policy is not None:
        runtime = dataclasses.replace(runtime, policy=policy)
    client = WebClient(token="xoxb-unit", base_url="http://127.0.0.1:9/api/")  # never called
    services = build_services(runtime, client, inline_work=True)
    ctx = BoltContext()
    ctx[SERVICES_KEY] = services
    return ctx


def run(
    context: BoltContext, text: str, user: str = "U0REQ", channel: str = "C0MLOPS"
) -> tuple[Ack, RecordingRespond]:
    ack, respond = Ack(), RecordingRespond()
    command: dict[str, Any] = {"text": text, "user_id": user, "channel_id": channel}
    handle_mlops(ack, command, respond, context, WebClient(token="xoxb-unit"))  # type: ignore[arg-type]
    return ack, respond


def acked_text(ack: Ack) -> str:
    assert ack.response is not None
    return str(ack.response.body)


def test_help_is_answered_in_the_ack_with_every_declared_subcommand(runtime: Runtime) -> None:
    context = context_of(runtime, Policy(env_approvers=("U0REQ",)))  # who may run everything
    ack, respond = run(context, "help")
    body = json.loads(acked_text(ack))
    assert body["response_type"] == "ephemeral" and not respond.messages
    for sub in registry.all_subcommands():
        assert sub.usage in body["text"]


def test_help_lists_only_what_the_asking_user_may_run(runtime: Runtime) -> None:
    policy = Policy(
        file=PolicyFile.model_validate(
            {
                "models": {"churn": {"owners": ["U0OWNER"]}},
                "permissions": {
                    "commands": {"audit": {"users": ["U0OWNER"]}},
                    "channels": {"C0RANDOM": {"commands": ["models", "show"]}},
                },
            }
        )
    )
    context = context_of(runtime, policy)
    stranger = json.loads(acked_text(run(context, "help")[0]))["text"]
    assert "/mlops promote" in stranger and "/mlops models" in stranger
    assert "/mlops schedule" not in stranger  # owners and approvers only
    assert "/mlops audit" not in stranger  # the policy's command rule
    owner = json.loads(acked_text(run(context, "help", user="U0OWNER")[0]))["text"]
    assert "/mlops schedule" in owner and "/mlops audit" in owner
    there = json.loads(acked_text(run(context, "help", "U0OWNER", "C0RANDOM")[0]))["text"]
    assert "/mlops show" in there and "/mlops help" in there and "/mlops promote" not in there

    _, respond = run(context, "audit")  # what help hides is refused when run anyway
    assert "You are not allowed to run `/mlops audit`." in respond.messages[0]["text"]
    _, respond = run(context, "pending", "U0OWNER", "C0RANDOM")
    assert "`/mlops pending` is not available in this channel." in respond.messages[0]["text"]


def test_help_of_one_subcommand(context: BoltContext) -> None:
    ack, _ = run(context, "help promote")
    text = json.loads(acked_text(ack))["text"]
    assert "/mlops promote <model>" in text and "/mlops drift" not in text


def test_unknown_subcommand_is_named_and_escaped(context: BoltContext) -> None:
    ack, respond = run(context, "<!channel>")
    text = json.loads(acked_text(ack))["text"]
    assert "Unknown subcommand" in text and "<!channel>" not in text and not respond.messages


def test_models_acks_empty_then_responds_with_the_list(context: BoltContext) -> None:
    ack, respond = run(context, "models")
    assert ack.response is not None and ack.response.body == ""
    assert len(respond.messages) == 1
    message = respond.messages[0]
    assert message["response_type"] == "ephemeral" and message["replace_original"] is False
    assert "`@champion` → v1" in respond.text()


def test_wrong_arguments_get_the_usage_of_that_subcommand(context: BoltContext) -> None:
    _, respond = run(context, "show")
    text = respond.text()
    assert "needs a model name" in text and "/mlops show <model>" in text


def test_a_failure_is_a_sentence_with_a_reference_not_a_stack_trace(
    context: BoltContext, runtime: Runtime
) -> None:
    from sqlalchemy import text

    with runtime.engine.begin() as conn:  # the database breaks under the bot
        conn.execute(text("DROP TABLE audit_event"))
    _, respond = run(context, "audit")
    said = respond.text()
    assert "database is unavailable or locked" in said and "(ref `e" in said
    assert "Traceback" not in said and "audit_event" not in said


def test_every_subcommand_is_declared_once_with_usage_and_help() -> None:
    import handlers  # noqa: F401

    subs = registry.all_subcommands()
    names = [s.name for s in subs]
    assert len(names) == len(set(names))
    assert {"promote", "rollback", "schedule"} == {s.name for s in subs if s.decision}
    for sub in subs:
        assert sub.usage.startswith(f"/mlops {sub.name}") and sub.help


def test_permission_rules_naming_no_subcommand_are_found() -> None:
    import handlers  # noqa: F401  (declares the subcommands)

    policy = Policy(
        file=PolicyFile.model_validate(
            {
                "permissions": {
                    "commands": {"promte": {"users": ["U0A"]}, "audit": {"users": ["U0A"]}},
                    "channels": {"C0RANDOM": {"commands": ["help", "show", "shw"]}},
                }
            }
        )
    )
    assert registry.unknown_commands(policy) == ["promte", "shw"]
    assert registry.unknown_commands(Policy()) == []
