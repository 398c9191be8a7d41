"""What the operator hands the watchdog through the state directory: requests (`reset`, `start`,
`queue`) that a running watchdog acts on within a poll, and the marks of agents stopped by hand.
Without a running watchdog a request is carried out here, under the watchdog's own lock."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from . import control
from .buildloop import BuildLoop, request_tasks
from .config import Agent, Config
from .errors import AgentsupError, LockedError
from .journal import Journal
from .reconcile import Reconciler
from .record import Record, State
from .state import FileLock, StateDir, atomic_write_text, move_aside, private_dir, touch_private


def requests_dir(state: StateDir) -> Path:
    return state.root / "requests"


def stopped_dir(state: StateDir) -> Path:
    return state.root / "stopped"


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
    try:
        return path.stat(follow_symlinks=False).st_mtime_ns, path.name
    except OSError:
        return 0, path.name


def stopped_by_hand(state: StateDir) -> set[str]:
    return {p.name for p in state_entries(stopped_dir(state))}


def mark_stopped(state: StateDir, names: list[str], stopped: bool) -> None:
    folder = stopped_dir(state)
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
    old = reconciler.record(name)
    reconciler.records[name] = Record(wake_due=old.wake_due, queue=old.queue, boot=reconciler.boot)
    reconciler.persist(name)
    reconciler.log("reset", name, previous_state=old.state, detail="FATAL and restart budget cleared")


def send_request(cfg: Config, kind: str, name: str, payload: str | None = None) -> str:
    """Hand `kind` (reset | start | queue | restart) for agent `name` to the running watchdog, which acts on it
    within a poll. Without a running watchdog, do it here, under the watchdog's lock."""
    state = StateDir(cfg.state_dir)
    lock = FileLock(state.watchdog_lock())
    try:
        lock.acquire()
    except LockedError:  # a watchdog runs: hand it the request
        folder = requests_dir(state)
        state_entries(folder)  # a planted file in its place goes aside
        private_dir(folder)
        if payload is None:
            touch_private(folder / f"{kind}-{name}")
        else:  # one file per message, so two pings never overwrite each other (0600: pings are secrets)
            atomic_write_text(folder / f"{kind}-{name}.{time.time_ns()}", payload)
        return "requested"
    try:
        rt = control.make_runtime(cfg)
        reconciler = Reconciler(rt, Journal(cfg.log_dir / "events.jsonl", cfg.watchdog.journal_max_bytes))
        carry_out(reconciler, kind, cfg.agents[name], payload)
        return "done"
    finally:
        lock.release()


def carry_out(reconciler: Reconciler, kind: str, agent: Agent, payload: str | None = None) -> None:
    """Do what the operator asked, in the process that owns the records (the watchdog, or the CLI
    under the watchdog's lock)."""
    if kind == "ping" and payload:
        reconciler.ping(agent.name, payload, reason="cli")  # queued while the agent is held
    elif kind == "reset":
        reset_record(reconciler, agent.name)
    elif kind == "start" and agent.kind == "task":
        BuildLoop(reconciler).start_task(agent, reason="started by hand", fresh=True, run_vars=_vars(payload))
    elif kind == "queue" and agent.kind == "task":
        request_tasks(reconciler, [agent.name])
    elif kind == "restart" and agent.kind != "task":
        restart_by_hand(reconciler, agent)


def _vars(payload: str | None) -> dict[str, str]:
    """`run TASK --var k=v`'s vars, as the request file carries them (JSON)."""
    import json

    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def restart_by_hand(reconciler: Reconciler, agent: Agent) -> None:
    """Stop the agent's whole tree and start it again. It counts in the restart budget like any
    restart; a pane the watchdog saw before is replaced."""
    cfg = reconciler.rt.cfg
    now = reconciler.clock.monotonic()
    old = reconciler.record(agent.name)
    window = cfg.watchdog.restart_window
    rec = Record(restarts=[t for t in old.restarts if now - t < window] + [now], queue=old.queue,
                 wake_due=old.wake_due, boot=reconciler.boot, state=State.STARTING, started_at=now,
                 detail="restarted by hand")
    reconciler.records[agent.name] = rec
    try:
        control.start_agent(reconciler.rt, agent, force=True)
    except AgentsupError as exc:
        reconciler.log("start-failed", agent.name, error=str(exc), by="cli")
    else:
        reconciler.log("restart", agent.name, reason="restarted by hand", by="cli")
    reconciler.persist(agent.name)
