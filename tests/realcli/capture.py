"""Capture screens of the real CLIs against the mock API, for `detect` tests.

    sudo python -m tests.realcli.capture tests/realcli/screens    # root: runs in a loopback-only netns
    sudo python -m tests.realcli.capture tests/realcli/screens --new codex@0.172.0

`--new CLI@VERSION` captures every scenario of that CLI again on the new version (into
`<cli>-<version>/`) and says, for each, whether the screen changed since the newest earlier
capture (with the lines that differ) and whether `detect` still reads it as it truly is: what a
person checks before adding the version to src/agentsup/agents/verified.py.

Each scenario starts the pinned CLI in a private tmux server (120x40), drives it (keys typed, the
mock switched between answers), and saves the visible screen with what it shows (`truth`), the CLI
version, the pane size and the capture time into `index.json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentsup.supervisor.processes.proctree import tagged

from .clis import CLAUDE, CLAUDE_NEWEST, CODEX, CODEX_NEWEST, GEMINI, OPENCODE, Cli
from .mockapi import MockAPI, Mode
from .netns import enter_loopback_only

WIDTH, HEIGHT = 120, 40
Step = float | list[str] | Callable[[MockAPI], None]


@dataclass
class Scenario:
    name: str
    cli: Cli
    args: list[str]
    steps: list[Step]
    truth: dict[str, Any]
    home: str = "ready"  # ready | untrusted | no-bypass | fresh
    env: dict[str, str] = field(default_factory=dict)
    history: int = 0  # scrollback lines to include (a program that printed and exited)


def mode(m: Mode, **attrs: Any) -> Callable[[MockAPI], None]:
    def apply(api: MockAPI) -> None:
        api.mode = m
        for key, value in attrs.items():
            setattr(api, key, value(api) if callable(value) else value)
    return apply


def hour_from_now(_api: MockAPI) -> int:
    return int(time.time()) + 3600


def typed(text: str) -> list[Step]:
    return [["-l", text], 0.3, ["Enter"]]


SUBSCRIBER = {"CLAUDE_CODE_OAUTH_TOKEN": "mock-subscriber-token", "IS_SANDBOX": "1"}
API_KEY = "sk-ant-api03-mockmockmockmockmockmockmockmock-AAAA"
SKIP = ["--dangerously-skip-permissions"]
YOLO = ["--dangerously-bypass-approvals-and-sandbox"]
LIMITED = mode(Mode.LIMITED, reset_epoch=hour_from_now, claim="five_hour")
NORMAL = mode(Mode.NORMAL)
PROBE = "watchdog probe: if your usage limit has reset, resume now"  # agentsup's nudge

SCENARIOS = [
    Scenario("idle", CLAUDE, [*SKIP, "say hello"], [6], {"active": False}),
    Scenario("working", CLAUDE, [*SKIP, "say hello"], [5, mode(Mode.SLOW, slow_seconds=20), *typed("long task"), 4,
                                                       NORMAL], {"active": True}),
    Scenario("limit-menu", CLAUDE, [*SKIP, "say hello"], [6, LIMITED, *typed("next step"), 6, NORMAL],
             {"limited": True, "reset": "+1h", "menu": True}),
    Scenario("limit-menu-answered", CLAUDE, [*SKIP, "say hello"],
             [6, LIMITED, *typed("next step"), 6, ["Enter"], 2, NORMAL], {"limited": True, "reset": "+1h"}),
    Scenario("limit-resumed", CLAUDE, [*SKIP, "say hello"],
             [6, LIMITED, *typed("next step"), 6, ["Enter"], 2, NORMAL, *typed("resume now"), 6],
             {"limited": True, "reset": "+1h", "note": "history: a screen alone cannot tell; the edge decides"}),
    Scenario("weekly-limit", CLAUDE, [*SKIP, "say hello"],
             [6, mode(Mode.LIMITED, claim="seven_day", reset_epoch=lambda a: int(time.time()) + 3 * 86400),
              *typed("next step"), 6, NORMAL], {"limited": True, "reset": "+3d", "menu": True}),
    Scenario("api-key-429", CLAUDE, SKIP, [5, LIMITED, *typed("go on"), 6, NORMAL],
             {"limited": True, "reset": None}, home="api-key", env={"ANTHROPIC_API_KEY": API_KEY, "IS_SANDBOX": "1"}),
    Scenario("permission-prompt", CLAUDE, [], [5, mode(Mode.TOOL_USE), *typed("create the marker"), 6, NORMAL],
             {"waiting_input": True}),
    Scenario("trust-dialog", CLAUDE, SKIP, [6], {"waiting_input": True}, home="untrusted"),
    Scenario("bypass-warning", CLAUDE, SKIP, [6], {"waiting_input": True}, home="no-bypass"),
    Scenario("api-key-question", CLAUDE, [], [6], {"waiting_input": True}, home="fresh-key",
             env={"ANTHROPIC_API_KEY": API_KEY, "IS_SANDBOX": "1"}),
    Scenario("root-refusal", CLAUDE, SKIP, [4], {"fatal": True}, env={"CLAUDE_CODE_OAUTH_TOKEN": "mock"},
             history=40),
    Scenario("draft", CLAUDE, [*SKIP, "say hello"], [6, ["-l", "half typed thought"], 1],
             {"active": False, "draft": "half typed thought"}),
    # The end of claude's own retries (CLAUDE_CODE_MAX_RETRIES shortens them): transient, never a limit.
    Scenario("server-error-500", CLAUDE, [*SKIP, "say hello"],
             [6, mode(Mode.SERVER_ERROR), *typed("next step"), 20, NORMAL], {"transient": True},
             env={**SUBSCRIBER, "CLAUDE_CODE_MAX_RETRIES": "1"}),
    Scenario("overloaded-529", CLAUDE, [*SKIP, "say hello"],
             [6, mode(Mode.OVERLOADED), *typed("next step"), 20, NORMAL], {"transient": True},
             env={**SUBSCRIBER, "CLAUDE_CODE_MAX_RETRIES": "1"}),
    # The latest turn decides: a 429 on one turn, then a server error on the next, is a transient
    # error to retry (the 429 above the later prompt is history); a nudge that meets the limit again
    # is limited again.
    Scenario("api-key-429-then-500", CLAUDE, SKIP,
             [5, LIMITED, *typed("go on"), 8, mode(Mode.SERVER_ERROR), *typed("next step"), 25, NORMAL],
             {"transient": True}, home="api-key",
             env={"ANTHROPIC_API_KEY": API_KEY, "IS_SANDBOX": "1", "CLAUDE_CODE_MAX_RETRIES": "1"}),
    Scenario("limit-nudged-limited-again", CLAUDE, [*SKIP, "say hello"],
             [6, LIMITED, *typed("next step"), 8, ["Enter"], 3, *typed(PROBE), 10],
             {"limited": True, "reset": "+1h", "menu": True}),
    # The newest Claude Code: its five-hour limit continues by itself (no menu), its footer counts down.
    # A subscriber's 429 that is no usage limit: "Server is temporarily limiting requests (not your
    # usage limit)", transient (retried), never held.
    Scenario("burst-limit", CLAUDE_NEWEST, [*SKIP, "say hello"],
             [6, mode(Mode.THROTTLED), *typed("next step"), 25, NORMAL], {"transient": True},
             env={**SUBSCRIBER, "CLAUDE_CODE_MAX_RETRIES": "1"}),
    Scenario("api-key-429-then-529", CLAUDE_NEWEST, SKIP,
             [5, LIMITED, *typed("go on"), 8, mode(Mode.OVERLOADED), *typed("next step"), 25, NORMAL],
             {"transient": True}, home="api-key",
             env={"ANTHROPIC_API_KEY": API_KEY, "IS_SANDBOX": "1", "CLAUDE_CODE_MAX_RETRIES": "1"}),
    Scenario("idle", CLAUDE_NEWEST, [*SKIP, "say hello"], [6], {"active": False}),
    # Without --dangerously-skip-permissions 2.1.332 starts in auto mode, with a notice: not a question.
    Scenario("auto-mode-idle", CLAUDE_NEWEST, ["say hello"], [8], {"active": False}),
    Scenario("five-hour-limit", CLAUDE_NEWEST, [*SKIP, "say hello"], [6, LIMITED, *typed("next step"), 8],
             {"limited": True, "reset": "+1h", "auto_continue": True}),
    Scenario("overloaded-529", CLAUDE_NEWEST, [*SKIP, "say hello"],
             [6, mode(Mode.OVERLOADED), *typed("next step"), 20, NORMAL], {"transient": True},
             env={**SUBSCRIBER, "CLAUDE_CODE_MAX_RETRIES": "1"}),
    Scenario("idle", CODEX, [*YOLO, "say hello"], [8], {"active": False}),
    Scenario("draft", CODEX, [*YOLO, "say hello"], [8, ["-l", "half typed thought"], 1],
             {"active": False, "draft": "half typed thought"}),
    Scenario("working", CODEX, [*YOLO, "say hello"], [8, mode(Mode.SLOW, slow_seconds=20), *typed("long task"), 4,
                                                      NORMAL], {"active": True}),
    Scenario("limit", CODEX, [*YOLO, "say hello"], [8, LIMITED, *typed("next step"), 8, NORMAL],
             {"limited": True, "reset": "+1h"}),
    Scenario("limit-resumed", CODEX, [*YOLO, "say hello"],
             [8, LIMITED, *typed("next step"), 6, NORMAL, *typed("resume now"), 6],
             {"limited": True, "reset": "+1h", "note": "history: a screen alone cannot tell; the edge decides"}),
    Scenario("limit-nudged-limited-again", CODEX_NEWEST, [*YOLO, "say hello"],
             [8, LIMITED, *typed("next step"), 8, *typed(PROBE), 10, NORMAL], {"limited": True, "reset": "+1h"}),
    Scenario("reconnecting", CODEX, [*YOLO, "say hello"], [8, mode(Mode.OVERLOADED), *typed("next step"), 12, NORMAL],
             {"active": True}),
    Scenario("stream-disconnected", CODEX, [*YOLO, "say hello"],
             [8, mode(Mode.DISCONNECT), *typed("next step"), 25, NORMAL], {"transient": True}),
    Scenario("bad-config", CODEX, YOLO, [4], {"fatal": True}, home="bad-config", history=30),
    Scenario("permission-question", CODEX, ["-a", "on-request", "-s", "read-only"],
             [8, mode(Mode.TOOL_USE), *typed("create the marker"), 8, NORMAL], {"waiting_input": True}),
    Scenario("idle", GEMINI, ["--yolo", "--prompt-interactive", "say hello"], [12], {"active": False}),
    Scenario("working", GEMINI, ["--yolo", "--prompt-interactive", "say hello"],
             [12, mode(Mode.SLOW, slow_seconds=20), *typed("long task"), 4, NORMAL], {"active": True}),
    Scenario("draft", GEMINI, ["--yolo", "--prompt-interactive", "say hello"],
             [12, ["-l", "half typed thought"], 1], {"active": False, "draft": "half typed thought"}),
    Scenario("idle", OPENCODE, [], [12, *typed("say hello"), 10], {"active": False}),
    Scenario("limit-retry", OPENCODE, [], [12, *typed("say hello"), 8, LIMITED, *typed("next step"), 15],
             {"limited": True}),
    Scenario("limit-then-reply", GEMINI, ["--yolo", "--prompt-interactive", "say hello"],
             [12, LIMITED, *typed("next step"), 8, ["2"], 4, NORMAL, *typed("resume now"), 10], {"limited": False}),
    Scenario("idle-no-yolo", GEMINI, ["--prompt-interactive", "say hello"], [12], {"active": False}),
    Scenario("limit", GEMINI, ["--yolo", "--prompt-interactive", "say hello"],
             [12, LIMITED, *typed("next step"), 8], {"limited": True, "menu": True}),
    Scenario("limit-stopped", GEMINI, ["--yolo", "--prompt-interactive", "say hello"],
             [12, LIMITED, *typed("next step"), 8, ["2"], 4], {"limited": True}),
    # A capacity 429 with a retryDelay: gemini waits it out by itself, busy, with nothing on screen.
    Scenario("capacity-wait", GEMINI, ["--yolo", "--prompt-interactive", "say hello"],
             [12, mode(Mode.CAPACITY, reset_epoch=hour_from_now), *typed("next step"), 8],
             {"active": True, "note": "waiting out the server's retryDelay by itself"}),
    Scenario("permission-question", GEMINI, ["--prompt-interactive", "say hello"],
             [12, mode(Mode.TOOL_USE), *typed("create the marker"), 8, NORMAL], {"waiting_input": True}),
    Scenario("working", OPENCODE, [], [12, mode(Mode.SLOW, slow_seconds=20), *typed("long task"), 4, NORMAL],
             {"active": True}),
    Scenario("permission-question", OPENCODE, [], [12, mode(Mode.TOOL_USE), *typed("create the marker"), 8, NORMAL],
             {"waiting_input": True}, home="ask"),
]


def prepare_home(s: Scenario, home: Path, work: Path, api: MockAPI) -> dict[str, str]:
    if s.cli is OPENCODE:
        conf = home / ".config" / "opencode"
        conf.mkdir(parents=True)
        (conf / "opencode.json").write_text(json.dumps({
            "autoupdate": False, "share": "disabled", "model": "anthropic/claude-sonnet-4-5",
            "provider": {"anthropic": {"options": {"baseURL": f"{api.url}/v1", "apiKey": "mock-key"}}},
            **({"permission": {"bash": "ask"}} if s.home == "ask" else {})}))
        return {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1", **s.env}
    if s.cli is GEMINI:
        (home / ".gemini").mkdir()
        (home / ".gemini" / "settings.json").write_text(json.dumps({
            "security": {"auth": {"selectedType": "gemini-api-key"}}, "privacy": {"usageStatisticsEnabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True}, "telemetry": {"enabled": False}}))
        return {"GEMINI_API_KEY": "mock-key", "GOOGLE_GEMINI_BASE_URL": api.url, "GEMINI_CLI_TRUST_WORKSPACE": "true",
                **s.env}
    if s.cli in (CLAUDE, CLAUDE_NEWEST):
        seed: dict[str, Any] = {"hasCompletedOnboarding": True, "bypassPermissionsModeAccepted": True,
                                "projects": {str(work): {"hasTrustDialogAccepted": True}}}
        if s.home == "untrusted":
            seed["projects"] = {}
        elif s.home == "no-bypass":
            seed.pop("bypassPermissionsModeAccepted")
        elif s.home == "api-key":
            seed["customApiKeyResponses"] = {"approved": [API_KEY[-20:]], "rejected": []}
        (home / ".claude.json").write_text(json.dumps(seed))
        return {"ANTHROPIC_BASE_URL": api.url, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                **({} if s.env else SUBSCRIBER), **s.env}
    codex_home = home / ".codex"
    codex_home.mkdir()
    config = 'model_provider = "nosuch"\n' if s.home == "bad-config" else (
        f'model = "gpt-5"\nmodel_provider = "mock"\n[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{api.url}/v1"\nwire_api = "responses"\nenv_key = "MOCK_API_KEY"\n'
        f'[projects."{work}"]\ntrust_level = "trusted"\n')
    (codex_home / "config.toml").write_text(config)
    return {"MOCK_API_KEY": "mock-key", "CODEX_HOME": str(codex_home), **s.env}


def capture(s: Scenario, api: MockAPI) -> tuple[str, float]:
    with tempfile.TemporaryDirectory(prefix="cap-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        home, work, sock = root / "home", root / "work", str(root / "sock")
        home.mkdir()
        work.mkdir()
        tag = f"capture:{root}"  # what the CLI starts carries it: ended by it, daemons included
        env = {"HOME": str(home), "AGENTSUP_TAG": tag, **prepare_home(s, home, work, api)}
        tmux = ["tmux", "-S", sock]
        flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        subprocess.run([*tmux, "new-session", "-d", "-s", "c", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(work),
                        *flags, str(s.cli.bin), *s.args, ";", "set", "-w", "remain-on-exit", "on"], check=True)
        api.mode = Mode.NORMAL
        for step in s.steps:
            if isinstance(step, float | int):
                time.sleep(step)
            elif isinstance(step, list):
                subprocess.run([*tmux, "send-keys", "-t", "=c:", *step], check=True)
            else:
                step(api)
        at = time.time()
        extra = ["-S", str(-s.history)] if s.history else []
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-J", *extra, "-t", "=c:"], capture_output=True,
                                text=True, check=True).stdout
        subprocess.run([*tmux, "kill-server"], check=False)
        for pid in tagged(tag):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)  # the CLI's last writes into its home end before the directory goes
        api.mode = Mode.NORMAL
        return "\n".join(line.rstrip() for line in screen.splitlines()).rstrip() + "\n", at


def compare(out: Path, index: list[dict[str, Any]], entry: dict[str, Any]) -> list[str]:
    """What changed for one scenario since the newest earlier version's capture, and what `detect`
    reads in the new screen against the scenario's truth."""
    import difflib

    from agentsup.agents.backends import resolve_backend
    from agentsup.agents.detect import classify

    name = entry["file"].split("/", 1)[1]
    earlier = sorted((e for e in index if e["backend"] == entry["backend"] and e["file"].endswith("/" + name)
                      and e["version"] != entry["version"]), key=lambda e: [int(n) for n in e["version"].split(".")])
    new = (out / entry["file"]).read_text(encoding="utf-8").splitlines()
    lines = []
    if earlier:
        old = (out / earlier[-1]["file"]).read_text(encoding="utf-8").splitlines()
        diff = [d for d in difflib.unified_diff(old, new, earlier[-1]["file"], entry["file"], lineterm="", n=0)
                if d.startswith(("+", "-")) and not d.startswith(("+++", "---"))]
        lines.append(f"  screen: {'unchanged' if not diff else f'{len(diff)} lines differ'} from {earlier[-1]['file']}")
        lines += [f"    {d}" for d in diff[:12]]
    obs = classify("\n".join(new), resolve_backend(entry["backend"], None),
                   datetime.fromisoformat(entry["captured_at"]), UTC)
    misses = [f"{k}: expected {v!r}, read {getattr(obs, k)!r}" for k, v in entry["truth"].items()
              if k in ("active", "limited", "waiting_input", "fatal", "auto_continue") and getattr(obs, k) != v]
    if entry["truth"].get("menu") and not obs.menu_keys:
        misses.append("menu: expected its keys, read none")
    lines.append("  detect: " + ("as it truly is" if not misses else "MISSES " + "; ".join(misses)))
    return lines


