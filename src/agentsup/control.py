"""Start and stop agents and services in tmux. Shared by the CLI and the watchdog; returns results,
never prints."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Agent, Config, Service
from .errors import AgentsupError, TmuxError, UnknownNameError
from .proctree import TAG_VAR, Stopped, end_processes
from .state import StateDir, atomic_write_text, open_private, private_dir, read_text, touch_private
from .tables import suggest
from .tmux import NoSessionError, PaneInfo, Tmux, TmuxSeam, log_pipe_command

if TYPE_CHECKING:  # imported where used: `status` and `down` start no program and type nothing
    from .backends import LaunchPlan
    from .delivery import Deliverer, Delivery

# The launch wrapper: a constant script; every value reaches it as a positional argument, so no
# config value or prompt is ever parsed by a shell. It records the program's exit code in a file
# because tmux's pane_dead_status can go missing, then tells the watchdog at once (tmux's own
# pane-died hook is lost with a lost SIGCHLD in tmux before 3.5; this signal is not).
WRAPPER = r"""exit_file=$1; prompt_file=$2; preamble=$3; prefix=$4; tmux_bin=$5; tmux_flag=$6; tmux_socket=$7; shift 7
if [ -n "$preamble" ]; then eval "$preamble"; fi
if [ -n "$prompt_file" ]; then prompt=$(cat "$prompt_file"; printf x); "$@" "$prefix${prompt%x}"; else "$@"; fi
rc=$?
(umask 077; printf '%s\n' "$rc" > "$exit_file.tmp") && mv -f "$exit_file.tmp" "$exit_file"
if [ -n "$tmux_bin" ]; then "$tmux_bin" "$tmux_flag" "$tmux_socket" wait-for -S agentsup-wake >/dev/null 2>&1; fi
exit "$rc"
"""


@dataclass(frozen=True)
class ActionResult:
    name: str
    session: str
    action: str  # started | restarted | already-running | stopped | not-running
    detail: str = ""
    argv: tuple[str, ...] = ()
    typed_prompt: Delivery | None = None


@dataclass
class Runtime:
    """The adapters one command works with."""

    cfg: Config
    tmux: TmuxSeam
    state: StateDir
    sleep: Callable[[float], None] = time.sleep
    on_event: Callable[..., Any] | None = None  # the watchdog's journal-and-notify; else the journal file

    def event(self, name: str, agent: str | None = None, **fields: Any) -> None:
        """Journal what happened (hooks, worktrees) through whoever owns the journal here."""
        if self.on_event is not None:
            self.on_event(name, agent, **fields)
            return
        from .journal import Journal

        Journal(self.cfg.log_dir / "events.jsonl", self.cfg.watchdog.journal_max_bytes).write(name, agent, **fields)

    @cached_property
    def deliverer(self) -> Deliverer:
        from .delivery import Deliverer

        return Deliverer(self.tmux, self.state.root / "locks", retries=self.cfg.watchdog.delivery_retries)


def make_runtime(cfg: Config, tmux: TmuxSeam | None = None) -> Runtime:
    """The adapters for `cfg`: its state directory and its tmux server (or the given seam)."""
    state = StateDir(cfg.state_dir)
    private_dir(cfg.log_dir)
    state.ensure()
    if tmux is None:
        tmux = Tmux(cfg.socket(), binary=cfg.tmux.bin, timeout=cfg.tmux.timeout,
                    server_pid_file=state.root / "tmux-server.pid")
    return Runtime(cfg, tmux, state)


def tag(rt: Runtime, session: str) -> str:
    """The AGENTSUP_TAG value every process of this session carries: socket and session together,
    so two projects' agents of the same name never match."""
    return f"{rt.tmux.socket}:{session}"


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


def log_path(cfg: Config, session: str) -> Path:
    return cfg.log_dir / f"{session}.log"


