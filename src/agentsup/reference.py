"""The agents.toml key reference, generated from the pydantic models so it cannot drift."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from . import schema

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("[defaults]", schema.DefaultsSpec),
    ("[tmux]", schema.TmuxSettings),
    ("[watchdog]", schema.WatchdogSettings),
    ("[backend.NAME]", schema.BackendSpec),
    ("[[agent]]", schema.AgentSpec),
    ("[agent.wake]", schema.WakeSpec),
    ("[[service]]", schema.ServiceSpec),
    ("[loop]", schema.LoopSpec),
    ("[loop.phases] items", schema.PhaseSpec),
    ("[loop.handoff]", schema.HandoffSpec),
    ("[loop.on_complete]", schema.OnCompleteSpec),
    ("[notify]", schema.NotifySpec),
]


def _type_name(annotation: Any) -> str:
    text = str(annotation) if typing.get_origin(annotation) else getattr(annotation, "__name__", str(annotation))
    return text.replace("typing.", "").replace("agentsup.schema.", "").replace("NoneType", "None")


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "`{}`" if isinstance(value, dict) else "`[]`" if isinstance(value, list) else "(table)"
    if field.default is None:
        return "unset"
    return f"`{json.dumps(field.default, ensure_ascii=False)}`"


def markdown() -> str:
    lines: list[str] = []
    for title, model in SECTIONS:
        lines += [f"#### `{title}`", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                continue
            desc = (field.description or "").replace("|", "\\|")
            typ = _type_name(field.annotation).replace("|", "\\|")
            lines.append(f"| `{name}` | {typ} | {_default(field)} | {desc} |")
        lines.append("")
    return "\n".join(lines)


START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def embed(document: str) -> str:
    """`document` with the block between the reference markers replaced by the current reference."""
    head, sep, rest = document.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"markers {START} / {END} not found")
    return f"{head}{START}\n{markdown()}{END}{tail}"
