"""`agentsup init`: a commented agents.toml and prompts/ for a builder/adversary pair, written with
tomli-w (values are data, never pasted into TOML by hand), and `agentsup schema`: the JSON Schema
of agents.toml from the same models the loader validates with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from agentsup.agents.backends import PRESETS
from agentsup.errors import AgentsupError, ConfigError
from agentsup.store.state import atomic_write_text

BUILDER = """\
You are the builder. Work through this phase's plan gate by gate. When a gate is ready, commit it
with a subject that starts with `claim(<gate>):` and push; the adversary reviews each claim.
Keep this phase's status file current. Write the done marker only when every gate has passed review.
"""
ADVERSARY = """\
You are the adversary. When the builder pushes a `claim(...)` commit, try hard to break it: run it,
read it, test its edges. Answer with a commit whose subject starts with `review(<gate>): PASS` or
`review(<gate>): FAIL - <why>` and push.
"""
PLAN = """\
# Phase 1

Describe what this phase builds, as gates the adversary can check one by one.
"""


@dataclass(frozen=True)
class Written:
    """One file `agentsup init` wrote, and what it is for."""

    path: Path
    what: str


def _table(header: str, comment: str, data: dict[str, Any]) -> str:
    body = tomli_w.dumps(data)
    return f"# {comment}\n{header}\n{body}" if header else f"# {comment}\n{body}"


def render(backend: str) -> str:
    """The agents.toml text for a builder/adversary pair on `backend`."""
    parts = [
        "# agentsup: the agents to keep working, and how. `agentsup check` validates this file;\n"
        "# `agentsup schema` prints its JSON Schema for editors.\n",
        _table("[watchdog]", "how the watchdog watches (seconds)",
               {"signal_interval": 30, "heavy_interval": 300, "stall_grace": 180}),
        _table("[loop]", "the build loop: phases, each with a plan and a status file that gets '## DONE'",
               {"done_marker": "## DONE", "phases": [{"id": "p1", "plan": "plan-p1.md", "status": "STATUS-p1.md"}]}),
    ]
    for name, comment in (("builder", "builds the plan, claims each gate"),
                          ("adversary", "reviews every claim, tries to break it")):
        agent = {"name": name, "kind": "loop", "role": name, "backend": backend, "watch": "heal+stall"}
        parts.append(_table("[[agent]]", comment, agent))
    return "\n".join(parts)


def init(directory: Path, backend: str, *, force: bool = False) -> list[Written]:
    if backend not in PRESETS:
        raise ConfigError(f"--backend: unknown backend {backend!r}; presets: {', '.join(sorted(PRESETS))}")
    files = {
        directory / "agents.toml": (render(backend), "config"),
        directory / "prompts" / "builder.md": (BUILDER, "builder's standing prompt"),
        directory / "prompts" / "adversary.md": (ADVERSARY, "adversary's standing prompt"),
        directory / "plan-p1.md": (PLAN, "phase 1 plan"),
    }
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        raise AgentsupError(f"not overwriting {', '.join(existing)} (use --force)")
    written = []
    for path, (text, what) in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        path.chmod(0o644)  # a project file to edit and commit, not agentsup's private state
        written.append(Written(path, what))
    return written


def schema(root: type | None = None, title: str = "agents.toml") -> str:
    """The JSON Schema of agents.toml (or of another file's root table), from the tables its loader uses."""
    from agentsup.config.schema import ConfigFile
    from agentsup.config.tables import json_schema

    data = json_schema(root or ConfigFile)
    data["title"] = title
    return json.dumps(data, indent=2) + "\n"
