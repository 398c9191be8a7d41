"""What the operator hands the watchdog: requests (`reset`, `start`, `queue`, `restart`, `ping`)
that a running watchdog carries out and answers over its control socket, and the marks of agents
stopped by hand. Without a running watchdog a request is carried out here, by the same function,
under the watchdog's own lock."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from agentsup.config.load import Agent, Config
from agentsup.errors import AgentsupError, LockedError
from agentsup.store.record import State
from agentsup.store.state import FileLock, StateDir, atomic_write_text, move_aside, private_dir, touch_private
from agentsup.supervisor.processes import start_stop
from agentsup.supervisor.reconcile.loopdriver import BuildLoop, request_tasks
from agentsup.supervisor.reconcile.tick import Reconciler
from agentsup.supervisor.requests import channel


def state_entries(folder: Path) -> list[Path]:
    """The files in a state folder; a file where the folder belongs is moved aside."""
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        with contextlib.suppress(OSError):
            move_aside(folder)
        return []


def by_age(path: Path) -> tuple[int, str]:
    """(mtime, name) of a request file: the order requests were handed over."""
    try:
        return path.stat(follow_symlinks=False).st_mtime_ns, path.name
    except OSError:
        return 0, path.name


def stopped_by_hand(state: StateDir) -> set[str]:
    """The agents `agentsup down` stopped by hand (the watchdog leaves them stopped)."""
    return {p.name for p in state_entries(state.stopped_dir())}


def mark_stopped(state: StateDir, names: list[str], stopped: bool) -> None:
    """Mark `names` stopped by hand, or clear the mark."""
    folder = state.stopped_dir()
    state_entries(folder)  # a planted file in its place goes aside
    private_dir(folder)
    for name in names:
        mark = folder / name
        if stopped:
            touch_private(mark)
        elif mark.is_dir() and not mark.is_symlink():
            move_aside(mark)
        else:
            mark.unlink(missing_ok=True)


def reset_record(reconciler: Reconciler, name: str) -> None:
    """A fresh record for `name` that keeps its queue and wake: FATAL and the restart budget gone."""
    previous = reconciler.record(name).state
    reconciler.records.fresh(name, why="reset by hand")
    reconciler.persist(name)
    reconciler.log("reset", name, previous_state=previous, detail="FATAL and restart budget cleared")


class RequestKind(StrEnum):
    """What the operator can hand the records' owner."""

    RESET = "reset"  # clear FATAL and the restart budget
    START = "start"  # run a task now
    QUEUE = "queue"  # queue a task that never ran
    RESTART = "restart"  # end an agent's tree and start it again
    PING = "ping"  # a message: queued while a limit holds the agent, else typed now, verified


class Outcome(StrEnum):
    """Every answer a request gets."""

    RESET = "reset"
    STARTED = "started"
    QUEUED = "queued"
    DELIVERED = "delivered"  # a ping typed and submitted, verified
    STRANDED = "stranded"  # a ping that could not be typed (a person's draft, a program not reading)
    NO_SESSION = "no-session"  # a ping for an agent with no live session
    NOT_HELD = "not-held"  # an older watchdog's answer to a ping no limit holds: the asker types it
    RESTARTED = "restarted"
    START_FAILED = "start-failed"
    REFUSED = "refused"  # the kind does not apply to this agent (a restart of a task, ...)
    REQUESTED = "requested"  # handed over as a file, to a watchdog that reads files
    FAILED = "failed"  # the owner could not carry it out (its error is the detail)


@dataclass(frozen=True)
class Request:
    """One thing the operator asks of the records' owner: its kind, the agent, a ping's text or a
    run's vars (`payload`), who asked (cli, web), and a ping's `force` (clear a draft) and `now`
    (type it even while a limit holds the agent)."""

    kind: str
    name: str
    payload: str | None = None
    by: str = "cli"
    force: bool = False
    now: bool = False

    def to_json(self) -> dict[str, Any]:
        """The request as the control channel carries it."""
        return {"kind": self.kind, "name": self.name, "payload": self.payload, "by": self.by,
                "force": self.force, "now": self.now}

    @classmethod
    def of_json(cls, data: dict[str, Any]) -> Request:
        """A request read from the channel (or a request file): anything unexpected at its default."""
        payload = data.get("payload")
        return cls(str(data.get("kind", "")), str(data.get("name", "")), payload if isinstance(payload, str) else None,
                   "web" if data.get("by") == "web" else "cli", data.get("force") is True, data.get("now") is True)


@dataclass(frozen=True)
class Handled:
    """What became of a request, and why; `by_watchdog` when the running watchdog carried it out."""

    outcome: Outcome
    by_watchdog: bool
    detail: str = ""
    attempts: int = 0  # a ping's presses of the submit key

    @classmethod
    def of_answer(cls, answer: dict[str, Any]) -> Handled:
        """The channel's JSON answer (an older watchdog's "start-failed: why" string included)."""
        if answer.get("error"):
            return cls(Outcome.FAILED, True, str(answer["error"]))
        result, _, why = str(answer.get("result", "")).partition(": ")
        try:
            outcome = Outcome(result)
        except ValueError:
            return cls(Outcome.FAILED, True, f"unknown answer {result!r}")
        attempts = answer.get("attempts")
        return cls(outcome, True, str(answer.get("detail") or why),
                   attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0)


CONNECT_PATIENCE = 5.0  # a watchdog holds its lock a moment before its socket listens


