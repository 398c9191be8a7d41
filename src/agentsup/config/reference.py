"""The agents.toml key reference, generated from the table classes so it cannot drift."""

from __future__ import annotations

from agentsup.config import schema
from agentsup.config.tables import markdown_rows

SECTIONS: list[tuple[str, type[object]]] = [
    ("[defaults]", schema.DefaultsSpec),
    ("[tmux]", schema.TmuxSettings),
    ("[watchdog]", schema.WatchdogSettings),
    ("[backend.NAME]", schema.BackendSpec),
    ("[[agent]]", schema.AgentSpec),
    ("[agent.wake]", schema.WakeSpec),
    ("[agent.worktree]", schema.WorktreeSpec),
    ("[agent.hooks]", schema.HooksSpec),
    ("[template.NAME]", schema.TemplateSpec),
    ("[[service]]", schema.ServiceSpec),
    ("[loop]", schema.LoopSpec),
    ("[loop.phases] items", schema.PhaseSpec),
    ("[loop.handoff]", schema.HandoffSpec),
    ("[loop.on_complete]", schema.OnCompleteSpec),
    ("[notify]", schema.NotifySpec),
]


def markdown() -> str:
    lines: list[str] = []
    for title, table in SECTIONS:
        lines += [f"#### `{title}`", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        lines += markdown_rows(table)
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
