"""What the rest of agentsup sees of tmux: one pane's state as the batched snapshot reports it (its
format derived from one field list), and the seam: the methods agentsup uses, which the real
`tmux.Tmux` and the tests' scripted fake both provide."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol


def _tmux(name: str) -> Any:
    """A field filled from the tmux format variable `name`."""
    return field(metadata={"tmux": name})


@dataclass(frozen=True)
class PaneInfo:
    """One pane's state from the batched snapshot; each field names the tmux variable it is read
    from, and the snapshot's `-F` format is built from these fields."""

    session: str = _tmux("session_name")
    pane_id: str = _tmux("pane_id")
    pane_pid: int = _tmux("pane_pid")
    dead: bool = _tmux("pane_dead")
    dead_status: int | None = _tmux("pane_dead_status")
    in_mode: bool = _tmux("pane_in_mode")
    width: int = _tmux("pane_width")
    height: int = _tmux("pane_height")
    cursor_x: int = _tmux("cursor_x")
    cursor_y: int = _tmux("cursor_y")
    created: int = _tmux("session_created")
    activity: int = _tmux("window_activity")  # epoch second of the window's last output
    server_pid: int = _tmux("pid")
    current_command: str = _tmux("pane_current_command")  # last: the only one that may hold a tab

    @property
    def key(self) -> str:
        """Names this pane's program: pane ids repeat only across servers, pids only across time."""
        return f"{self.pane_id}/{self.pane_pid}"


class TmuxSeam(Protocol):
    """What the rest of agentsup uses of tmux: `Tmux` is the real one, tests have a scripted fake."""

    socket: str
    server_pid: int | None

    @property
    def timeout(self) -> float:
        """Seconds a call may take."""

    @property
    def calls(self) -> int:
        """Client calls made so far."""

    def snapshot(self) -> dict[str, PaneInfo]:
        """Every pane of the server, by session."""

    def pane(self, session: str) -> PaneInfo | None:
        """One session's pane, or None."""

    def capture(self, target: str, *, history: int = 0) -> str:
        """The visible screen (and `history` lines above it), lines joined, no escapes."""

    def capture_many(self, targets: Sequence[str]) -> dict[str, str]:
        """Several visible screens from as few calls as possible."""

    def capture_styled(self, target: str, *, history: int = 0) -> str:
        """A screen with its colours (SGR escapes) and `history` lines, for a viewer."""

    def screen(self, pane_id: str) -> str:
        """The visible screen exactly as drawn."""

    def new_session(self, session: str, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                    width: int, height: int, log_command: Sequence[str] | None = None) -> None:
        """A new detached session running `argv` (a list, never a shell string)."""

    def kill_session(self, session: str) -> bool:
        """Kill `session`; False when it was not there."""

    def kill_server(self) -> None:
        """Kill this server."""

    def send_keys(self, target: str, keys: Iterable[str]) -> None:
        """Press `keys` in `target`."""

    def leave_mode(self, target: str) -> None:
        """Leave copy mode in `target`."""

    def paste(self, target: str, text: str) -> None:
        """Paste `text` into `target` as one bracketed paste."""

    def attach_argv(self, session: str) -> list[str]:
        """The argv that attaches a terminal to `session`."""

    def listen_argv(self) -> list[str] | None:
        """The argv of a control-mode client that reports deaths (None: a scripted tmux)."""

    def install_hooks(self) -> None:
        """Set the server's hooks that report a pane's death."""


def exact(session: str) -> str:
    """Exact session target: a bare name would prefix-match (`agent` hits `agent2`)."""
    return "=" + session


def exact_pane(session: str) -> str:
    """The exact target of a session's pane (`=NAME:`: never a prefix match)."""
    return "=" + session + ":"


def client_env() -> dict[str, str]:
    """The environment of a tmux client: without TMUX, so it never talks to an enclosing server."""
    # A tmux client started inside another tmux must not treat that one as "its" server.
    env = dict(os.environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env


_FIELDS = fields(PaneInfo)
SNAPSHOT_FORMAT = "\t".join(f"#{{{f.metadata['tmux']}}}" for f in _FIELDS)


def _value(kind: str, text: str) -> Any:
    if kind == "bool":
        return text == "1"
    if kind == "int":
        return _int(text)
    if kind == "int | None":
        return int(text) if text.lstrip("-").isdigit() else None
    return text


def parse_pane(line: str) -> PaneInfo | None:
    """One `list-panes` line in SNAPSHOT_FORMAT as a PaneInfo (None when malformed)."""
    parts = line.split("\t", len(_FIELDS) - 1)
    if len(parts) != len(_FIELDS):
        return None
    return PaneInfo(**{f.name: _value(str(f.type), text) for f, text in zip(_FIELDS, parts, strict=True)})


def _int(text: str) -> int:
    return int(text) if text.lstrip("-").isdigit() else 0
