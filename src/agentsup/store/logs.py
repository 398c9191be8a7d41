"""Reading logs: the last N lines, following a log across rotations, and the whole JSON lines
appended since a byte offset (the journal, claude's hooks)."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of `path` (empty when it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block, data = 65536, b""
            while size > 0 and data.count(b"\n") <= count:
                step = min(block, size)
                size -= step
                fh.seek(size)
                data = fh.read(step) + data
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return list(deque(lines, maxlen=count)) if count > 0 else []


def follow(path: Path, *, poll: float = 0.5, stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """Yield text appended to `path`, reopening it when it is rotated or recreated."""
    position = path.stat().st_size if path.exists() else 0
    inode = path.stat().st_ino if path.exists() else None
    while not stop():
        try:
            st = path.stat()
        except FileNotFoundError:
            time.sleep(poll)
            continue
        if st.st_ino != inode or st.st_size < position:
            inode, position = st.st_ino, 0
        if st.st_size > position:
            with path.open("rb") as fh:
                fh.seek(position)
                chunk = fh.read()
            position += len(chunk)
            yield chunk.decode("utf-8", "replace")
        else:
            time.sleep(poll)


def complete_lines(path: Path, offset: int) -> tuple[bytes, int]:
    """The whole lines appended to `path` since byte `offset`, and the offset after them (a line
    still being written waits for the next read)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    complete = data[:data.rfind(b"\n") + 1]
    return complete, offset + len(complete)


def json_lines(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects among `lines` (a line that is not one is skipped)."""
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value
