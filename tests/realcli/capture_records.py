"""Capture the usage records the real CLIs write (claude's transcript and status-line input, codex's
session file) against the mock API, for the `agentsup usage` tests.

    sudo python -m tests.realcli.capture_records tests/realcli/samples    # root: a loopback-only netns

Each CLI gets three prompts; the mock answers every one with the same token counts (TOKENS), so
the totals a test computes from the records can be checked by hand against them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .capture import HEIGHT, WIDTH, Scenario, prepare_home
from .clis import CLAUDE, CODEX, Cli
from .mockapi import MockAPI
from .netns import enter_loopback_only

TOKENS = {"input": 1200, "output": 450, "cache_read": 30000, "cache_write": 2000, "reasoning": 0}
PROMPTS = ["first task", "second task", "third task"]
STATUS_LINE = 'cat > "$HOME/statusline.json"'  # the status-line command: keep its last input


def run(cli: Cli, args: list[str], api: MockAPI, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="rec-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        home, work, sock = root / "home", root / "work", str(root / "sock")
        home.mkdir()
        work.mkdir()
        env = {"HOME": str(home), **prepare_home(Scenario("records", cli, args, [], {}), home, work, api)}
        if cli is CLAUDE:
            (home / ".claude").mkdir(exist_ok=True)
            (home / ".claude" / "settings.json").write_text(json.dumps(
                {"statusLine": {"type": "command", "command": STATUS_LINE}}))
        tmux = ["tmux", "-S", sock]
        flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        subprocess.run([*tmux, "new-session", "-d", "-s", "c", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(work),
                        *flags, str(cli.bin), *args], check=True)
        time.sleep(8)
        for prompt in PROMPTS:
            subprocess.run([*tmux, "send-keys", "-t", "=c:", "-l", prompt], check=True)
            time.sleep(0.5)
            subprocess.run([*tmux, "send-keys", "-t", "=c:", "Enter"], check=True)
            time.sleep(6)
        subprocess.run([*tmux, "kill-server"], check=False)
        time.sleep(1)
        version = cli.installed_version()
        if cli is CLAUDE:
            transcript = next((home / ".claude" / "projects").glob("*/*.jsonl"))
            shutil.copy(transcript, out / f"claude-{version}-transcript.jsonl")
            status = home / "statusline.json"
            if status.exists():
                shutil.copy(status, out / f"claude-{version}-statusline-usage.json")
        else:
            rollout = next((home / ".codex" / "sessions").glob("*/*/*/rollout-*.jsonl"))
            shutil.copy(rollout, out / f"codex-{version}-session.jsonl")
        print(f"captured {cli.command} {version} records into {out}")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).parent / "samples"
    for cli in (CLAUDE, CODEX):
        cli.install()
    enter_loopback_only()
    api = MockAPI().start()
    api.tokens = dict(TOKENS)
    run(CLAUDE, ["--dangerously-skip-permissions"], api, out)
    run(CODEX, ["--dangerously-bypass-approvals-and-sandbox"], api, out)
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
