"""`agentsup status --watch`: the status, redrawn every second in place (rich's Live). It reads;
it never changes anything. Ctrl-C leaves it with the last frame on screen."""

from __future__ import annotations

import time
from typing import Any

from . import render
from .control import Runtime


def watch(rt: Runtime, *, interval: float = 1.0) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from .journal import tail_events
    from .status import collect

    console = Console(highlight=False)
    journal = rt.cfg.log_dir / "events.jsonl"

    def frame() -> Any:
        text = render.live_frame(collect(rt), tail_events(journal), width=console.width,
                                 colour=console.is_terminal)
        return Text.from_ansi(text)

    try:
        with Live(frame(), console=console, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(interval)
                live.update(frame())
    except KeyboardInterrupt:
        pass
    console.line()
