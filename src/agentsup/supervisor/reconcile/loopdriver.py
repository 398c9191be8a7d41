"""The build loop inside the watchdog: phase advance on the done marker, handoff pings between the
builder and the adversary, and one-shot tasks with dependencies."""

from __future__ import annotations

from pathlib import Path

from agentsup.buildloop.git import Git, GitError, local_git_dir
from agentsup.buildloop.handoff import HandoffState, commit_pings, inbox_pings
from agentsup.buildloop.phases import (
    complete_marker,
    current_phase,
    named_status_path,
    next_step,
    set_index,
    status_path,
)
from agentsup.buildloop.tasks import PENDING, RUNNING, TaskView, plan
from agentsup.config.load import Agent, Config, with_vars
from agentsup.errors import AgentsupError
from agentsup.store.record import State
from agentsup.store.state import atomic_write_text, read_state, write_json
from agentsup.supervisor.processes import lifecycle, start_stop
from agentsup.supervisor.reconcile.tick import Reconciler
from agentsup.tmux.client import PaneInfo


def loop_agents(cfg: Config) -> list[Agent]:
    """The enabled loop agents (the builder/adversary pair), in config order."""
    return [a for a in cfg.agents.values() if a.kind == "loop" and a.enabled]


def watched_files(cfg: Config) -> list[Path]:
    """The files whose change should wake the watchdog: the current phase's status file (both places
    it may live) besides agents.toml."""
    phase = current_phase(cfg)
    if phase is None:
        return []
    repo = cfg.resolve(cfg.loop.handoff.repo) if cfg.loop.handoff else cfg.base_dir
    return sorted({named_status_path(cfg, phase.status), status_path(cfg, phase.status), repo / phase.status})


def handoff_refs(cfg: Config) -> list[Path]:
    """When the handoff remote lives on this machine, the files a push to it changes (its branch
    ref, and packed-refs): watched, a push pings within a second or two instead of at the next
    signal tick. Empty for a remote elsewhere (those are fetched every signal_interval)."""
    spec = cfg.loop.handoff
    if spec is None:
        return []
    repo = cfg.resolve(spec.repo)
    try:
        url = Git(repo, timeout=spec.fetch_timeout).remote_url(spec.remote)
    except GitError:
        return []
    git_dir = local_git_dir(url, repo) if url else None
    if git_dir is None:
        return []
    return [git_dir / "refs" / "heads" / spec.branch, git_dir / "packed-refs"]


