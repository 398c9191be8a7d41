"""The watchdog's heartbeat: `watchdog.json` in the state directory, written after every tick, which
`status` and `doctor` read (alive, ticking, what it cost, what is degraded). A change between
healthy and degraded is journaled once."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentsup.store.state import overwrite_in_place, read_state, write_json
from agentsup.supervisor.reconcile.tick import TickStats


class Heartbeat:
    """Writes the watchdog's status file; `path` is asked each time (a reload may move it)."""

    def __init__(self, path: Callable[[], Path], log: Callable[..., Any]) -> None:
        self.path = path
        self.log = log
        self.was_degraded = False

    def beat(self, stats: TickStats | None, degraded: dict[str, str], config_error: str | None,
             heavy: TickStats | None, notify_error: str | None = None) -> None:
        """After a tick (`stats`), or after a tick that failed (None). A file that cannot be written
        is itself a degradation, said in the file as far as the disk allows."""
        if bool(degraded) != self.was_degraded:  # one event per change, for the journal and notify
            self.was_degraded = bool(degraded)
            if degraded:
                self.log("watchdog-degraded", detail="; ".join(f"{k}: {v}" for k, v in degraded.items()))
            else:
                self.log("watchdog-healthy", detail="nothing is failing any more")
        data: dict[str, Any] = {
            "pid": os.getpid(), "last_tick": datetime.now(UTC).isoformat(timespec="seconds"),
            "ok": stats is not None, "degraded": dict(degraded), "config_error": config_error,
            "notify_error": notify_error,
            "heavy_tick_ms": round(heavy.wall_ms, 2) if heavy else None,
            "heavy_tmux_calls": heavy.tmux_calls if heavy else None,
        }
        if stats is not None:
            data |= {"kind": stats.kind, "tick_ms": round(stats.wall_ms, 2), "tick_cpu_ms": round(stats.cpu_ms, 2),
                     "tmux_calls": stats.tmux_calls, "captures": stats.captures, "agents": stats.agents}
        else:
            data |= {"last_good_tick": self.last_good_tick()}
        path = self.path()
        try:
            write_json(path, data, durable=False)
        except OSError as exc:
            degraded["status"] = f"cannot write {path.name}: {exc.strerror or exc}"
            data["degraded"] = dict(degraded)
            with contextlib.suppress(OSError):  # a full disk: the old file's blocks still take it
                overwrite_in_place(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
        else:
            degraded.pop("status", None)

    def last_good_tick(self) -> str | None:
        """When the watchdog last ticked without failing (ISO), or None."""
        data, _ = read_state(self.path())
        return data.get("last_tick") if data and data.get("ok", True) else (data or {}).get("last_good_tick")
