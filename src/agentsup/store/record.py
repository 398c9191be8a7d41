"""What the watchdog remembers per agent, as plain data: the named states, their transitions, and
the persisted Record (validated when read back). What a tick decides with it (View, Policy,
Decision, the actions) is the supervisor's: supervisor/decide/decision.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agentsup.errors import AgentsupError


class State(StrEnum):
    """Every state an agent, service or task can be in: the one vocabulary."""

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    LIMITED = "LIMITED"
    WAITING = "WAITING"
    SLEEPING = "SLEEPING"
    STALLED = "STALLED"
    BACKOFF = "BACKOFF"
    FATAL = "FATAL"
    EXITED = "EXITED"
    PENDING = "PENDING"  # a task waiting for its dependencies, its retry, or a free slot
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class IllegalTransition(AgentsupError):
    """A state change the state machine does not have (a bug: it is refused, the state kept)."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"illegal state change {old} -> {new}")
        self.old = old
        self.new = new


_ALIVE = frozenset({State.STARTING, State.RUNNING, State.LIMITED, State.WAITING, State.SLEEPING, State.STALLED})
_ENDED = frozenset({State.STOPPED, State.EXITED})
_TASK_ENDS = frozenset({State.DONE, State.FAILED, State.CANCELLED})
# Where each state may go (besides staying). An agent found running is adopted in whatever state
# its screen shows; a FATAL or finished task leaves only by a new start (or an adoption).
TRANSITIONS: dict[State, frozenset[State]] = {
    **{s: _ALIVE | _ENDED | _TASK_ENDS | {State.BACKOFF, State.FATAL, State.PENDING} for s in _ALIVE},
    **{s: _ALIVE | _ENDED | {State.BACKOFF, State.FATAL, State.PENDING, State.DONE, State.FAILED} for s in _ENDED},
    State.BACKOFF: _ENDED | {State.STARTING, State.RUNNING, State.FATAL},
    State.FATAL: _ENDED | {State.STARTING, State.RUNNING},
    State.PENDING: _ENDED | {State.STARTING, State.RUNNING, State.FAILED, State.CANCELLED},
    **{s: frozenset({State.STOPPED, State.PENDING, State.STARTING, State.RUNNING}) for s in _TASK_ENDS},
}


STARTING, RUNNING, BACKOFF, FATAL = State.STARTING, State.RUNNING, State.BACKOFF, State.FATAL
LIMITED, WAITING, SLEEPING, STALLED, STOPPED, EXITED = (
    State.LIMITED, State.WAITING, State.SLEEPING, State.STALLED, State.STOPPED, State.EXITED)
VOLATILE = ("idle_since",)  # not persisted: a restarted watchdog re-measures idleness from scratch
# Monotonic readings: meaningful only within the boot that took them (Record.boot).
MONOTONIC_FIELDS = ("started_at", "backoff_until", "fatal_since", "limit_until", "wake_due", "retry_at",
                    "transient_due")


