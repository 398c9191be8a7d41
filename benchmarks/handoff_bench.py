"""Local handoff latency: a builder's `claim(...)` pushed to a bare origin on this machine, to the
moment the adversary (a sim agent) has the ping, with the watchdog's default timers. One line.

    uv run python benchmarks/handoff_bench.py --pushes 10

Everything lives in a temp dir: a bare origin, the clone the watchdog fetches in, a clone that
pushes, the loop agents on a private tmux server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
[defaults]
log_dir = "logs"
session_prefix = "hb-"
backend = "sim"
watch = "heal"

[tmux]
socket = "{socket}"

[loop]
phases = [{{ id = "p1", plan = "plan.md", status = "STATUS.md" }}]

[loop.handoff]
repo = "work"

[[agent]]
name = "builder"
kind = "loop"
role = "builder"
args = ["--record", "builder.jsonl"]

[[agent]]
name = "adversary"
kind = "loop"
role = "adversary"
args = ["--record", "adversary.jsonl"]
"""
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def messages(path: Path) -> list[str]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["text"] for r in rows if r["kind"] == "message"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ahb-"))
    socket = str(root / "tmux.sock")
    dog = None
    try:
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(root / "origin.git")], check=True)
        for clone in ("pusher", "work"):
            subprocess.run(["git", "clone", "-q", str(root / "origin.git"), str(root / clone)], check=True,
                           capture_output=True)
        git(root / "pusher", "commit", "-q", "--allow-empty", "-m", "initial")
        git(root / "pusher", "push", "-q", "origin", "HEAD:main")
        (root / "prompts").mkdir()
        (root / "prompts" / "builder.md").write_text("build\n")
        (root / "prompts" / "adversary.md").write_text("review\n")
        (root / "plan.md").write_text("plan\n")
        (root / "agents.toml").write_text(CONFIG.format(socket=socket))
        dog = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(root / "agents.toml"), "watchdog",
                                "--quiet"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        record = root / "adversary.jsonl"
        deadline = time.monotonic() + 60
        while not (root / "logs" / "state" / "handoff.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # the agents are idle and the watcher is up
        took = []
        for n in range(args.pushes):
            before = len(messages(record))
            git(root / "pusher", "commit", "-q", "--allow-empty", "-m", f"claim(gate-{n}): ready for review")
            git(root / "pusher", "push", "-q", "origin", "HEAD:main")
            pushed = time.monotonic()
            while len(messages(record)) == before:
                if time.monotonic() - pushed > 60:
                    raise RuntimeError("the adversary was not pinged within 60 s")
                time.sleep(0.01)
            took.append(time.monotonic() - pushed)
            time.sleep(2 + random.random())
        print(f"local handoff, push -> adversary has the ping, default timers (signal_interval 30 s), "
              f"{args.pushes} pushes: median {statistics.median(took):.2f} s, max {max(took):.2f} s (target <= 2 s)")
    finally:
        if dog is not None:
            dog.send_signal(signal.SIGTERM)
            dog.wait(timeout=15)
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