def wrapper_argv(exit_file: Path, prompt_file: Path | None, preamble: str, argv: Iterable[str],
                 prefix: str = "", wake: tuple[str, str, str] = ("", "", "")) -> list[str]:
    """`wake`: the tmux client (binary, -S or -L, socket) that tells the watchdog of the exit."""
    return ["/bin/sh", "-c", WRAPPER, "agentsup-launch", str(exit_file),
            str(prompt_file) if prompt_file else "", preamble, prefix, *wake, *argv]


def spawn(rt: Runtime, session: str, argv: Iterable[str], *, cwd: Path, env: dict[str, str],
          prompt_file: Path | None = None, preamble: str = "", prefix: str = "") -> None:
    """Start `argv` under the launch wrapper in a new session whose output goes to its log."""
    cfg = rt.cfg
    exit_file = rt.state.exit_file(session)
    private_dir(exit_file.parent)
    exit_file.unlink(missing_ok=True)  # a stale code must not be read as this run's
    cwd.mkdir(parents=True, exist_ok=True)
    private_dir(cfg.log_dir)
    rt.tmux.new_session(
        session, wrapper_argv(exit_file, prompt_file, preamble, argv, prefix, rt.tmux.wake_client()), cwd=cwd,
        env={**env, TAG_VAR: tag(rt, session)},
        width=cfg.tmux.width, height=cfg.tmux.height,
        log_command=log_pipe_command(log_path(cfg, session), cfg.log_max_bytes, cfg.log_backups),
    )


RESUME_NOTE = ("agentsup: your session ended unexpectedly and was resumed. Re-read where you were and "
               "continue the task you were on.")


def launch_plan(rt: Runtime, agent: Agent, *, resume: bool = False) -> tuple[LaunchPlan, Path]:
    """Render the agent's argv and save its kickoff prompt (so a user can read what it was told).
    A backend with a session flag gets a session id agentsup chooses; `resume` continues the last
    one (a heal) instead of starting over with the kickoff."""
    from .backends import render_launch
    from .phases import role_model
    from .prompts import agent_prompt
    from .sessions import codex_home, codex_session
    from .signals import claude_settings, home_of

    cfg = rt.cfg
    backend = cfg.backend_of(agent)
    prompt = agent_prompt(cfg, agent)
    identity: list[str] = []
    resume_id = rt.state.resume_id(agent.name) if agent.resume and backend.supports_resume else None
    if backend.session_flag:
        session_id = rt.state.session_id(agent.name)
        if resume and session_id and backend.resume_flag:
            resume_id, prompt = session_id, RESUME_NOTE
        else:
            session_id, resume_id = str(uuid.uuid4()), None
            atomic_write_text(rt.state.session_id_file(agent.name), session_id + "\n")
            history = rt.state.session_id_file(agent.name).with_suffix(".history")  # every session: usage
            with contextlib.suppress(OSError):
                fd = open_private(history, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, (session_id + "\n").encode())
                finally:
                    os.close(fd)
            identity += [backend.session_flag, session_id]
    elif backend.session_store == "codex":
        found = codex_session(codex_home(dict(agent.env)), agent.home_dir) if resume else None
        if found:
            resume_id, prompt = found, RESUME_NOTE
            atomic_write_text(rt.state.session_id_file(agent.name), found + "\n")
    if backend.signals == "claude":
        hooks = rt.state.hooks_file(agent.name)
        private_dir(hooks.parent)
        hooks.unlink(missing_ok=True)  # this run's events only
        identity += ["--settings", claude_settings(hooks, rt.state.status_line_file(agent.name),
                                                   home_of(dict(agent.env)))]
    kickoff = rt.state.kickoff_file(agent.session)
    try:
        atomic_write_text(kickoff, prompt)
    except OSError:
        if read_text(kickoff) != prompt:  # a full disk: the saved copy still serves if it is the same
            raise
    plan = render_launch(
        backend, session=agent.session, cwd=str(agent.home_dir), model=role_model(cfg, agent),
        prompt=prompt, prompt_file=str(kickoff), resume_id=resume_id, extra_args=agent.args,
        identity=tuple(identity),
    )
    return plan, kickoff


