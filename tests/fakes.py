"""A scripted tmux for tick-level tests that need no real terminal: sessions are records, a pane's
screen is whatever the test says its program shows, and typed text sits in an input line until the
submit key moves it to `received` (so verified delivery works as on a real pane)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentsup.errors import TmuxUnreachableError
from agentsup.tmux.client import NoSessionError, PaneInfo

_ids = itertools.count(1)


@dataclass
class FakePane:
    session: str
    argv: list[str]
    env: dict[str, str]
    pane_id: str = field(default_factory=lambda: f"%{next(_ids)}")
    pid: int = field(default_factory=lambda: 4_000_000 + next(_ids))  # no real process has it
    output: str = "fake agent ready"
    input: str = ""
    dead: bool = False
    exit_status: int | None = None
    created: int = 0
    activity: int = 0
    received: list[str] = field(default_factory=list)
    deaf: bool = False

    def screen(self) -> str:
        if not self.output and not self.input:
            return ""  # a program that never drew anything
        return f"{self.output}\n> {self.input}"


class FakeTmux:
    """Implements agentsup.tmux.client.TmuxSeam. `frozen = True` makes every call time out, like a
    SIGSTOPped server; `wall` supplies tmux's own timestamps."""

    def __init__(self, wall: float = 1_800_000_000.0) -> None:
        self.socket = "fake"
        self.timeout = 1.0
        self.calls = 0
        self.server_pid: int | None = None
        self.sessions: dict[str, FakePane] = {}
        self.started: list[str] = []  # session names, in start order
        self.frozen = False
        self.wall = wall

    def _call(self) -> None:
        self.calls += 1
        if self.frozen:
            raise TmuxUnreachableError(f"tmux server on socket {self.socket!r} did not answer within 1s")

    def _info(self, pane: FakePane) -> PaneInfo:
        return PaneInfo(session=pane.session, pane_id=pane.pane_id, pane_pid=pane.pid, dead=pane.dead,
                        dead_status=pane.exit_status, in_mode=False, width=200, height=50,
                        cursor_x=len(pane.screen().rsplit("\n", 1)[-1]), cursor_y=pane.screen().count("\n"),
                        created=pane.created, activity=pane.activity, server_pid=1, current_command="fake")

    # ── observation ────────────────────────────────────────────────────────────────────────

    def snapshot(self) -> dict[str, PaneInfo]:
        self._call()
        self.server_pid = 1 if self.sessions else None
        return {name: self._info(p) for name, p in self.sessions.items()}

    def pane(self, session: str) -> PaneInfo | None:
        self._call()
        pane = self.sessions.get(session)
        return self._info(pane) if pane else None

    def _by_target(self, target: str) -> FakePane:
        for pane in self.sessions.values():
            if target in (pane.pane_id, "=" + pane.session, "=" + pane.session + ":"):
                return pane
        raise NoSessionError(f"can't find pane: {target}")

    def capture(self, target: str, *, history: int = 0) -> str:
        self._call()
        return self._by_target(target).screen()

    def capture_styled(self, target: str, *, history: int = 0) -> str:
        self._call()
        return self._by_target(target).screen()  # the scripted screens have no colours

    def capture_many(self, targets: Sequence[str]) -> dict[str, str]:
        self._call()
        return {t: self._by_target(t).screen() for t in targets}

    def screen(self, pane_id: str) -> str:
        self._call()
        return self._by_target(pane_id).screen()

    # ── actions ────────────────────────────────────────────────────────────────────────────

    def new_session(self, session: str, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                    width: int, height: int, log_command: Sequence[str] | None = None) -> None:
        self._call()
        if session in self.sessions:
            from agentsup.errors import TmuxError

            raise TmuxError(f"tmux new-session failed: duplicate session: {session}")
        self.sessions[session] = FakePane(session, list(argv), dict(env), created=int(self.wall),
                                          activity=int(self.wall))
        self.started.append(session)

    def kill_session(self, session: str) -> bool:
        self._call()
        return self.sessions.pop(session, None) is not None

    def kill_server(self) -> None:
        self.sessions.clear()

    def send_keys(self, target: str, keys: Iterable[str]) -> None:
        self._call()
        pane = self._by_target(target)
        for key in keys:
            if key == "Enter" and not pane.deaf and pane.input:
                pane.received.append(pane.input)
                pane.output += "\n› " + pane.input
                pane.input = ""
                pane.activity = int(self.wall)

    def leave_mode(self, target: str) -> None:
        self._call()

    def paste(self, target: str, text: str) -> None:
        self._call()
        self._by_target(target).input += text

    def listen_argv(self) -> list[str] | None:
        return None  # scripted: a test ticks by hand

    def install_hooks(self) -> None:
        pass

    def attach_argv(self, session: str) -> list[str]:
        return ["tmux", "-L", self.socket, "attach-session", "-t", "=" + session]

    # ── what a test does to the programs ───────────────────────────────────────────────────

    def die(self, session: str, code: int = 1) -> None:
        pane = self.sessions[session]
        pane.dead, pane.exit_status = True, code

    def show(self, session: str, text: str) -> None:
        pane = self.sessions[session]
        pane.output = text
        pane.activity = int(self.wall)
