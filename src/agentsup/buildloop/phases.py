"""The phase sequence of the build loop: the persisted index and the current phase."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agentsup.config.load import Agent, Config
from agentsup.config.schema import PhaseSpec
from agentsup.errors import ConfigError
from agentsup.store.state import StateDir, atomic_write_text, read_text


def index_file(cfg: Config) -> Path:
    return StateDir(cfg.state_dir).phase_index_file(cfg.loop.state_file)


def current_index(cfg: Config) -> int:
    """The stored index, clamped into the sequence (0 when none is stored or it is unreadable)."""
    text = read_text(index_file(cfg))
    value = int(text.strip()) if text and text.strip().lstrip("-").isdigit() else 0
    return max(0, min(value, len(cfg.loop.phases) - 1)) if cfg.loop.phases else 0


def current_phase(cfg: Config) -> PhaseSpec | None:
    return cfg.loop.phases[current_index(cfg)] if cfg.loop.phases else None


def set_index(cfg: Config, index: int) -> None:
    atomic_write_text(index_file(cfg), f"{index}\n")


def role_model(cfg: Config, agent: Agent) -> str:
    """The phase's per-role model override wins, else the agent's own model."""
    phase = current_phase(cfg) if agent.kind == "loop" else None
    if phase is not None and agent.role and phase.models.get(agent.role):
        return phase.models[agent.role]
    return agent.model


# A done marker followed by one of these is a template placeholder, not a real verdict.
DONE_PLACEHOLDER_RE = re.compile(
    r"^\s*[(\[*_>~`-]*\s*(not yet|not done|not complete|incomplete|pending\b|tbd\b|todo\b|n/?a\b|written here only"
    r"|only when|to be (written|filled)|when all|<.*>|\.\.\.\s*$|_+\s*$)",
    re.IGNORECASE,
)


def named_status_path(cfg: Config, status_file: str) -> Path:
    """The absolute path the kickoff names (an agent's working directory may be anywhere); the
    watchdog watches it, and also looks beside it in the repo root."""
    repo = cfg.resolve(cfg.loop.handoff.repo) if cfg.loop.handoff else cfg.base_dir
    return repo / cfg.loop.docs_dir / status_file if cfg.loop.docs_dir else repo / status_file


def status_path(cfg: Config, status_file: str) -> Path:
    """The docs directory first, then the repo root (as the seed looks them up)."""
    repo = cfg.resolve(cfg.loop.handoff.repo) if cfg.loop.handoff else cfg.base_dir
    in_docs = repo / cfg.loop.docs_dir / status_file if cfg.loop.docs_dir else repo / status_file
    return in_docs if in_docs.exists() else repo / status_file


def text_is_done(text: str, marker: str) -> bool:
    """A line starting with `marker` whose first non-empty following line is not a placeholder."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(marker):
            continue
        body = next((nxt for nxt in lines[i + 1:] if nxt.strip()), "")
        if body and not DONE_PLACEHOLDER_RE.match(body):
            return True
    return False


def phase_done(cfg: Config, phase: PhaseSpec) -> bool:
    text = read_text(status_path(cfg, phase.status))
    return text is not None and text_is_done(text, cfg.loop.done_marker)


def complete_marker(cfg: Config) -> Path:
    return cfg.log_dir / "SEQUENCE-COMPLETE"


@dataclass(frozen=True)
class PhaseStep:
    """What the done marker asks for: move to the next phase, or finish the sequence."""

    kind: str  # advance | complete
    done_id: str
    index: int  # the index to store (unchanged for complete)
    next_id: str | None = None


def next_step(cfg: Config) -> PhaseStep | None:
    """None while the current phase is not done, or once a finished sequence was already handled
    (the completion marker exists and no phase was appended since)."""
    phases = cfg.loop.phases
    if not phases or not cfg.loop.auto_advance:
        return None
    index = current_index(cfg)
    phase = phases[index]
    if not phase_done(cfg, phase):
        return None
    if index + 1 < len(phases):
        return PhaseStep("advance", phase.id, index + 1, phases[index + 1].id)
    if complete_marker(cfg).exists():
        return None
    return PhaseStep("complete", phase.id, index)


def resolve_index(cfg: Config, value: str) -> int:
    """A phase given as a 0-based index or an id, validated against the sequence."""
    phases = cfg.loop.phases
    if not phases:
        raise ConfigError(f"{cfg.path}: no [loop].phases are declared")
    ids = [p.id for p in phases]
    if value in ids:
        return ids.index(value)
    if value.lstrip("-").isdigit():
        index = int(value)
        if 0 <= index < len(phases):
            return index
        raise ConfigError(f"phase index {index} is out of range: the sequence has {len(phases)} phases "
                          f"(0..{len(phases) - 1}: {' '.join(ids)})")
    raise ConfigError(f"unknown phase {value!r}; phases are: {' '.join(ids)}")
