"""Small, precise exceptions. The CLI maps each to a message and an exit code."""

from __future__ import annotations


class AgentsupError(Exception):
    """Base of every error agentsup raises on purpose."""

    exit_code = 1


class ConfigError(AgentsupError):
    """agents.toml is missing, unparsable or invalid. The message names the file and key path."""

    exit_code = 2


class UnknownNameError(AgentsupError):
    """A command named an agent or service that the config does not declare."""

    exit_code = 3


class TmuxError(AgentsupError):
    """A tmux command failed: on which socket, which command, and what tmux said."""

    exit_code = 4

    def __init__(self, message: str, *, socket: str | None = None, command: str | None = None,
                 stderr: str | None = None) -> None:
        super().__init__(message)
        self.socket = socket
        self.command = command
        self.stderr = stderr


class TmuxNotFoundError(TmuxError):
    """The tmux binary is not installed or not on PATH."""


class TmuxUnreachableError(TmuxError):
    """The tmux server did not answer in time, or refused the connection."""


class NoSessionError(TmuxError):
    """No server runs on the socket (`no_server`), or the target session or pane does not exist."""

    def __init__(self, message: str, *, no_server: bool = False, **where: str | None) -> None:
        super().__init__(message, **where)
        self.no_server = no_server


class StateError(AgentsupError):
    """The state directory holds something we cannot read back."""


class LockedError(AgentsupError):
    """Another process holds a lock we need (e.g. a second watchdog)."""

    exit_code = 75  # EX_TEMPFAIL: another instance is running
