"""File watching adapter: a background thread that sets an event when a watched file changes.

Editors replace files by rename, so the parent directories are watched and changes filtered by
path. The watchdog waits on the event instead of sleeping, so a change wakes it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from watchfiles import watch

STEP_MS = 500


class FileWatcher:
    """Watches `files` (a change to one of them) and `folders` (anything new or changed inside)."""

    def __init__(self, files: Iterable[Path], wake: threading.Event, folders: Iterable[Path] = ()) -> None:
        self.files = {p.absolute() for p in files}
        self.folders = {p.absolute() for p in folders}
        self.wake = wake
        self.changed: set[Path] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        dirs = sorted({p.parent for p in self.files if p.parent.is_dir()} | {d for d in self.folders if d.is_dir()})
        if not dirs:
            return
        self._thread = threading.Thread(target=self._run, args=(dirs,), name="agentsup-watch", daemon=True)
        self._thread.start()

    def _run(self, dirs: list[Path]) -> None:
        try:
            # step: how often the watcher looks at what inotify queued (and at stop). Deaths do not
            # come this way (tmux and the launch wrapper report them), so half a second of latency
            # for an edited config or a done marker buys an idle watchdog that stays idle.
            for changes in watch(*dirs, stop_event=self._stop, recursive=False, debounce=1000, step=STEP_MS,
                                 rust_timeout=5000, yield_on_timeout=False):
                paths = {Path(p).absolute() for _, p in changes}
                hits = (paths & self.files) | {p for p in paths if p.parent in self.folders}
                if hits:
                    with self._lock:
                        self.changed |= hits
                    self.wake.set()
        except Exception:  # a dead watcher only costs latency: the ticks still run
            return

    def take(self) -> set[Path]:
        with self._lock:
            hits, self.changed = self.changed, set()
        return hits

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
