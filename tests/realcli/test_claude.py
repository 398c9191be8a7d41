"""The real Claude Code, unattended, as a claude.ai subscriber against the mock API: kickoff, ping,
a usage limit held with the exact reset from its own signals, its limit menu answered, the nudge
after the reset, RUNNING again and not held again by the old banner, and a heal that resumes the
same session."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from agentsup.supervisor.processes.launch import RESUME_NOTE
from agentsup.supervisor.processes.proctree import program_pid
from agentsup.supervisor.reconcile.tick import HEAVY, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, wait_for
from .drive import entries, pane_pid, record, ticking
from .mockapi import MockAPI, Mode

TIMERS = """
[watchdog]
signal_interval = 0.5
heavy_interval = 5
poll_interval = 0.3
start_grace = 1.5
limit_reset_slack = 1
limit_probe_fallback = 2
delivery_retries = 3
reload_settle = 0
"""


def claude_config(project: Project, api: MockAPI, claude: Path, **extra: str) -> None:
    env = {"ANTHROPIC_BASE_URL": api.url, "CLAUDE_CODE_OAUTH_TOKEN": "mock-subscriber-token",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "IS_SANDBOX": "1", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
           "HTTPS_PROXY": api.url, "HTTP_PROXY": api.url, "NO_PROXY": "127.0.0.1,localhost"}
    keys = "\n".join(f"{k} = {json.dumps(v)}" for k, v in extra.items())
    project.write(TIMERS + f'[backend.claude]\nbin = "{claude}"\n\n'
                  f'[[agent]]\nname = "c"\nbackend = "claude"\nwatch = "heal"\ndir = "work"\nunattended = true\n'
                  f'prompt = "say hello"\nenv = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())} }}\n'
                  + keys + "\n")


def healed_with_its_session(project: Project, api: MockAPI, dog: Watchdog, session_id: str) -> None:
    """kill -9 of the program: healed with --resume of the same session."""
    pane = pane_pid(project, "t-c")
    pid = program_pid(pane)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    ticking(dog, lambda: any(e["event"] == "restart" and e.get("resume") for e in entries(project, "c")))
    wait_for(lambda: RESUME_NOTE in api.received(), timeout=60)
    new_pid = wait_for(lambda: program_pid(pane_pid(project, "t-c")))
    cmdline = Path(f"/proc/{new_pid}/cmdline").read_bytes().split(b"\0")
    assert b"--resume" in cmdline and session_id.encode() in cmdline
    assert (project.log_dir / "state" / "sessions" / "c.id").read_text().strip() == session_id


def test_real_claude_is_held_at_its_limit_answered_nudged_resumed_and_healed(
        project: Project, mock_api: MockAPI, real_clis: dict[str, Path]) -> None:
    api = mock_api
    claude_config(project, api, real_clis["claude"])
    user_hook = project.root / "user-stop-hook.txt"  # the user's own settings stay in force
    settings = Path(os.environ["HOME"]) / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [
        {"type": "command", "command": f"touch {user_hook}"}]}]}}))
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 3.0
    dog.tick(HEAVY)

    # kickoff, then a ping, both received by the model
    wait_for(lambda: "say hello" in api.received(), timeout=60)
    ticking(dog, lambda: record(project, "c").get("state") == "RUNNING" and "idle" in record(project, "c")["detail"])
    assert record(project, "c")["source"] == "hooks"
    assert user_hook.exists(), "the user's own Stop hook still ran"
    ping = project.cli("ping", "c", "ping from agentsup")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    wait_for(lambda: "ping from agentsup" in api.received(), timeout=30)
    session_id = (project.log_dir / "state" / "sessions" / "c.id").read_text().strip()
    assert project.cli_json("status")["agents"][0]["session_id"] == session_id

    # the usage limit: held with the exact reset from claude's status line, its menu answered
    # far enough that the pings below reach the mock before it, on a loaded machine too (at +12 s a
    # run beside a soak sent "next step" after the reset: claude got an answer, never a limit)
    reset = int(time.time()) + 30
    api.reset_epoch = reset
    assert project.cli("ping", "c", "refresh your status line").returncode == 0  # answers carry the window
    wait_for(lambda: "refresh your status line" in api.received(), timeout=30)
    ticking(dog, lambda: "idle" in record(project, "c")["detail"])
    api.mode = Mode.LIMITED
    assert project.cli("ping", "c", "next step").returncode == 0
    ticking(dog, lambda: record(project, "c")["state"] == "LIMITED")
    held = next(e for e in entries(project, "c") if e["event"] == "limit-hold")
    assert held["source"] == "hooks"
    held_until = datetime.fromisoformat(record(project, "c")["reset_at"]).timestamp()
    assert held_until == reset, "the exact reset epoch (the banner itself says only the minute)"
    ticking(dog, lambda: any(e["event"] == "limit-menu-answered" for e in entries(project, "c")))
    ticking(dog, lambda: "Stop and wait for limit to reset" not in project.screen("t-c"), timeout=20)

    # after the reset: nudged, received, RUNNING again, and the old banner holds it no more
    ticking(dog, lambda: any("watchdog probe" in t for t in api.received()), timeout=90)
    ticking(dog, lambda: record(project, "c")["state"] == "RUNNING", timeout=30)
    assert "You've hit your session limit" in project.screen("t-c"), "the banner is still on screen"
    for _ in range(10):
        dog.tick(SIGNAL)
        time.sleep(0.3)
    assert record(project, "c")["state"] == "RUNNING", "a banner the agent resumed from is history"
    assert [e["event"] for e in entries(project, "c")].count("limit-hold") == 1

    time.sleep(2)  # past start_grace: it ran, so a heal resumes
    healed_with_its_session(project, api, dog, session_id)


def test_real_claude_s_server_error_is_retried_never_held_as_a_limit(
        project: Project, mock_api: MockAPI, real_clis: dict[str, Path]) -> None:
    """claude's 500 (and 529) at the end of its own retries, shortened with CLAUDE_CODE_MAX_RETRIES:
    agentsup retries once after its backoff; the agent is never LIMITED."""
    api = mock_api
    claude_config(project, api, real_clis["claude"])
    project.config_path.write_text(project.config_path.read_text().replace(
        'IS_SANDBOX = "1"', 'IS_SANDBOX = "1", CLAUDE_CODE_MAX_RETRIES = "1"').replace(
        "[watchdog]\n", "[watchdog]\nbackoff_initial = 2\n"))
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 3.0
    dog.tick(HEAVY)
    wait_for(lambda: "say hello" in api.received(), timeout=60)
    ticking(dog, lambda: record(project, "c").get("state") == "RUNNING" and "idle" in record(project, "c")["detail"])
    api.mode = Mode.SERVER_ERROR
    assert project.cli("ping", "c", "next step").returncode == 0
    ticking(dog, lambda: any(e["event"] == "transient-error" for e in entries(project, "c")), timeout=60)
    assert record(project, "c")["state"] == "RUNNING"
    api.mode = Mode.NORMAL
    ticking(dog, lambda: any("temporary server error" in t for t in api.received()), timeout=30)
    for _ in range(15):
        dog.tick(SIGNAL)
        time.sleep(0.3)
    hooks = (project.log_dir / "state" / "signals" / "c.hooks.jsonl").read_text().splitlines()
    typed = [json.loads(h).get("prompt", "") for h in hooks if '"UserPromptSubmit"' in h]
    assert sum("temporary server error" in t for t in typed) == 1, "retried once: it got through"
    kinds = [e["event"] for e in entries(project, "c")]
    assert "limit-hold" not in kinds and kinds.count("transient-retry") == 1
    assert record(project, "c")["state"] == "RUNNING"


@pytest.mark.parametrize("auto_continue", [True, False], ids=["auto-continue", "auto-continue-off"])
def test_real_claude_2_1_332_is_held_untouched_and_running_again_within_15s_of_an_exact_reset(
        project: Project, mock_api: MockAPI, real_clis: dict[str, Path], auto_continue: bool) -> None:
    """Claude Code 2.1.332 continues by itself at a reset (no menu at a five-hour limit): agentsup
    holds it with the exact reset, types nothing while it is held, and after the reset either sees
    it resume or nudges it once; it is RUNNING again within 15 s of the reset. With its
    auto-continue turned off, agentsup's single nudge resumes it."""
    api = mock_api
    if not auto_continue:
        settings = Path(os.environ["HOME"]) / ".claude" / "settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps({"autoContinueAtUsageLimit": False}))
    claude_config(project, api, real_clis["claude-newest"])
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 3.0
    dog.tick(HEAVY)
    wait_for(lambda: "say hello" in api.received(), timeout=90)
    ticking(dog, lambda: record(project, "c").get("state") == "RUNNING" and "idle" in record(project, "c")["detail"])
    assert project.cli("ping", "c", "ping from agentsup").returncode == 0
    wait_for(lambda: "ping from agentsup" in api.received(), timeout=30)

    reset = int(time.time()) + 25
    api.reset_epoch = reset
    assert project.cli("ping", "c", "refresh your status line").returncode == 0
    wait_for(lambda: "refresh your status line" in api.received(), timeout=30)
    ticking(dog, lambda: "idle" in record(project, "c")["detail"])
    api.mode = Mode.LIMITED
    assert project.cli("ping", "c", "next step").returncode == 0
    ticking(dog, lambda: record(project, "c")["state"] == "LIMITED")
    assert datetime.fromisoformat(record(project, "c")["reset_at"]).timestamp() == reset, "the exact reset epoch"
    # (its failure hook may come a moment before its "continue automatically" line is drawn)
    said = "continues by itself at" if auto_continue else "agentsup resumes at"
    ticking(dog, lambda: said in project.cli_json("status")["agents"][0]["detail"], timeout=10)
    typed_before = len(api.received())
    ticking(dog, lambda: time.time() >= reset, timeout=40)
    assert len(api.received()) == typed_before, "nothing typed into it while the limit held it"

    def dump() -> bool:
        if os.environ.get("AGENTSUP_DEBUG_SCREENS"):
            tail = [line for line in project.screen("t-c").splitlines() if line.strip()][-6:]
            now = record(project, "c")
            print(f"\n--- {time.time() - reset:+.1f}s {now['state']} {now['detail']}")
            print("\n".join(tail))
        return bool(record(project, "c")["state"] == "RUNNING")

    ticking(dog, dump, timeout=60)
    # the promise is the product's: its own journal says when it saw the agent working again (the
    # test's clock, late on a loaded machine, is not the measure)
    back = datetime.fromisoformat(next(e for e in entries(project, "c") if e["event"] == "limit-lifted")["ts"])
    assert back.timestamp() - reset <= 15, f"RUNNING {back.timestamp() - reset:.1f}s after the reset"
    for _ in range(20):
        dog.tick(SIGNAL)
        time.sleep(0.3)
    assert record(project, "c")["state"] == "RUNNING"
    probes = [t for t in api.received() if "watchdog probe" in t]
    assert len(probes) <= 1, f"nudged {len(probes)} times"
    resumed = any(e["event"] == "limit-lifted" for e in entries(project, "c"))
    assert resumed and [e["event"] for e in entries(project, "c")].count("limit-hold") == 1
    lifted = next(e for e in entries(project, "c") if e["event"] == "limit-lifted")
    # Either claude continued by itself (nothing typed) or, past the grace, one nudge resumed it.
    assert (lifted["resumed"], len(probes)) in (("by itself", 0), ("after agentsup's nudge", 1)), lifted
    if not auto_continue:
        assert (lifted["resumed"], len(probes)) == ("after agentsup's nudge", 1)
        return
    nudged = [e for e in entries(project, "c") if e["event"] == "limit-nudge"]  # its own continuation had its grace
    assert all(datetime.fromisoformat(e["ts"]).timestamp() >= reset + 8 for e in nudged), "nudged in the grace"

    healed_with_its_session(project, api, dog,
                            (project.log_dir / "state" / "sessions" / "c.id").read_text().strip())
