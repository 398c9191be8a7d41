"""Kickoff prompt assembly.

A loop agent is told `prompts/kickoff.md` (a template with `${placeholders}`) followed by its
standing role prompt `prompts/<role>.md`. Other agents get `prompt_file` or `prompt`.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from agentsup.buildloop.phases import current_index, current_phase, named_status_path
from agentsup.config.load import Agent, Config
from agentsup.config.templates import fill
from agentsup.errors import ConfigError

DEFAULT_KICKOFF = """\
*** PHASE ${phase_id} (${phase_number} of ${phase_count}) ***
Your plan for this phase: ${plan_path}. Read it in full now.
Keep this phase's status in ${status_path}; write "${done_marker}" there only when the phase is done.

=== your standing role and rules ===
"""


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what}: file not found: {path}") from None


def kickoff_values(cfg: Config, agent: Agent) -> dict[str, str]:
    phase = current_phase(cfg)
    docs = cfg.loop.docs_dir
    values = {
        "agent": agent.name,
        "role": agent.role or "",
        "docs_dir": docs,
        "done_marker": cfg.loop.done_marker,
        "phase_count": str(len(cfg.loop.phases)),
        "phase_number": str(current_index(cfg) + 1),
    }
    if phase is not None:
        plan_dir = cfg.resolve(cfg.loop.plan_dir)
        values |= {
            "phase_id": phase.id,
            "plan": phase.plan,
            "plan_path": str(plan_dir / phase.plan),
            "status": phase.status,
            "status_path": str(named_status_path(cfg, phase.status)),
        }
    return values


def loop_kickoff(cfg: Config, agent: Agent) -> str:
    template_path = cfg.prompts_dir / "kickoff.md"
    template = _read(template_path, "prompts/kickoff.md") if template_path.exists() else DEFAULT_KICKOFF
    role = _read(cfg.prompts_dir / f"{agent.role}.md", f"agent {agent.name}: role prompt")
    head = Template(template).safe_substitute(kickoff_values(cfg, agent))
    return head.rstrip("\n") + "\n\n" + role


def agent_prompt(cfg: Config, agent: Agent) -> str:
    if agent.kind == "loop" and cfg.loop.phases:
        return loop_kickoff(cfg, agent)
    if agent.prompt_file is not None:
        text = _read(agent.prompt_file, f"agent {agent.name}: prompt_file")
        return fill(text, agent.vars) if agent.vars else text
    return agent.prompt or ""
