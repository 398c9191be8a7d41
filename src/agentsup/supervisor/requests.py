"""What the operator hands the watchdog: requests (`reset`, `start`, `queue`, `restart`, `ping`)
that a running watchdog carries out and answers over its control socket, and the marks of agents
stopped by hand. Without a running watchdog a request is carried out here, by the same function,
under the watchdog's own lock."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from agentsup.config.load import Agent, Config
from agentsup.errors import AgentsupError, LockedError
from agentsup.store.record import Record, State
from agentsup.store.state import FileLock, StateDir, atomic_write_text, move_aside, private_dir, touch_private
from agentsup.supervisor import channel, control
from agentsup.supervisor.buildloop import BuildLoop, request_tasks
from agentsup.supervisor.reconcile import Reconciler


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
    old = reconciler.record(name)
    reconciler.records[name] = Record(wake_due=old.wake_due, queue=old.queue, boot=reconciler.boot)
    reconciler.persist(name)
    reconciler.log("reset", name, previous_state=old.state, detail="FATAL and restart budget cleared")


@dataclass(frozen=True)
class Handled:
    """What became of a request: `result` as `carry_out` says it; `by_watchdog` when the running
    watchdog carried it out."""

    result: str
    by_watchdog: bool


CONNECT_PATIENCE = 5.0  # a watchdog holds its lock a moment before its socket listens


def send_request(cfg: Config, kind: str, name: str, payload: str | None = None, *, by: str = "cli") -> Handled:
    """Have `kind` (reset | start | queue | restart | ping) for agent `name` carried out: by the
    running watchdog, which answers over its control socket, or here under the watchdog's lock.
    `by` (cli, web) is who asked, as the journal says it."""
    state = StateDir(cfg.state_dir)
    lock = FileLock(state.watchdog_lock())
    deadline = time.monotonic() + CONNECT_PATIENCE
    while True:
        try:
            lock.acquire()
        except LockedError:  # a watchdog runs: ask it
            try:
                answer = channel.ask(state.control_socket(), {"kind": kind, "name": name, "payload": payload,
                                                              "by": by})
            except channel.NoWatchdogError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                return Handled(_hand_over_file(state, kind, name, payload), True)
            return Handled(str(answer.get("result", "")), True)
        break
    try:
        rt = control.make_runtime(cfg)
        reconciler = Reconciler(rt, cfg.journal())
        return Handled(carry_out(reconciler, kind, cfg.agents[name], payload, by=by), False)
    finally:
        lock.release()


def _hand_over_file(state: StateDir, kind: str, name: str, payload: str | None) -> str:
    """A watchdog that holds its lock but does not listen (an older agentsup) reads request files:
    written aside and renamed in whole, one file per message (0600: pings are secrets)."""
    folder = state.requests_dir()
    state_entries(folder)  # a planted file in its place goes aside
    private_dir(folder)
    staged = state.incoming_dir() / f"{kind}-{name}.{time.time_ns()}"
    atomic_write_text(staged, payload or "")
    os.replace(staged, folder / staged.name)
    return "requested"


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


def carry_out(reconciler: Reconciler, kind: str, agent: Agent, payload: str | None = None, *,
              by: str = "cli") -> str:
    """Do what the operator asked, in the process that owns the records (the watchdog, or the CLI
    under the watchdog's lock), and say what became of it."""
    if kind == "ping" and payload:  # queued while the agent is held; otherwise the CLI types it itself
        return reconciler.queue_if_held(agent.name, payload, reason=by)
    if kind == "reset":
        reset_record(reconciler, agent.name)
        return "reset"
    if kind == "start" and agent.kind == "task":
        BuildLoop(reconciler).start_task(agent, reason="started by hand", fresh=True, run_vars=_vars(payload))
        return "started"
    if kind == "queue" and agent.kind == "task":
        request_tasks(reconciler, [agent.name])
        return "queued"
    if kind == "restart" and agent.kind != "task":
        return restart_by_hand(reconciler, agent, by=by)
    return "refused"


def _vars(payload: str | None) -> dict[str, str]:
    """`run TASK --var k=v`'s vars, as the request file carries them (JSON)."""
    import json

    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def restart_by_hand(reconciler: Reconciler, agent: Agent, *, by: str = "cli") -> str:
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
        reconciler.log("start-failed", agent.name, error=str(exc), by=by)
        reconciler.persist(agent.name)
        return f"start-failed: {exc}"
    reconciler.log("restart", agent.name, reason="restarted by hand", by=by)
    reconciler.persist(agent.name)
    return "restarted"
