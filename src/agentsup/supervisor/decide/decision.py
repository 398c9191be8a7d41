"""The pure decision's vocabulary: one tick's View of an agent, the Policy that governs it, the
actions and events a Decision asks for, and one reading of the clock (Now). policy.py and limits.py
decide with these; reconcile.py carries the decisions out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentsup.agents.detect import Observation
from agentsup.store.record import Record


@dataclass(frozen=True)
class View:
    """One tick's observation of an agent's session."""

    present: bool
    dead: bool = False
    exit_code: int | None = None
    obs: Observation | None = None
    screen_changed: bool = False
    foreign: str | None = None  # another known program runs in the pane
    last_lines: tuple[str, ...] = ()
    created: float | None = None  # wall time tmux created the session (for agents started by someone else)
    pane_key: str = ""  # pane id and pid of a live pane
    blank: bool = False  # the screen shows nothing at all


@dataclass(frozen=True)
class Policy:
    """The settings that govern one agent (from [watchdog], its backend and its own table)."""

    watch: str = "heal+stall"
    kind: str = "persistent"
    stall_idle: float = 300
    stall_grace: float = 180
    limit_fallback: float = 300
    limit_slack: float = 45
    limit_max_hold: float = 6 * 3600
    limit_probe_max: float = 1800
    backoff_initial: float = 5
    backoff_max: float = 300
    window: float = 3600
    restart_max: int = 10
    fatal_cooldown: float = 1800
    start_grace: float = 20
    start_timeout: float = 120
    wake_interval: float | None = None
    wake_text: str = ""
    wakes_enabled: bool = True


@dataclass(frozen=True)
class Start:
    """An action: start (or replace) the agent's program."""

    reason: str
    kill: bool  # a session exists and must be replaced
    resume: bool = False  # a heal: continue the agent's own session instead of starting over


@dataclass(frozen=True)
class Deliver:
    """An action: type a message into the agent and submit it."""

    text: str
    purpose: str  # nudge | queued | wake


@dataclass(frozen=True)
class Keys:
    """An action: press keys the backend names (a limit menu's answer)."""

    keys: tuple[str, ...]  # tmux key names from the backend's config, never from the screen
    purpose: str  # limit-menu


@dataclass(frozen=True)
class Event:
    """A journal entry a decision asks for."""

    event: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    """The policy's answer for one agent: its new record, the actions and the events."""

    record: Record
    actions: list[Start | Deliver | Keys] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def drain_queue(self) -> int:
        """What was queued for the agent goes out now, in order: the queue moves to `sending`, which
        the acting side empties one delivered message at a time; how many."""
        count = len(self.record.queue)
        self.actions += [Deliver(text, "queued") for text in self.record.queue]
        self.record.sending, self.record.queue = [*self.record.sending, *self.record.queue], []
        return count

    def note(self, event: str, **fields: Any) -> None:
        """Ask for a journal entry `event` with `fields`."""
        self.events.append(Event(event, fields))


@dataclass(frozen=True)
class Now:
    """One reading of the clock: `mono` for every duration, `wall` for reset times and display."""

    mono: float
    wall: float

    def wall_of(self, mono: float) -> float:
        """The wall time of monotonic reading `mono`."""
        return self.wall + (mono - self.mono)

    def mono_of(self, wall: float) -> float:
        """The monotonic reading of wall time `wall`."""
        return self.mono + (wall - self.wall)