@dataclass
class Record:
    """What the watchdog remembers about one agent (persisted as JSON, atomically). Every time in it
    is a monotonic reading of the boot named by `boot`."""

    state: str = STOPPED
    detail: str = ""
    started_at: float | None = None
    restarts: list[float] = field(default_factory=list)
    backoff_delay: float = 0.0
    backoff_until: float | None = None
    fatal_since: float | None = None
    fatal_retry: bool = False
    last_reason: str = ""
    last_exit: int | None = None
    last_lines: list[str] = field(default_factory=list)
    limit_until: float | None = None
    limit_nudges: int = 0
    limit_probe: float = 0.0
    reset_at: str | None = None
    reset_grain: float = 0.0  # what the shown reset was rounded to (s): probes come that often past it
    queue: list[str] = field(default_factory=list)
    # Taken from the queue and being typed now, in order; the first may be in flight. On disk
    # before a key is typed, so a watchdog killed mid-delivery neither repeats nor loses one.
    sending: list[str] = field(default_factory=list)
    wake_due: float | None = None
    pane: str = ""  # the live pane last seen (id and pid): another one was started by someone else
    ready: bool = False  # the program showed something since its start
    pending: str = ""  # a restart waiting for the current turn to end (e.g. "config changed")
    limit_mark: str = ""  # the banner that holds it now
    limit_seen: str = ""  # the last banner it resumed from: still on screen, it is history
    menu_answered: float | None = None  # when its limit menu was last answered (monotonic)
    probe_taken: float | None = None  # when it first seemed to take up the last probe (monotonic)
    source: str = ""  # what decided the last observation: screen | hooks | session-file
    attempts: int = 0  # a task's attempts so far
    retry_at: float | None = None  # a task waits for its retry until then
    shared_hold: str = ""  # held by a limit another agent of its account hit (that agent's name)
    question: str = ""  # what a WAITING agent asks (its screen, or claude's signals)
    run_vars: dict[str, str] = field(default_factory=dict)  # a task run by hand with --var: kept for its retries
    transient_seen: str = ""  # the transient error last retried: still on screen, it is history
    transient_due: float | None = None  # when the pending retry of a transient error goes in
    transient_tries: int = 0  # retries of transient errors in a row, for the backoff
    boot: str = ""
    idle_since: float | None = None

    def change_state(self, new: State, detail: str | None = None) -> None:
        """The one way a state changes: refuses a change `TRANSITIONS` does not have."""
        old = State(self.state) if self.state in State.__members__ else None
        if old is not None and new != old and new not in TRANSITIONS[old]:
            raise IllegalTransition(old, new)
        self.state = new
        if detail is not None:
            self.detail = detail

    def settle(self, new: State, detail: str, question: str = "") -> None:
        """Change state and detail; the question is kept only while WAITING."""
        self.change_state(new, detail)
        self.question = question if new == State.WAITING else ""

    def to_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies every value and cost a quarter of a 200-agent tick.
        return {name: list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
                for name in _PERSISTED for value in (getattr(self, name),)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """A record from its JSON; ValueError naming the field when a value has the wrong type (a
        damaged file must not poison every later tick)."""
        values = {k: v for k, v in data.items() if k in _FIELD_TYPES}
        for key, value in values.items():
            if not _FIELD_TYPES[key](value):
                raise ValueError(f"field {key!r} has a value of the wrong type: {value!r:.80}")
        return cls(**values)

    def rebased(self, boot: str) -> Record:
        """This record in boot `boot`: times from another boot are dropped (a backoff is due now,
        the restart window starts empty), everything else is kept."""
        if self.boot == boot:
            return self
        rec = dataclasses.replace(self.copy(), boot=boot, restarts=[])
        for name in MONOTONIC_FIELDS:
            setattr(rec, name, None)
        return rec

    def copy(self) -> Record:
        return dataclasses.replace(self, restarts=list(self.restarts), last_lines=list(self.last_lines),
                                   queue=list(self.queue), sending=list(self.sending), run_vars=dict(self.run_vars))


_PERSISTED = tuple(f.name for f in dataclasses.fields(Record) if f.name not in VOLATILE)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _optional(check: Any) -> Any:
    return lambda v: v is None or check(v)


def _list_of(check: Any) -> Any:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


_FIELD_TYPES: dict[str, Any] = {
    "state": lambda v: isinstance(v, str) and v.isupper(), "detail": lambda v: isinstance(v, str),
    "started_at": _optional(_number), "restarts": _list_of(_number), "backoff_delay": _number,
    "backoff_until": _optional(_number), "fatal_since": _optional(_number),
    "fatal_retry": lambda v: isinstance(v, bool), "last_reason": lambda v: isinstance(v, str),
    "last_exit": _optional(lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "last_lines": _list_of(lambda v: isinstance(v, str)), "limit_until": _optional(_number),
    "limit_nudges": lambda v: isinstance(v, int), "limit_probe": _number,
    "reset_at": _optional(lambda v: isinstance(v, str)), "reset_grain": _number,
    "queue": _list_of(lambda v: isinstance(v, str)), "sending": _list_of(lambda v: isinstance(v, str)),
    "wake_due": _optional(_number), "pane": lambda v: isinstance(v, str), "ready": lambda v: isinstance(v, bool),
    "pending": lambda v: isinstance(v, str), "boot": lambda v: isinstance(v, str),
    "limit_mark": lambda v: isinstance(v, str), "limit_seen": lambda v: isinstance(v, str),
    "menu_answered": _optional(_number), "probe_taken": _optional(_number),
    "source": lambda v: isinstance(v, str),
    "attempts": lambda v: isinstance(v, int) and not isinstance(v, bool), "retry_at": _optional(_number),
    "shared_hold": lambda v: isinstance(v, str), "question": lambda v: isinstance(v, str),
    "run_vars": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
    "idle_since": _optional(_number), "transient_seen": lambda v: isinstance(v, str),
    "transient_due": _optional(_number), "transient_tries": lambda v: isinstance(v, int) and not isinstance(v, bool),
}
