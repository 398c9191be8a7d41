"""What the operator asks for, as functions that return result objects: the CLI parses, calls one
of these, and renders what it returns. Every manual action leaves a journal line marked
`"by": "cli"` (`"web"` from the web view).
Changes to records go through the running watchdog (a request file) or, when none
runs, are made here under its lock, so nobody edits records behind its back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsup.config.load import Config
from agentsup.errors import AgentsupError, ConfigError
from agentsup.supervisor.processes import start_stop
from agentsup.supervisor.processes.start_stop import ActionResult

BY_WATCHDOG = "handed to the running watchdog, which did it"
ACTOR: ContextVar[str] = ContextVar("actor", default="cli")  # who asked: the journal's "by"


@contextmanager
def acting_as(who: str) -> Iterator[None]:
    """Operations called inside are journaled as asked by `who` (the web view says "web")."""
    token = ACTOR.set(who)
    try:
        yield
    finally:
        ACTOR.reset(token)


def journal(cfg: Config, event: str, agent: str | None = None, **fields: object) -> None:
    """A journal line for an action asked by hand (by cli, or web)."""

    cfg.journal().write(event, agent, by=ACTOR.get(), **fields)


@dataclass(frozen=True)
class Actions:
    """What `up`, `down`, `restart` and `phase --restart` did, and what to know beforehand."""

    results: list[ActionResult]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        """The results as `--json` prints them."""
        return [{"name": r.name, "session": r.session, "action": r.action, "detail": r.detail,
                 "argv": list(r.argv), "kickoff": r.typed_prompt.result.value if r.typed_prompt else None}
                for r in self.results]


def up(cfg: Config, names: list[str], *, with_watchdog: bool = True) -> Actions:
    """Start what is not running; queue tasks that never ran (a task runs once)."""
    from agentsup.supervisor.requests.protocol import Request, RequestKind, mark_stopped, send_request
    from agentsup.tmux.client import tmux_version

    rt = start_stop.make_runtime(cfg)
    tmux_version(cfg.tmux.bin)
    start_stop.check_names(cfg, names)
    warnings = start_stop.launch_warnings(cfg, names)
    for name in names:  # the operator wins over old records: FATAL, BACKOFF and the budget go
        if name in cfg.agents and cfg.agents[name].kind != "task":
            send_request(cfg, Request(RequestKind.RESET, name, by=ACTOR.get()))
    results = start_stop.up(rt, names, with_watchdog=with_watchdog)
    # Cleared after starting: a watchdog never sees an unmarked, not-yet-started agent to race us.
    mark_stopped(rt.state, names or [*cfg.agents, *cfg.services], stopped=False)
    tasks = [a for a in cfg.agents.values() if a.kind == "task" and (a.name in names or (not names and a.enabled))]
    for task in tasks:  # started by the watchdog, in dependency order
        send_request(cfg, Request(RequestKind.QUEUE, task.name, by=ACTOR.get()))
        results.append(ActionResult(task.name, task.session, "queued",
                                    detail=f"after {', '.join(task.after)}" if task.after else ""))
    for r in results:
        journal(cfg, "up", r.name if r.name in cfg.agents else None, target=r.name, result=r.action)
    return Actions(results, warnings)


def down(cfg: Config, names: list[str], *, remove_worktree: bool = False, force: bool = False) -> Actions:
    """Stop agents' whole process trees (everything, and the watchdog, when none are named); the
    watchdog leaves what was stopped by hand alone until `up`. `remove_worktree` also removes the
    named agents' worktrees (refused with uncommitted changes unless `force`)."""
    from agentsup.buildloop import worktree
    from agentsup.supervisor.processes import lifecycle
    from agentsup.supervisor.requests.protocol import mark_stopped

    rt = start_stop.make_runtime(cfg)
    start_stop.check_names(cfg, names)
    if remove_worktree:
        if not names:
            raise ConfigError("--remove-worktree needs the agents named (agentsup down NAME --remove-worktree)")
        for name in names:
            agent = cfg.agents.get(name)
            if agent is None or agent.worktree is None:
                raise AgentsupError(f"{name} has no worktree")
            if not force and worktree.dirty(Path(str(agent.worktree.path))):
                worktree.remove(agent)  # raises with what is uncommitted, before anything is stopped
    mark_stopped(rt.state, [n for n in names or [*cfg.agents, *cfg.services] if n != "watchdog"], stopped=True)
    results = start_stop.down(rt, names)
    for r in results:
        journal(cfg, "down", r.name if r.name in cfg.agents else None, target=r.name, result=r.action)
    if remove_worktree:
        for name in names:
            agent = cfg.agents[name]
            problem = lifecycle.run(agent, "before_remove", rt.event)
            if problem is not None and not force:
                raise AgentsupError(f"agent {name}: its before_remove hook failed ({problem}); its worktree is kept "
                                    "(--force removes it anyway)")
            path = worktree.remove(agent, force=force)
            journal(cfg, "worktree-removed", name, path=str(path))
            results.append(ActionResult(name, agent.session, "worktree-removed", detail=str(path)))
    return Actions(results)