def send_request(cfg: Config, request: Request) -> Handled:
    """Have `request` carried out: by the running watchdog, which answers over its control socket,
    or here under the watchdog's lock, by the same function."""
    state = StateDir(cfg.state_dir)
    lock = FileLock(state.watchdog_lock())
    deadline = time.monotonic() + CONNECT_PATIENCE
    while True:
        try:
            lock.acquire()
        except LockedError:  # a watchdog runs: ask it
            try:
                answer = channel.ask(state.control_socket(), request.to_json())
            except channel.NoWatchdogError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                return Handled(_hand_over_file(state, request.kind, request.name, request.payload), True)
            return Handled.of_answer(answer)
        break
    try:
        rt = start_stop.make_runtime(cfg)
        reconciler = Reconciler(rt, cfg.journal())
        done = carry_out(reconciler, request, cfg.agents[request.name])
        return Handled(done.outcome, False, done.detail, done.attempts)
    finally:
        lock.release()


def _hand_over_file(state: StateDir, kind: str, name: str, payload: str | None) -> Outcome:
    """A watchdog that holds its lock but does not listen (an older agentsup) reads request files:
    written aside and renamed in whole, one file per message (0600: pings are secrets)."""
    folder = state.requests_dir()
    state_entries(folder)  # a planted file in its place goes aside
    private_dir(folder)
    staged = state.incoming_dir() / f"{kind}-{name}.{time.time_ns()}"
    atomic_write_text(staged, payload or "")
    os.replace(staged, folder / staged.name)
    return Outcome.REQUESTED


def take_request_files(state: StateDir) -> list[tuple[str, str, str | None]]:
    """The request files handed over, oldest first, each removed as it is read: (kind, name, payload).
    Names that start with a dot are another writer's temporary files, never requests."""
    taken = []
    for path in sorted(state_entries(state.requests_dir()), key=by_age):
        if path.name.startswith("."):
            continue
        kind, _, rest = path.name.partition("-")
        name = rest.split(".")[0]  # agent names have no '.': what follows makes a message unique
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                move_aside(path)
            continue
        try:
            text = path.read_text(encoding="utf-8")
            path.unlink()
        except (OSError, UnicodeDecodeError):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        taken.append((kind, name, text if text else None))
    return taken


@dataclass(frozen=True)
class Answer:
    """What the records' owner did with a request."""

    outcome: Outcome
    detail: str = ""
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        """The answer as the control channel carries it."""
        return {"result": self.outcome.value, "detail": self.detail, **({"attempts": self.attempts}
                                                                        if self.attempts else {})}


def _ping(reconciler: Reconciler, agent: Agent, request: Request) -> Answer:
    """The one rule for an operator's ping (Messages.answer_ping): queued, delivered, stranded or no-session."""
    result, attempts, detail = reconciler.messages.answer_ping(agent, request.payload or "", by=request.by,
                                                               force=request.force, hold=not request.now)
    return Answer(Outcome(result), detail, attempts)


def _reset(reconciler: Reconciler, agent: Agent, request: Request) -> Answer:
    reset_record(reconciler, agent.name)
    return Answer(Outcome.RESET)


def _start(reconciler: Reconciler, agent: Agent, request: Request) -> Answer:
    if agent.kind != "task":
        return Answer(Outcome.REFUSED, f"{agent.name} is not a task")
    BuildLoop(reconciler).start_task(agent, reason="started by hand", fresh=True, run_vars=_vars(request.payload))
    return Answer(Outcome.STARTED)


def _queue(reconciler: Reconciler, agent: Agent, request: Request) -> Answer:
    if agent.kind != "task":
        return Answer(Outcome.REFUSED, f"{agent.name} is not a task")
    request_tasks(reconciler, [agent.name])
    return Answer(Outcome.QUEUED)


def _restart(reconciler: Reconciler, agent: Agent, request: Request) -> Answer:
    if agent.kind == "task":
        return Answer(Outcome.REFUSED, f"{agent.name} is a task")
    return restart_by_hand(reconciler, agent, by=request.by)


HANDLERS: dict[RequestKind, Callable[[Reconciler, Agent, Request], Answer]] = {
    RequestKind.PING: _ping, RequestKind.RESET: _reset, RequestKind.START: _start, RequestKind.QUEUE: _queue,
    RequestKind.RESTART: _restart,
}


def carry_out(reconciler: Reconciler, request: Request, agent: Agent) -> Answer:
    """Do what the operator asked, in the process that owns the records (the watchdog, or the CLI
    under the watchdog's lock), and say what became of it: one handler per kind."""
    try:
        handler = HANDLERS[RequestKind(request.kind)]
    except ValueError:
        return Answer(Outcome.REFUSED, f"unknown request {request.kind!r}")
    return handler(reconciler, agent, request)


def _vars(payload: str | None) -> dict[str, str]:
    """`run TASK --var k=v`'s vars, as the request file carries them (JSON)."""
    import json

    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def restart_by_hand(reconciler: Reconciler, agent: Agent, *, by: str = "cli") -> Answer:
    """Stop the agent's whole tree and start it again. It counts in the restart budget like any
    restart; a pane the watchdog saw before is replaced."""
    cfg = reconciler.rt.cfg
    now = reconciler.clock.monotonic()
    old = reconciler.record(agent.name)
    window = cfg.watchdog.restart_window
    reconciler.records.fresh(agent.name, state=State.STARTING, detail="restarted by hand", started_at=now,
                             restarts=[t for t in old.restarts if now - t < window] + [now])
    try:
        start_stop.start_agent(reconciler.rt, agent, force=True)
    except AgentsupError as exc:
        reconciler.log("start-failed", agent.name, error=str(exc), by=by)
        reconciler.persist(agent.name)
        return Answer(Outcome.START_FAILED, str(exc))
    reconciler.log("restart", agent.name, reason="restarted by hand", by=by)
    reconciler.persist(agent.name)
    return Answer(Outcome.RESTARTED)