def main(argv: list[str]) -> int:
    new_version = None
    if "--new" in argv:
        flag = argv.index("--new")
        new_version, argv = argv[flag + 1], argv[:flag] + argv[flag + 2:]
    out = Path(argv[0]) if argv else Path(__file__).parent / "screens"
    only = set(argv[1:])
    scenarios = SCENARIOS
    if new_version is not None:  # every scenario of that CLI, on the new version
        command, _, version = new_version.partition("@")
        base = next(s.cli for s in SCENARIOS if s.cli.command == command)
        fresh = Cli(base.package, version, command)
        scenarios = [replace(s, cli=fresh) for s in SCENARIOS if s.cli == base]
    for cli in {s.cli for s in scenarios}:
        cli.install()
    enter_loopback_only()
    api = MockAPI().start()
    index_path = out / "index.json"
    index: list[dict[str, Any]] = json.loads(index_path.read_text()) if index_path.exists() else []
    for s in scenarios:
        key = f"{s.cli.command}/{s.name}"
        if only and key not in only and f"{s.cli.command}@{s.cli.version}/{s.name}" not in only:
            continue
        screen, at = capture(s, api)
        rel = f"{s.cli.command}-{s.cli.version}/{s.name}.txt"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(screen, encoding="utf-8")
        entry = {"file": rel, "cli": s.cli.package, "version": s.cli.installed_version(), "backend": s.cli.command,
                 "width": WIDTH, "height": HEIGHT, "captured_at": datetime.fromtimestamp(at, UTC).isoformat(
                     timespec="seconds"), "truth": s.truth}
        index = [e for e in index if e["file"] != rel] + [entry]
        print(f"captured {rel}")
        if new_version is not None:
            print("\n".join(compare(out, index, entry)))
    index_path.write_text(json.dumps(sorted(index, key=lambda e: e["file"]), indent=1) + "\n", encoding="utf-8")
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
