"""`agentsup web`: bind (port 0 picks a free one), print the login URL, serve until SIGTERM or
Ctrl-C. Loopback unless told otherwise; another address is refused without a token file."""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from agentsup.errors import AgentsupError
from agentsup.web.gate import LOOPBACK_NAMES, Gate, load_token


@dataclass(frozen=True)
class WebOptions:
    """What `agentsup web` was asked."""

    host: str = "127.0.0.1"
    port: int = 8420
    actions: bool = False
    allow_hosts: tuple[str, ...] = field(default_factory=tuple)
    new_token: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AgentsupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(source: object, token_file: Path, options: WebOptions) -> None:
    """Run the server in the foreground; returns when it was stopped."""
    from agentsup.web.app import Live, make_app

    token = load_token(token_file, new=options.new_token)
    if not is_loopback(options.host):
        print(f"warning: listening on {options.host}, beyond this machine: every request still needs the "
              f"token in {token_file}", file=sys.stderr)
    allowed = frozenset({*LOOPBACK_NAMES, options.host.lower(), *(h.lower() for h in options.allow_hosts)})
    gate = Gate(token=token, allowed_hosts=allowed, actions=options.actions)
    live = Live.over(source)  # type: ignore[arg-type]
    app = make_app(source, gate, live=live)  # type: ignore[arg-type]
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=5, ws="none")
    server = StoppingServer(config, live)
    for sig in (signal.SIGINT, signal.SIGTERM):  # a stop that comes before uvicorn runs is kept too
        signal.signal(sig, server.handle_exit)
    print(f"http://{url_host(options.host)}:{port}/login?token={token}", flush=True)
    server.run(sockets=[sock])


class StoppingServer(uvicorn.Server):
    """uvicorn's server, but a SIGTERM or Ctrl-C ends the open event streams first (they would hold
    the graceful shutdown until its timeout), and the process exits 0 instead of dying again by the
    signal uvicorn re-raises after its shutdown."""

    def __init__(self, config: uvicorn.Config, live: Any) -> None:
        super().__init__(config)
        self.live = live

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.live.stopping = True
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # serve() installed handle_exit for SIGINT and SIGTERM before the URL was printed
