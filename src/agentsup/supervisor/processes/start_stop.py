"""Start and stop agents and services in tmux. Shared by the CLI and the watchdog; returns results,
never prints."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsup.config.load import Agent, Config, Service
from agentsup.config.tables import suggest
from agentsup.errors import AgentsupError, TmuxError, TmuxUnreachableError, UnknownNameError
from agentsup.store.state import locked, open_private
from agentsup.supervisor.processes.launch import launch_plan, log_path, prepare_home, spawn, tag
from agentsup.supervisor.processes.proctree import Stopped, end_processes
from agentsup.supervisor.processes.runtime import Runtime as Runtime  # re-exported: the adapters a command works with
from agentsup.supervisor.processes.runtime import make_runtime as make_runtime
from agentsup.tmux.client import NoSessionError, PaneInfo

if TYPE_CHECKING:  # imported where used: `status` and `down` start no program and type nothing
    from agentsup.tmux.delivery import Delivery


@dataclass(frozen=True)
class ActionResult:
    """What happened to one agent or service when asked to start or stop."""

    name: str
    session: str
    action: str  # started | restarted | already-running | stopped | not-running
    detail: str = ""
    argv: tuple[str, ...] = ()
    typed_prompt: Delivery | None = None


def stop_session(rt: Runtime, session: str, pane: PaneInfo | None) -> Stopped:
    """End a session and everything it started: its pane's process tree and every process tagged
    with it (setsid children, programs that ignore SIGHUP), SIGKILL after `stop_timeout`."""
    roots = [pane.pane_pid] if pane is not None and pane.pane_pid > 0 else []
    rt.tmux.kill_session(session)
    return end_processes(roots, tag(rt, session), rt.cfg.watchdog.stop_timeout)


def deliver(rt: Runtime, agent: Agent, text: str, *, force: bool = False) -> Delivery:
    """Type `text` into an agent and submit it, verified; never into a person's unsent draft."""
    backend = rt.cfg.backend_of(agent)
    return rt.deliverer.deliver(agent.session, text, submit_key=backend.submit_key, box=backend.input_box(),
                                force=force)


@contextlib.contextmanager
def _claimed(rt: Runtime, session: str) -> Iterator[PaneInfo | None]:
    """The session's start lock, held from looking at it to starting it, and the pane as seen under
    it: a parallel `up` (or the watchdog) that looked a moment earlier never ends what was just started."""
    with locked(rt.state.start_lock(session)):
        yield rt.tmux.pane(session)


def start_agent(rt: Runtime, agent: Agent, *, force: bool = False, pane: PaneInfo | None = None,
                known: bool = False, resume: bool = False) -> ActionResult:
    """Start `agent` unless it already runs. `force` kills a running one first. A dead pane (the
    program exited) is replaced. `known=True` means `pane` is the caller's fresh observation."""
    cfg = rt.cfg
    if known and pane is not None and not pane.dead and not force:
        return ActionResult(agent.name, agent.session, "already-running")
    backend = cfg.backend_of(agent)
    with _claimed(rt, agent.session) as pane:
        if pane is not None and not pane.dead and not force:
            return ActionResult(agent.name, agent.session, "already-running")
        replaced = pane is not None
        # A replaced session, and whatever an earlier run left behind, ends before the new one starts.
        stop_session(rt, agent.session, pane) if replaced else end_processes(
            [], tag(rt, agent.session), cfg.watchdog.stop_timeout)
        prepare_home(rt, agent)
        plan, kickoff = launch_plan(rt, agent, resume=resume)
        if agent.unattended:
            from agentsup.agents.firstrun import prepare

            agent.home_dir.mkdir(parents=True, exist_ok=True)
            prepare(backend, agent.home_dir, dict(agent.env))
        spawn(rt, agent.session, plan.argv, cwd=agent.home_dir,
              env={**plan.env, **agent.env, "AGENTSUP_AGENT": agent.name, "AGENTSUP_SESSION": agent.session},
              prompt_file=kickoff if plan.prompt_as_arg else None, preamble=backend.preamble,
              prefix=plan.prompt_prefix)
    typed = None
    if plan.typed_prompt:
        rt.sleep(backend.connect_delay)
        typed = deliver(rt, agent, plan.typed_prompt)
    return ActionResult(agent.name, agent.session, "restarted" if replaced else "started",
                        argv=tuple(plan.argv), typed_prompt=typed)


