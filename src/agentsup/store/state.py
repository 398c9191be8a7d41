"""The state directory: atomic JSON/text files and advisory locks.

Every write goes to a temporary file in the same directory, is fsynced, then renamed over the
target, so a crash mid-write leaves the old content, never a torn file. What agentsup keeps is
private (prompts, pings and wake texts are secrets): directories 0700, files 0600. No write follows
a symlink: a rename replaces a planted link instead of writing through it, and appends and locks
are opened with O_NOFOLLOW.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentsup.errors import LockedError, StateError

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) 0700. An existing directory keeps its mode."""
    os.makedirs(path, mode=PRIVATE_DIR, exist_ok=True)


def open_private(path: Path, flags: int) -> int:
    """Open for writing without following a symlink, creating the file 0600. Never truncates. A
    symlink planted in its place is moved aside (its target untouched) and a fresh file created."""
    private_dir(path.parent)
    flags |= os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    move_aside(path)
    return os.open(path, flags | os.O_EXCL, PRIVATE_FILE)


def append_private(path: Path, data: bytes) -> None:
    fd = open_private(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def touch_private(path: Path) -> None:
    os.close(open_private(path, os.O_WRONLY))


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Replace `path` atomically. `durable=False` skips the fsync, for files rewritten every second
    whose loss in a power cut costs nothing (the watchdog's tick stats)."""
    private_dir(path.parent)
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


def overwrite_in_place(path: Path, text: str) -> None:
    """Rewrite an existing file in the blocks it already has: the way a small status file still
    says "degraded" when the disk is too full for a new file. Not atomic: for display-only files."""
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def rotate(path: Path, backups: int) -> None:
    """`x` → `x.1` → … → `x.<backups>` (the oldest goes); with no backups `x` is removed. The one
    rotation of the journal and the agents' logs."""
    if backups <= 0:
        path.unlink(missing_ok=True)
        return
    for i in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{i}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{i + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


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


def move_aside(path: Path) -> Path:
    """Rename a damaged file (or a directory where a file belongs) out of the way, keeping it for
    inspection: `<name>.corrupt-<time>`."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    os.rename(path, target)
    return target


def read_state(path: Path, shape: type = dict) -> tuple[Any, str | None]:
    """A state file's JSON, or None when there is none. A file that is corrupt, empty, of the wrong
    shape, or a directory is moved aside, and the second value says what happened: the caller
    journals it and starts fresh. Never raises for what the file holds."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        problem = "a directory where a file belongs"
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"unreadable ({exc})"
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = "empty" if not text.strip() else f"not JSON ({exc})"
        else:
            if isinstance(value, shape):
                return value, None
            problem = f"wrong shape (a JSON {type(value).__name__}, expected {shape.__name__})"
    try:
        aside = move_aside(path)
    except OSError as exc:
        return None, f"{path}: {problem}; could not move it aside: {exc.strerror}"
    return None, f"{path}: {problem}; moved aside to {aside.name}"


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


class FileLock:
    """An flock on a file. The kernel drops it when the holder dies, so a killed process never
    leaves a stale lock. The lock file itself is never written (it may be a planted link to
    something precious); the holder's pid goes to `<lock>.pid` by atomic rename, for messages."""

    def __init__(self, path: Path, *, record_pid: bool = True) -> None:
        self.path = path
        self.record_pid = record_pid
        self._fd: int | None = None

    @property
    def pid_file(self) -> Path:
        return self.path.with_name(self.path.name + ".pid")

    def acquire(self, *, blocking: bool = False) -> None:
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot open the lock file: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            holder = self.holder_pid()
            raise LockedError(
                f"another process holds {self.path} (pid {holder if holder else 'unknown'})"
            ) from None
        self._fd = fd
        if not self.record_pid:
            return
        with contextlib.suppress(OSError):  # a full disk must not stop the lock from working
            atomic_write_text(self.pid_file, f"{os.getpid()}\n", durable=False)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder_pid(self) -> int | None:
        """Who holds it: the kernel's word (/proc/locks), else the pid file. The pid file alone can
        be stale: a holder that took the lock on a full disk could not write it, and the pid in it
        may since belong to another process."""
        holder = self._kernel_holder()
        if holder is not None:
            return holder
        try:
            text = self.pid_file.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def _kernel_holder(self) -> int | None:
        try:
            st = os.stat(self.path, follow_symlinks=False)
            table = Path("/proc/locks").read_text()
        except OSError:
            return None
        file_id = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        for line in table.splitlines():  # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:16039943 0 EOF"
            fields = line.split()  # a waiter's line has "->" second: never the holder
            if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == "WRITE" and fields[5] == file_id:
                return int(fields[4]) if fields[4].isdigit() and int(fields[4]) > 0 else None
        return None

    def is_held(self) -> bool:
        """True when another process holds the lock right now."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
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
        private_dir(self.root)
        with contextlib.suppress(OSError):
            os.chmod(self.root, PRIVATE_DIR)  # ours alone, whatever an older version left

    def exits_dir(self) -> Path:
        """Where launch wrappers write exit codes (the watchdog watches it: the surest news of a death)."""
        return self.root / "exit"

    def exit_file(self, session: str) -> Path:
        return self.exits_dir() / f"{session}.code"

    def kickoff_file(self, session: str) -> Path:
        return self.root / f"kickoff-{session}.txt"

    def resume_id_file(self, name: str) -> Path:
        return self.root / f"{name}.id"

    def hooks_file(self, name: str) -> Path:
        return self.root / "signals" / f"{name}.hooks.jsonl"

    def status_line_file(self, name: str) -> Path:
        return self.root / "signals" / f"{name}.statusline.json"

    def session_id_file(self, name: str) -> Path:
        return self.root / "sessions" / f"{name}.id"

    def session_history_file(self, name: str) -> Path:
        """Every session id the agent was started with, one per line: its usage spans them all."""
        return self.root / "sessions" / f"{name}.history"

    def session_id(self, name: str) -> str | None:
        text = read_text(self.session_id_file(name))
        return text.strip() or None if text else None

    def record_file(self, name: str) -> Path:
        return self.root / "agents" / f"{name}.json"

    def delivery_lock(self, session: str) -> Path:
        return self.locks_dir() / f"deliver-{session}.lock"

    def start_lock(self, session: str) -> Path:
        """Held from looking at a session to starting it: a parallel `up` or the watchdog must not
        take the one just started for a leftover and end it."""
        return self.locks_dir() / f"start-{session}.lock"

    def handoff_file(self) -> Path:
        """The remote head and inbox digests the handoff last looked at."""
        return self.root / "handoff.json"

    def created_mark(self, name: str) -> Path:
        """Its after_create hook ran (once per agent)."""
        return self.root / "created" / name

    def locks_dir(self) -> Path:
        return self.root / "locks"

    def tmux_server_pid_file(self) -> Path:
        return self.root / "tmux-server.pid"

    def phase_index_file(self, name: str) -> Path:
        """The build loop's current phase index ([loop].state_file)."""
        return self.root / name

    def worktrees_dir(self) -> Path:
        return self.root / "worktrees"

    def journal_lock(self) -> Path:
        """Held while the journal rotates (the watchdog and the CLI append to it alike)."""
        return self.locks_dir() / "journal.lock"

    def watchdog_lock(self) -> Path:
        return self.root / "watchdog.lock"

    def watchdog_status(self) -> Path:
        return self.root / "watchdog.json"

    def control_socket(self) -> Path:
        """Where the running watchdog answers the CLI (see channel.py)."""
        return self.root / "control.sock"

    def requests_dir(self) -> Path:
        """Requests handed over as files when the control socket cannot be reached."""
        return self.root / "requests"

    def incoming_dir(self) -> Path:
        """Where a request file is written before it is renamed into `requests_dir`: the watchdog
        never sees one half-written."""
        return self.root / "incoming"

    def stopped_dir(self) -> Path:
        return self.root / "stopped"

    def web_token(self) -> Path:
        """The web view's login token (0600); `agentsup web --new-token` replaces it."""
        return self.root / "web.token"

    def read_exit_code(self, session: str) -> int | None:
        text = read_text(self.exit_file(session))
        if text is None or not text.strip().lstrip("-").isdigit():
            return None
        return int(text.strip())

    def resume_id(self, name: str) -> str | None:
        text = read_text(self.resume_id_file(name))
        return text.strip() or None if text else None
