"""`agentsup watchdog`: the reconcile loop that keeps every declared agent working.

tmux reports deaths itself (hooks that wake a listener), so a crashed agent is restarted within a
fraction of a second; poll ticks (every `poll_interval`) are the safety net; signal ticks (every
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
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentsup.config.load import Config
from agentsup.errors import AgentsupError, TmuxUnreachableError
from agentsup.store.state import FileLock, private_dir
from agentsup.supervisor.decide.clock import Clock, SystemClock
from agentsup.supervisor.processes import start_stop
from agentsup.supervisor.reconcile.loopdriver import BuildLoop, handoff_refs, watched_files
from agentsup.supervisor.reconcile.notify import Notifier
from agentsup.supervisor.reconcile.tick import HEAVY, POLL, SIGNAL, Reconciler, TickStats
from agentsup.supervisor.requests.channel import ControlServer
from agentsup.supervisor.requests.protocol import Request, carry_out, stopped_by_hand, take_request_files
from agentsup.supervisor.watch.configfollow import ConfigFollower, launch_fingerprint
from agentsup.supervisor.watch.heartbeat import Heartbeat
from agentsup.supervisor.watch.watcher import FileWatcher
from agentsup.tmux.client import TmuxSeam, client_env
from agentsup.tmux.deaths import DeathListener

MAX_ERROR_BACKOFF = 10.0  # seconds between ticks while ticks keep failing
FALLBACK_POLL = 1.0  # poll at least this often when tmux cannot report deaths


@dataclass
class _Loop:
    """What the running loop carries from one turn to the next."""

    watched: list[Path]
    next_signal: float
    next_heavy: float
    screens_read_at: float
    watcher: FileWatcher | None = None
    listener: DeathListener | None = None
    listening_on: str = ""


class Watchdog:
    """The reconcile loop: ticks on signals and timers, answers the control channel."""

    def __init__(self, config_path: Path, *, dry_run: bool = False, clock: Clock | None = None,
                 emit: Callable[[dict[str, Any]], None] = lambda e: None, tmux: TmuxSeam | None = None) -> None:
        self.config_path = config_path
        self.dry_run = dry_run
        self.emit = emit
        self.clock: Clock = clock or SystemClock()
        self.fixed_tmux = tmux  # tests: a scripted tmux that survives reloads
        self.follow = ConfigFollower(config_path, self.clock)
        cfg = self.follow.cfg
        self.rt = start_stop.make_runtime(cfg, tmux)
        self.journal = cfg.journal(self.clock.wall)
        self.reconciler = Reconciler(self.rt, self.journal, clock=self.clock, dry_run=dry_run, emit=self._emit)
        self.reconciler.notifier = Notifier(lambda: self.cfg.notify, lambda *a, **k: self.journal.write(*a, **k))
        self.heartbeat = Heartbeat(lambda: self.rt.state.watchdog_status(), self.reconciler.log)
        self.loop = BuildLoop(self.reconciler)
        self.fingerprints = {a.name: launch_fingerprint(cfg, a) for a in cfg.agents.values()}
        self.refs = handoff_refs(cfg)  # a local handoff remote's refs: a push wakes the loop
        if self.follow.error is not None:  # restarted while the file is broken: the last good copy runs
            self.reconciler.log("config-error", error=self.follow.error, detail="started from the last good config")
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.last: dict[str, TickStats] = {}
        self.failures = 0  # ticks that failed in a row
        self.deaths = 0  # deaths tmux reported
        self.last_error: str | None = None
        self.lock = FileLock(self.rt.state.watchdog_lock())
        self.control: ControlServer | None = None

    @property
    def cfg(self) -> Config:
        """The config in force."""
        return self.rt.cfg

    @property
    def degraded(self) -> dict[str, str]:
        """What is failing now, and why (empty when healthy)."""
        return self.reconciler.degraded

    def _emit(self, entry: dict[str, Any]) -> None:
        try:
            self.emit(entry)
        except OSError:  # the terminal that watched us went away: the journal has it all
            self.emit = lambda e: None

    # ── config ─────────────────────────────────────────────────────────────────────────────

    @property
    def config_error(self) -> str | None:
        """Why agents.toml does not validate now (the last good config runs meanwhile)."""
        return self.follow.error

    def reload_if_changed(self) -> bool:
        """Reload agents.toml once it changed and is still; False when it did not change (or is invalid)."""
        cfg = self.follow.read(self.cfg.watchdog.reload_settle, self.reconciler.log)
        if cfg is None:
            return False
        self.apply(cfg)
        return True

    def apply(self, cfg: Config) -> None:
        """Rebuild everything built from the config (tmux, delivery, journal), then diff the agents:
        a changed launch restarts that agent when its turn ends; a removed agent is stopped."""
        old, old_tmux = self.rt.cfg, self.rt.tmux
        rt = start_stop.make_runtime(cfg, self.fixed_tmux)
        if rt.tmux.socket == old_tmux.socket:
            rt.tmux.server_pid = old_tmux.server_pid
        rt.deliverer.wait = self.rt.deliverer.wait
        self.rt = self.reconciler.rt = rt
        rt.on_event = self.reconciler.log
        journal = cfg.journal(self.clock.wall)
        journal.take_over(self.journal)  # what the old one held back (a full disk) is not lost
        self.journal = self.reconciler.journal = journal
        fingerprints = {a.name: launch_fingerprint(cfg, a) for a in cfg.agents.values()}
        self.refs = handoff_refs(cfg)
        changed = [n for n, fp in fingerprints.items() if n in self.fingerprints and fp != self.fingerprints[n]]
        removed = [n for n in old.agents if n not in cfg.agents]
        self.fingerprints = fingerprints
        self.reconciler.log("config-reloaded", agents=list(cfg.agents), changed=changed, removed=removed)
        for name in changed:
            rec = self.reconciler.record(name)
            rec.pending = "config changed"
            self.reconciler.log("restart-pending", name, reason="config changed")
            self.reconciler.persist(name)
        panes = rt.tmux.snapshot() if removed else {}
        for name in removed:
            agent = old.agents[name]
            if self.dry_run:
                continue
            ended = start_stop.stop_session(rt, agent.session, panes.get(agent.session))
            self.reconciler.log("removed", name, detail="no longer in the config; stopped",
                                processes=len(ended.pids))
            self.reconciler.records.forget(name)

    # ── requests from the CLI ──────────────────────────────────────────────────────────────

    def handle_requests(self) -> None:
        """Carry out what the CLI asked: over the control socket (answered) or as files."""
        if self.control is not None:
            for item in self.control.take():
                item.reply(self.answer(item.request))
        for kind, name, payload in take_request_files(self.rt.state):
            self.answer({"kind": kind, "name": name, "payload": payload})

    def answer(self, data: dict[str, Any]) -> dict[str, Any]:
        """Carry out one request from the control channel (or a request file) and say what became of it."""
        request = Request.of_json(data)
        agent = self.cfg.agents.get(request.name)
        if agent is None:
            return {"error": f"no agent named {request.name!r} in {self.cfg.path}"}
        try:
            return carry_out(self.reconciler, request, agent).to_json()
        except AgentsupError as exc:
            self.reconciler.log("request-error", request.name, kind=request.kind, error=str(exc))
            return {"error": str(exc)}

    # ── the loop ───────────────────────────────────────────────────────────────────────────

    def tick(self, kind: str) -> TickStats:
        """Reload if needed, answer requests, run one reconcile pass, write the status file."""
        if self.reload_if_changed() and kind == POLL:
            kind = SIGNAL  # screens are read now: an idle agent whose launch changed restarts at once
        self.handle_requests()
        if kind != POLL:
            self.loop.check_handoff()
            self.loop.check_phase()
        stats = self.reconciler.tick(kind, stopped_by_hand=stopped_by_hand(self.rt.state))
        self.loop.tick_tasks(self.reconciler.panes)
        self.reconciler.persist_all()
        self.last[kind] = stats
        self.write_status(stats)
        return stats

    def safe_tick(self, kind: str) -> bool:
        """One tick that cannot end the loop: a fault is journaled (once per distinct fault), shown
        as degraded in `status`, and the next tick tries again. True when the tick went through."""
        try:
            self.tick(kind)
        except TmuxUnreachableError as exc:
            if "tmux" not in self.degraded:
                self.reconciler.log("tmux-unreachable", error=str(exc), detail="no agent touched until tmux answers")
            self.degraded["tmux"] = str(exc)
        except Exception as exc:  # the loop outlives every fault; the journal says what and where
            frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            where = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}" if frame else "?"
            message = f"{type(exc).__name__}: {exc}"
            if message != self.last_error:
                self.reconciler.log("tick-error", error=message, where=where, tick=kind)
            self.last_error = message
            self.degraded["tick"] = f"{message} ({where})"
        else:
            if self.degraded.pop("tick", None) is not None:
                self.reconciler.log("tick-ok", detail="ticks go through again")
            self.last_error, self.failures = None, 0
            return True
        self.failures += 1
        with contextlib.suppress(Exception):
            self.write_status(None)
        return False

    def write_status(self, stats: TickStats | None) -> None:
        """Write watchdog.json (ticks, health), read by `status` and `doctor`."""
        if not self.dry_run:
            notifier = self.reconciler.notifier
            self.heartbeat.beat(stats, self.degraded, self.config_error, self.last.get(HEAVY),
                                notifier.last_failure if notifier is not None else None)

    def once(self) -> TickStats:
        """One full (heavy) tick, for cron, tests and `--once`."""
        with self._locked():
            return self.tick(HEAVY)

    def _listen(self) -> DeathListener | None:
        """A thread that wakes the loop when tmux reports a death (None for a scripted tmux)."""
        argv = self.rt.tmux.listen_argv()
        if argv is None or self.dry_run:
            return None
        with contextlib.suppress(AgentsupError):
            self.rt.tmux.install_hooks()  # a server started before this agentsup set its hooks
        listener = DeathListener(argv, self._on_death, env=client_env())
        listener.start()
        return listener

    def _on_death(self) -> None:
        self.deaths += 1
        self.wake.set()

    def run(self) -> None:
        """The loop: hold the lock, listen, tick on deaths, changes and timers until SIGTERM or SIGINT."""
        with self._locked():
            with contextlib.suppress(OSError):  # watched from the start: a request, an exit code wake the loop
                private_dir(self.rt.state.requests_dir())
                private_dir(self.rt.state.exits_dir())
            self.control = self._serve_control()
            now = self.clock.monotonic()
            loop = _Loop(watched=self.watch_list(), next_signal=now, next_heavy=now, screens_read_at=now)
            loop.watcher = self._watch(loop.watched)
            loop.listener, loop.listening_on = self._listen(), self.rt.tmux.socket
            self._install_signals()
            self.reconciler.log("watchdog-start", pid=os.getpid(), dry_run=self.dry_run,
                                watching=[a.name for a in self.cfg.agents.values() if a.watch != "none"])
            try:
                while not self.stop.is_set():
                    ok = self._turn(loop)
                    wait = self._wait(loop, ok)
                    try:
                        self._follow_files(loop)
                    except Exception as exc:  # a watcher that cannot start leaves us polling, alive
                        self.degraded["watcher"] = f"{type(exc).__name__}: {exc}"
                    if self.wake.wait(timeout=max(0.0, wait)):
                        self.wake.clear()
                        if loop.watcher is not None and loop.watcher.take():
                            loop.next_signal = self.clock.monotonic()  # config or status file changed: look now
            finally:
                self._shut_down(loop)

    def _turn(self, loop: _Loop) -> bool:
        """One tick of the kind that is due; the next signal and heavy ticks scheduled."""
        now = self.clock.monotonic()
        kind = HEAVY if now >= loop.next_heavy else SIGNAL if now >= loop.next_signal else POLL
        if kind != POLL:
            loop.screens_read_at = now
        ok = self.safe_tick(kind)
        if loop.listener is not None and self.rt.tmux.server_pid is not None:
            loop.listener.kick()  # a server to wait on now (the first start, or a recreated one)
        w = self.cfg.watchdog
        if ok and kind == HEAVY:
            loop.next_heavy, loop.next_signal = now + w.heavy_interval, now + w.signal_interval
        elif ok and kind == SIGNAL:
            loop.next_signal = now + w.signal_interval
        return ok

    def _wait(self, loop: _Loop, ok: bool) -> float:
        """Seconds until the next tick: the poll interval, or sooner when something falls due."""
        w = self.cfg.watchdog
        now = self.clock.monotonic()
        told = loop.listener is not None and loop.watcher is not None and loop.watcher.backend != ""
        poll = w.poll_interval if told else min(w.poll_interval, FALLBACK_POLL)  # deaths and requests reach us
        wait = min(poll, loop.next_signal - now)
        messages = self.reconciler.messages
        messages.look_again = [t for t in messages.look_again if t > loop.screens_read_at]
        due = self.reconciler.signal_due()
        if due is not None and due > loop.screens_read_at:  # a reset, a nudge's answer: read screens then
            loop.next_signal = min(loop.next_signal, due)
            wait = min(wait, loop.next_signal - now)
        dues = [d for d in (self.reconciler.next_due(), self.loop.next_due()) if d is not None]
        if dues:  # a backoff ends, a task's retry or timeout comes: on time, not at the next poll
            wait = min(wait, min(dues) - now)
        if not ok:  # failing ticks back off, never spin
            wait = min(MAX_ERROR_BACKOFF, w.poll_interval * 2 ** min(self.failures, 6))
        if self.follow.settling:
            wait = min(wait, w.reload_settle)  # a config change is settling: look again soon
        return wait

    def _follow_files(self, loop: _Loop) -> None:
        """Keep the file watcher on what is watched now, and the death listener on the agents' server."""
        assert loop.watcher is not None
        if self.watch_list() != loop.watched:  # a new phase, or its docs directory appeared
            loop.watched = self.watch_list()
            if not loop.watcher.retarget(loop.watched):
                old, loop.watcher = loop.watcher, self._watch(loop.watched)  # watching before the old one goes
                old.stop()  # what it held back as it stopped is read by a signal tick now
                old.take()
                loop.next_signal = self.clock.monotonic()
                self.wake.set()
        loop.watcher = self.check_watcher(loop.watcher, loop.watched)
        if self.rt.tmux.socket != loop.listening_on:  # a reload moved the agents' server
            if loop.listener is not None:
                loop.listener.stop()
            loop.listener, loop.listening_on = self._listen(), self.rt.tmux.socket

    def _shut_down(self, loop: _Loop) -> None:
        if loop.watcher is not None:
            loop.watcher.stop()
        if loop.listener is not None:
            loop.listener.stop()
        if self.control is not None:
            self.handle_requests()  # what was asked before the stop is answered
            self.control.stop()
        self.reconciler.log("watchdog-stop", pid=os.getpid(), detail="agents left running")
        if self.reconciler.notifier is not None:
            self.reconciler.notifier.drain(timeout=5.0)  # what the last ticks noticed still goes out

    def _watch(self, files: list[Path]) -> FileWatcher:
        """Watch `files` and the watched folders. A watcher that cannot start shows as degraded in
        `status`: changes are then seen by the ticks, later, never missed."""
        watcher = FileWatcher(files, self.wake, folders=self.watched_folders())
        try:
            watcher.start()
        except Exception as exc:  # out of threads or descriptors, say: the ticks poll every second instead
            self.degraded["watcher"] = f"cannot watch files ({type(exc).__name__}: {exc}); polling each second"
        return watcher

    def check_watcher(self, watcher: FileWatcher, files: list[Path]) -> FileWatcher:
        """Say in `status` when the watcher polls; a watcher that died is journaled and replaced."""
        if not watcher.alive:
            self.reconciler.log("watcher-died", error=watcher.error, detail="a new file watcher starts")
            if watcher.take():
                self.wake.set()
            return self._watch(files)
        before = self.degraded.get("watcher")
        if watcher.fallback_reason is not None:
            self.degraded["watcher"] = (f"inotify unavailable: {watcher.fallback_reason}; "
                                        "watched files are polled every 0.5 s")
        elif watcher.backend:
            self.degraded.pop("watcher", None)
        if self.degraded.get("watcher") != before:
            self.wake.set()  # a tick now: status says it at once
        return watcher

    def watched_folders(self) -> list[Path]:
        """The CLI's requests, and the exit codes launch wrappers write the moment a program ends
        (the surest news of a death: tmux before 3.5 can lose its own)."""
        return [self.rt.state.requests_dir(), self.rt.state.exits_dir()]

    def _serve_control(self) -> ControlServer | None:
        """The control socket the CLI asks (None in a dry run, or when it cannot be bound: requests
        then come as files, and status says why)."""
        if self.dry_run:
            return None
        server = ControlServer(self.rt.state.control_socket(), self.wake)
        try:
            server.start()
        except OSError as exc:
            self.degraded["control"] = f"cannot listen on {server.path}: {exc.strerror or exc}; requests come as files"
            return None
        return server

    def watch_list(self) -> list[Path]:
        """The files whose change wakes the loop: agents.toml, status files, handoff refs."""
        files = [self.config_path, *watched_files(self.cfg), *self.refs]
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
            self.follow.force = True
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)
