"""`agentsup status --watch`: the status, redrawn every second in place (rich's Live). It reads;
it never changes anything. Ctrl-C leaves it with the last frame on screen. Into a pipe or a file
(where Live would show nothing until the end) it writes one plain frame per refresh instead."""

from __future__ import annotations

import time
from typing import Any

from agentsup.supervisor.processes.start_stop import Runtime

from . import render

USAGE_EVERY = 10.0  # seconds between reads of the CLIs' usage records


def watch(rt: Runtime, *, interval: float = 1.0) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from agentsup.store.journal import tail_events
    from agentsup.supervisor.operator.accounting import collect as usage_of
    from agentsup.supervisor.operator.status import collect

    console = Console(highlight=False)
    journal = rt.cfg.journal_path
    counted: list[Any] = [None, 0.0]  # usage, and when it was read: records are re-read every 10 s

    def frame() -> Any:
        if time.monotonic() - counted[1] >= USAGE_EVERY:
            counted[:] = [usage_of(rt), time.monotonic()]
        text = render.live_frame(collect(rt), tail_events(journal), width=console.width,
                                 colour=console.is_terminal, usage=counted[0])
        return Text.from_ansi(text)

    if not console.is_terminal:
        _frames(frame, console, interval)
        return
    try:
        with Live(frame(), console=console, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(interval)
                live.update(frame())
    except KeyboardInterrupt:
        pass
    console.line()


def _frames(frame: Any, console: Any, interval: float) -> None:
    """One plain frame per refresh, each headed by its time, flushed: `status --watch | tee x`
    shows each as it comes. A reader that goes away (`| head`) ends it quietly."""
    import os
    import sys

    try:
        while True:
            console.print(frame(), end="\n\n")
            console.file.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
