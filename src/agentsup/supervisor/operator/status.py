"""`agentsup status` as data: observed tmux state merged with what the watchdog persisted.

The JSON form (`status --json`) is a stable, documented shape (README "status --json"); bump
`STATUS_VERSION` when a key changes meaning or goes away.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentsup.buildloop.phases import complete_marker, current_index, current_phase, phase_done, role_model
from agentsup.config.load import Agent, Config
from agentsup.errors import TmuxUnreachableError
from agentsup.store.state import FileLock, read_text
from agentsup.supervisor.processes.launch import log_path
from agentsup.supervisor.processes.proctree import program_pid
from agentsup.supervisor.processes.start_stop import Runtime
from agentsup.tmux.client import PaneInfo

STATUS_VERSION = 1
# Recorded states that outlive the session (the watchdog decided them; tmux alone cannot show them).
STICKY_STATES = frozenset({"FATAL", "BACKOFF", "DONE", "FAILED", "CANCELLED", "PENDING"})


@dataclass(frozen=True)
class AgentStatus:
    """One agent's row of `agentsup status`."""

    name: str
    kind: str
    backend: str
    model: str
    watch: str
    enabled: bool
    session: str
    state: str
    detail: str
    pid: int | None
    uptime_s: int | None
    exit_code: int | None
    reset_at: str | None = None
    restarts: int = 0
    session_id: str | None = None  # the program's own session (claude --session-id), when agentsup chose it
    source: str | None = None  # what decided the state: screen | hooks | session-file
    worktree: str | None = None  # the agent's own git worktree, when it has one
    branch: str | None = None  # that worktree's branch
    account: str = ""  # agents of one account share usage limits
    question: str | None = None  # what a WAITING agent asks
    last_lines: list[str] = field(default_factory=list)  # a FATAL or BACKOFF agent's last screen lines, why
    limits: list[dict[str, Any]] = field(default_factory=list)  # claude's rate-limit windows (5h, 7d, 7d opus)


@dataclass(frozen=True)
class ServiceStatus:
    """One service's row of `agentsup status`."""

    name: str
    session: str
    enabled: bool
    state: str
    pid: int | None
    uptime_s: int | None
    exit_code: int | None


@dataclass(frozen=True)
class PhaseStatus:
    """The build loop's phase as `status` shows it."""

    id: str
    index: int
    count: int
    plan: str
    status_file: str
    done: bool
    complete: bool


@dataclass(frozen=True)
class WatchdogStatus:
    """The watchdog as `status` shows it: alive, ticking, degraded."""

    running: bool
    pid: int | None
    last_tick: str | None = None
    tick_ms: float | None = None
    tick_cpu_ms: float | None = None
    tmux_calls: int | None = None
    config_error: str | None = None
    degraded: dict[str, str] = field(default_factory=dict)  # what is failing → why (empty when healthy)
    notify_error: str | None = None  # the last notification that never got through (when, what, why)


@dataclass(frozen=True)
class StatusReport:
    """Everything `agentsup status` shows."""

    config: str
    socket: str
    phase: PhaseStatus | None
    watchdog: WatchdogStatus
    agents: list[AgentStatus] = field(default_factory=list)
    services: list[ServiceStatus] = field(default_factory=list)
    config_error: str | None = None  # agents.toml does not validate: this report is from its last valid copy
    tmux_error: str | None = None  # tmux did not answer: states are the watchdog's last known

    def to_json(self) -> dict[str, Any]:
        """The report as `status --json` prints it (a stable shape, see STATUS_VERSION)."""
        return {"version": STATUS_VERSION, **asdict(self)}


def _observed(pane: PaneInfo | None, now: float, exit_code: int | None
              ) -> tuple[str, int | None, int | None, int | None]:
    """(state, pid, uptime, exit code) of a session as tmux and /proc show it."""
    if pane is None:
        return "STOPPED", None, None, exit_code
    if pane.dead:
        code = exit_code if exit_code is not None else pane.dead_status
        return "EXITED", None, None, code
    return "RUNNING", program_pid(pane.pane_pid) or pane.pane_pid, max(0, int(now - pane.created)), None


