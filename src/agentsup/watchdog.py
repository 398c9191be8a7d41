"""`agentsup watchdog`: the reconcile loop that keeps every declared agent working.

Poll ticks (every `poll_interval`) notice deaths within a second or two; signal ticks (every
`signal_interval`) read changed screens for limits, stalls, wakes and pings; heavy ticks (every
`heavy_interval`) add the process-tree check. A change to agents.toml wakes the loop at once; a
config that stops validating is reported once and the last good one stays in force. One watchdog
per state directory (an flock); SIGTERM/SIGINT end it without touching agents; SIGHUP reloads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import control
from .buildloop import BuildLoop, request_tasks, watched_files
from .config import Config, load_config
from .errors import ConfigError, LockedError
from .journal import Journal
from .reconcile import HEAVY, POLL, SIGNAL, Reconciler, TickStats
from .state import FileLock, StateDir, write_json
from .watcher import FileWatcher


def requests_dir(state: StateDir) -> Path:
    return state.root / "requests"


def stopped_dir(state: StateDir) -> Path:
    return state.root / "stopped"


def stopped_by_hand(state: StateDir) -> set[str]:
    try:
        return {p.name for p in stopped_dir(state).iterdir()}
    except FileNotFoundError:
        return set()


def mark_stopped(state: StateDir, names: list[str], stopped: bool) -> None:
    folder = stopped_dir(state)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if stopped:
            (folder / name).touch()
        else:
            (folder / name).unlink(missing_ok=True)


class Watchdog:
    def __init__(self, config_path: Path, *, dry_run: bool = False, clock: Callable[[], float] = time.time,
                 emit: Callable[[dict[str, Any]], None] = lambda e: None) -> None:
        self.config_path = config_path
        self.dry_run = dry_run
        self.emit = emit
        cfg = load_config(config_path, apply_overrides=False)  # a bad config at start is fatal
        self.rt = control.make_runtime(cfg)
        self.journal = Journal(cfg.log_dir / "events.jsonl", cfg.watchdog.journal_max_bytes, clock)
        self.reconciler = Reconciler(self.rt, self.journal, clock=clock, dry_run=dry_run, emit=emit)
        self.loop = BuildLoop(self.reconciler)
        self.stamp = self._stamp()
        self.config_error: str | None = None
        self.force_reload = False
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.last: dict[str, TickStats] = {}
        self.lock = FileLock(self.rt.state.watchdog_lock())

    @property
    def cfg(self) -> Config:
        return self.rt.cfg

    # ── config ─────────────────────────────────────────────────────────────────────────────

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.config_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload_if_changed(self) -> bool:
        stamp = self._stamp()
        if stamp == self.stamp and not self.force_reload:
            return False
        self.stamp, self.force_reload = stamp, False
        try:
            cfg = load_config(self.config_path, apply_overrides=False)
        except ConfigError as exc:
            message = str(exc)
            if message != self.config_error:  # once per distinct error
                self.config_error = message
                self.reconciler.log("config-error", error=message, detail="keeping the last good config")
            return False
        if self.config_error is not None:
            self.reconciler.log("config-ok", detail="config valid again")
        self.config_error = None
        self.rt.cfg = cfg
        self.reconciler.log("config-reloaded", agents=list(cfg.agents))
        return True

    # ── requests from the CLI ──────────────────────────────────────────────────────────────

    def handle_requests(self) -> None:
        folder = requests_dir(self.rt.state)
        try:
            files = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        except FileNotFoundError:
            return
        for path in files:
            kind, _, name = path.name.partition("-")
            path.unlink(missing_ok=True)
            agent = self.cfg.agents.get(name)
            if agent is None:
                continue
            if kind == "reset":
                reset_record(self.reconciler, name)
            elif kind == "start" and agent.kind == "task":
                self.loop.start_task(agent, reason="started by hand")
            elif kind == "queue" and agent.kind == "task":
                request_tasks(self.reconciler, [name])

    # ── the loop ───────────────────────────────────────────────────────────────────────────

    def tick(self, kind: str) -> TickStats:
        self.reload_if_changed()
        self.handle_requests()
        if kind != POLL:
            self.loop.check_handoff()
            self.loop.check_phase()
        stats = self.reconciler.tick(kind, stopped_by_hand=stopped_by_hand(self.rt.state))
        self.loop.tick_tasks(self.reconciler.panes)
        self.last[kind] = stats
        self.write_status(stats)
        return stats

    def write_status(self, stats: TickStats) -> None:
        if self.dry_run:
            return
        heavy = self.last.get(HEAVY)
        write_json(self.rt.state.watchdog_status(), {
            "pid": os.getpid(), "last_tick": datetime.now(UTC).isoformat(timespec="seconds"),
            "kind": stats.kind, "tick_ms": round(stats.wall_ms, 2), "tick_cpu_ms": round(stats.cpu_ms, 2),
            "tmux_calls": stats.tmux_calls, "captures": stats.captures, "agents": stats.agents,
            "heavy_tick_ms": round(heavy.wall_ms, 2) if heavy else None,
            "heavy_tmux_calls": heavy.tmux_calls if heavy else None,
            "config_error": self.config_error,
        }, durable=False)

    def once(self) -> TickStats:
        """One full (heavy) tick, for cron, tests and `--once`."""
        with self._locked():
            return self.tick(HEAVY)

    def run(self) -> None:
        with self._locked():
            watched = self.watch_list()
            watcher = FileWatcher(watched, self.wake)
            watcher.start()
            self._install_signals()
            w = self.cfg.watchdog
            self.reconciler.log("watchdog-start", pid=os.getpid(), dry_run=self.dry_run,
                                watching=[a.name for a in self.cfg.agents.values() if a.watch != "none"])
            now = time.monotonic()
            next_signal = next_heavy = now
            try:
                while not self.stop.is_set():
                    now = time.monotonic()
                    kind = HEAVY if now >= next_heavy else SIGNAL if now >= next_signal else POLL
                    self.tick(kind)
                    w = self.cfg.watchdog
                    if kind == HEAVY:
                        next_heavy, next_signal = now + w.heavy_interval, now + w.signal_interval
                    elif kind == SIGNAL:
                        next_signal = now + w.signal_interval
                    wait = min(w.poll_interval, next_signal - time.monotonic())
                    if self.watch_list() != watched:  # a new phase, or its docs directory appeared
                        watcher.stop()
                        watched = self.watch_list()
                        watcher = FileWatcher(watched, self.wake)
                        watcher.start()
                    if self.wake.wait(timeout=max(0.0, wait)):
                        self.wake.clear()
                        if watcher.take():
                            next_signal = time.monotonic()  # config or status file changed: look now
            finally:
                watcher.stop()
                self.reconciler.log("watchdog-stop", pid=os.getpid(), detail="agents left running")

    def watch_list(self) -> list[Path]:
        files = [self.config_path, *watched_files(self.cfg)]
        return [f for f in files if f.parent.is_dir()]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock.acquire()  # LockedError (exit 75) when another watchdog holds it
        try:
            yield
        finally:
            self.lock.release()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum: int, _frame: object) -> None:
            self.stop.set()
            self.wake.set()

        def reload(signum: int, _frame: object) -> None:
            self.force_reload = True
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)


def reset_record(reconciler: Reconciler, name: str) -> None:
    from .policy import Record

    old = reconciler.record(name)
    reconciler.records[name] = Record(wake_due=old.wake_due, queue=old.queue)
    reconciler.persist(name)
    reconciler.log("reset", name, previous_state=old.state, detail="FATAL and restart budget cleared")


def send_request(cfg: Config, kind: str, name: str) -> str:
    """Hand `kind` (reset | start | queue) for agent `name` to the running watchdog, which acts on it
    within a poll. Without a running watchdog, do it here, under the watchdog's lock."""
    state = StateDir(cfg.state_dir)
    lock = FileLock(state.watchdog_lock())
    try:
        lock.acquire()
    except LockedError:  # a watchdog runs: hand it the request
        folder = requests_dir(state)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{kind}-{name}").touch()
        return "requested"
    try:
        rt = control.make_runtime(cfg)
        reconciler = Reconciler(rt, Journal(cfg.log_dir / "events.jsonl", cfg.watchdog.journal_max_bytes))
        if kind == "reset":
            reset_record(reconciler, name)
        elif kind == "start":
            BuildLoop(reconciler).start_task(cfg.agents[name], reason="started by hand")
        elif kind == "queue":
            request_tasks(reconciler, [name])
        return "done"
    finally:
        lock.release()
