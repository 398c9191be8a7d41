"""The control channel: the CLI asks the running watchdog over a Unix socket in the state directory
and gets an answer, the way supervisorctl talks to supervisord. The socket is 0600 in a 0700
directory and the peer's uid is checked. A request is one JSON line; the watchdog carries it out on
its own loop thread (it owns the records) and answers with one JSON line."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsup.errors import AgentsupError

MAX_REQUEST = 1 << 20  # a ping's text is small; a megabyte is a hostile or broken peer
ANSWER_TIMEOUT = 60.0  # a tick with a wedged tmux takes its timeouts; a reply later than this is lost


@dataclass
class Pending:
    """A request waiting for the loop thread, and the answer it is given."""

    request: dict[str, Any]
    answer: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def reply(self, answer: dict[str, Any]) -> None:
        """Hand `answer` back to the client waiting on this request."""
        self.answer = answer
        self.done.set()


@contextlib.contextmanager
def _short_path(path: Path) -> Iterator[str]:
    """A path for bind/connect within the kernel's 108-byte limit: deep state directories are
    reached through an O_PATH descriptor of their folder (/proc/self/fd/N/name)."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class ControlServer:
    """Accepts requests on the socket and hands them to the loop thread through `take()`."""

    def __init__(self, path: Path, wake: threading.Event) -> None:
        self.path = path
        self.wake = wake
        self.pending: queue.Queue[Pending] = queue.Queue()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.error: str | None = None  # why the channel is not serving, for status

    def start(self) -> None:
        """Bind the socket. The caller holds the watchdog lock, so a socket file already there is a
        dead watchdog's: it is replaced."""
        os.makedirs(self.path.parent, mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            with _short_path(self.path) as where:
                sock.bind(where)
        finally:
            os.umask(old)
        sock.listen(64)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="agentsup-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and remove the socket."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        while True:  # whoever still waits is told, not left hanging
            try:
                self.pending.get_nowait().reply({"error": "the watchdog is stopping"})
            except queue.Empty:
                break

    @property
    def alive(self) -> bool:
        """Is the listening thread running?"""
        return self._thread is not None and self._thread.is_alive()

    def take(self) -> list[Pending]:
        """The requests that arrived, oldest first; the loop thread answers each."""
        got = []
        while True:
            try:
                got.append(self.pending.get_nowait())
            except queue.Empty:
                return got

    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError as exc:
                if self._sock is not None:
                    self.error = f"control socket failed: {exc}"
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10.0)
                uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
                if uid != os.getuid():
                    _send(conn, {"error": f"refused: uid {uid} is not the watchdog's"})
                    return
                request = json.loads(_read_line(conn))
                if not isinstance(request, dict) or not isinstance(request.get("kind"), str):
                    _send(conn, {"error": "a request is a JSON object with a kind"})
                    return
                item = Pending(request)
                self.pending.put(item)
                self.wake.set()
                if not item.done.wait(ANSWER_TIMEOUT) or item.answer is None:
                    _send(conn, {"error": "the watchdog did not answer in time"})
                    return
                _send(conn, item.answer)
            except (OSError, ValueError):
                return  # the asker went away or sent garbage: nothing was carried out for it


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too large")
    return data


def _send(conn: socket.socket, answer: dict[str, Any]) -> None:
    conn.sendall(json.dumps(answer).encode() + b"\n")


class NoWatchdogError(AgentsupError):
    """Nobody listens on the control socket."""


def ask(path: Path, request: dict[str, Any], *, timeout: float = ANSWER_TIMEOUT + 5) -> dict[str, Any]:
    """Send one request to the watchdog listening at `path` and return its answer. Raises
    NoWatchdogError when nobody listens, AgentsupError when it answers with an error."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with sock:
        sock.settimeout(timeout)
        try:
            with _short_path(path) as where:
                sock.connect(where)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
            raise NoWatchdogError(f"no watchdog listens on {path}: {exc.strerror}") from None
        try:
            _send(sock, request)
            line = _read_line(sock)
        except TimeoutError:
            raise AgentsupError(f"the watchdog did not answer within {timeout:.0f} s ({path})") from None
        except OSError as exc:
            raise AgentsupError(f"the watchdog's control socket failed: {exc.strerror or exc}") from None
    try:
        answer = json.loads(line)
    except ValueError:
        raise AgentsupError("the watchdog hung up without an answer") from None
    if not isinstance(answer, dict):
        raise AgentsupError("the watchdog's answer is not a JSON object")
    if "error" in answer:
        raise AgentsupError(f"the watchdog refused: {answer['error']}")
    return answer