class BuildLoop:
    """The build loop inside the watchdog: phase advance, handoff pings, tasks."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler

    @property
    def rt(self) -> start_stop.Runtime:
        """The runtime of the reconciler this loop drives."""
        return self.reconciler.rt

    @property
    def cfg(self) -> Config:
        """The config in force."""
        return self.reconciler.rt.cfg

    # ── phases ─────────────────────────────────────────────────────────────────────────────

    def check_phase(self) -> bool:
        """Advance or complete when the current status file is done. True when something happened."""
        step = next_step(self.cfg)
        if step is None:
            return False
        if self.reconciler.dry_run:
            self.reconciler.log("phase-" + step.kind, done=step.done_id, next=step.next_id)
            return False
        if step.kind == "advance":
            self.stop_loops()
            set_index(self.cfg, step.index)
            complete_marker(self.cfg).unlink(missing_ok=True)  # resuming into an appended phase
            # The handoff state carries over: a claim pushed right after the loops restart is
            # pinged like any other (a fresh state would take it into its baseline, unpinged).
            self.reconciler.log("phase-advance", done=step.done_id, next=step.next_id, index=step.index)
            self.start_loops(f"phase {step.next_id}")
            return True
        self.stop_loops()
        from datetime import UTC, datetime

        atomic_write_text(complete_marker(self.cfg),
                          f"phase sequence complete {datetime.now(UTC).isoformat(timespec='seconds')}; loops stopped\n")
        self.reconciler.log("sequence-complete", last=step.done_id)
        oc = self.cfg.loop.on_complete
        if oc is not None:
            trigger = self.cfg.log_dir / oc.trigger_file
            if trigger.exists():
                trigger.unlink()
                self.reconciler.log("on-complete", task=oc.run)
                self.start_task(self.cfg.agents[oc.run], reason="on_complete")
        return True

    def stop_loops(self) -> None:
        """End every loop agent's session (a phase advance restarts them on the next plan)."""
        panes = self.rt.tmux.snapshot()
        for agent in loop_agents(self.cfg):
            ended = start_stop.stop_session(self.rt, agent.session, panes.get(agent.session))
            if agent.session in panes or ended.pids:
                self.reconciler.log("stop", agent.name, reason="phase change")

    def start_loops(self, reason: str) -> None:
        """Start every loop agent again, each with a fresh record that keeps its queue."""
        for agent in loop_agents(self.cfg):
            try:
                start_stop.start_agent(self.rt, agent, force=True)
            except AgentsupError as exc:
                self.reconciler.log("start-failed", agent.name, error=str(exc))
                continue
            now = self.reconciler.clock.monotonic()
            # A fresh record for the new phase; what was queued for the agent still goes to it
            # (a push pinged while it was starting, just before the DONE: soak seed 83).
            self.reconciler.records.fresh(agent.name, state=State.STARTING, detail=reason, started_at=now)
            self.reconciler.persist(agent.name)
            self.reconciler.log("start", agent.name, reason=reason)

    # ── handoff ────────────────────────────────────────────────────────────────────────────

    def handoff_file(self) -> Path:
        """Where the handoff state (last pushes seen, pings owed) is kept."""
        return self.rt.state.handoff_file()

    def save_handoff(self, state: HandoffState) -> None:
        """Persist the handoff state (not in a dry run)."""
        if not self.reconciler.dry_run:
            write_json(self.handoff_file(), state.to_json())

    def check_handoff(self) -> None:
        """Ping the peer of whoever pushed a claim(...) or review(...) commit since the last look."""
        spec = self.cfg.loop.handoff
        if spec is None or not loop_agents(self.cfg) or complete_marker(self.cfg).exists():
            return
        git = Git(self.cfg.resolve(spec.repo), timeout=spec.fetch_timeout)
        ref = f"{spec.remote}/{spec.branch}"
        data, problem = read_state(self.handoff_file())
        if problem:
            self.reconciler.log("state-corrupt", detail=problem)
        state = HandoffState.from_json(data or {})
        try:
            git.fetch(spec.remote)
            head = git.rev_parse(ref)
            subjects: list[str] = []
            if head and state.head and head != state.head:
                subjects = git.subjects(state.head, head) or []
            docs = self.cfg.loop.docs_dir
            contents = {}
            for name in spec.inboxes[:2]:
                shown = git.show(ref, f"{docs}/{name}") if docs else None
                contents[name] = shown if shown is not None else git.show(ref, name)
        except GitError as exc:
            self.reconciler.log("handoff-error", error=str(exc))
            return
        pings = commit_pings(spec, subjects) if state.head else []  # the first look only sets a baseline
        pings += inbox_pings(spec, state, contents)
        state.head = head or state.head
        self.save_handoff(state)  # saved before pinging: a crash now may lose a ping, never repeat one
        for ping in pings:
            self.reconciler.log("handoff", ping.target, kind=ping.reason)
            self.reconciler.messages.deliver_or_queue(ping.target, ping.text, reason=ping.reason)

    # ── tasks ──────────────────────────────────────────────────────────────────────────────

    def tasks(self) -> dict[str, Agent]:
        """The task agents, by name."""
        return {a.name: a for a in self.cfg.agents.values() if a.kind == "task"}

    def next_due(self) -> float | None:
        """The earliest moment (monotonic) a running task reaches its timeout."""
        dues = [rec.started_at + task.timeout for name, task in self.tasks().items()
                if task.timeout is not None and (rec := self.reconciler.record(name)).state == RUNNING
                and rec.started_at is not None]
        return min(dues) if dues else None

    def tick_tasks(self, panes: dict[str, PaneInfo]) -> None:
        """Start the tasks whose dependencies are done and whose slot is free; settle the ones that ended."""
        tasks = self.tasks()
        if not tasks:
            return
        now = self.reconciler.clock.monotonic()
        views = {}
        for name, task in tasks.items():
            pane = panes.get(task.session)
            code = self.rt.state.read_exit_code(task.session)  # written by the wrapper as the program ends
            rec = self.reconciler.record(name)
            views[name] = TaskView(rec.state, alive=pane is not None and not pane.dead and code is None,
                                   exit_code=code, started_at=rec.started_at, attempts=rec.attempts,
                                   retry_at=rec.retry_at, timeout=task.timeout, retries=task.retries)
        max_running = self.cfg.watchdog.max_running_tasks or None
        result = plan({n: t.after for n, t in tasks.items()}, views, now=now, max_running=max_running,
                      retry_backoff=self.cfg.watchdog.task_retry_backoff)
        for name, new_state in result.states.items():
            self.reconciler.records.noted(name, views[name].state, new_state, "the task plan")
            if views[name].state == RUNNING and not self.reconciler.dry_run:  # an attempt ended
                lifecycle.run_later(tasks[name], "after_exit", self.reconciler.log, exit_code=views[name].exit_code)
        for name in result.stop:  # timed out, or a dependency failed while it ran: nothing of it survives
            if not self.reconciler.dry_run:
                ended = start_stop.stop_session(self.rt, tasks[name].session, panes.get(tasks[name].session))
                self.reconciler.log("task-stopped", name, processes=len(ended.pids))
        for name, event, fields in result.events:
            self.reconciler.log(event, name, **fields)
        for name, at in result.retry_at.items():
            self.reconciler.record(name).retry_at = at
        for name, state in result.states.items():
            record = self.reconciler.record(name)
            record.change_state(State(state),
                                next((str(f.get("reason", "")) for n, e, f in result.events if n == name), ""))
            if name in result.start:
                self.start_task(tasks[name], reason="dependencies done" if tasks[name].after else "requested")
            else:
                self.reconciler.persist(name)

    def start_task(self, task: Agent, *, reason: str, fresh: bool = False,
                   run_vars: dict[str, str] | None = None) -> None:
        """Start an attempt. `fresh`: a run by hand, which starts the count of attempts over, with
        `run_vars` for its {{keys}} (kept for its retries)."""
        if self.reconciler.dry_run:
            return
        record = self.reconciler.record(task.name)
        if fresh:
            record.attempts, record.run_vars = 0, dict(run_vars or {})
            # a run again by hand starts from a finished task: STARTING first, so an attempt that
            # cannot start (tmux frozen) ends FAILED instead of being refused (DONE -> FAILED; soak seed 29)
            self.reconciler.records.noted(task.name, record.state, State.STARTING, reason)
            record.change_state(State.STARTING, reason)
        try:
            start_stop.start_agent(self.rt, with_vars(task, record.run_vars, self.cfg.base_dir), force=True)
        except AgentsupError as exc:
            self.reconciler.records.noted(task.name, record.state, State.FAILED, f"could not start: {exc}")
            record.change_state(State.FAILED, f"could not start: {exc}")
            self.reconciler.log("task-failed", task.name, error=str(exc))
        else:
            record.attempts += 1
            record.change_state(State.RUNNING, reason)
            record.started_at = self.reconciler.clock.monotonic()
            record.retry_at = None
            self.reconciler.log("task-start", task.name, reason=reason, attempt=record.attempts)
        self.reconciler.persist(task.name)


FINISHED_OR_UNDERWAY = frozenset({"DONE", "FAILED", "CANCELLED", RUNNING, PENDING})


def request_tasks(reconciler: Reconciler, names: list[str]) -> None:
    """Mark tasks PENDING: the next tick starts each one whose dependencies are done. A task runs
    once: one that ran, failed, was cancelled, runs or waits already is left as it is (only
    `agentsup run TASK` runs it again)."""
    for name in names:
        record = reconciler.record(name)
        if record.state in FINISHED_OR_UNDERWAY:
            continue
        record.change_state(State.PENDING, "waiting for its dependencies")
        reconciler.persist(name)
