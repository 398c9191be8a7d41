"""What the rest of agentsup sees of tmux: one pane's state as the batched snapshot reports it (its
format derived from one field list), and the seam: the methods agentsup uses, which the real
`tmux.Tmux` and the tests' scripted fake both provide."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_FIELDS = (
    "session_name", "pane_id", "pane_pid", "pane_dead", "pane_dead_status", "pane_in_mode",
    "pane_width", "pane_height", "cursor_x", "cursor_y", "session_created", "window_activity",
    "pid", "pane_current_command",
)
SNAPSHOT_FORMAT = "\t".join(f"#{{{f}}}" for f in _FIELDS)
@dataclass(frozen=True)
class PaneInfo:
    """One pane's state from the batched snapshot."""

    session: str
    pane_id: str
    pane_pid: int
    dead: bool
    dead_status: int | None
    in_mode: bool
    width: int
    height: int
    cursor_x: int
    cursor_y: int
    created: int
    activity: int  # epoch second of the window's last output
    server_pid: int
    current_command: str

    @property
    def key(self) -> str:
        """Names this pane's program: pane ids repeat only across servers, pids only across time."""
        return f"{self.pane_id}/{self.pane_pid}"


class TmuxSeam(Protocol):
    """What the rest of agentsup uses of tmux: `Tmux` is the real one, tests have a scripted fake."""

    socket: str
    server_pid: int | None

    @property
    def timeout(self) -> float: ...

    @property
    def calls(self) -> int: ...

    def snapshot(self) -> dict[str, PaneInfo]: ...

    def pane(self, session: str) -> PaneInfo | None: ...

    def capture(self, target: str, *, history: int = 0) -> str: ...

    def capture_many(self, targets: Sequence[str]) -> dict[str, str]: ...

    def screen(self, pane_id: str) -> str: ...

    def new_session(self, session: str, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                    width: int, height: int, log_command: Sequence[str] | None = None) -> None: ...

    def kill_session(self, session: str) -> bool: ...

    def kill_server(self) -> None: ...

    def send_keys(self, target: str, keys: Iterable[str]) -> None: ...

    def leave_mode(self, target: str) -> None: ...

    def paste(self, target: str, text: str) -> None: ...

    def attach_argv(self, session: str) -> list[str]: ...

    def listen_argv(self) -> list[str] | None: ...

    def install_hooks(self) -> None: ...


def exact(session: str) -> str:
    """Exact session target: a bare name would prefix-match (`agent` hits `agent2`)."""
    return "=" + session


def exact_pane(session: str) -> str:
    return "=" + session + ":"


def client_env() -> dict[str, str]:
    # A tmux client started inside another tmux must not treat that one as "its" server.
    env = dict(os.environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env


def parse_pane(line: str) -> PaneInfo | None:
    parts = line.split("\t", len(_FIELDS) - 1)
    if len(parts) != len(_FIELDS):
        return None
    return PaneInfo(
        session=parts[0], pane_id=parts[1], pane_pid=_int(parts[2]), dead=parts[3] == "1",
        dead_status=int(parts[4]) if parts[4].lstrip("-").isdigit() else None,
        in_mode=parts[5] == "1", width=_int(parts[6]), height=_int(parts[7]),
        cursor_x=_int(parts[8]), cursor_y=_int(parts[9]), created=_int(parts[10]),
        activity=_int(parts[11]), server_pid=_int(parts[12]), current_command=parts[13],
    )


def _int(text: str) -> int:
    return int(text) if text.lstrip("-").isdigit() else 0
