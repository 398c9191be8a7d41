"""File watching adapter: a watchfiles thread that sets an event when a watched file changes.

Editors replace files by rename, so the parent directories are watched and changes filtered by
path. The watchdog waits on the event instead of sleeping, so a change wakes it at once.

watchfiles uses inotify where it can; where the kernel refuses (another system, or the per-user
inotify limits used up) the thread falls back to watchfiles' own polling (`force_polling`), and
`fallback_reason` says why, for `status` and `doctor`. A thread that dies anyway says so in
`error`; the watchdog journals it and starts a new watcher.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Measured on 2 cores (benchmarks/watchdog_bench.py): the Rust loop wakes every STEP_MS, so the
# step trades idle CPU against how soon a change is seen; 100 ms keeps an idle watchdog under
# 0.15 % of a core and a death's exit-code file seen within about 0.1-0.2 s.
STEP_MS = 100
POLL_MS = 500  # the polling fallback's look interval


class FileWatcher:
    """Watches `files` (a change to one of them) and `folders` (anything new or changed inside)."""

    def __init__(self, files: Iterable[Path], wake: threading.Event, folders: Iterable[Path] = ()) -> None:
        self.files = {p.absolute() for p in files}
        self.folders = {p.absolute() for p in folders}
        self.wake = wake
        self.changed: set[Path] = set()
        self.backend = ""  # inotify | polling, once watching
        self.fallback_reason: str | None = None  # why inotify could not be had, when it could not
        self.error: str | None = None  # why the thread ended, when it ended by itself
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, *, inotify: bool = True) -> None:
        """Set the watch up before returning (a change a moment later is seen), then watch in a
        thread. Where inotify is refused, poll."""
        import watchfiles._rust_notify as wf

        paths = sorted(str(d) for d in self.dirs_of(self.files))
        if not paths:
            return
        # RustNotify is what watchfiles.watch() builds inside its generator, where the watch would
        # be set up only once the thread runs; built here, nothing between start() and then is missed.
        try:
            if not inotify:
                raise OSError("not asked for")
            notify = self._notify(wf, paths, force_polling=False)
            self.backend = "inotify"
        except Exception as exc:  # inotify refused (EMFILE/ENOSPC: the per-user limits used up)
            self.fallback_reason = str(exc)
            notify = self._notify(wf, paths, force_polling=True)
            self.backend = "polling"
        self._thread = threading.Thread(target=self._run, args=(notify,), name="agentsup-watch", daemon=True)
        self._thread.start()

    @staticmethod
    def _notify(wf: Any, paths: list[str], *, force_polling: bool) -> Any:
        """watchfiles' notifier, built through the keywords its stub documents (what watch() passes)."""
        return wf.RustNotify(watch_paths=paths, debug=False, force_polling=force_polling, poll_delay_ms=POLL_MS,
                             recursive=False, ignore_permission_denied=True)

    def dirs_of(self, files: Iterable[Path]) -> set[Path]:
        """The folders that hold `files`, and the folders watched as such."""
        return {p.absolute().parent for p in files if p.parent.is_dir()} | {d for d in self.folders if d.is_dir()}

    def retarget(self, files: Iterable[Path]) -> bool:
        """Watch `files` instead, in place, when they live in the folders already watched (a new
        phase's status file beside the last one); False when a new watcher is needed."""
        files = list(files)
        if self._thread is None or self.dirs_of(files) != self.dirs_of(self.files):
            return False
        with self._lock:
            self.files = {p.absolute() for p in files}
        return True

    @property
    def alive(self) -> bool:
        """False once a started thread ended by itself (stop() was not asked for)."""
        return self._thread is None or self._thread.is_alive() or self._stop.is_set()

    def _seen(self, paths: set[Path]) -> None:
        with self._lock:
            hits = (paths & self.files) | {p for p in paths if p.parent in self.folders}
            self.changed |= hits
        if hits:
            self.wake.set()

    def _run(self, notify: Any) -> None:
        try:
            with notify:
                while not self._stop.is_set():
                    raw = notify.watch(STEP_MS * 2, STEP_MS, 5000, self._stop)
                    if raw == "stop":
                        return
                    if isinstance(raw, set):
                        self._seen({Path(p).absolute() for _, p in raw})
        except Exception as exc:  # the watchdog journals it and starts a new watcher
            self.error = f"{type(exc).__name__}: {exc}"

    def take(self) -> set[Path]:
        """The watched files that changed since the last call."""
        with self._lock:
            hits, self.changed = self.changed, set()
        return hits

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=6)  # the Rust loop looks at the stop event every step