def start_service(rt: Runtime, svc: Service, *, pane: PaneInfo | None = None, known: bool = False) -> ActionResult:
    """Start a service's session unless it is running (`known`: its pane is the one given)."""
    if known and pane is not None and not pane.dead:
        return ActionResult(svc.name, svc.session, "already-running")
    with _claimed(rt, svc.session) as pane:
        if pane is not None and not pane.dead:
            return ActionResult(svc.name, svc.session, "already-running")
        stop_session(rt, svc.session, pane) if pane is not None else end_processes(
            [], tag(rt, svc.session), rt.cfg.watchdog.stop_timeout)
        spawn(rt, svc.session, svc.argv, cwd=svc.dir, env={**svc.env, "AGENTSUP_SERVICE": svc.name})
    return ActionResult(svc.name, svc.session, "started", argv=svc.argv)


def watchdog_argv(cfg: Config) -> list[str]:
    """The argv of a detached watchdog for `cfg`."""
    return [sys.executable, "-m", "agentsup", "--config", str(cfg.path), "watchdog", "--quiet"]


WATCHDOG_UNIT = "agentsup-watchdog.service"


def systemd_user() -> bool:
    """A systemd user manager this process can reach (booted with systemd, a runtime directory)."""
    import shutil

    return (Path("/run/systemd/system").is_dir() and bool(os.environ.get("XDG_RUNTIME_DIR"))
            and shutil.which("systemctl") is not None)


def start_watchdog(rt: Runtime, *, wait: float = 5.0) -> ActionResult:
    """Start the watchdog so that it outlives this process and the login it came from: through its
    systemd user unit when one is installed; else detached in a session of its own (and, under
    systemd, a scope of its own, out of the login session's). Its output is appended to
    `<log_dir>/<prefix>watchdog.log`. Returns once it holds its lock, so a `status` right after
    sees it."""
    import subprocess

    from agentsup.store.state import FileLock

    cfg = rt.cfg
    lock = FileLock(rt.state.watchdog_lock())
    if lock.is_held():
        return ActionResult("watchdog", cfg.watchdog_session, "already-running")
    unit = Path(os.path.expanduser(f"~/.config/systemd/user/{WATCHDOG_UNIT}"))
    if unit.is_file() and systemd_user():
        done = subprocess.run(["systemctl", "--user", "start", WATCHDOG_UNIT], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + wait
        while done.returncode == 0 and not lock.is_held() and time.monotonic() < deadline:
            time.sleep(0.05)
        if lock.is_held():
            return ActionResult("watchdog", cfg.watchdog_session, "started",
                                detail=f"through its systemd user unit {WATCHDOG_UNIT}")
    argv = watchdog_argv(cfg)
    scoped = ["systemd-run", "--user", "--scope", "--quiet", "--collect", *argv] if systemd_user() else argv
    result = _spawn_watchdog(rt, scoped, lock, wait)
    if result.action == "failed" and scoped is not argv:  # no user manager after all: a session of its own
        result = _spawn_watchdog(rt, argv, lock, wait)
    return result


def _spawn_watchdog(rt: Runtime, argv: list[str], lock: Any, wait: float) -> ActionResult:
    import subprocess

    cfg = rt.cfg
    log = open_private(log_path(cfg, cfg.watchdog_session), os.O_WRONLY | os.O_APPEND)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                cwd=cfg.base_dir, start_new_session=True)
    finally:
        os.close(log)
    deadline = time.monotonic() + wait
    while not lock.is_held() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() == 75 or (proc.poll() is not None and lock.is_held()):
        return ActionResult("watchdog", cfg.watchdog_session, "already-running")  # a parallel `up` won
    if proc.poll() is not None:
        return ActionResult("watchdog", cfg.watchdog_session, "failed",
                            detail=f"exited with code {proc.returncode}; see `agentsup logs watchdog`")
    return ActionResult("watchdog", cfg.watchdog_session, "started", detail=f"pid {proc.pid}")


