"""docs/policy.md and mlops-bot.toml.example describe every key the policy loader accepts."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

from bot.config import Settings
from bot.policy.file import PolicyFile, load_policy
from bot.policy.gates import GateKind
from handlers.router.registry import unknown_commands

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "mlops-bot.toml.example"
DOC = ROOT / "docs" / "policy.md"


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The pydantic models inside an annotation (`X | None`, `dict[str, X]`, `list[X]`…)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _policy_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [PolicyFile]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for info in cls.model_fields.values():
            todo.extend(_models_in(info.annotation))
    return seen


def _fields() -> list[tuple[type[BaseModel], str]]:
    return [(cls, name) for cls in _policy_models() for name in cls.model_fields]


def _set_fields(value: object) -> Iterator[tuple[type[BaseModel], str]]:
    """(model class, field) for every key the loaded file set, at any depth."""
    if isinstance(value, BaseModel):
        for name in value.model_fields_set:
            yield type(value), name
            yield from _set_fields(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _set_fields(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _set_fields(item)


def _loaded(path: Path = EXAMPLE) -> Settings:
    return Settings(_env_file=None, mlops_bot_config=path)  # type: ignore[call-arg]


def test_the_example_loads_with_the_bots_loader() -> None:
    policy = load_policy(_loaded())
    churn = policy.for_model("churn")
    assert churn.required_approvals == 2 and churn.owners == ("U0OWNER",)
    assert [g.metric for g in churn.gates[:-1]] == ["roc_auc", "latency_ms", "log_loss"]
    assert churn.gates[-1].kind == GateKind.SIGNATURE_COMPATIBLE
    assert churn.monitor is not None and churn.monitor.features["tenure_months"].method == "psi"
    fraud = policy.for_model("fraud")
    assert fraud.approvers == ("S0MLOPS",) and [g.text for g in fraud.gates] == ["accuracy >= 0.8"]
    assert unknown_commands(policy) == []  # `serve` would start with it


def test_the_example_uses_every_key() -> None:
    used = set(_set_fields(load_policy(_loaded()).file))
    missing = [f"{cls.__name__}.{name}" for cls, name in _fields() if (cls, name) not in used]
    assert missing == [], f"keys not used in {EXAMPLE.name}: {missing}"


def _undescribed(doc: str, fields: list[tuple[type[BaseModel], str]]) -> list[str]:
    spans = re.findall(r"`([^`\n]+)`", doc)
    return [
        f"{cls.__name__}.{name}"
        for cls, name in fields
        if not any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", span) for span in spans)
    ]


def test_the_doc_describes_every_key() -> None:
    missing = _undescribed(DOC.read_text(encoding="utf-8"), _fields())
    assert missing == [], f"keys not described in docs/policy.md: {missing}"


def test_a_key_added_without_the_doc_is_caught() -> None:
    class Grown(BaseModel):
        undocumented_key_xyz: int = 1

    doc = DOC.read_text(encoding="utf-8")
    assert _undescribed(doc, [*_fields(), (Grown, "undocumented_key_xyz")]) == [
        "Grown.undocumented_key_xyz"
    ]


def _toml(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    return f'"{value}"' if isinstance(value, str) else str(value)


def test_the_doc_states_each_default_the_code_has() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    checked = 0
    for cls, name in _fields():
        default = cls.model_fields[name].default
        if (
            default is None
            or isinstance(default, type(Ellipsis))
            or not isinstance(default, str | int | float)
        ):
            continue
        row = [r for r in rows if r.startswith(f"| `{name}` |")]
        assert row, f"docs/policy.md has no table row for `{name}`"
        assert any(f"`{_toml(default)}`" in r for r in row), (
            f"docs/policy.md does not give `{name}` its default {_toml(default)}"
        )
        checked += 1
    assert checked >= 8
