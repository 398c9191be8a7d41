"""One watchdog tick: observe every watched agent, decide with the pure policy, act, persist.

Observation is batched: one `list-panes -a` snapshot per tick, and a `capture-pane` only for panes
whose window saw output since we last looked (tmux's `window_activity`), so an idle fleet costs a
single tmux call. Ticks come in three weights: poll (deaths only, every second), signal (screens,
limits, stalls, wakes, pings) and heavy (adds the process-tree check for a wrong program).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentsup.agents.detect import classify
from agentsup.agents.signals import ClaudeSignals
from agentsup.buildloop.phases import complete_marker
from agentsup.buildloop.tasks import PENDING
from agentsup.config.load import Agent, Config
from agentsup.errors import AgentsupError
from agentsup.store.journal import Journal
from agentsup.store.record import BACKOFF, FATAL, LIMITED, STOPPED, IllegalTransition, Record
from agentsup.supervisor.decide.clock import Clock, SystemClock, boot_id
from agentsup.supervisor.decide.decision import Decision, Deliver, Keys, Policy, Start, View
from agentsup.supervisor.decide.limits import hold_for_account
from agentsup.supervisor.decide.policy import transition
from agentsup.supervisor.processes import lifecycle, start_stop
from agentsup.supervisor.processes.launch import tag
from agentsup.supervisor.processes.proctree import LazyTree, end_processes
from agentsup.supervisor.reconcile.messages import LOOK_AGAIN, Messages
from agentsup.supervisor.reconcile.notify import KIND_OF_EVENT, Notice, Notifier, notice_detail
from agentsup.supervisor.reconcile.observe import (
    LAST_LINES,
    Screen,
    foreign_program,
    last_lines,
    local_zone,
    with_signals,
)
from agentsup.supervisor.reconcile.records import Records
from agentsup.tmux.client import NoSessionError, PaneInfo

POLL, SIGNAL, HEAVY = "poll", "signal", "heavy"


@dataclass
class TickStats:
    """What one tick cost: time, tmux calls, captures."""

    kind: str
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    tmux_calls: int = 0
    captures: int = 0
    agents: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)


def policy_for(cfg: Config, agent: Agent, *, wakes_enabled: bool) -> Policy:
    """The settings that govern `agent`, from [watchdog], its backend and its own table."""
    w, backend = cfg.watchdog, cfg.backend_of(agent)
    return Policy(
        watch=agent.watch, kind=agent.kind, stall_idle=backend.stall_idle, stall_grace=w.stall_grace,
        limit_fallback=w.limit_probe_fallback, limit_slack=w.limit_reset_slack, limit_max_hold=w.limit_max_hold,
        limit_probe_max=w.limit_probe_max, backoff_initial=w.backoff_initial, backoff_max=w.backoff_max,
        window=w.restart_window, restart_max=w.restart_max, fatal_cooldown=w.fatal_cooldown,
        start_grace=w.start_grace, start_timeout=w.start_timeout,
        wake_interval=agent.wake.interval if agent.wake else None,
        wakes_enabled=wakes_enabled,  # the wake text is read when a wake fires (wake_text), not every tick
    )


def wake_text(agent: Agent) -> str:
    """The wake message, read now (edits to its file apply at the next wake), whitespace folded."""
    if agent.wake is None:
        return ""
    if agent.wake.prompt_file is None:
        return agent.wake.prompt or ""
    try:
        return " ".join(agent.wake.prompt_file.read_text(encoding="utf-8").split())
    except OSError:
        return ""


class Reconciler:
    """Holds the per-agent records and screen cache across ticks. The records in memory are the
    truth; files follow them, and a write the disk refuses is retried on the next tick (`degraded`
    says which writes are failing and why)."""

    def __init__(self, rt: start_stop.Runtime, journal: Journal, *, clock: Clock | None = None,
                 dry_run: bool = False, emit: Callable[[dict[str, Any]], None] = lambda e: None) -> None:
        self.rt = rt
        self.journal = journal
        self.clock: Clock = clock or SystemClock()
        self.boot = boot_id()
        self.dry_run = dry_run
        self.emit = emit
        self.zone = local_zone()
        self.records = Records(rt.state, self.boot, self.log, dry_run=dry_run)  # the one owner of records
        self.screens: dict[str, Screen] = {}
        self.panes: dict[str, PaneInfo] = {}  # the last tick's snapshot
        self.degraded: dict[str, str] = {}  # what is failing: "state", "journal", ... → why
        self.signals: dict[str, tuple[str, ClaudeSignals]] = {}  # per agent: (pane key, what its hooks said)
        self.notifier: Notifier | None = None  # the watchdog's; one-off CLI reconcilers notify nobody
        self.ours: dict[str, bool] = {}  # pane key → did agentsup start it (its environment says)
        self.ended: set[str] = set()  # pane keys whose program's end was seen (its after_exit hook ran)
        self.messages = Messages(rt, self.records, self.log, self.persist, self.clock, dry_run=dry_run)
        rt.on_event = self.log

    # ── records ────────────────────────────────────────────────────────────────────────────

    def record(self, name: str) -> Record:
        """The agent's record (read from its owner, `self.records`)."""
        return self.records.get(name)

    def persist(self, name: str) -> None:
        """Write the agent's record if it changed; a failing write marks the watchdog degraded."""
        self.records.persist(name)
        if self.records.write_error:
            self.degraded["state"] = self.records.write_error

    def persist_all(self) -> None:
        """Write every record that changed."""
        self.degraded.pop("state", None)
        self.records.persist_all()
        if self.records.write_error:
            self.degraded["state"] = self.records.write_error
        if self.journal.failing:
            self.journal.flush()
        if self.journal.failing:
            self.degraded["journal"] = self.journal.failing
        else:
            self.degraded.pop("journal", None)

    def next_due(self) -> float | None:
        """The earliest moment (monotonic) a record asks to be looked at: a backoff that ends, a
        task's retry."""
        dues = [due for r in self.records.values()
                if (due := r.backoff_until if r.state == BACKOFF else r.retry_at if r.state == PENDING else None)
                is not None]
        return min(dues) if dues else None

    def signal_due(self) -> float | None:
        """The earliest moment (monotonic) a screen should be read again, before the next signal
        tick: a held agent's reset or next probe, or a moment after a nudge or queued delivery, to
        see the agent resume (a limit lifted late is work lost)."""
        dues = [r.limit_until for r in self.records.values() if r.state == LIMITED and r.limit_until is not None]
        dues += [r.transient_due for r in self.records.values() if r.transient_due is not None]
        now = self.clock.monotonic()
        if any(r.queue and r.state not in (LIMITED, BACKOFF, FATAL, STOPPED) for r in self.records.values()):
            dues.append(now + LOOK_AGAIN)  # a message waits for its agent to come up: look soon
        dues += self.messages.look_again
        return min(dues) if dues else None

    def now(self) -> tuple[float, float]:
        """One reading of both clocks: (monotonic, wall)."""
        return self.clock.monotonic(), self.clock.wall()

    def log(self, event: str, agent: str | None = None, **fields: Any) -> None:
        """Journal `event` (and notify it when its kind is asked for)."""
        entry = {"event": event, **({"agent": agent} if agent else {}), **fields}
        if not self.dry_run:
            entry = self.journal.write(event, agent, **fields)
            kind = KIND_OF_EVENT.get(event)
            if kind and self.notifier is not None:
                change = self.records.changes.get(agent or "")
                old, new = (change.old, change.new) if change else ("", "")
                self.notifier.notify(Notice(kind, agent or "", old, new, notice_detail(fields),
                                            str(entry.get("ts", ""))))
        self.emit(entry)

    # ── the tick ───────────────────────────────────────────────────────────────────────────

    def tick(self, kind: str, *, stopped_by_hand: set[str]) -> TickStats:
        """One reconcile pass of `kind` (poll, signal or heavy) over every agent, service and task."""
        stats = TickStats(kind)
        cfg, tmux = self.rt.cfg, self.rt.tmux
        calls0, t0, cpu0 = tmux.calls, time.perf_counter(), _cpu()
        had_server = tmux.server_pid
        panes = self.panes = tmux.snapshot()
        self.forget_gone(panes)
        if self.degraded.pop("tmux", None) is not None:
            self.log("tmux-reachable", detail="supervision resumed")
        if had_server is not None and tmux.server_pid != had_server:
            # One event for the whole fleet; each agent's own restart follows from its missing session.
            self.log("tmux-server-gone", server_pid=had_server, new_server_pid=tmux.server_pid,
                     detail="recreating the server and every agent")
        tree = LazyTree() if kind == HEAVY else None  # read only if a pane agentsup did not start shows up
        now, wall = self.now()
        sequence_done = complete_marker(cfg).exists()
        self.release_stopped(stopped_by_hand)
        agents = [a for a in cfg.agents.values() if a.enabled and a.kind != "task"
                  and (a.watch != "none" or a.wake is not None)
                  and a.name not in stopped_by_hand and not (a.kind == "loop" and sequence_done)]
        stale = [p.pane_id for a in agents if (p := panes.get(a.session)) is not None and self.stale(p, kind)]
        screens = tmux.capture_many(stale) if stale else {}  # one tmux call for every changed screen
        stats.captures = len(stale)
        for agent in agents:
            stats.agents += 1
            pane = panes.get(agent.session)
            if self.record(agent.name).sending and not self.dry_run:  # a watchdog died typing them
                self.messages.resume_sending(agent, pane)
            rec = self.record(agent.name)
            view = self.observe(agent, pane, rec, kind, tree, screens, stats)
            try:
                decision = transition(rec, view, now, policy_for(cfg, agent, wakes_enabled=not sequence_done),
                                      wall=wall)
            except IllegalTransition as exc:  # a bug in the state machine: refused, journaled, state kept
                self.log("illegal-transition", agent.name, old=exc.old, new=exc.new)
                continue
            self.records.put(agent.name, decision.record)
            if decision.record.sending:
                self.persist(agent.name)  # what goes out is on disk as `sending` before a key is typed
            self.act(agent, pane, decision, stats)
            self.persist(agent.name)
            if any(e.event == "limit-hold" for e in decision.events) and not decision.record.shared_hold:
                self.share_limit(agent, agents, panes)
        stats.tmux_calls = tmux.calls - calls0
        stats.wall_ms = (time.perf_counter() - t0) * 1000
        stats.cpu_ms = (_cpu() - cpu0) * 1000
        return stats

    def forget_gone(self, panes: dict[str, PaneInfo]) -> None:
        """What was learnt about panes that are gone goes too: a watchdog runs for weeks of restarts."""
        live = {p.key for p in panes.values()}
        self.ours = {k: v for k, v in self.ours.items() if k in live}
        self.ended &= live

    def share_limit(self, hit: Agent, agents: list[Agent], panes: dict[str, PaneInfo]) -> None:
        """A limit one agent hit holds every running agent of its account until the same reset,
        instead of each running into it on its own (each is still nudged after it)."""
        rec = self.records.get(hit.name)
        if rec.limit_until is None:
            return
        for other in agents:
            pane = panes.get(other.session)
            if other.name == hit.name or other.account != hit.account or pane is None or pane.dead:
                continue
            if self.record(other.name).state in (LIMITED, BACKOFF, FATAL):
                continue
            self.records.put(other.name, hold_for_account(self.records.get(other.name), hit.name, rec.limit_until,
                                                          rec.reset_at), f"{hit.name} hit the account's limit")
            self.log("limit-hold", other.name, shared_with=hit.name, account=hit.account, reset_at=rec.reset_at,
                     detail=f"{hit.name} hit the {hit.account} account's usage limit")
            self.persist(other.name)

    def release_stopped(self, names: set[str]) -> None:
        """An agent stopped by hand has no pending restart: `down` cancels a backoff."""
        for name in names & set(self.rt.cfg.agents):
            rec = self.record(name)
            if rec.state == BACKOFF or rec.pending:
                rec.change_state(STOPPED, "stopped by hand")
                rec.backoff_until, rec.pending = None, ""
                self.log("backoff-cancelled", name, detail="stopped by hand")
                self.persist(name)

    def stale(self, pane: PaneInfo, kind: str) -> bool:
        """Does this live pane need a fresh capture? Only if its window printed since we looked."""
        if kind == POLL or pane.dead:
            return False
        cached = self.screens.get(pane.session)
        return cached is None or pane.activity >= int(cached.captured_at) or pane.activity != cached.activity

    def observe(self, agent: Agent, pane: PaneInfo | None, rec: Record, kind: str, tree: LazyTree | None,
                screens: dict[str, str], stats: TickStats) -> View:
        """What this tick sees of one agent: its pane, screen and process tree, as a View."""
        tmux = self.rt.tmux
        if pane is None:
            self.screens.pop(agent.session, None)
            return View(present=False)
        code = self.rt.state.read_exit_code(agent.session)
        if pane.dead or code is not None:  # the wrapper wrote its program's exit code: it has ended
            lines: tuple[str, ...] = ()
            if rec.state not in (BACKOFF, FATAL):  # first notice: keep its last words for `status`
                try:
                    # tmux scrolls a dead pane up a line to print "Pane is dead": read some history too.
                    lines = last_lines(tmux.capture(pane.pane_id, history=LAST_LINES))
                    stats.captures += 1
                except NoSessionError:
                    pass
            exit_code = code if code is not None else pane.dead_status
            if pane.key not in self.ended and not self.dry_run:
                self.ended.add(pane.key)
                # What the program left behind (a child that outlived it) ends with it, not at the
                # next start, which a backoff, FATAL or a finished task may never bring.
                left = end_processes([], tag(self.rt, agent.session), self.rt.cfg.watchdog.stop_timeout)
                if left.pids:
                    self.log("leftovers-ended", agent.name, processes=len(left.pids), killed=len(left.killed))
                lifecycle.run_later(agent, "after_exit", self.log, exit_code=exit_code)
            return View(present=True, dead=True, exit_code=exit_code, last_lines=lines)
        foreign = foreign_program(self.rt, agent, pane, tree, self.ours) if tree is not None else None
        if kind == POLL:
            return View(present=True, foreign=foreign, created=pane.created, pane_key=pane.key)
        cached = self.screens.get(agent.session)
        changed = False
        text = screens.get(pane.pane_id)
        if text is not None:
            digest = zlib.crc32(text.encode("utf-8", "replace"))
            changed = cached is not None and digest != cached.digest
            wall = self.clock.wall()
            obs = classify(text, self.rt.cfg.backend_of(agent), datetime.fromtimestamp(wall, self.zone), self.zone)
            cached = Screen(pane.activity, wall, digest, obs, last_lines(text))
            self.screens[agent.session] = cached
        if cached is None:  # it vanished between the snapshot and the capture: next tick will tell
            return View(present=True, foreign=foreign, created=pane.created, pane_key=pane.key)
        grace = self.rt.cfg.backend_of(agent).log_grace
        if grace and self.clock.wall() - pane.activity <= grace:  # tmux's activity time is wall time
            changed = True  # printed recently: as good as a changed screen for stall purposes
        obs = with_signals(self.rt, agent, pane, cached.obs, self.signals, self.clock.wall(), self.zone)
        return View(present=True, obs=obs, screen_changed=changed, foreign=foreign,
                    last_lines=cached.lines, created=pane.created, pane_key=pane.key, blank=not cached.lines)

    # ── acting ─────────────────────────────────────────────────────────────────────────────

    def act(self, agent: Agent, pane: PaneInfo | None, decision: Decision, stats: TickStats) -> None:
        """Carry out a decision: journal its events, then start, type and press what it asks."""
        for event in decision.events:
            self.log(event.event, agent.name, **event.fields)
            stats.decisions.append({"agent": agent.name, "event": event.event, **event.fields})
        if self.dry_run:
            return
        unreachable = ""  # set once tmux stopped answering: the rest of the messages wait in the queue
        for action in decision.actions:
            if isinstance(action, Start):
                self.screens.pop(agent.session, None)
                try:
                    start_stop.start_agent(self.rt, agent, force=action.kill, pane=pane, known=True,
                                        resume=action.resume)
                    self.signals.pop(agent.name, None)
                except AgentsupError as exc:
                    self.log("start-failed", agent.name, error=str(exc))
            elif isinstance(action, Keys) and pane is not None:
                if pane.in_mode:
                    self.rt.tmux.leave_mode(pane.pane_id)
                self.rt.tmux.send_keys(pane.pane_id, action.keys)
                self.screens.pop(agent.session, None)  # look again next tick: the menu should be gone
            elif isinstance(action, Deliver):
                text = action.text or (wake_text(agent) if action.purpose == "wake" else "")
                if text:
                    unreachable = self.messages.send(agent, action, text, unreachable)
                else:
                    self.log("wake-skipped", agent.name, reason="wake prompt file missing or empty")


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the tmux clients it ran)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
