"""File watching adapter: a background thread that sets an event when a watched file changes.

Editors replace files by rename, so the parent directories are watched and changes filtered by
path. The watchdog waits on the event instead of sleeping, so a change wakes it at once.

On Linux the thread blocks in inotify itself (through libc): an idle watchdog spends no CPU on
watching, and a change is seen the moment it happens. Where inotify cannot be had (another
system, or the per-user inotify limits used up) it falls back to watchfiles, which looks every
half second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import struct
import threading
from collections.abc import Iterable
from pathlib import Path

STEP_MS = 500  # the fallback's look interval
# IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
_MASK = 0x002 | 0x004 | 0x008 | 0x040 | 0x080 | 0x100 | 0x200
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


class FileWatcher:
    """Watches `files` (a change to one of them) and `folders` (anything new or changed inside)."""

    def __init__(self, files: Iterable[Path], wake: threading.Event, folders: Iterable[Path] = ()) -> None:
        self.files = {p.absolute() for p in files}
        self.folders = {p.absolute() for p in folders}
        self.wake = wake
        self.changed: set[Path] = set()
        self.backend = ""  # inotify | watchfiles, once started
        self.fallback_reason: str | None = None  # why inotify could not be had, when it could not
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop_pipe: tuple[int, int] | None = None

    def start(self, *, inotify: bool = True) -> None:
        dirs = sorted({p.parent for p in self.files if p.parent.is_dir()} | {d for d in self.folders if d.is_dir()})
        if not dirs:
            return
        found = _inotify(dirs) if inotify else "not asked for"
        if not isinstance(found, str):
            self.backend, self._stop_pipe = "inotify", os.pipe()
            self._thread = threading.Thread(target=self._run_inotify, args=found, name="agentsup-watch", daemon=True)
        else:
            self.backend, self.fallback_reason = "watchfiles", found
            self._thread = threading.Thread(target=self._run_watchfiles, args=(dirs,), name="agentsup-watch",
                                            daemon=True)
        self._thread.start()

    def _seen(self, paths: set[Path]) -> None:
        hits = (paths & self.files) | {p for p in paths if p.parent in self.folders}
        if hits:
            with self._lock:
                self.changed |= hits
            self.wake.set()

    def _run_inotify(self, fd: int, dirs: dict[int, Path]) -> None:
        assert self._stop_pipe is not None
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([fd, self._stop_pipe[0]], [], [])
                if fd not in ready:
                    return
                data = os.read(fd, 65536)
                paths, at = set(), 0
                while at + _EVENT.size <= len(data):
                    wd, _mask, _cookie, size = _EVENT.unpack_from(data, at)
                    name = data[at + _EVENT.size:at + _EVENT.size + size].split(b"\0", 1)[0]
                    at += _EVENT.size + size
                    if wd in dirs and name:
                        paths.add(dirs[wd] / os.fsdecode(name))
                self._seen(paths)
        except OSError:  # a dead watcher only costs latency: the ticks still run
            return
        finally:
            os.close(fd)

    def _run_watchfiles(self, dirs: list[Path]) -> None:
        try:
            from watchfiles import watch

            for changes in watch(*dirs, stop_event=self._stop, recursive=False, debounce=1000, step=STEP_MS,
                                 rust_timeout=5000, yield_on_timeout=False):
                self._seen({Path(p).absolute() for _, p in changes})
        except Exception:  # a dead watcher only costs latency: the ticks still run
            return

    def take(self) -> set[Path]:
        with self._lock:
            hits, self.changed = self.changed, set()
        return hits

    def stop(self) -> None:
        self._stop.set()
        if self._stop_pipe is not None:
            os.write(self._stop_pipe[1], b"x")
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self._stop_pipe is not None:
            for end in self._stop_pipe:
                os.close(end)
            self._stop_pipe = None


def _inotify(dirs: list[Path]) -> tuple[int, dict[int, Path]] | str:
    """An inotify descriptor watching `dirs`, and which watch is which folder; else why inotify is
    not to be had here."""
    name = ctypes.util.find_library("c")
    if name is None:
        return "no C library found"
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fd = int(libc.inotify_init1(os.O_CLOEXEC))
    except (OSError, AttributeError) as exc:
        return f"no inotify here: {exc}"
    if fd < 0:
        return _why(ctypes.get_errno())
    watches = {}
    for folder in dirs:
        wd = int(libc.inotify_add_watch(fd, os.fsencode(folder), _MASK))
        if wd < 0:
            err = ctypes.get_errno()
            os.close(fd)
            return _why(err, folder)
        watches[wd] = folder.absolute()
    return fd, watches


def _why(err: int, folder: Path | None = None) -> str:
    """An inotify failure, in words that say which limit to raise."""
    limit = {errno.EMFILE: " (fs.inotify.max_user_instances is used up)",
             errno.ENOSPC: " (fs.inotify.max_user_watches is used up)"}.get(err, "")
    return f"{os.strerror(err)}{limit}" + (f" watching {folder}" if folder is not None else "")
