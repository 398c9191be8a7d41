"""One contract for the tmux seam: the same checks run against real tmux (agentsup's Tmux on the
private server of libtmux's pytest plugin) and against the scripted fake the policy tests use, so
the fake cannot drift from what tmux does."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from libtmux.test.retry import retry_until

from agentsup.errors import NoSessionError, TmuxUnreachableError
from agentsup.tmux.panes import TmuxSeam

from ..fakes import FakeTmux

# A program that shows a prompt and echoes each submitted line, like an agent's input box.
ECHO = [sys.executable, "-c", "import sys\nwhile True:\n    sys.stdout.write('> ')\n    sys.stdout.flush()\n"
        "    line = sys.stdin.readline()\n    if not line: break\n    print('got ' + line.strip())\n"]


@pytest.fixture(params=[pytest.param("real", marks=pytest.mark.tmux), "fake"])
def seam(request: pytest.FixtureRequest) -> Any:
    if request.param == "real":
        return request.getfixturevalue("real_tmux")
    return FakeTmux()


def start(seam: TmuxSeam, name: str) -> None:
    seam.new_session(name, ECHO, cwd=Path.cwd(), env={"AGENTSUP_TEST": "1"}, width=80, height=24)


def shown(seam: TmuxSeam, name: str, text: str) -> bool:
    return text in seam.capture("=" + name + ":")


def frozen(seam: Any) -> Any:
    """Freeze the server as SIGSTOP does; returns the thaw."""
    if isinstance(seam, FakeTmux):
        seam.frozen = True
        return lambda: setattr(seam, "frozen", False)
    pid = seam.snapshot() and seam.server_pid
    os.kill(pid, signal.SIGSTOP)
    return lambda: os.kill(pid, signal.SIGCONT)


def test_sessions_are_found_by_exact_name_only(seam: Any) -> None:
    start(seam, "agent")
    start(seam, "agent2")
    panes = seam.snapshot()
    assert set(panes) == {"agent", "agent2"}
    assert panes["agent"].pane_id != panes["agent2"].pane_id and not panes["agent"].dead
    assert seam.pane("agen") is None, "a prefix names no session"
    assert seam.kill_session("agent") is True
    assert set(seam.snapshot()) == {"agent2"}, "killing agent left agent2 alone"
    assert seam.kill_session("agent") is False
    with pytest.raises(NoSessionError):
        seam.capture("=agent:")


def test_a_paste_sits_in_the_input_until_the_submit_key(seam: Any) -> None:
    start(seam, "a")
    if not isinstance(seam, FakeTmux):
        retry_until(lambda: seam.capture("=a:").startswith(">"), 5)
    before = seam.pane("a")
    seam.paste("=a:", "hello there")
    if not isinstance(seam, FakeTmux):
        retry_until(lambda: shown(seam, "a", "hello there"), 5)
    typed = seam.pane("a")
    assert typed.cursor_x == before.cursor_x + len("hello there"), "the cursor stands after the text"
    assert typed.cursor_y == before.cursor_y
    seam.send_keys("=a:", ["Enter"])
    submitted = (lambda: shown(seam, "a", "got hello there")) if not isinstance(seam, FakeTmux) else (
        lambda: seam.sessions["a"].received == ["hello there"])
    retry_until(submitted, 5)
    assert seam.pane("a").cursor_y > typed.cursor_y, "the submitted line moved the cursor down"


def test_screens_of_many_panes_come_back_by_target(seam: Any) -> None:
    for name in ("x", "y", "z"):
        start(seam, name)
    targets = [p.pane_id for p in seam.snapshot().values()]
    screens = seam.capture_many(targets)
    assert set(screens) == set(targets)
    assert seam.calls > 0


def test_a_frozen_server_is_unreachable_within_the_timeout_and_answers_once_thawed(seam: Any) -> None:
    start(seam, "a")
    thaw = frozen(seam)
    try:
        with pytest.raises(TmuxUnreachableError):
            seam.snapshot()
        with pytest.raises(TmuxUnreachableError):
            seam.send_keys("=a:", ["Enter"])
    finally:
        thaw()
    assert "a" in seam.snapshot()
