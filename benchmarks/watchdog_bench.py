"""The running watchdog as a whole process, with its default timers: how fast a death is healed,
what it costs while nothing happens, and whether its memory stays flat. One line per figure.

    uv run python benchmarks/watchdog_bench.py                      # all figures
    uv run python benchmarks/watchdog_bench.py --only restart --trials 30
    uv run python benchmarks/watchdog_bench.py --only idle --agents 20 --seconds 120
    uv run python benchmarks/watchdog_bench.py --only memory --ticks 3720

Each figure runs sim agents on a private tmux server (socket in a temp dir) torn down after.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOML = """\
[defaults]
log_dir = "logs"
session_prefix = "wb-"
backend = "sim"
watch = "heal+stall"

[tmux]
socket = "{socket}"

[watchdog]
start_grace = 2

[backend.sim]
stall_idle = 3600
"""
CLK_TCK = os.sysconf("SC_CLK_TCK")


@contextmanager
def fleet(n: int, *, busy: int = 0) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="awb-"))
    socket = str(root / "tmux.sock")
    body = TOML.format(socket=socket)
    for i in range(n):
        body += f'\n[[agent]]\nname = "a{i:03d}"\n' + ('args = ["--work", "3600"]\n' if i < busy else "")
    (root / "agents.toml").write_text(body)
    try:
        subprocess.run([sys.executable, "-m", "agentsup", "-c", str(root / "agents.toml"), "up", "--no-watchdog"],
                       check=True, capture_output=True, timeout=120 + n)
        deadline = time.monotonic() + 60 + n
        while time.monotonic() < deadline and len(programs(root)) < n:
            time.sleep(0.5)
        yield root
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def panes(root: Path) -> dict[str, int]:
    out = subprocess.run(["tmux", "-S", str(root / "tmux.sock"), "list-panes", "-a", "-F",
                          "#{session_name} #{pane_pid} #{pane_dead}"], capture_output=True, text=True).stdout
    return {s: int(p) for s, p, dead in (line.split() for line in out.splitlines()) if dead == "0"}


def programs(root: Path) -> dict[str, int]:
    """Each live pane's program (the launch wrapper's child)."""
    found = {}
    for session, pane_pid in panes(root).items():
        try:
            kids = Path(f"/proc/{pane_pid}/task/{pane_pid}/children").read_text().split()
        except OSError:
            continue
        if kids:
            found[session] = min(int(k) for k in kids)
    return found


@contextmanager
def watchdog(root: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(root / "agents.toml"), "watchdog",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(4)  # its first ticks, and past start_grace: a death is a crash, healed at once
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and of the children it reaped (the tmux clients it ran). The kernel
    samples these at its tick (100 Hz here): measure idle over minutes, not seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def bench_restart(agents: int, trials: int) -> None:
    with fleet(agents) as root, watchdog(root):
        took = []
        for trial in range(trials):
            session = f"wb-a{trial % agents:03d}"
            before = programs(root)[session]
            pane_before = panes(root)[session]
            killed = time.monotonic()
            os.kill(before, signal.SIGKILL)
            while True:
                now = panes(root).get(session)
                if now is not None and now != pane_before:
                    took.append(time.monotonic() - killed)
                    break
                if time.monotonic() - killed > 30:
                    raise RuntimeError("no restart within 30 s")
                time.sleep(0.005)
            time.sleep(1 + random.random())  # never in step with any timer
    print(f"death -> restart, {agents} agents, default timers, {trials} kills: median "
          f"{statistics.median(took):.3f} s, max {max(took):.3f} s (targets <= 0.25 s, <= 0.5 s)")


def bench_idle(agents: int, seconds: float) -> None:
    with fleet(agents) as root, watchdog(root) as dog:
        time.sleep(5)
        cpu0, t0 = cpu_seconds(dog.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(dog.pid), time.monotonic()
    share = (cpu1 - cpu0) / (t1 - t0) * 100
    print(f"idle watchdog, {agents} idle agents, {seconds:.0f} s: {share:.3f} % of one core "
          f"({(cpu1 - cpu0) * 1000:.0f} ms CPU; target <= 0.15 %)")


def bench_memory(agents: int, ticks: int) -> None:
    """Ticks at the default timers' mix (a heavy tick for every 30, a signal tick for every 3,
    polls between), back to back in one process; RSS at each quarter after a warm-up quarter."""
    from agentsup.supervisor.reconcile.tick import HEAVY, POLL, SIGNAL
    from agentsup.supervisor.watch.watchdog import Watchdog

    with fleet(agents, busy=agents // 5) as root:
        dog = Watchdog(root / "agents.toml")
        samples = []
        for i in range(1, ticks + 1):
            dog.tick(HEAVY if i % 30 == 0 else SIGNAL if i % 3 == 0 else POLL)
            if i % (ticks // 4) == 0:
                samples.append(rss_kib(os.getpid()))
    shown = ", ".join(f"{kib / 1024:.1f}" for kib in samples)
    print(f"memory over {ticks} ticks, {agents} agents ({agents // 5} printing): RSS at each quarter {shown} MiB; "
          f"after the first quarter {samples[-1] - samples[0]:+d} KiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["restart", "idle", "memory"])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--ticks", type=int, default=4000, help="ticks for the memory figure (an hour at the "
                        "default timers is ~480; this is more than eight)")
    args = parser.parse_args()
    if args.only in (None, "restart"):
        bench_restart(args.agents, args.trials)
    if args.only in (None, "idle"):
        bench_idle(args.agents, args.seconds)
    if args.only in (None, "memory"):
        bench_memory(args.agents, args.ticks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