def restart(cfg: Config, names: list[str]) -> Actions:
    """End each agent's tree and start it again, through the watchdog when one runs."""
    from agentsup.supervisor.requests.protocol import Outcome, Request, RequestKind, mark_stopped, send_request

    for name in names:
        if name not in cfg.agents:
            raise start_stop.unknown_name(cfg, name)
        if cfg.agents[name].kind == "task":
            raise AgentsupError(f"{name} is a task; use `agentsup run {name}`")
    mark_stopped(start_stop.make_runtime(cfg).state, names, stopped=False)  # a restart also undoes a down
    results = []
    for name in names:
        how = send_request(cfg, Request(RequestKind.RESTART, name, by=ACTOR.get()))
        action = "restart-requested" if how.outcome is Outcome.REQUESTED else how.outcome.value
        results.append(ActionResult(name, cfg.agents[name].session, action,
                                    detail=how.detail or (BY_WATCHDOG if how.by_watchdog else "")))
    return Actions(results)


def reset(cfg: Config, name: str) -> Actions:
    """Clear an agent's FATAL and restart budget, through the records' owner."""
    from agentsup.supervisor.requests.protocol import Request, RequestKind, send_request

    if name not in cfg.agents:
        raise start_stop.unknown_name(cfg, name)
    how = send_request(cfg, Request(RequestKind.RESET, name, by=ACTOR.get()))
    detail = (BY_WATCHDOG if how.by_watchdog else "cleared (no watchdog running; start it with `agentsup up`)")
    return Actions([ActionResult(name, cfg.agents[name].session, "reset", detail=detail)])


def run_task(cfg: Config, task: str, run_vars: dict[str, str] | None = None) -> Actions:
    """Start a task now, again if it ran before; its `after` dependencies are not waited for.
    `run_vars` fill its {{keys}} for this run (over the config's vars)."""
    import json

    from agentsup.store.journal import read_events
    from agentsup.supervisor.requests.protocol import Outcome, Request, RequestKind, send_request

    if task not in cfg.agents:
        raise start_stop.unknown_name(cfg, task)
    if cfg.agents[task].kind != "task":
        raise AgentsupError(f"{task} is a {cfg.agents[task].kind} agent, not a task; use `agentsup up {task}`")
    session = cfg.agents[task].session
    how = send_request(cfg, Request(RequestKind.START, task, json.dumps(run_vars) if run_vars else None,
                                     ACTOR.get()))
    if how.by_watchdog:
        action = "run-requested" if how.outcome is Outcome.REQUESTED else how.outcome.value
        return Actions([ActionResult(task, session, action, detail=BY_WATCHDOG)])
    last = read_events(cfg.journal_path, agent=task, limit=1)
    if last and last[0]["event"] == "task-failed":
        raise AgentsupError(f"{task} could not start: {last[0].get('error')}")
    return Actions([ActionResult(task, session, "started", detail=f"session {session}")])


@dataclass(frozen=True)
class PingRow:
    """What a ping did for one agent: delivered, queued or stranded, and why."""

    agent: str
    result: str  # delivered | stranded | no-session | queued
    attempts: int
    detail: str

    @property
    def ok(self) -> bool:
        """Did it reach the agent, or wait in its queue?"""
        return self.result in ("delivered", "queued")


def ping(cfg: Config, names: list[str], message: str, *, everyone: bool = False, now: bool = False,
         force: bool = False) -> list[PingRow]:
    """Type `message` into each agent, verified. One held by a usage limit gets it queued
    (delivered once, after the limit lifts) unless `now`; a person's draft is never mixed with it."""
    from agentsup.supervisor.requests.protocol import Outcome, Request, RequestKind, send_request

    if everyone:
        names = [a.name for a in cfg.agents.values() if a.enabled and a.kind != "task"]
    for name in names:
        if name not in cfg.agents:
            raise start_stop.unknown_name(cfg, name)
    rows = []
    for name in names:  # the records' owner alone decides: queued, delivered, stranded or no-session
        how = send_request(cfg, Request(RequestKind.PING, name, message, ACTOR.get(), force=force, now=now))
        if how.outcome is Outcome.NOT_HELD:  # an older watchdog leaves an agent no limit holds to the asker
            result = start_stop.deliver(start_stop.make_runtime(cfg), cfg.agents[name], message, force=force)
            journal(cfg, f"ping-{result.result.value}", name, attempts=result.attempts, text=message[:200])
            rows.append(PingRow(name, result.result.value, result.attempts, result.detail))
        elif how.outcome is Outcome.FAILED:
            raise AgentsupError(f"ping {name}: {how.detail}")
        else:
            rows.append(PingRow(name, _PING_RESULT.get(how.outcome, "stranded"), how.attempts,
                                how.detail or "handed to the watchdog as a file: it delivers it"))
    return rows


