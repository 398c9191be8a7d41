"""Where the web view's data comes from: the same functions `status --json`, `logs` and
`fleet status --json` call (one source, no second reading of the files), and the operations the
CLI calls for an action (the records' owner decides; the journal says `"by": "web"`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsup.config.load import Config
from agentsup.errors import AgentsupError
from agentsup.supervisor.processes.runtime import Runtime

HISTORY = 300  # scrollback lines a viewer can scroll over
ACTIONS = ("ping", "restart", "reset", "up", "down")


@dataclass
class JournalTail:
    """New lines of the journal since the last look (its rotation and recreation followed)."""

    path: Path
    position: int = -1
    inode: int | None = None

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        from agentsup.store.journal import read_events

        return read_events(self.path, limit=limit)

    def new(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except OSError:
            return []
        if self.position < 0:
            self.position, self.inode = st.st_size, st.st_ino  # only what is written from now on
            return []
        if st.st_ino != self.inode or st.st_size < self.position:
            self.position, self.inode = 0, st.st_ino
        if st.st_size == self.position:
            return []
        from agentsup.store.logs import complete_lines, json_lines

        complete, self.position = complete_lines(self.path, self.position)
        return list(json_lines(complete.splitlines()))


@dataclass
class LocalSource:
    """One agents.toml: re-read when it changes (its last valid copy while it is broken)."""

    path: Path
    _cfg: Config | None = None
    _rt: Runtime | None = None
    _stamp: tuple[int, int] | None = None
    _error: str | None = None
    journal: JournalTail = field(init=False)
    tmux_calls_before: int = 0  # calls made by runtimes of earlier copies of the config

    def __post_init__(self) -> None:
        self.journal = JournalTail(self.config().journal_path)

    def config(self) -> Config:
        from agentsup.config.lastgood import load_valid

        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._cfg is None or stamp != self._stamp:
            self._cfg, self._error = load_valid(self.path)
            self._stamp = stamp
            if self._rt is not None:
                self.tmux_calls_before += self._rt.tmux.calls
            self._rt = None
        return self._cfg

    def runtime(self) -> Runtime:
        """One tmux seam for the current config (a new one when the file changed)."""
        from agentsup.supervisor.processes.start_stop import make_runtime

        cfg = self.config()
        if self._rt is None:
            self._rt = make_runtime(cfg)
        return self._rt

    def tmux_calls(self) -> int:
        return self.tmux_calls_before + (self._rt.tmux.calls if self._rt is not None else 0)

    def status(self) -> dict[str, Any]:
        from dataclasses import replace

        from agentsup.supervisor.operator.status import collect

        report = collect(self.runtime())
        if self._error:
            report = replace(report, config_error=self._error)
        return report.to_json()

    def screen(self, name: str) -> str | None:
        """The agent's pane with its colours and scrollback, or None when it has no pane."""
        from agentsup.errors import TmuxError
        from agentsup.supervisor.processes.start_stop import session_of

        rt = self.runtime()
        try:
            session = session_of(rt.cfg, name)
            return rt.tmux.capture_styled(f"={session}:", history=HISTORY)
        except (TmuxError, AgentsupError):
            return None

    def log(self, name: str, lines: int = 200) -> list[str]:
        from agentsup.store.logs import tail_lines
        from agentsup.supervisor.processes.launch import log_path
        from agentsup.supervisor.processes.start_stop import session_of

        cfg = self.config()
        path = log_path(cfg, session_of(cfg, name))
        return tail_lines(path, lines) if path.exists() else []

    def act(self, action: str, name: str, message: str = "") -> Any:
        """One of ACTIONS for agent `name`, through the operation the CLI calls."""
        from agentsup.supervisor.operator import operate

        cfg = self.config()
        if name not in cfg.agents:
            raise AgentsupError(f"unknown agent {name!r}")
        with operate.acting_as("web"):
            if action == "ping":
                if not message.strip():
                    raise AgentsupError("a ping needs a message")
                return [vars(row) for row in operate.ping(cfg, [name], message)]
            if action == "restart":
                return operate.restart(cfg, [name]).to_json()
            if action == "reset":
                return operate.reset(cfg, name).to_json()
            if action == "up":
                return operate.up(cfg, [name]).to_json()
            if action == "down":
                return operate.down(cfg, [name]).to_json()
        raise AgentsupError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")


@dataclass
class FleetSource:
    """Every host of fleet.toml through the ssh fan-out (remote hosts never listen)."""

    path: Path

    def status(self) -> dict[str, Any]:
        from agentsup.fleet.config import load_fleet
        from agentsup.fleet.ops import status

        return {"fleet": status(load_fleet(self.path)).to_json()}
