"""The README's first quickstart command: the demo runs, shows agents, heals a crash, cleans up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


@pytest.mark.tmux  # starts real processes
def test_demo_runs_heals_and_cleans_up() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="as-demo-"))
    # the demo's -L socket lands in TMUX_TMPDIR: keep it (and its server) inside this test's scratch dir
    env = {**os.environ, "TMUX_TMPDIR": str(scratch), "HOME": str(scratch), "SHELL": "/bin/sh",
           "TMPDIR": str(scratch)}
    env.pop("TMUX", None)
    try:
        run_demo(scratch, env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_demo(scratch: Path, env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "agentsup", "demo", "--duration", "8"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("builder", "adversary", "orchestrator", "watchdog"):
        assert f"started         {name}" in out, out
    assert "ping builder: delivered" in out, out[-3000:]
    assert "adversary    restart" in out or "adversary    start" in out, out[-3000:]
    assert "\ndemo stopped" in out, out[-3000:]  # on a line of its own
    leftovers = [p for p in scratch.iterdir() if p.name.startswith("agentsup-demo-")]
    assert leftovers == [], "the scratch project is removed"
    sockets = list(scratch.glob("tmux-*/agentsup-demo-*"))
    for sock in sockets:  # the server is gone: nothing answers on its socket
        assert subprocess.run(["tmux", "-S", str(sock), "has-session"], capture_output=True).returncode != 0