def session_of(cfg: Config, name: str) -> str:
    """The tmux session of an agent, a service or the watchdog; UnknownNameError otherwise."""
    if name in cfg.agents:
        return cfg.agents[name].session
    if name in cfg.services:
        return cfg.services[name].session
    if name == "watchdog":
        return cfg.watchdog_session
    raise unknown_name(cfg, name)


def unknown_name(cfg: Config, name: str) -> UnknownNameError:
    """The error for a name the config does not have, with a did-you-mean."""
    names = [*cfg.agents, *cfg.services, "watchdog"]
    return UnknownNameError(f"unknown agent or service {name!r}{suggest(name, names)}; "
                            f"known: {', '.join(names)}")


def launch_warnings(cfg: Config, names: Iterable[str] = (), *, euid: int | None = None) -> list[str]:
    """What will make an agent fail at start, said before it happens (the named agents', else all)."""
    return missing_programs(cfg, names) + root_refusals(cfg, names, euid=euid)


def auto_continue_notes(cfg: Config, names: Iterable[str] = ()) -> list[str]:
    """Claude agents whose own continuation at a usage limit is turned off: agentsup nudges them
    after the reset instead (said, so nobody waits for a continuation that will not come)."""
    from agentsup.agents.signals import auto_continue_off, home_of

    notes = []
    for agent in _chosen(cfg, names):
        if agent.enabled and cfg.backend_of(agent).signals == "claude":
            where = auto_continue_off(home_of(dict(agent.env)), agent.home_dir)
            if where is not None:
                notes.append(f"agent {agent.name}: claude's auto-continue at a usage limit is off "
                             f"(autoContinueAtUsageLimit in {where}); agentsup resumes it after the reset")
    return notes


def unjudged_starts(cfg: Config, names: Iterable[str] = ()) -> list[str]:
    """Healed agents whose backend says nothing of what ready looks like: a start that hangs on a
    splash screen cannot be caught by `start_timeout` (said, so nobody counts on it)."""
    return [f"agent {a.name}: backend {a.backend} names neither input_re nor ready_re, so a start that hangs "
            f"before its prompt is never restarted (set [backend.{a.backend}].ready_re)"
            for a in _chosen(cfg, names) if a.enabled and a.watch != "none" and a.kind != "task"
            and not cfg.backend_of(a).judges_ready]


def _chosen(cfg: Config, names: Iterable[str]) -> list[Agent]:
    wanted = set(names)
    return [a for a in cfg.agents.values() if not wanted or a.name in wanted]


def missing_programs(cfg: Config, names: Iterable[str] = ()) -> list[str]:
    """Agents whose program is not on PATH, said before a start fails on it."""
    import shutil

    warnings = []
    for agent in _chosen(cfg, names):
        backend = cfg.backend_of(agent)
        program = backend.program_argv()[0]
        path = agent.env.get("PATH") or backend.env.get("PATH") or os.environ.get("PATH", "")
        if agent.enabled and shutil.which(program, path=path) is None:
            warnings.append(f"agent {agent.name}: its program {program!r} is not found on PATH "
                            f"(set [backend.{agent.backend}].bin to its full path)")
    return warnings


def root_refusals(cfg: Config, names: Iterable[str] = (), *, euid: int | None = None) -> list[str]:
    """Claude agents asked to skip permissions as root without IS_SANDBOX (claude refuses to start)."""
    euid = os.geteuid() if euid is None else euid
    warnings = []
    for agent in _chosen(cfg, names):
        backend = cfg.backend_of(agent)
        sandbox = (agent.env.get("IS_SANDBOX") or backend.env.get("IS_SANDBOX") or os.environ.get("IS_SANDBOX"))
        if (backend.signals == "claude" and euid == 0 and "--dangerously-skip-permissions" in backend.flags
                and sandbox != "1"):
            warnings.append(f"agent {agent.name}: claude refuses --dangerously-skip-permissions as root "
                            "(it exits at once); run as another user, or set env IS_SANDBOX = \"1\" in a sandbox")
    return warnings


