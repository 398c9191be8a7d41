"""Watchdog tick benchmark: per-tick wall time, CPU time and tmux client processes for N sim agents
(death-to-restart, idle CPU and memory are in watchdog_bench.py).

    uv run python benchmarks/tick_bench.py                 # N = 1, 10, 50, 100
    uv run python benchmarks/tick_bench.py --agents 200 --busy 0.2 --ticks 20   # the scale check
    uv run python benchmarks/tick_bench.py --seed ../shared/seeds/002_agents_py_reindented.py

Each N runs on its own private tmux server (socket in a temp dir) and is torn down after.
`--seed` also times the seed script's heavy-tick work (heal_one + stall_check_one for every agent)
over the same sessions, on a tmux server it reaches through a scratch TMUX_TMPDIR.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentsup.config.load import load_config
from agentsup.supervisor.processes import start_stop
from agentsup.supervisor.reconcile.tick import HEAVY
from agentsup.supervisor.watch.watchdog import Watchdog

TOML = """
[defaults]
log_dir = "logs"
session_prefix = "{prefix}"
backend = "sim"
watch = "heal+stall"
[tmux]
socket = "{socket}"
[watchdog]
poll_interval = 1
signal_interval = 30
heavy_interval = 300
start_grace = 2
[backend.sim]
stall_idle = 3600
"""


@contextlib.contextmanager
def fleet(n: int, *, busy: int = 0, prefix: str = "bench-") -> Iterator[Path]:
    """N idle sim agents (the first `busy` of them working) on a private tmux server."""
    root = Path(tempfile.mkdtemp(prefix="asb-"))
    socket = str(root / "tmux.sock")
    body = TOML.format(prefix=prefix, socket=socket)
    for i in range(n):
        args = '["--work", "3600"]' if i < busy else "[]"
        body += f'\n[[agent]]\nname = "a{i:03d}"\nargs = {args}\n'
    (root / "agents.toml").write_text(body)
    try:
        cfg = load_config(root / "agents.toml")
        rt = start_stop.make_runtime(cfg)
        start_stop.up(rt, [], with_watchdog=False)
        deadline = time.monotonic() + 60 + n
        while time.monotonic() < deadline:
            panes = rt.tmux.snapshot()
            ready = [p for p in panes.values() if "agentsup sim" in rt.tmux.capture(p.pane_id)]
            if len(ready) == n:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"only {len(ready)} of {n} agents came up")
        yield root
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def measure_ticks(root: Path, ticks: int) -> dict[str, Any]:
    dog = Watchdog(root / "agents.toml")
    dog.tick(HEAVY)  # warm-up: the first tick captures every screen once
    time.sleep(1.1)  # let window_activity settle behind the capture time
    dog.tick(HEAVY)
    walls, cpus, calls, caps = [], [], [], []
    for _ in range(ticks):
        stats = dog.tick(HEAVY)
        walls.append(stats.wall_ms)
        cpus.append(stats.cpu_ms)
        calls.append(stats.tmux_calls)
        caps.append(stats.captures)
        time.sleep(0.2)
    restarts = sum(1 for e in stats.decisions if e["event"] in ("start", "restart"))
    return {
        "wall_ms_median": statistics.median(walls), "wall_ms_p95": sorted(walls)[int(0.95 * (len(walls) - 1))],
        "cpu_ms_median": statistics.median(cpus), "tmux_calls_max": max(calls), "captures_max": max(caps),
        "restarts": restarts,
    }


def measure_seed(root: Path, seed: Path, n: int, ticks: int) -> dict[str, Any]:
    """The seed's per-agent heal + stall work, against the same kind of sessions on its own server."""
    tmpdir = Path(tempfile.mkdtemp(prefix="asb-seed-"))
    os.environ["TMUX_TMPDIR"] = str(tmpdir)  # the seed talks to "the default server": make it ours
    try:
        spec = importlib.util.spec_from_file_location("seed_agents", seed)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sim = [sys.executable, "-m", "agentsup.sim"]
        for i in range(n):
            subprocess.run(["tmux", "new-session", "-d", "-s", f"cc-ci-a{i:03d}", "-x", "200", "-y", "50", *sim],
                           check=True)
        time.sleep(3 + n / 20)
        backend = {"bin": "claude", "active_re": "esc to interrupt", "limit_re": "hit your session limit",
                   "fatal_re": "FATAL: ", "stall_idle": 3600}
        cfg = {"watchdog": {}, "backends": {"sim": backend}, "log_dir": str(tmpdir), "state_dir": str(tmpdir),
               "agents": {}}
        agents = [{"name": f"a{i:03d}", "session": f"cc-ci-a{i:03d}", "backend": "sim", "kind": "persistent",
                   "watch": "heal+stall"} for i in range(n)]
        spawned = 0
        real_run = subprocess.run

        def counting_run(*args: Any, **kwargs: Any) -> Any:
            nonlocal spawned
            spawned += 1
            return real_run(*args, **kwargs)

        mod.subprocess.run = counting_run
        setattr(mod, "log", lambda msg: None)  # noqa: B010 - silence the seed's own logging
        walls, procs = [], []
        for _ in range(ticks):
            spawned = 0
            t0 = time.perf_counter()
            for a in agents:
                mod.stall_check_one(cfg, a)
                mod.heal_one(cfg, a)
            walls.append((time.perf_counter() - t0) * 1000)
            procs.append(spawned)
        return {"wall_ms_median": statistics.median(walls), "tmux_processes": max(procs)}
    finally:
        subprocess.run(["tmux", "kill-server"], capture_output=True)
        os.environ.pop("TMUX_TMPDIR", None)
        shutil.rmtree(tmpdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, nargs="*", default=[1, 10, 50, 100])
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--busy", type=float, default=0.0, help="fraction of agents that keep working")
    parser.add_argument("--seed", type=Path, help="the seed script, to time its heavy tick too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for n in args.agents:
        busy = int(n * args.busy)
        with fleet(n, busy=busy) as root:
            row: dict[str, Any] = {"agents": n, "busy": busy, **measure_ticks(root, args.ticks)}
        if args.seed:
            row["seed"] = measure_seed(root, args.seed, n, max(3, args.ticks // 5))
        results.append(row)
        if args.json:
            continue
        line = (f"N={n:<4} heavy tick: wall {row['wall_ms_median']:6.1f} ms (p95 {row['wall_ms_p95']:6.1f}), "
                f"cpu {row['cpu_ms_median']:6.1f} ms, tmux processes {row['tmux_calls_max']}, "
                f"captures {row['captures_max']}, busy {busy}")
        if "seed" in row:
            line += f" | seed: {row['seed']['wall_ms_median']:.0f} ms, {row['seed']['tmux_processes']} processes"
        print(line, flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
