"""The web view's cost and speed, whole processes: `agentsup up` over N sim agents, a real
`agentsup web`, and Debian's chromium (Playwright) as the viewers.

Prints: change-to-screen latency (text typed into a pane by tmux until the page's DOM shows it,
median and max) with 1 and 5 viewers; the tmux calls per second the view makes with 0, 1 and 5
viewers; the web server's CPU while no viewer is connected. `--screenshot PATH` saves the page.

    uv run python benchmarks/web_bench.py [--agents 20] [--changes 20] [--screenshot docs/web.png]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
# Armed before the change: the page notes the moment its DOM first shows the marker.
ARM = """(marker) => {
  const screen = document.getElementById('screen');
  window.__seenAt = 0;
  const observer = new MutationObserver(() => {
    if (screen.textContent.includes(marker)) { window.__seenAt = Date.now(); observer.disconnect(); }
  });
  observer.observe(screen, {childList: true, subtree: true, characterData: true});
}"""


def agentsup(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentsup", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=True)


def stats(base: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(base + "/api/stats", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # loopback only
        data: dict[str, Any] = json.load(answer)
        return data


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def calls_per_second(base: str, token: str, seconds: float) -> float:
    before = stats(base, token)["tmux_calls"]
    time.sleep(seconds)
    return float(stats(base, token)["tmux_calls"] - before) / seconds


def latencies(pages: list[Any], socket: str, changes: int) -> list[float]:
    """Type a fresh marker into each viewer's pane at once; how long until each page shows its own."""
    found: list[float] = []
    for k in range(changes):
        marker = f"mark{k}x{time.monotonic_ns() % 10**6}"
        for i, page in enumerate(pages):
            page.evaluate(ARM, f"{marker}-{i}")
        sent = time.time()
        for i in range(len(pages)):
            subprocess.run(["tmux", "-S", socket, "send-keys", "-t", f"=b-agent{i}:", "-l", f"{marker}-{i}"],
                           check=True, timeout=10)
        for page in pages:
            deadline = time.monotonic() + 10
            while not (seen := page.evaluate("() => window.__seenAt")) and time.monotonic() < deadline:
                time.sleep(0.05)
            found.append(float(seen) / 1000 - sent if seen else 10.0)
        time.sleep(0.3)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of each cost window")
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="as-webb-"))
    env = {**os.environ, "HOME": str(root), "SHELL": "/bin/sh"}
    env.pop("TMUX", None)
    socket = str(root / "tmux.sock")
    agents = "".join(f'[[agent]]\nname = "agent{i}"\nbackend = "sim"\nwatch = "heal"\n\n'
                     for i in range(args.agents - 2))
    # the last two show a usage limit and a question, as a fleet does (each its own account)
    agents += ('[[agent]]\nname = "limited"\nbackend = "sim"\nwatch = "heal"\naccount = "other"\n'
               'args = ["--limit", "claude", "--reset", "in 2 hours"]\n\n'
               '[[agent]]\nname = "asking"\nbackend = "sim"\nwatch = "heal"\naccount = "third"\n'
               'args = ["--question"]\n\n')
    (root / "agents.toml").write_text(f'[tmux]\nsocket = "{socket}"\n\n[defaults]\nlog_dir = "logs"\n'
                                      f'session_prefix = "b-"\n\n{agents}')
    web = None
    try:
        agentsup("up", env=env, cwd=root)
        web = subprocess.Popen([sys.executable, "-m", "agentsup", "web", "--port", "0"], env=env, cwd=root,
                               stdout=subprocess.PIPE, text=True)
        assert web.stdout is not None
        login = web.stdout.readline().strip()
        base, token = login.split("/login")[0], login.split("token=")[1]
        time.sleep(2)
        cpu0, t0 = cpu_seconds(web.pid), time.monotonic()
        idle_calls = calls_per_second(base, token, args.idle)
        idle_cpu = (cpu_seconds(web.pid) - cpu0) / (time.monotonic() - t0)
        print(f"no viewer: {idle_calls:.1f} tmux calls/s, server CPU {idle_cpu * 100:.2f} % of a core "
              f"over {args.idle:.0f} s")
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            pages: list[Any] = []
            for viewers in (1, 5):
                while len(pages) < viewers:
                    page = context.new_page()
                    page.goto(login if not pages else base + "/")
                    page.locator(f'tr[data-agent="agent{len(pages)}"]').click()
                    page.locator("#screen").get_by_text("agentsup sim").first.wait_for()
                    pages.append(page)
                time.sleep(1)
                calls = calls_per_second(base, token, args.idle)
                found = latencies(pages, socket, args.changes)
                print(f"{args.agents} agents, {viewers} viewer(s): change-to-screen median "
                      f"{statistics.median(found) * 1000:.0f} ms, max {max(found) * 1000:.0f} ms "
                      f"({len(found)} changes); {calls:.1f} tmux calls/s while watching")
            if args.screenshot:
                shot = context.new_page()
                shot.goto(base + "/")
                shot.locator('tr[data-agent="limited"] .countdown').wait_for()
                shot.locator('tr[data-agent="limited"]').click()
                shot.locator("#screen").get_by_text("hit your session limit").first.wait_for()
                time.sleep(1)
                shot.screenshot(path=str(args.screenshot), full_page=True)
            browser.close()
    finally:
        if web is not None:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=20)
        subprocess.run([sys.executable, "-m", "agentsup", "down"], env=env, cwd=root, capture_output=True, timeout=60)
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
