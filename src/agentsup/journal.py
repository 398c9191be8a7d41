"""The append-only event journal: one JSON object per line in <log_dir>/events.jsonl, rotated."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BACKUPS = 3


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


class Journal:
    def __init__(self, path: Path, max_bytes: int = 5_000_000, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.clock = clock

    def write(self, event: str, agent: str | None = None, **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"ts": _iso(self.clock()), "event": event}
        if agent is not None:
            entry["agent"] = agent
        entry.update(fields)
        line = json.dumps(entry, default=str, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.path.stat().st_size + len(line) > self.max_bytes:
                self._rotate()
        except FileNotFoundError:
            pass
        # O_APPEND writes of one line are atomic enough for concurrent writers (watchdog and CLI).
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        return entry

    def _rotate(self) -> None:
        for i in range(BACKUPS - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))


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
    return events[-limit:] if limit else events


def follow_events(path: Path, *, agent: str | None = None, poll: float = 0.5,
                  stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    from .logs import follow

    pending = ""
    for chunk in follow(path, poll=poll, stop=stop):
        pending += chunk
        *lines, pending = pending.split("\n")
        for line in lines:
            entry = _parse(line)
            if entry is not None and (agent is None or entry.get("agent") == agent):
                yield entry
