"""Launching a program in tmux: the launch wrapper (a constant script that takes every value as
an argument, records the exit code and reports the exit), the agent's argv, kickoff and session
identity, and what comes before a start (worktree, hooks)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from agentsup.config.load import Agent, Config
from agentsup.errors import AgentsupError
from agentsup.store.state import append_private, atomic_write_text, private_dir, read_text, touch_private
from agentsup.supervisor.processes.proctree import TAG_VAR
from agentsup.tmux.client import log_pipe_command

if TYPE_CHECKING:
    from agentsup.agents.backends import LaunchPlan
    from agentsup.supervisor.processes.runtime import Runtime


def tag(rt: Runtime, session: str) -> str:
    """The AGENTSUP_TAG value every process of this session carries: socket and session together,
    so two projects' agents of the same name never match."""
    return f"{rt.tmux.socket}:{session}"


def log_path(cfg: Config, session: str) -> Path:
    """The pane log of `session`."""
    return cfg.log_dir / f"{session}.log"


# The launch wrapper: a constant script; every value reaches it as a positional argument, so no
# config value or prompt is ever parsed by a shell. It records the program's exit code in a file
# because tmux's pane_dead_status can go missing; the watchdog watches that folder, so the file is
# also the first news of a death (tmux before 3.5 can lose its own pane-died hook). The code is
# written with noclobber (O_EXCL) to a fresh name and renamed: a planted symlink is never followed.
WRAPPER = r"""exit_file=$1; prompt_file=$2; preamble=$3; prefix=$4; shift 4
if [ -n "$preamble" ]; then eval "$preamble"; fi
if [ -n "$prompt_file" ]; then prompt=$(cat "$prompt_file"; printf x); "$@" "$prefix${prompt%x}"; else "$@"; fi
rc=$?
tmp="$exit_file.$$.tmp"; rm -f "$tmp"
(set -C; umask 077; printf '%s\n' "$rc" > "$tmp") && mv -f "$tmp" "$exit_file"
exit "$rc"
"""


def wrapper_argv(exit_file: Path, prompt_file: Path | None, preamble: str, argv: Iterable[str],
                 prefix: str = "") -> list[str]:
    """The launch wrapper's argv: runs the program, records its exit code, never through a shell string."""
    return ["/bin/sh", "-c", WRAPPER, "agentsup-launch", str(exit_file),
            str(prompt_file) if prompt_file else "", preamble, prefix, *argv]


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
        session, wrapper_argv(exit_file, prompt_file, preamble, argv, prefix), cwd=cwd,
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
    from agentsup.agents.backends import render_launch
    from agentsup.agents.sessions import codex_home, codex_session
    from agentsup.agents.signals import claude_settings, home_of
    from agentsup.buildloop.phases import role_model
    from agentsup.buildloop.prompts import agent_prompt

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
            with contextlib.suppress(OSError):  # every session the agent had: its usage spans them
                append_private(rt.state.session_history_file(agent.name), (session_id + "\n").encode())
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


def prepare_home(rt: Runtime, agent: Agent) -> None:
    """What comes before a start: the agent's worktree (created on its first start), its
    after_create hook (once), its before_start hook (every time; a failure fails the start)."""
    from agentsup.buildloop import worktree
    from agentsup.supervisor.processes import lifecycle

    created = worktree.ensure(agent)
    if created:
        rt.event("worktree-created", agent.name, path=agent.worktree.path if agent.worktree else "",
                 branch=agent.worktree.branch if agent.worktree else "")
    mark = rt.state.created_mark(agent.name)
    if created or not mark.exists():
        agent.home_dir.mkdir(parents=True, exist_ok=True)
        lifecycle.run(agent, "after_create", rt.event)
        touch_private(mark)
    problem = lifecycle.run(agent, "before_start", rt.event)
    if problem is not None:
        raise AgentsupError(f"agent {agent.name}: its before_start hook failed: {problem}")
