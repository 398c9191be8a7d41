"""`agentsup demo`: a scratch project with three sim agents on a private tmux socket."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from agentsup.cli import render
from agentsup.supervisor.processes import start_stop
from agentsup.supervisor.processes.proctree import ProcTree
from agentsup.supervisor.processes.start_stop import Runtime

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


def run_demo(*, duration: float | None, keep: bool) -> None:
    """Start three sim agents and a watchdog on a private tmux socket, ping one, crash one and show
    it healed; Ctrl-C (or `duration`) stops everything and removes the scratch directory."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from agentsup.config.load import load_config
    from agentsup.store.journal import read_events
    from agentsup.supervisor.operator.status import collect

    console = Console(highlight=False)
    workdir = Path(tempfile.mkdtemp(prefix="agentsup-demo-"))
    cfg = load_config(write_demo(workdir))
    rt = start_stop.make_runtime(cfg)
    journal = cfg.journal_path
    notes: list[str] = []

    def view() -> Text:
        recent = [f"  {e['ts'][11:19]} {e.get('agent', '-'):<12} {e['event']} {e.get('reason', '')}".rstrip()
                  for e in read_events(journal, limit=6)]
        table = render.status_table(collect(rt), width=console.width, paint=render.Painter(console.is_terminal),
                                    apart=console.width < 100)
        return Text.from_ansi("\n".join([*table, "", *notes[-3:], "watchdog events:", *recent]))

    render.write(f"demo project: {workdir}  (tmux socket {cfg.socket()!r})")
    try:
        render.write(render.action_lines(start_stop.up(rt, [])))
        render.write(f"look inside: tmux -L {cfg.socket()} attach -t =demo-builder   (Ctrl-C here stops the demo)")
        started = time.monotonic()
        steps = {3: "ping", 6: "crash"}
        with Live(view(), console=console, refresh_per_second=2) as live:
            while duration is None or time.monotonic() - started < duration:
                time.sleep(1)
                step = steps.pop(int(time.monotonic() - started), None)
                if step == "ping":
                    result = start_stop.deliver(rt, cfg.agents["builder"], "Hello from agentsup: start the first gate.")
                    notes.append(f"ping builder: {result.result.value}")
                elif step == "crash":
                    pid = crash(rt, "adversary")
                    notes.append(f"killed the adversary's program (pid {pid}); the watchdog restarts it")
                live.update(view())
    except KeyboardInterrupt:
        pass
    finally:
        console.line()  # the live view's last line may end without one
        start_stop.down(rt, [])
        rt.tmux.kill_server()
        if not keep:
            # The dying sessions' wrappers and log pipes may still write a last file: retry, bounded.
            for _ in range(50):
                shutil.rmtree(workdir, ignore_errors=True)
                if not workdir.exists():
                    break
                time.sleep(0.1)
        render.write("demo stopped; agents and its tmux server are gone" + (f"; kept {workdir}" if keep else ""))
