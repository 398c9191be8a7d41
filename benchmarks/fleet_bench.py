"""`agentsup fleet status` over many hosts on loopback sshds, whole processes, medians.

    sudo uv run python benchmarks/fleet_bench.py --hosts 10 --agents 20 --runs 7

Each host is a Unix user of its own behind its own sshd on 127.0.0.1 (tests/fleet/sshhosts.py, as the
fleet tests use), with N sim agents on its own tmux server. Cold: no shared ssh connection exists
(each run starts after every master was told to exit). Warm: the connections from the run before
are reused. Wedged: one host's sshd is SIGSTOPped, so that host costs its timeout and no more.
Needs root (it creates the users) and openssh-server.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fleet.sshhosts import SshLab, agentsup_venv


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    return time.perf_counter() - start, proc.returncode


def close_masters(home: Path) -> None:
    for sock in (home / ".cache" / "agentsup" / "ssh").glob("*"):
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=5.0, help="the fleet's per-host timeout")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="as-fb-"))
    root.chmod(0o755)
    lab = SshLab(root, agentsup_venv(root))
    home = root / "client"
    home.mkdir()
    env = {**{k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "PYTHONDONTWRITEBYTECODE")},
           "HOME": str(home)}
    try:
        body = '[tmux]\nsocket = "@HOME@/tmux.sock"\n\n' + "".join(
            f'[[agent]]\nname = "a{i:02d}"\nbackend = "sim"\n\n' for i in range(args.agents))
        for h in range(args.hosts):
            host = lab.add(f"h{h:02d}", body)
            started = host.run(f"{lab.venv}/bin/agentsup", "-c", "agents.toml", "up", "--no-watchdog", timeout=300)
            assert started.returncode == 0, started.stderr
        fleet = lab.fleet_toml(timeout=args.timeout)
        argv = [f"{Path(sys.executable).with_name('agentsup')}", "fleet", "status", "--fleet", str(fleet)]
        time.sleep(3)  # the sims draw their first screens
        assert timed(argv, env)[1] == 0
        cold, warm = [], []
        for _ in range(args.runs):
            close_masters(home)
            cold.append(timed(argv, env)[0])
            warm.append(timed(argv, env)[0])
        print(f"fleet status, {args.hosts} hosts x {args.agents} agents: warm median {statistics.median(warm):.2f} s "
              f"(max {max(warm):.2f}), cold median {statistics.median(cold):.2f} s (max {max(cold):.2f}) "
              "(targets <= 1.5 s warm, <= 4 s cold)")
        wedged = lab.hosts["h00"]
        frozen = [wedged.sshd.pid, *lab.sshd_children("h00")] if wedged.sshd else []
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            took = [timed(argv, env) for _ in range(3)]
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        med = statistics.median(t for t, _ in took)
        print(f"one wedged host (timeout {args.timeout:g} s): median {med:.2f} s, exit {took[0][1]}; "
              f"over the warm median by {med - statistics.median(warm):.2f} s (target <= its timeout)")
    finally:
        close_masters(home)
        lab.close()
        subprocess.run(["rm", "-rf", str(root)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