def start_agent(rt: Runtime, agent: Agent, *, force: bool = False, pane: PaneInfo | None = None,
                known: bool = False, resume: bool = False) -> ActionResult:
    """Start `agent` unless it already runs. `force` kills a running one first. A dead pane (the
    program exited) is replaced. `known=True` means `pane` is the caller's fresh observation."""
    cfg = rt.cfg
    if not known:
        pane = rt.tmux.pane(agent.session)
    if pane is not None and not pane.dead and not force:
        return ActionResult(agent.name, agent.session, "already-running")
    replaced = pane is not None
    # A replaced session, and whatever an earlier run left behind, ends before the new one starts.
    stop_session(rt, agent.session, pane) if replaced else end_processes(
        [], tag(rt, agent.session), cfg.watchdog.stop_timeout)
    prepare_home(rt, agent)
    plan, kickoff = launch_plan(rt, agent, resume=resume)
    backend = cfg.backend_of(agent)
    if agent.unattended:
        from .firstrun import prepare

        agent.home_dir.mkdir(parents=True, exist_ok=True)
        prepare(backend, agent.home_dir, dict(agent.env))
    try:
        spawn(rt, agent.session, plan.argv, cwd=agent.home_dir,
              env={**plan.env, **agent.env, "AGENTSUP_AGENT": agent.name, "AGENTSUP_SESSION": agent.session},
              prompt_file=kickoff if plan.prompt_as_arg else None, preamble=backend.preamble,
              prefix=plan.prompt_prefix)
    except TmuxError as exc:
        if "duplicate session" in str(exc):  # a parallel `up` won the race: it runs, once
            return ActionResult(agent.name, agent.session, "already-running")
        raise
    typed = None
    if plan.typed_prompt:
        rt.sleep(backend.connect_delay)
        typed = deliver(rt, agent, plan.typed_prompt)
    return ActionResult(agent.name, agent.session, "restarted" if replaced else "started",
                        argv=tuple(plan.argv), typed_prompt=typed)


def prepare_home(rt: Runtime, agent: Agent) -> None:
    """What comes before a start: the agent's worktree (created on its first start), its
    after_create hook (once), its before_start hook (every time; a failure fails the start)."""
    from . import lifecycle, worktree

    created = worktree.ensure(agent)
    if created:
        rt.event("worktree-created", agent.name, path=agent.worktree.path if agent.worktree else "",
                 branch=agent.worktree.branch if agent.worktree else "")
    mark = rt.state.root / "created" / agent.name
    if created or not mark.exists():
        agent.home_dir.mkdir(parents=True, exist_ok=True)
        lifecycle.run(agent, "after_create", rt.event)
        touch_private(mark)
    problem = lifecycle.run(agent, "before_start", rt.event)
    if problem is not None:
        raise AgentsupError(f"agent {agent.name}: its before_start hook failed: {problem}")


def start_service(rt: Runtime, svc: Service, *, pane: PaneInfo | None = None, known: bool = False) -> ActionResult:
    if not known:
        pane = rt.tmux.pane(svc.session)
    if pane is not None and not pane.dead:
        return ActionResult(svc.name, svc.session, "already-running")
    stop_session(rt, svc.session, pane) if pane is not None else end_processes(
        [], tag(rt, svc.session), rt.cfg.watchdog.stop_timeout)
    try:
        spawn(rt, svc.session, svc.argv, cwd=svc.dir, env={**svc.env, "AGENTSUP_SERVICE": svc.name})
    except TmuxError as exc:
        if "duplicate session" in str(exc):
            return ActionResult(svc.name, svc.session, "already-running")
        raise
    return ActionResult(svc.name, svc.session, "started", argv=svc.argv)


def watchdog_argv(cfg: Config) -> list[str]:
    return [sys.executable, "-m", "agentsup", "--config", str(cfg.path), "watchdog", "--quiet"]


