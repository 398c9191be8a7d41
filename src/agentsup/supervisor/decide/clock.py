"""The one clock: monotonic seconds for every duration, wall seconds for reset times and display.

A wall clock can be stepped (NTP, an operator, a VM resume); a backoff or a stall measured on it
would freeze or fire falsely. Monotonic readings are comparable across processes of the same boot,
so records persisted by one watchdog stay right for the next; `boot_id` tells when they are not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """The one clock agentsup reads; tests inject a manual one."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (durations and deadlines)."""

    def wall(self) -> float:
        """Seconds since the epoch (reset times and display)."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def wall(self) -> float:
        """time.time()."""
        return time.time()


@dataclass
class ManualClock:
    """A clock that moves only when told: `advance` moves both readings, `step_wall` only the wall."""

    mono: float = 1000.0
    now_wall: float = 1_800_000_000.0

    def monotonic(self) -> float:
        """The manual monotonic reading."""
        return self.mono

    def wall(self) -> float:
        """The manual wall reading."""
        return self.now_wall

    def advance(self, seconds: float) -> None:
        """Move both readings on by `seconds`."""
        self.mono += seconds
        self.now_wall += seconds

    def step_wall(self, seconds: float) -> None:
        """Move only the wall clock (an NTP step, a DST change seen as a jump)."""
        self.now_wall += seconds


def boot_id(path: Path = Path("/proc/sys/kernel/random/boot_id")) -> str:
    """This boot's id: monotonic readings from another boot mean nothing here."""
    try:
        return path.read_text().strip()
    except OSError:
        return "unknown"
