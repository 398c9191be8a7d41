"""Agent templates and their variables (pure).

`[template.NAME]` holds agent keys; an `[[agent]]` that says `template = "NAME"` takes every key
it does not set itself, and the template's `vars` are defaults for its own. `{{key}}` in an
agent's prompt, prompt_file contents, args and dir is replaced by its value (`{{name}}` is the
agent's name unless a var says otherwise); a `{{key}}` no var defines is a config error that names
it. `agentsup run TASK --var k=v` adds vars for one run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentsup.config.tables import suggest

VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
NOT_TAKEN = ("name", "session", "template")  # an agent's own, never a template's


def expand(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` with each agent's template merged in (the agent's own keys win; vars merge)."""
    templates, agents = raw.get("template"), raw.get("agent")
    if not isinstance(templates, dict) or not isinstance(agents, list):
        return raw
    merged = []
    for agent in agents:
        template = templates.get(agent.get("template")) if isinstance(agent, dict) else None
        if isinstance(template, dict):
            taken = {k: v for k, v in template.items() if k not in (*NOT_TAKEN, "vars")}
            own_vars, base_vars = agent.get("vars"), template.get("vars")
            agent = {**taken, **agent, "vars": {**(base_vars if isinstance(base_vars, dict) else {}),
                                                **(own_vars if isinstance(own_vars, dict) else {})}}
        merged.append(agent)
    return {**raw, "agent": merged}


def template_problem(name: str | None, known: list[str]) -> str | None:
    if name is None or name in known:
        return None
    return f"unknown template {name!r}{suggest(name, known)}"


def values(name: str, own: Mapping[str, str]) -> dict[str, str]:
    return {"name": name, **own}


def unknown(text: str, known: Mapping[str, str]) -> list[str]:
    return sorted({m.group(1) for m in VAR.finditer(text) if m.group(1) not in known})


def fill(text: str, known: Mapping[str, str]) -> str:
    """`text` with every known {{key}} replaced (an unknown one is left as written)."""
    return VAR.sub(lambda m: known.get(m.group(1), m.group(0)), text)


def problems(where: str, fields: Mapping[str, str | None], known: Mapping[str, str]) -> list[str]:
    """One line per field that names a {{key}} no var defines."""
    found = []
    for field, text in fields.items():
        missing = unknown(text or "", known)
        if missing:
            shown = ", ".join("{{" + key + "}}" for key in missing)
            found.append(f"{where}.{field}: unknown template variable {shown} (vars: {', '.join(sorted(known))})")
    return found
