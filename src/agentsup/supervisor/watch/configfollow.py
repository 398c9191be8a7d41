"""agents.toml as a running watchdog follows it: a change is read once the file has been still for
`reload_settle` (editors save in steps); a config that stops validating is reported once and the
last good one stays in force; what each agent runs is fingerprinted, so a changed launch restarts it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentsup.config.files import remember_good
from agentsup.config.lastgood import load_valid
from agentsup.config.load import Agent, Config, load_config
from agentsup.errors import AgentsupError, ConfigError
from agentsup.supervisor.decide.clock import Clock


class ConfigFollower:
    """One agents.toml, followed: `read` gives a new valid config when one is due, else None."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.cfg, self.error = load_valid(path, apply_overrides=False)
        self.stamp = self._stamp()
        self.changed_stamp: tuple[int, int, int] | None = None  # a change seen, not yet still
        self.changed_at = 0.0
        self.force = False  # SIGHUP: read now

    @property
    def settling(self) -> bool:
        """Is a change to agents.toml waiting for the file to be still?"""
        return self.changed_stamp is not None

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def due(self, settle: float) -> bool | None:
        """True when the config should be read now; None while a change is settling; False when
        nothing changed."""
        if self.force:
            return True
        stamp = self._stamp()
        if stamp == self.stamp:
            self.changed_stamp = None
            return False
        now = self.clock.monotonic()
        if stamp != self.changed_stamp:
            self.changed_stamp, self.changed_at = stamp, now
        return True if now - self.changed_at >= settle else None

    def read(self, settle: float, log: Callable[..., Any]) -> Config | None:
        """The changed config when it is due and valid; None otherwise (an invalid one is journaled
        once per distinct error, and `config-ok` when it validates again)."""
        if not self.due(settle):
            return None
        self.stamp, self.force, self.changed_stamp = self._stamp(), False, None
        try:
            cfg = load_config(self.path, apply_overrides=False)
        except ConfigError as exc:
            message = str(exc)
            if message != self.error:
                self.error = message
                log("config-error", error=message, detail="keeping the last good config")
            return None
        if self.error is not None:
            log("config-ok", detail="config valid again")
        self.error = None
        remember_good(cfg.path)
        self.cfg = cfg
        return cfg


def launch_fingerprint(cfg: Config, agent: Agent) -> str:
    """What an agent runs, as one digest: a change restarts it; policy fields (watch, patterns,
    timers) do not. A loop agent's kickoff is fingerprinted by its parts, not by the phase."""
    from agentsup.buildloop.prompts import agent_prompt

    backend = cfg.backend_of(agent)
    if agent.kind == "loop":
        files = [cfg.prompts_dir / "kickoff.md", cfg.prompts_dir / f"{agent.role}.md"]
        prompt = [f.read_text(encoding="utf-8", errors="replace") if f.is_file() else "" for f in files]
    else:
        try:
            prompt = [agent_prompt(cfg, agent)]
        except AgentsupError as exc:
            prompt = [str(exc)]
    parts = {
        "backend": [backend.name, backend.bin, backend.flags, backend.model_flag, backend.resume_flag,
                    backend.prompt_flag, backend.prompt_mode, backend.preamble, backend.server,
                    backend.remote_control, dict(backend.env)],
        "agent": [agent.model, list(agent.args), dict(agent.env), str(agent.dir), agent.session, agent.resume,
                  repr(agent.worktree)],
        "models": [p.models.get(agent.role or "") for p in cfg.loop.phases] if agent.kind == "loop" else [],
        "prompt": prompt,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
