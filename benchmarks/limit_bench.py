"""How long after a usage limit truly lifts the agent is working again, by how the banner rounds
its reset (to the hour, the minute, the second), at the default timers: the watchdog over a
scripted tmux with a manual clock (tests/scripted.py), ticking every second of it, each probe
before the true lift meeting the limit again.

    uv run python benchmarks/limit_bench.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scripted import resume_delay  # the checkout's tests, beside this script

EIGHT = 1_800_000_000.0  # the manual clock's start: 2027-01-15 08:00:00 UTC
# (shown as, the reset it shows, how late after that the limit truly lifts)
CASES = [
    ("to the hour", "You've hit your session limit · resets 9am (UTC)", EIGHT + 3600, [0, 600, 1800, 2700]),
    ("to the minute", "You've hit your session limit · resets 8:20am (UTC)", EIGHT + 1200, [0, 20, 48, 59, 75]),
    ("to the second", "You’ve hit your usage limit. try again at 8:20:24 AM UTC", EIGHT + 1224, [0, 3, 7, 12]),
]


def main() -> None:
    for label, banner, shown, lates in CASES:
        delays = []
        for late in lates:
            with tempfile.TemporaryDirectory(prefix="as-lim-") as root:
                delay, _ = resume_delay(Path(root), banner, shown + late)
                delays.append(delay)
        print(f"reset shown {label}: resumed after the true lift median {statistics.median(delays):.0f} s, "
              f"max {max(delays):.0f} s (lifts {', '.join(f'+{x}' for x in lates)} s after the shown time)")


if __name__ == "__main__":
    main()