def collect(rt: Runtime, *, now: float | None = None) -> StatusReport:
    """Every agent and service as tmux and /proc show them, merged with the watchdog's records."""
    cfg = rt.cfg
    now = time.time() if now is None else now
    try:
        panes, tmux_error = rt.tmux.snapshot(), None
    except TmuxUnreachableError as exc:  # a frozen server: status still answers, from the records
        panes, tmux_error = {}, str(exc)
    agents = []
    for agent in cfg.agents.values():
        state, pid, uptime, code = _observed(
            panes.get(agent.session), now, rt.state.read_exit_code(agent.session))
        record = record_of(rt, agent.name)
        detail = ""
        if record.get("state") and (state == "RUNNING" or record["state"] in STICKY_STATES or tmux_error):
            state, detail = record["state"], record.get("detail", "")
        if tmux_error:
            detail = f"{detail}; last known (tmux did not answer)".lstrip("; ")
        if not agent.enabled and state == "STOPPED":
            detail = "disabled"
        elif state == "EXITED" and not detail:
            detail = last_words(log_path(cfg, agent.session))
        agents.append(AgentStatus(
            name=agent.name, kind=agent.kind, backend=agent.backend, model=role_model(cfg, agent) or "default",
            watch=agent.watch, enabled=agent.enabled, session=agent.session, state=state, detail=detail,
            pid=pid, uptime_s=uptime, exit_code=code, reset_at=record.get("reset_at"),
            restarts=len(record.get("restarts", [])), session_id=session_of(rt, agent),
            source=record.get("source") or None,
            worktree=agent.worktree.path if agent.worktree else None,
            branch=agent.worktree.branch if agent.worktree else None, account=agent.account,
            question=str(record.get("question") or "") or None if state == "WAITING" else None,
            last_lines=[str(x) for x in record.get("last_lines", [])][-8:] if state in ("FATAL", "BACKOFF") else [],
            limits=rate_limit_rows(rt, agent, now),
        ))
    services = []
    for svc in cfg.services.values():
        state, pid, uptime, code = _observed(
            panes.get(svc.session), now, rt.state.read_exit_code(svc.session))
        services.append(ServiceStatus(svc.name, svc.session, svc.enabled, state, pid, uptime, code))
    return StatusReport(
        config=str(cfg.path), socket=cfg.socket(), phase=phase_line(cfg),
        watchdog=watchdog_status(rt, panes), agents=agents, services=services, tmux_error=tmux_error,
    )


def rate_limit_rows(rt: Runtime, agent: Agent, now: float) -> list[dict[str, Any]]:
    """A claude agent's rate-limit windows as its status line last gave them (none for API-key
    users, or before its first turn)."""
    if rt.cfg.backend_of(agent).signals != "claude":
        return []
    from agentsup.agents.signals import rate_windows, status_line
    from agentsup.agents.usage import window_rows

    return window_rows(rate_windows(status_line(rt.state.status_line_file(agent.name)).get("rate_limits")), now)


def last_words(log: Path) -> str:
    """The last line a program printed before it exited ("claude: not found"), from its log."""
    from agentsup.store.logs import tail_lines

    lines = [line.strip() for line in tail_lines(log, 5) if line.strip()]
    # the launch wrapper's shell names itself: "agentsup-launch: 3: claude: not found"
    last = lines[-1] if lines else ""
    if last.startswith("agentsup-launch: "):
        last = last.removeprefix("agentsup-launch: ").lstrip("0123456789").removeprefix(": ")
    return last[:200]


def session_of(rt: Runtime, agent: Agent) -> str | None:
    """The agent's session id: the one agentsup chose, or the one codex chose (read from its files)."""
    if rt.cfg.backend_of(agent).session_store == "codex":
        from agentsup.agents.sessions import codex_home, codex_session

        return codex_session(codex_home(dict(agent.env)), agent.home_dir)
    return rt.state.session_id(agent.name)


def watchdog_status(rt: Runtime, panes: dict[str, PaneInfo]) -> WatchdogStatus:
    """The watchdog's health: its lock holder, its last tick, what is degraded."""
    lock = FileLock(rt.state.watchdog_lock())
    running = lock.is_held()
    info = read_object(rt.state.watchdog_status())
    degraded = info.get("degraded")
    return WatchdogStatus(
        running=running, pid=lock.holder_pid() if running else None,
        last_tick=info.get("last_tick"), tick_ms=info.get("tick_ms"), tick_cpu_ms=info.get("tick_cpu_ms"),
        tmux_calls=info.get("tmux_calls"), config_error=info.get("config_error"),
        degraded=dict(degraded) if isinstance(degraded, dict) and running else {},
        notify_error=info.get("notify_error") if isinstance(info.get("notify_error"), str) else None,
    )


def read_object(path: Path) -> dict[str, Any]:
    """A state file's object, or {} for anything else: `status` reads, it never fails on a damaged
    file (the watchdog moves those aside)."""
    import json

    try:
        value = json.loads(read_text(path) or "{}")
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def record_of(rt: Runtime, name: str) -> dict[str, Any]:
    """The agent's record file as a dict (empty when missing or damaged)."""
    record = read_object(rt.state.record_file(name))
    if not isinstance(record.get("restarts", []), list) or not isinstance(record.get("state", ""), str):
        return {}
    return record


def phase_line(cfg: Config) -> PhaseStatus | None:
    """The build loop's current phase, or None without phases."""
    phase = current_phase(cfg)
    if phase is None:
        return None
    return PhaseStatus(id=phase.id, index=current_index(cfg), count=len(cfg.loop.phases), plan=phase.plan,
                       status_file=phase.status, done=phase_done(cfg, phase),
                       complete=complete_marker(cfg).exists())
