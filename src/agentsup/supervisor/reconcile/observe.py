"""What a tick sees of one agent beyond the screen's text: the cached capture, claude's own signals
merged into the screen's observation, and another backend's program found in the agent's pane."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from agentsup.agents.detect import Observation
from agentsup.agents.resettime import parse_reset
from agentsup.agents.signals import ClaudeSignals, home_of, merge, read_hooks, read_status_line, session_file
from agentsup.config.load import Agent
from agentsup.supervisor.processes.launch import tag
from agentsup.supervisor.processes.proctree import LazyTree, has_tag, program_pid
from agentsup.supervisor.processes.runtime import Runtime
from agentsup.tmux.panes import PaneInfo

LAST_LINES = 15


@dataclass
class Screen:
    """The last capture of a pane, reused while the pane shows no new output."""

    activity: int
    captured_at: float
    digest: int
    obs: Observation
    lines: tuple[str, ...]


def local_zone() -> tzinfo:
    """This machine's time zone (zoneless reset times are read in it)."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone



def last_lines(screen: str) -> tuple[str, ...]:
    """The last non-blank lines of a screen: what a user wants to see of an agent that died."""
    return tuple([line for line in screen.split("\n") if line.strip()][-LAST_LINES:])



def with_signals(rt: Runtime, agent: Agent, pane: PaneInfo, screen: Observation,
                 signals: dict[str, tuple[str, ClaudeSignals]], wall: float, zone: tzinfo) -> Observation:
    """The screen's observation corrected by the program's own signals (claude: hooks, status
    line, session file), when its backend has them. `signals` keeps what each agent's hooks said."""
    if rt.cfg.backend_of(agent).signals != "claude":
        return screen
    key, sig = signals.get(agent.name, ("", ClaudeSignals()))
    if key != pane.key:
        sig = ClaudeSignals()  # a new program: its own hooks file, read from the start
    sig = read_hooks(rt.state.hooks_file(agent.name), sig)
    read_status_line(rt.state.status_line_file(agent.name), sig)
    signals[agent.name] = (pane.key, sig)
    pid = program_pid(pane.pane_pid)
    session = session_file(home_of(dict(agent.env)), pid) if pid else {}
    now = datetime.fromtimestamp(wall, zone)
    parsed = parse_reset(sig.limit_text, now, zone) if sig.limit_text else None
    return merge(screen, sig, session, parsed, zone)


def foreign_program(rt: Runtime, agent: Agent, pane: PaneInfo, tree: LazyTree, ours: dict[str, bool]) -> str | None:
    """Another backend's program in this agent's pane, in a pane agentsup did not start. What
    agentsup started is the agent by definition, whatever its `bin` (a wrapper) is called. `ours`
    remembers, per pane, whether agentsup started it."""
    if ours.get(pane.key) is None:  # a pane's starter never changes: asked once per pane
        ours[pane.key] = has_tag(pane.pane_pid, tag(rt, agent.session))
    if ours[pane.key]:
        return None
    cfg = rt.cfg
    mine = set(cfg.backend_of(agent).process_names)
    if not mine:
        return None
    others = {n for b in cfg.backends.values() for n in b.process_names} - mine
    names = tree.get().names_under(pane.pane_pid)
    if names & mine:
        return None
    found = sorted(names & others)
    return found[0] if found else None