def start_watchdog(rt: Runtime, *, wait: float = 5.0) -> ActionResult:
    """Run the watchdog as a detached process of its own (not in a pane: it must outlive the tmux
    server it may have to recreate), its output appended to `<log_dir>/<prefix>watchdog.log`.
    Returns once it holds its lock, so a `status` right after sees it."""
    import subprocess

    from .state import FileLock, open_private

    cfg = rt.cfg
    lock = FileLock(rt.state.watchdog_lock())
    if lock.is_held():
        return ActionResult("watchdog", cfg.watchdog_session, "already-running")
    log = open_private(log_path(cfg, cfg.watchdog_session), os.O_WRONLY | os.O_APPEND)
    try:
        proc = subprocess.Popen(watchdog_argv(cfg), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
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
    if name in cfg.agents:
        return cfg.agents[name].session
    if name in cfg.services:
        return cfg.services[name].session
    if name == "watchdog":
        return cfg.watchdog_session
    raise unknown_name(cfg, name)


def unknown_name(cfg: Config, name: str) -> UnknownNameError:
    names = [*cfg.agents, *cfg.services, "watchdog"]
    return UnknownNameError(f"unknown agent or service {name!r}{suggest(name, names)}; "
                            f"known: {', '.join(names)}")


def launch_warnings(cfg: Config, *, euid: int | None = None) -> list[str]:
    """What will make an agent fail at start, said before it happens."""
    return missing_programs(cfg) + root_refusals(cfg, euid=euid)


def missing_programs(cfg: Config) -> list[str]:
    import shutil

    warnings = []
    for agent in cfg.agents.values():
        backend = cfg.backend_of(agent)
        program = backend.program_argv()[0]
        path = agent.env.get("PATH") or backend.env.get("PATH") or os.environ.get("PATH", "")
        if agent.enabled and shutil.which(program, path=path) is None:
            warnings.append(f"agent {agent.name}: its program {program!r} is not found on PATH "
                            f"(set [backend.{agent.backend}].bin to its full path)")
    return warnings


def root_refusals(cfg: Config, *, euid: int | None = None) -> list[str]:
    euid = os.geteuid() if euid is None else euid
    warnings = []
    for agent in cfg.agents.values():
        backend = cfg.backend_of(agent)
        sandbox = (agent.env.get("IS_SANDBOX") or backend.env.get("IS_SANDBOX") or os.environ.get("IS_SANDBOX"))
        if (backend.signals == "claude" and euid == 0 and "--dangerously-skip-permissions" in backend.flags
                and sandbox != "1"):
            warnings.append(f"agent {agent.name}: claude refuses --dangerously-skip-permissions as root "
                            "(it exits at once); run as another user, or set env IS_SANDBOX = \"1\" in a sandbox")
    return warnings


def check_names(cfg: Config, names: Iterable[str]) -> None:
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
    panes = rt.tmux.snapshot()
    results = []
    for name in names:
        session = session_of(cfg, name)
        if name == "watchdog":
            stopped = stop_watchdog(rt)
            with contextlib.suppress(NoSessionError):  # a watchdog session of an older agentsup
                stopped = rt.tmux.kill_session(session) or stopped
            results.append(ActionResult(name, session, "stopped" if stopped else "not-running"))
            continue
        ended = stop_session(rt, session, panes.get(session))
        if session in panes or ended.pids:
            detail = f"{len(ended.killed)} process(es) needed SIGKILL" if ended.killed else ""
            results.append(ActionResult(name, session, "stopped", detail=detail))
        else:
            results.append(ActionResult(name, session, "not-running"))
    return results


def stop_watchdog(rt: Runtime, timeout: float = 10.0) -> bool:
    """SIGTERM the running watchdog (the pid in its lock file) and wait until it let go of the lock.
    Killing its tmux session is not enough: that sends SIGHUP, which a watchdog takes as "reload"."""
    from .state import FileLock

    lock = FileLock(rt.state.watchdog_lock())
    pid = lock.holder_pid()
    if not lock.is_held() or pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    from .proctree import running

    deadline = time.monotonic() + timeout
    while (lock.is_held() or running(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
