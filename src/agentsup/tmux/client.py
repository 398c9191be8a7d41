"""What agentsup does with tmux, as methods of one `Tmux` (the seam `panes.TmuxSeam` names; tests
have a scripted fake). Every call goes through `server.Server.cmd` (libtmux's, with a timeout):
argv lists, never a shell string; a dedicated socket; exact `=name` targets."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agentsup.errors import NoSessionError as NoSessionError  # re-exported: callers catch it from here
from agentsup.errors import TmuxError, TmuxNotFoundError
from agentsup.tmux.panes import SNAPSHOT_FORMAT, exact, exact_pane, parse_pane
from agentsup.tmux.panes import PaneInfo as PaneInfo  # re-exported: what a snapshot holds
from agentsup.tmux.panes import TmuxSeam as TmuxSeam
from agentsup.tmux.panes import client_env as client_env  # re-exported

if TYPE_CHECKING:
    from agentsup.tmux.server import Server

_buffer_ids = itertools.count()
WAKE_CHANNEL = "agentsup-wake"
# Hooks that tell the watchdog a program died or a session went (a fixed index: set again, not added).
WAKE_HOOKS = ("pane-died[42]", "pane-exited[42]", "session-closed[42]")
# A client's command must fit one tmux message (16 KiB); a capture with its marker takes ~100 bytes.
CAPTURES_PER_CALL = 100


def _tmux_arg(arg: str) -> str:
    # tmux splits commands at any argument that ends in ';'; an escaped '\;' stays literal.
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


class Tmux:
    """A tmux server on a private socket, reached through libtmux (`server`).

    One server, always: the server's pid is remembered from every snapshot (and in
    `server_pid_file`, for other processes). When the socket file is gone but that server lives (a
    tmpfiles cleaner removed it), the server is asked to recreate it (SIGUSR1) before any command
    could start a second server beside it."""

    def __init__(self, socket: str, *, binary: str = "tmux", timeout: float = 5.0,
                 server_pid_file: Path | None = None) -> None:
        from agentsup.tmux.server import Server  # libtmux loads only where tmux is used (not `check`)

        self.server: Server = Server(socket, binary=binary, timeout=timeout)
        self.socket = socket
        self.server_pid_file = server_pid_file
        self.server_pid: int | None = None  # from the last snapshot; None when no server answered

    @property
    def timeout(self) -> float:
        """Seconds each tmux call may take before the server counts as unreachable."""
        return self.server.timeout

    @property
    def calls(self) -> int:
        """tmux client processes started so far (benchmarks and tick statistics read it)."""
        return self.server.calls

    def base_argv(self) -> list[str]:
        """`tmux -S SOCKET` (or `-L NAME`): how every client call starts."""
        return self.server.base_argv()

    def socket_path(self) -> Path:
        """The server's socket file."""
        if "/" in self.socket:
            return Path(self.socket)
        return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / self.socket

    def known_server(self) -> int | None:
        """The pid of the last server seen on this socket, if that process is still a live tmux."""
        pid = self.server_pid
        if pid is None and self.server_pid_file is not None:
            with contextlib.suppress(OSError, ValueError):
                pid = int(self.server_pid_file.read_text().strip())
        return pid if pid is not None and _live_tmux(pid) else None

    def revive_socket(self) -> bool:
        """If the socket file is gone but our server lives, have it recreate the socket. True when
        the socket is back (or was never gone)."""
        path = self.socket_path()
        if path.exists():
            return True
        pid = self.known_server()
        if pid is None:
            return False
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGUSR1)  # tmux recreates its socket on SIGUSR1
        deadline = time.monotonic() + min(2.0, self.timeout)
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return path.exists()

    def _remember_server(self, pid: int | None) -> None:
        if pid == self.server_pid:
            return
        self.server_pid = pid
        if pid is not None and self.server_pid_file is not None:
            from agentsup.store.state import atomic_write_text

            with contextlib.suppress(OSError):  # a full disk: the in-memory pid still serves
                atomic_write_text(self.server_pid_file, f"{pid}\n", durable=False)

    def run(self, args: Sequence[str], *, input: str | None = None, check: bool = True) -> str:
        """One tmux command (or a `;` list) through libtmux's server; its exact standard output."""
        if args and args[0] == "new-session":
            self.revive_socket()  # new-session on a missing socket would start a second server
        try:
            return self.server.call(*args, input=input, check=check).output
        except NoSessionError as exc:
            if not exc.no_server or not self.revive_socket() or not self.known_server():
                raise
            return self.server.call(*args, input=input, check=check).output

    # ── observation ────────────────────────────────────────────────────────────────────────

    def snapshot(self) -> dict[str, PaneInfo]:
        """Every session's first pane, from one `list-panes -a` call. No server = no sessions."""
        try:
            out = self.run(["list-panes", "-a", "-F", SNAPSHOT_FORMAT])
        except NoSessionError:
            self._remember_server(None)
            return {}
        panes: dict[str, PaneInfo] = {}
        for line in out.splitlines():
            info = parse_pane(line)
            if info is not None and info.session not in panes:
                panes[info.session] = info
        self._remember_server(next((p.server_pid for p in panes.values()), None))
        return panes

    def pane(self, session: str) -> PaneInfo | None:
        """One session's pane via a single targeted `list-panes` (no global snapshot)."""
        try:
            out = self.run(["list-panes", "-t", exact_pane(session), "-F", SNAPSHOT_FORMAT])
        except NoSessionError:
            return None
        infos = [parse_pane(line) for line in out.splitlines()]
        return next((i for i in infos if i is not None), None)

    def capture(self, target: str, *, history: int = 0) -> str:
        """The visible screen (plus `history` scrollback lines), wrapped lines joined (-J), no escapes,
        trailing blanks trimmed."""
        extra = ["-S", str(-history)] if history else []
        out = self.run(["capture-pane", "-p", "-J", *extra, "-t", target])
        return "\n".join(line.rstrip() for line in out.splitlines()).rstrip("\n")

    def capture_styled(self, target: str, *, history: int = 0) -> str:
        """The visible screen and `history` lines above it with its colours (SGR escapes, -e), for
        a viewer; never attaches, so the pane's size is untouched."""
        extra = ["-S", str(-history)] if history else []
        return self.run(["capture-pane", "-p", "-e", "-J", *extra, "-t", target])

    def screen(self, pane_id: str) -> str:
        """The visible screen exactly as drawn (no joining, no trimming): what delivery compares."""
        return self.run(["capture-pane", "-p", "-t", pane_id])

    def capture_many(self, targets: Sequence[str]) -> dict[str, str]:
        """Visible screens of several panes from as few tmux client calls as its message size allows
        (a command list with a marker line before each capture): one call for up to ~100 panes."""
        if len(targets) > CAPTURES_PER_CALL:
            screens: dict[str, str] = {}
            for start in range(0, len(targets), CAPTURES_PER_CALL):
                screens |= self._capture_batch(targets[start:start + CAPTURES_PER_CALL])
            return screens
        return self._capture_batch(targets)

    def _capture_batch(self, targets: Sequence[str]) -> dict[str, str]:
        """Falls back to one call per pane if a pane vanished meanwhile."""
        if len(targets) <= 1:
            return {t: self.capture(t) for t in targets}
        token = f"@@agentsup-{secrets.token_hex(6)}@@"
        args: list[str] = []
        for index, target in enumerate(targets):
            # The marker names the pane by index: display-message runs its text through strftime,
            # which would mangle a pane id like %3.
            args += ["display-message", "-p", "-t", target, f"{token} {index}", ";",
                     "capture-pane", "-p", "-J", "-t", target, ";"]
        try:
            out = self.run(args[:-1])
        except NoSessionError:
            single: dict[str, str] = {}
            for target in targets:
                with contextlib.suppress(NoSessionError):
                    single[target] = self.capture(target)
            return single
        screens: dict[str, str] = {}
        current: str | None = None
        lines: list[str] = []
        for line in out.split("\n"):
            mark = line[len(token) + 1:] if line.startswith(token + " ") else ""
            if mark.isdigit() and int(mark) < len(targets):
                if current is not None:
                    screens[current] = "\n".join(lines).rstrip("\n")
                current, lines = targets[int(mark)], []
            else:
                lines.append(line.rstrip())
        if current is not None:
            screens[current] = "\n".join(lines).rstrip("\n")
        return screens

    # ── actions ────────────────────────────────────────────────────────────────────────────

    def new_session(
        self,
        session: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        width: int,
        height: int,
        log_command: Sequence[str] | None = None,
    ) -> None:
        """Start `argv` (no shell) in a detached session. remain-on-exit is set in the same client
        call, before the server can reap a program that exits at once, so its pane stays readable."""
        args = ["new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), "-c", str(cwd)]
        for key, value in env.items():
            args += ["-e", _tmux_arg(f"{key}={value}")]
        args += [_tmux_arg(a) for a in argv]
        args += [";", "set-option", "-w", "-t", exact_pane(session), "remain-on-exit", "on"]
        if log_command:
            args += [";", "pipe-pane", "-o", "-t", exact_pane(session), _tmux_arg(shlex.join(log_command))]
        args += [";", *_hook_commands()]  # on every server we start, before its first death can happen
        # The server's pid in the same call: this may be the command that started the server, and
        # a socket removed before the next snapshot must not lead to a second one.
        args += [";", "display-message", "-p", "-t", exact_pane(session), "#{pid}"]
        out = self.run(args).strip().splitlines()
        if out and out[-1].isdigit():
            self._remember_server(int(out[-1]))

    def kill_session(self, session: str) -> bool:
        """Kill exactly `session`. False when it did not exist."""
        try:
            self.run(["kill-session", "-t", exact(session)])
        except NoSessionError:
            return False
        return True

    def kill_server(self) -> None:
        """Kill this server (nothing else), if it runs."""
        with contextlib.suppress(NoSessionError):
            self.server.kill()  # libtmux's, through our timed cmd

    def send_keys(self, target: str, keys: Iterable[str]) -> None:
        """Press `keys` (tmux key names) in `target`."""
        self.run(["send-keys", "-t", target, *keys])

    def leave_mode(self, target: str) -> None:
        """Leave copy mode in `target`, if it is in it."""
        self.run(["send-keys", "-t", target, "-X", "cancel"], check=False)

    def paste(self, target: str, text: str) -> None:
        """Paste `text` as one bracketed paste through a uniquely named buffer (deleted after)."""
        name = f"agentsup-{os.getpid()}-{next(_buffer_ids)}"
        self.run(["load-buffer", "-b", name, "-"], input=text)
        self.run(["paste-buffer", "-p", "-d", "-b", name, "-t", target])

    def install_hooks(self) -> None:
        """Set the wake hooks on a running server (every new session sets them too)."""
        with contextlib.suppress(NoSessionError):  # no server: the first new session sets them
            self.run(_hook_commands())

    def listen_argv(self) -> list[str]:
        """A client that returns when a hook reports a death (events.DeathListener runs it)."""
        return [*self.base_argv(), "wait-for", WAKE_CHANNEL]

    def attach_argv(self, session: str) -> list[str]:
        """The argv that attaches a terminal to `session` on this server."""
        return [*self.base_argv(), "attach-session", "-t", exact(session)]


def _hook_commands() -> list[str]:
    """`set-hook` for each of WAKE_HOOKS, as one tmux command list."""
    args: list[str] = []
    for hook in WAKE_HOOKS:
        args += [";", "set-hook", "-g", hook, f"wait-for -S {WAKE_CHANNEL}"]
    return args[1:]


def _live_tmux(pid: int) -> bool:
    """`pid` runs tmux and is no zombie (/proc/PID/stat reads "PID (COMM) STATE ...")."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return False
    return raw[raw.find("(") + 1:].startswith("tmux") and raw[raw.rfind(")") + 2:][:1] not in ("Z", "X")


MIN_TMUX = "3.2"  # argv-form new-session and new-session -e


def tmux_version(binary: str = "tmux") -> str:
    """The tmux version (`tmux -V`), or an error when tmux is missing or older than MIN_TMUX."""
    try:
        out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10, env=client_env()).stdout
    except (OSError, subprocess.TimeoutExpired):
        raise TmuxNotFoundError(
            f"tmux binary {binary!r} not found: install tmux (e.g. apt-get install tmux)") from None
    version = out.strip().removeprefix("tmux ").removeprefix("next-")
    if not version:
        raise TmuxNotFoundError(f"{binary!r} -V printed no tmux version: install tmux (e.g. apt-get install tmux)")
    if version != "master" and _numbers(version) < _numbers(MIN_TMUX):
        raise TmuxError(f"tmux {version} is too old: agentsup needs tmux {MIN_TMUX} or newer")
    return version


def _numbers(version: str) -> tuple[int, ...]:
    """(3, 3) of "3.3a": the letters are patch releases, irrelevant to the features we need."""
    import re

    return tuple(int(n) for n in re.findall(r"\d+", version)[:2])


def log_pipe_command(log_path: Path, max_bytes: int, backups: int) -> list[str]:
    """argv of the per-session log writer that `pipe-pane` feeds."""
    return [sys.executable, "-m", "agentsup.tmux.logpipe", str(log_path), str(max_bytes), str(backups)]
