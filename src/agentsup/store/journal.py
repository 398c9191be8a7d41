"""The append-only event journal: one JSON object per line in <log_dir>/events.jsonl, rotated."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentsup.store.state import FileLock, StateDir, append_private, rotate

BACKUPS = 3
HELD_LINES = 1000  # lines kept in memory while the disk refuses them (full disk)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


class Journal:
    """Appends events. A write the disk refuses (full, read-only) never raises: the line is held in
    memory (the newest HELD_LINES) and written, in order, with the next write that succeeds;
    `failing` says why it is held, for the watchdog's degraded flag."""

    def __init__(self, path: Path, max_bytes: int = 5_000_000, clock: Callable[[], float] = time.time,
                 rotate_lock: Path | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.clock = clock
        self.rotate_lock = rotate_lock  # the watchdog and the CLI append alike: one of them rotates
        self.held: deque[str] = deque(maxlen=HELD_LINES)
        self.failing: str | None = None
        self.lock = threading.Lock()  # the notification worker writes too

    def write(self, event: str, agent: str | None = None, **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"ts": _iso(self.clock()), "event": event}
        if agent is not None:
            entry["agent"] = agent
        entry.update(fields)
        with self.lock:
            self.held.append(json.dumps(entry, default=str, ensure_ascii=False) + "\n")
            self._flush()
        return entry

    def flush(self) -> bool:
        with self.lock:
            return self._flush()

    def _flush(self) -> bool:
        """Write what is held. True when nothing is held any more."""
        if not self.held:
            return True
        # After a refused write a torn line may end the file: start on a fresh line (readers skip blanks).
        data = (("\n" if self.failing else "") + "".join(self.held)).encode("utf-8")
        try:
            self._rotate_if_full(len(data))
            # O_APPEND writes of whole lines are atomic enough for concurrent writers (watchdog and CLI).
            append_private(self.path, data)
        except OSError as exc:
            self.failing = f"journal {self.path}: {exc.strerror or exc}"
            return False
        self.held.clear()
        self.failing = None
        return True

    def take_over(self, old: Journal) -> None:
        """Keep what `old` (the journal before a reload) still holds back: written with the next line."""
        with old.lock:
            held, old.held = list(old.held), deque(maxlen=HELD_LINES)
        with self.lock:
            self.held.extendleft(reversed(held))
            self.failing = self.failing or old.failing
            self._flush()

    def _rotate_if_full(self, incoming: int) -> None:
        if self._size() + incoming <= self.max_bytes:
            return
        if self.rotate_lock is None:
            self._rotate()
            return
        with FileLock(self.rotate_lock, record_pid=False):  # the other process may have rotated meanwhile
            if self._size() + incoming > self.max_bytes:
                self._rotate()

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _rotate(self) -> None:
        rotate(self.path, BACKUPS)


def journal_path(log_dir: Path) -> Path:
    """Where the journal of a config whose logs are in `log_dir` lives (the one place that says it)."""
    return log_dir / "events.jsonl"


def open_journal(log_dir: Path, state_dir: Path, max_bytes: int, clock: Callable[[], float] = time.time) -> Journal:
    """The journal, the one way every process opens it: <log_dir>/events.jsonl, rotated past
    `max_bytes` under the state directory's journal lock (`Config.journal()` passes its own)."""
    return Journal(journal_path(log_dir), max_bytes, clock, rotate_lock=StateDir(state_dir).journal_lock())


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None  # a torn last line from a crash: skip it, keep the rest
    return value if isinstance(value, dict) else None


def read_events(path: Path, *, agent: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Events oldest first, across rotated files."""
    files = [path.with_name(f"{path.name}.{i}") for i in range(BACKUPS, 0, -1)] + [path]
    events = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            entry = _parse(line)
            if entry is not None and (agent is None or entry.get("agent") == agent):
                events.append(entry)
    if limit is None:
        return events
    return events[-limit:] if limit > 0 else []


def follow_events(path: Path, *, agent: str | None = None, poll: float = 0.5,
                  stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    from agentsup.store.logs import follow

    pending = ""
    for chunk in follow(path, poll=poll, stop=stop):
        pending += chunk
        *lines, pending = pending.split("\n")
        for line in lines:
            entry = _parse(line)
            if entry is not None and (agent is None or entry.get("agent") == agent):
                yield entry


def tail_events(path: Path, max_bytes: int = 65536) -> list[dict[str, Any]]:
    """The newest events (the last `max_bytes` of the journal), oldest first: cheap every second."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    lines = data.split("\n")[1:] if size > max_bytes else data.split("\n")  # the first may be cut
    return [e for e in (_parse(line) for line in lines if line.strip()) if e is not None]
