"""Whole-process timings of the commands people type, paired with the seed script where it has the
same command. One line per figure.

    uv run python benchmarks/cli_bench.py --seed ../shared/seeds/002_agents_py_reindented.py
    uv run python benchmarks/cli_bench.py --agents 50 --runs 7

N sim agents run on a private tmux server reached through a scratch TMUX_TMPDIR (the seed only
talks to "the default server", so both programs see the same sessions from one agents.toml that
both can read). `status` runs alternate with the seed's (A B A B ...) and the ratio is taken pair
by pair, so a machine that drifts during the run does not bias it. Medians of `--runs` runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

AGENTSUP = [str(Path(sys.executable).with_name("agentsup"))]

TOML = """\
[defaults]
log_dir = "logs"
session_prefix = "cb-"
backend = "sim"

[tmux]
socket = "default"

[backend.sim]
bin = "{python} -m agentsup.sim"
"""


@contextmanager
def fleet(n: int) -> Iterator[tuple[Path, dict[str, str]]]:
    root = Path(tempfile.mkdtemp(prefix="acb-"))
    # Python caches compiled modules unless told not to: time commands as installed, warm.
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
           "TMUX_TMPDIR": str(root / "tmux")}
    (root / "tmux").mkdir()
    body = TOML.format(python=sys.executable) + "".join(f'\n[[agent]]\nname = "a{i:03d}"\n' for i in range(n))
    (root / "agents.toml").write_text(body)
    try:
        subprocess.run([*AGENTSUP, "-c", str(root / "agents.toml"), "up", "--no-watchdog"], env=env, check=True,
                       capture_output=True, timeout=120 + n)
        deadline = time.monotonic() + 60 + n
        while time.monotonic() < deadline:
            out = subprocess.run(["tmux", "list-panes", "-a", "-F", "#{pane_current_command}"], env=env,
                                 capture_output=True, text=True).stdout.split()
            if len(out) == n and all(c in ("python", "python3", "agentsup-sim") for c in out):
                break
            time.sleep(0.5)
        yield root, env
    finally:
        subprocess.run(["tmux", "kill-server"], env=env, capture_output=True, timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return took * 1000


def alone(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    timed(argv, env, cwd)  # warm-up: the page cache, the .pyc files
    return statistics.median(timed(argv, env, cwd) for _ in range(runs))


def paired(a: list[str], b: list[str], env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float, float]:
    timed(a, env, cwd)
    timed(b, env, cwd)
    times_a, times_b, ratios = [], [], []
    for _ in range(runs):
        ta, tb = timed(a, env, cwd), timed(b, env, cwd)
        times_a.append(ta)
        times_b.append(tb)
        ratios.append(ta / tb)
    return statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=Path, help="the seed script, to pair `status` with its own")
    args = parser.parse_args()
    with fleet(args.agents) as (root, env):
        config = ["-c", str(root / "agents.toml")]
        typer_only = [sys.executable, "-c", "import typer"]
        help_ms, typer_ms, _ = paired([*AGENTSUP, "--help"], typer_only, env, root, args.runs)
        print(f"agentsup --help: median {help_ms:.0f} ms; `python -c 'import typer'` {typer_ms:.0f} ms; "
              f"{help_ms - typer_ms:+.0f} ms (target <= +60 ms)")
        check_ms = alone([*AGENTSUP, *config, "check"], env, root, args.runs)
        print(f"agentsup check ({args.agents} agents): median {check_ms:.0f} ms (target <= 150 ms)")
        status = [*AGENTSUP, *config, "status"]
        if args.seed is None:
            status_ms = alone(status, env, root, args.runs)
            print(f"agentsup status ({args.agents} running agents): median {status_ms:.0f} ms (target <= 150 ms)")
        else:
            seed = [sys.executable, str(args.seed.resolve()), "--config", str(root / "agents.toml"), "status"]
            ours, theirs, ratio = paired(status, seed, env, root, args.runs)
            print(f"status ({args.agents} running agents): agentsup median {ours:.0f} ms, seed {theirs:.0f} ms, "
                  f"ratio {ratio:.2f}x (target <= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