def check_names(cfg: Config, names: Iterable[str]) -> None:
    """Raise UnknownNameError for the first name the config does not have."""
    for name in names:
        session_of(cfg, name)


def up(rt: Runtime, names: list[str], *, with_watchdog: bool = True) -> list[ActionResult]:
    """Start the named agents/services (all enabled ones when none are named) that are not running."""
    cfg = rt.cfg
    check_names(cfg, names)
    panes = rt.tmux.snapshot()
    results: list[ActionResult] = []
    if not names:
        targets = [a.name for a in cfg.agents.values() if a.enabled and a.kind != "task"]
        targets += [s.name for s in cfg.services.values() if s.enabled]
    else:
        targets = [n for n in names if n != "watchdog" and not (n in cfg.agents and cfg.agents[n].kind == "task")]
    for name in targets:
        if name in cfg.agents:
            agent = cfg.agents[name]
            try:
                results.append(start_agent(rt, agent, pane=panes.get(agent.session), known=True))
            except AgentsupError as exc:  # one agent that cannot start never keeps the others from it
                if isinstance(exc, TmuxError):
                    raise
                results.append(ActionResult(name, agent.session, "failed", detail=str(exc)))
        else:
            svc = cfg.services[name]
            results.append(start_service(rt, svc, pane=panes.get(svc.session), known=True))
    if (not names and with_watchdog) or "watchdog" in names:
        results.append(start_watchdog(rt))
    return results


def down(rt: Runtime, names: list[str]) -> list[ActionResult]:
    """Stop the named sessions (everything the config declares, and the watchdog, when none are named)."""
    cfg = rt.cfg
    check_names(cfg, names)
    if not names:
        names = [*cfg.agents, *cfg.services, "watchdog"]
    # The watchdog first: it must not heal what is being stopped.
    names = sorted(names, key=lambda n: n != "watchdog")
    try:
        panes, frozen = rt.tmux.snapshot(), ""
    except TmuxUnreachableError as exc:  # a frozen server: what runs is still ended, by its tag in /proc
        panes, frozen = {}, str(exc)
    results = []
    for name in names:
        session = session_of(cfg, name)
        if name == "watchdog":
            stopped = stop_watchdog(rt)
            with contextlib.suppress(NoSessionError, TmuxUnreachableError):  # an older agentsup's watchdog session
                stopped = (not frozen and rt.tmux.kill_session(session)) or stopped
            results.append(ActionResult(name, session, "stopped" if stopped else "not-running"))
            continue
        ended = (end_processes([], tag(rt, session), cfg.watchdog.stop_timeout) if frozen
                 else stop_session(rt, session, panes.get(session)))
        if session in panes or ended.pids:
            detail = f"{len(ended.killed)} process(es) needed SIGKILL" if ended.killed else ""
            if frozen:
                detail = f"tmux did not answer ({frozen}): its processes were ended by their tag"
            results.append(ActionResult(name, session, "stopped", detail=detail))
        else:
            results.append(ActionResult(name, session, "not-running"))
    return results


def stop_watchdog(rt: Runtime, timeout: float = 10.0) -> bool:
    """SIGTERM the running watchdog (the pid in its lock file) and wait until it let go of the lock.
    Killing its tmux session is not enough: that sends SIGHUP, which a watchdog takes as "reload"."""
    from agentsup.store.state import FileLock

    lock = FileLock(rt.state.watchdog_lock())
    pid = lock.holder_pid()
    if not lock.is_held() or pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    from agentsup.supervisor.processes.proctree import running

    deadline = time.monotonic() + timeout
    while (lock.is_held() or running(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
