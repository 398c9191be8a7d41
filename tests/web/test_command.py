"""`agentsup web` as a command: without the extra it says how to get it in one line; the other
commands never load the web stack; bad options are one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ..conftest import Project, sim_agent

WITHOUT_EXTRA = ("import sys; sys.modules['starlette'] = None; sys.argv[0] = 'agentsup'; "
                 "from agentsup.cli import main; main()")  # starlette cannot be imported, as without the extra


@pytest.mark.tmux  # starts real processes
def test_without_the_web_extra_it_says_how_to_install_it(tmp_path: object) -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_EXTRA, "web"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: agentsup web needs the web extra: pip install 'agentsup[web]' (from a clone: uv sync --extra web)"]


def test_status_and_the_watchdog_never_import_the_web_stack(project: Project) -> None:
    project.write(sim_agent("a"))
    probe = ("import sys; sys.argv[0] = 'agentsup'; from agentsup.cli.main import run; run(sys.argv[1:]); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'agentsup')"
             " and (m.startswith('agentsup.web') or not m.startswith('agentsup'))))")
    for argv in (["status", "--json"], ["check"], ["watchdog", "--once", "--dry-run"]):
        done = subprocess.run([sys.executable, "-c", probe, "-c", str(project.config_path), *argv],
                              capture_output=True, text=True, timeout=60, cwd=project.root)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "[]", (argv, done.stdout[-300:])


def test_a_port_in_use_or_out_of_range_is_one_line(project: Project) -> None:
    import socket

    project.write(sim_agent("a"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = project.cli("web", "--port", str(port), timeout=30)
    assert busy.returncode == 1 and busy.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in busy.stderr and len(busy.stderr.strip().splitlines()) == 1
    wrong = project.cli("web", "--port", "70000", timeout=30)
    assert wrong.returncode == 1 and "a port is 0 to 65535" in wrong.stderr