_PING_RESULT = {"delivered": "delivered", "stranded": "stranded", "no-session": "no-session", "queued": "queued",
                "requested": "queued"}


@dataclass(frozen=True)
class CheckReport:
    """What `agentsup check` reports."""

    config: str
    tmux: str
    socket: str
    agents: list[dict[str, Any]]
    services: list[dict[str, Any]]
    backends: list[str]
    phases: list[str]
    status_files: dict[str, str]
    overrides: dict[str, str]
    warnings: list[str]


def check(cfg: Config) -> CheckReport:
    """What `agentsup check` reports for a config that loaded."""
    from agentsup.buildloop.phases import named_status_path
    from agentsup.tmux.client import tmux_version

    return CheckReport(
        config=str(cfg.path), tmux=tmux_version(cfg.tmux.bin), socket=cfg.socket(),
        agents=[{"name": a.name, "kind": a.kind, "backend": a.backend, "model": a.model or "default",
                 "watch": a.watch, "enabled": a.enabled, "session": a.session} for a in cfg.agents.values()],
        services=[{"name": s.name, "session": s.session, "argv": list(s.argv)} for s in cfg.services.values()],
        backends=sorted({a.backend for a in cfg.agents.values()}),
        phases=[p.id for p in cfg.loop.phases],
        status_files={p.id: str(named_status_path(cfg, p.status)) for p in cfg.loop.phases},
        overrides=dict(cfg.overrides), warnings=start_stop.launch_warnings(cfg) + start_stop.auto_continue_notes(cfg)
        + start_stop.unjudged_starts(cfg),
    )


@dataclass(frozen=True)
class PhaseReport:
    """What `agentsup phase` reports."""

    index: int
    id: str
    phases: list[dict[str, Any]]
    moved: bool
    restarted: Actions | None = None

    def to_json(self) -> dict[str, Any]:
        """The phase as `phase --json` prints it."""
        return {"index": self.index, "id": self.id, "phases": self.phases}


def phase(cfg: Config, action: str, value: str | None, *, restart: bool = False) -> PhaseReport:
    """Show, list, advance or set the build loop's phase (restarting the loop agents when asked)."""
    from agentsup.buildloop.phases import current_index, phase_done, resolve_index, set_index

    phases = cfg.loop.phases
    if not phases:
        raise ConfigError(f"{cfg.path}: no [loop].phases are declared")
    if action == "next":
        index = current_index(cfg) + 1
        if index >= len(phases):
            raise ConfigError(f"already at the last phase ({phases[-1].id}); `agentsup phase set N` to go back")
        set_index(cfg, index)
    elif action == "set":
        if value is None:
            raise ConfigError("usage: agentsup phase set N|ID")
        set_index(cfg, resolve_index(cfg, value))
    elif action not in ("show", "list"):
        raise ConfigError(f"unknown phase action {action!r}: use show, list, next or set")
    moved = action in ("next", "set")
    restarted = None
    if moved:
        journal(cfg, "phase-set", index=current_index(cfg), id=phases[current_index(cfg)].id)
    if moved and restart:
        from agentsup.supervisor.requests.protocol import mark_stopped

        rt = start_stop.make_runtime(cfg)
        loops = [a for a in cfg.agents.values() if a.kind == "loop" and a.enabled]
        mark_stopped(rt.state, [a.name for a in loops], stopped=False)
        restarted = Actions([start_stop.start_agent(rt, a, force=True) for a in loops])
    index = current_index(cfg)
    rows = [{"index": i, "id": p.id, "plan": p.plan, "status": p.status, "current": i == index,
             "done": phase_done(cfg, p)} for i, p in enumerate(phases)]
    return PhaseReport(index, phases[index].id, rows, moved, restarted)


def notify_test(cfg: Config) -> list[Any]:
    """Send a `test` event to every configured channel now."""
    import time

    from agentsup.supervisor.reconcile.notify import Notice, send

    if not (cfg.notify.command or cfg.notify.webhook):
        raise ConfigError(f"{cfg.path}: [notify] has neither a command nor a webhook")
    notice = Notice("test", detail="a test notification from `agentsup notify test`",
                    ts=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return send(cfg.notify, notice, lambda event, agent=None, **f: journal(cfg, event, agent, **f))
