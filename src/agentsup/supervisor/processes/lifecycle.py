"""Lifecycle hooks: an agent's `hooks` argv lists run at its edges (after_create, before_start,
after_exit, before_remove), never through a shell, with AGENTSUP_AGENT, AGENTSUP_DIR and
AGENTSUP_EXIT_CODE in their environment and a timeout. Every run and failure is journaled."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from agentsup.config.load import Agent

Log = Callable[..., Any]


def run(agent: Agent, which: str, log: Log, *, exit_code: int | None = None) -> str | None:
    """Run hook `which`; None when it succeeded (or there is none), else why it failed."""
    hooks = agent.hooks
    argv = list(getattr(hooks, which)) if hooks is not None else []
    if not argv or hooks is None:
        return None
    env = {**os.environ, "AGENTSUP_AGENT": agent.name, "AGENTSUP_DIR": str(agent.home_dir),
           "AGENTSUP_HOOK": which, **({"AGENTSUP_EXIT_CODE": str(exit_code)} if exit_code is not None else {})}
    cwd = agent.home_dir if agent.home_dir.is_dir() else None
    try:
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=hooks.timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        problem: str | None = f"did not finish within {hooks.timeout:g}s"
    except OSError as exc:
        problem = f"{exc.strerror or exc}: {argv[0]}"
    else:
        problem = None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
    if problem is None:
        log("hook", agent.name, hook=which)
    else:
        log("hook-failed", agent.name, hook=which, error=problem)
    return problem


def run_later(agent: Agent, which: str, log: Log, *, exit_code: int | None = None) -> None:
    """Run a hook nothing waits for (after_exit) in a thread of its own: a slow one never holds a tick."""
    if agent.hooks is None or not getattr(agent.hooks, which):
        return
    threading.Thread(target=run, args=(agent, which, log), kwargs={"exit_code": exit_code},
                     name=f"agentsup-hook-{agent.name}", daemon=True).start()
