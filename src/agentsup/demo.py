"""`agentsup demo`: a scratch project with three sim agents on a private tmux socket."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from .control import Runtime
from .proctree import ProcTree

DEMO_TOML = """\
# agentsup demo: three simulated agents on their own tmux socket.
[defaults]
log_dir = "logs"
session_prefix = "demo-"
backend = "sim"
watch = "heal+stall"

[tmux]
socket = "{socket}"

[watchdog]
signal_interval = 2
heavy_interval = 4
poll_interval = 1
stall_grace = 5
backoff_initial = 1
start_grace = 3

[backend.sim]
stall_idle = 30

[loop]
phases = [{{ id = "demo", plan = "plan-demo.md", status = "STATUS-demo.md" }}]

[[agent]]
name = "builder"
kind = "loop"
role = "builder"

[[agent]]
name = "adversary"
kind = "loop"
role = "adversary"

[[agent]]
name = "orchestrator"
kind = "orchestrator"
prompt = "Supervise the builder and the adversary."
wake = {{ interval = 20, prompt = "Scheduled supervision pass: check on the loop." }}
"""

FILES = {
    "plan-demo.md": "# Demo plan\n\nBuild a tiny thing; the adversary reviews it.\n",
    "prompts/builder.md": "You are the builder. Claim each gate with a claim(...) commit.\n",
    "prompts/adversary.md": "You are the adversary. Verify each claim; push review(...) commits.\n",
}


def write_demo(directory: Path, socket: str | None = None) -> Path:
    """Write the demo project into `directory`; returns the agents.toml path."""
    directory.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_text(text, encoding="utf-8")
    path = directory / "agents.toml"
    path.write_text(DEMO_TOML.format(socket=socket or f"agentsup-demo-{os.getpid()}"), encoding="utf-8")
    return path


def crash(rt: Runtime, name: str) -> int | None:
    """Kill one demo agent's program (by its pid, never by name) so the watchdog has work to do."""
    agent = rt.cfg.agents[name]
    pane = rt.tmux.pane(agent.session)
    if pane is None:
        return None
    program = ProcTree.read().program(pane.pane_pid)
    if program is None:
        return None
    os.kill(program.pid, signal.SIGKILL)
    return program.pid
