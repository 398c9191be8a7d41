"""Live data shared by every viewer: one producer loop per key (the page's feed, or one watched
pane) that runs only while someone is connected to that key, and hands each viewer what changed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Event = tuple[str, Any]  # (the server-sent event's name, its JSON data)
REPLAYED = frozenset({"status", "screen"})  # sent only when changed; a viewer who joins late gets it at once


@dataclass
class _Key:
    queues: set[asyncio.Queue[Event]] = field(default_factory=set)
    latest: dict[str, Any] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class Hub:
    """`step(key)` is awaited every `interval` while `key` has viewers; the events it returns go
    to each of them. A slow viewer loses old screens, never the newest one."""

    def __init__(self, step: Callable[[str], Awaitable[list[Event]]], *, interval: float) -> None:
        self.step = step
        self.interval = interval
        self.steps = 0  # how often a producer ran (each one costs its tmux calls)
        self._keys: dict[str, _Key] = {}

    def viewers(self) -> int:
        return sum(len(k.queues) for k in self._keys.values())

    async def watch(self, key: str) -> AsyncIterator[Event]:
        """What `key` produces, as it changes, until the viewer goes."""
        entry = self._keys.setdefault(key, _Key())
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=64)
        for name, data in entry.latest.items():
            queue.put_nowait((name, data))
        entry.queues.add(queue)
        if entry.task is None or entry.task.done():
            entry.task = asyncio.create_task(self._run(key, entry))
        try:
            while True:
                yield await queue.get()
        finally:
            entry.queues.discard(queue)
            if not entry.queues:
                if entry.task is not None:
                    entry.task.cancel()
                self._keys.pop(key, None)

    async def _run(self, key: str, entry: _Key) -> None:
        while entry.queues:
            self.steps += 1
            try:
                events = await self.step(key)
            except Exception as exc:  # a producer's failure is shown, and the loop goes on
                events = [("error", {"key": key, "error": str(exc) or type(exc).__name__})]
            for name, data in events:
                if name in REPLAYED:
                    if entry.latest.get(name) == data:
                        continue
                    entry.latest[name] = data
                for queue in list(entry.queues):
                    while queue.full():
                        with contextlib.suppress(asyncio.QueueEmpty):
                            queue.get_nowait()
                    queue.put_nowait((name, data))
            await asyncio.sleep(self.interval)


@contextlib.asynccontextmanager
async def pumped(*streams: AsyncIterator[Event]) -> AsyncIterator[asyncio.Queue[Event]]:
    """The events of several streams in one queue (waiting on a queue can time out safely; waiting
    on a stream's next item cannot: the timeout would close the stream)."""
    queue: asyncio.Queue[Event] = asyncio.Queue()

    async def pump(stream: AsyncIterator[Event]) -> None:
        async for event in stream:
            await queue.put(event)

    tasks = [asyncio.create_task(pump(s)) for s in streams]
    try:
        yield queue
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
