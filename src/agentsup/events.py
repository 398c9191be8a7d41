"""Deaths reported by tmux itself, so a crashed agent is restarted within a fraction of a second
instead of at the next poll.

Every session agentsup creates also sets server-wide hooks (`pane-died`, `pane-exited`,
`session-closed`) that run the tmux command `wait-for -S <channel>` (no shell). A listener thread
keeps one `tmux wait-for <channel>` client waiting; when it returns, the watchdog wakes and looks.
tmux remembers a signal that arrives while nobody waits, so none is lost between two waits. A
frozen server only blocks this thread; the ticks keep their own timeouts, and polling stays as
the safety net.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence

RETRY_MIN, RETRY_MAX = 0.5, 10.0  # no server to wait on: look again, less and less often


class DeathListener:
    def __init__(self, argv: Sequence[str], on_event: Callable[[], None], env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.on_event = on_event
        self.env = env
        self.events = 0
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
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
                code = self._proc.wait()
            except OSError:
                code = -1
            if self._stop.is_set():
                return
            if code == 0:
                retry = RETRY_MIN
                self.events += 1
                self.on_event()
            else:  # no server (yet, or any more): the poll notices what matters meanwhile
                self._stop.wait(retry)
                retry = min(RETRY_MAX, retry * 2)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=3)
