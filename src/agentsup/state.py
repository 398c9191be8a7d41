"""The state directory: atomic JSON/text files and advisory locks.

Every write goes to a temporary file in the same directory, is fsynced, then renamed over the
target, so a crash mid-write leaves the old content, never a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import LockedError, StateError


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Replace `path` atomically. `durable=False` skips the fsync, for files rewritten every second
    whose loss in a power cut costs nothing (the watchdog's tick stats)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n", durable=durable)


def read_json(path: Path, default: Any = None) -> Any:
    """The file's JSON, or `default` when it does not exist. A corrupt file is an error that names it,
    never silently replaced (that would lose state)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"{path}: corrupt state file ({exc}); move it aside to reset it") from None


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


class FileLock:
    """An flock on a file. The kernel drops it when the holder dies, so a killed process never
    leaves a stale lock. The holder's pid is written into the file for error messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, *, blocking: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            holder = self.holder_pid()
            raise LockedError(
                f"another process holds {self.path} (pid {holder if holder else 'unknown'})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def is_held(self) -> bool:
        """True when another process holds the lock right now."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def __enter__(self) -> FileLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with FileLock(path):
        yield


class StateDir:
    """Named files under <log_dir>/state."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def exit_file(self, session: str) -> Path:
        return self.root / "exit" / f"{session}.code"

    def kickoff_file(self, session: str) -> Path:
        return self.root / f"kickoff-{session}.txt"

    def resume_id_file(self, name: str) -> Path:
        return self.root / f"{name}.id"

    def record_file(self, name: str) -> Path:
        return self.root / "agents" / f"{name}.json"

    def delivery_lock(self, session: str) -> Path:
        return self.root / "locks" / f"deliver-{session}.lock"

    def watchdog_lock(self) -> Path:
        return self.root / "watchdog.lock"

    def watchdog_status(self) -> Path:
        return self.root / "watchdog.json"

    def read_exit_code(self, session: str) -> int | None:
        text = read_text(self.exit_file(session))
        if text is None or not text.strip().lstrip("-").isdigit():
            return None
        return int(text.strip())

    def resume_id(self, name: str) -> str | None:
        text = read_text(self.resume_id_file(name))
        return text.strip() or None if text else None
