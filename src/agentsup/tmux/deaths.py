"""Deaths reported by tmux itself: a session closed, or a pane whose launch wrapper was killed
before it could write its program's exit code (the exit-code file is the first news of an
ordinary death: the watchdog watches its folder).

Every session agentsup creates also sets server-wide hooks (`pane-died`, `pane-exited`,
`session-closed`) that run the tmux command `wait-for -S <channel>` (no shell). A listener thread
keeps one `tmux wait-for <channel>` client waiting; when it returns, the watchdog wakes and looks.
Best effort, as measured with tmux 3.3a: a signal that arrives while nobody waits is remembered,
but a second one then clears it, and a lost SIGCHLD loses the pane-died hook. A frozen server
only blocks this thread; the ticks keep their own timeouts, and polling stays as the safety net.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence

RETRY_MIN, RETRY_MAX = 0.5, 10.0  # no server to wait on: look again, less and less often
CONNECTED = 0.3  # a client that failed later than this was waiting: its server went away


class DeathListener:
    """A tmux client waiting on the wake channel that the death hooks signal."""

    def __init__(self, argv: Sequence[str], on_event: Callable[[], None], env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.on_event = on_event
        self.env = env
        self.events = 0
        self.waiting = False  # a client is (or was just started to be) waiting on the channel
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen in a thread."""
        self._thread = threading.Thread(target=self._run, name="agentsup-tmux-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        retry = RETRY_MIN
        while not self._stop.is_set():
            try:
                with self._lock:
                    if self._stop.is_set():
                        return
                    self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL, env=self.env)
                    self.waiting = True
                began = time.monotonic()
                code = self._proc.wait()
            except OSError:
                code, began = -1, time.monotonic()
            self.waiting = False
            if self._stop.is_set():
                return
            waited = time.monotonic() - began >= CONNECTED
            if code == 0 or waited:  # a death, or the server itself went away under a waiting client
                retry = RETRY_MIN
                self.events += 1
                self.on_event()
            if code != 0:  # no server (yet, or any more): look again, less and less often, or when kicked
                self._kick.wait(retry)
                self._kick.clear()
                retry = min(RETRY_MAX, retry * 2)

    def kick(self) -> None:
        """The watchdog saw a server: stop waiting to look again, and wait on it now."""
        if not self.waiting:
            self._kick.set()

    def stop(self) -> None:
        """Stop listening and end the control-mode client."""
        with self._lock:
            self._stop.set()
            self._kick.set()
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=3)
