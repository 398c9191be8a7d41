"""libtmux's `Server`, made safe for a supervisor: every tmux call goes through `Server.cmd`, which
here runs with a timeout and turns tmux's complaints into agentsup's precise errors.

libtmux has no timeout on tmux calls (its PRs #735 and #757 are open), and a wedged tmux server
would hang the watchdog with it; `cmd` is the seam every libtmux object calls through, so the
subclass below covers libtmux's own methods as well as ours.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from typing import Any

import libtmux
from libtmux.common import tmux_cmd

from agentsup.errors import NoSessionError, TmuxError, TmuxNotFoundError, TmuxUnreachableError
from agentsup.tmux.panes import client_env

# stderr of a client that found no server, or no such target
_NO_SERVER = ("no server running", "error connecting to", "No such file or directory")
_NO_TARGET = ("can't find", "no current target")
EXITING_RETRIES = 5


class TimedCmd(tmux_cmd):
    """libtmux's `tmux_cmd` with a timeout and standard input; `output` keeps stdout exactly (the
    `stdout` line list drops trailing blank lines, which a screen comparison needs)."""

    def __init__(self, argv: Sequence[str], *, timeout: float, input: str | None = None) -> None:
        # Not super().__init__: it runs the client without a timeout.
        self.cmd = list(argv)
        proc = subprocess.run(self.cmd, input=input, capture_output=True, text=True, encoding="utf-8",
                              errors="backslashreplace", timeout=timeout, env=client_env())
        self.returncode = proc.returncode
        self.output = proc.stdout
        lines = proc.stdout.split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        self.stdout = lines
        self.stderr = [line for line in proc.stderr.split("\n") if line]


class Server(libtmux.Server):
    """A tmux server on agentsup's socket. `calls` counts client processes (benchmarks read it)."""

    def __init__(self, socket: str, *, binary: str = "tmux", timeout: float = 5.0) -> None:
        where: dict[str, Any] = {"socket_path": socket} if "/" in socket else {"socket_name": socket}
        super().__init__(tmux_bin=binary, **where)
        self.socket = socket
        self.binary = binary
        self.timeout = timeout
        self.calls = 0

    def base_argv(self) -> list[str]:
        """`tmux -S SOCKET` (or `-L NAME`)."""
        return [self.binary, "-S" if "/" in self.socket else "-L", self.socket]

    # libtmux declares `cmd` as a callable attribute (CmdMixin) but defines it as a method; mypy
    # holds a method against the attribute's protocol.
    def cmd(self, cmd: str, *args: Any, **options: Any) -> TimedCmd:  # type: ignore[override]
        """libtmux's entry point (its objects call it with `target=`): see `call`."""
        return self.call(cmd, *args, **options)

    def call(self, cmd: str, *args: Any, target: str | int | None = None, input: str | None = None,
             check: bool = True) -> TimedCmd:
        """Run one tmux command (or a `;`-separated list). Raises NoSessionError for a missing
        server or target, TmuxUnreachableError for a server that does not answer in time or refuses,
        TmuxError for anything else; `check=False` returns the failed result instead."""
        argv = [*self.base_argv(), cmd, *(["-t", str(target)] if target is not None else []), *map(str, args)]
        for attempt in range(EXITING_RETRIES + 1):
            self.calls += 1
            try:
                result = TimedCmd(argv, timeout=self.timeout, input=input)
            except FileNotFoundError:
                raise TmuxNotFoundError(f"tmux binary {self.binary!r} not found: install tmux "
                                        "(e.g. apt-get install tmux)", socket=self.socket, command=cmd) from None
            except subprocess.TimeoutExpired:
                raise TmuxUnreachableError(f"tmux server on socket {self.socket!r} did not answer within "
                                           f"{self.timeout:g}s", socket=self.socket, command=cmd) from None
            err = "\n".join(result.stderr)
            # A server whose last session just ended exits; a client that reached it meanwhile gets
            # "server exited unexpectedly" and its command never ran. The next try starts afresh.
            if result.returncode == 0 or "server exited unexpectedly" not in err or attempt == EXITING_RETRIES:
                break
            time.sleep(0.05 * (attempt + 1))
        if check and result.returncode != 0:
            raise _error(self.socket, cmd, err, result.returncode)
        return result


def _error(socket: str, command: str, err: str, code: int) -> TmuxError:
    where = {"socket": socket, "command": command, "stderr": err}
    if any(marker in err for marker in _NO_TARGET + _NO_SERVER):
        return NoSessionError(err, no_server=no_server(err), **where)
    if "Permission denied" in err or "server exited" in err:
        return TmuxUnreachableError(f"tmux socket {socket!r}: {err}", **where)
    return TmuxError(f"tmux {command} failed: {err or f'exit {code}'}", **where)


def no_server(error: str) -> bool:
    """Does tmux's error say there is no server (rather than a failure)?"""
    return any(marker in error for marker in _NO_SERVER)
