"""The real Gemini CLI against the mock Gemini API (an API key): kickoff and ping received, its
daily-quota menu answered ("Stop"), held as LIMITED without a reset time, probed until the quota
is back, RUNNING again in the same process; its permission question shown, never typed into."""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentsup.supervisor.reconcile.tick import HEAVY, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, wait_for
from .drive import events, holding, pane_pid, record, ticking
from .mockapi import MockAPI, Mode
from .test_claude import TIMERS


def gemini_config(project: Project, api: MockAPI, gemini: Path, *, yolo: bool = True) -> None:
    settings = Path(os.environ["HOME"]) / ".gemini" / "settings.json"  # what its user would have set
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({
        "security": {"auth": {"selectedType": "gemini-api-key"}}, "privacy": {"usageStatisticsEnabled": False},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True}, "telemetry": {"enabled": False}}))
    env = {"GEMINI_API_KEY": "mock-key", "GOOGLE_GEMINI_BASE_URL": api.url, "GEMINI_CLI_TRUST_WORKSPACE": "true",
           "HTTPS_PROXY": api.url, "HTTP_PROXY": api.url, "NO_PROXY": "127.0.0.1,localhost"}
    flags = "" if yolo else 'flags = ""\n'
    project.write(TIMERS + f'[backend.gemini]\nbin = "{gemini}"\n{flags}\n'
                  f'[[agent]]\nname = "g"\nbackend = "gemini"\nwatch = "heal"\ndir = "work"\n'
                  f'prompt = "say hello"\nenv = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())} }}\n')


def started(project: Project, api: MockAPI, gemini: Path, *, yolo: bool = True) -> Watchdog:
    gemini_config(project, api, gemini, yolo=yolo)
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 3.0
    dog.tick(HEAVY)
    wait_for(lambda: "say hello" in api.received(), timeout=60)
    ticking(dog, lambda: record(project, "g").get("state") == "RUNNING" and record(project, "g")["detail"] == "idle")
    return dog


def test_real_gemini_s_limit_menu_is_answered_held_probed_and_resumed(
        project: Project, mock_api: MockAPI, real_clis: dict[str, Path]) -> None:
    api = mock_api
    dog = started(project, api, real_clis["gemini"])
    first = pane_pid(project, "t-g")
    assert project.cli("ping", "g", "ping from agentsup").returncode == 0
    wait_for(lambda: "ping from agentsup" in api.received(), timeout=60)
    ticking(dog, lambda: project.screen("t-g").count("Done. Waiting for the next instruction.") == 2
            and record(project, "g")["detail"] == "idle")

    # the daily quota: its menu answered with "Stop", held as LIMITED with no reset time to trust
    api.mode = Mode.LIMITED
    assert project.cli("ping", "g", "next step").returncode == 0
    ticking(dog, lambda: record(project, "g")["state"] == "LIMITED")
    ticking(dog, lambda: "limit-menu-answered" in events(project, "g"))
    ticking(dog, lambda: "exhausted your daily quota" in project.screen("t-g"), timeout=45)
    assert "1. Keep trying" not in project.screen("t-g")
    assert record(project, "g")["reset_at"] is None, "no reset time on screen: probed, never guessed"
    status = project.cli_json("status")["agents"][0]
    assert status["state"] == "LIMITED", status

    # probed while the quota lasts (each probe meets the menu again, answered again), then resumed
    ticking(dog, lambda: any("watchdog probe" in t for t in api.received()), timeout=60)
    api.mode = Mode.NORMAL
    ticking(dog, lambda: record(project, "g")["state"] == "RUNNING", timeout=90)
    assert pane_pid(project, "t-g") == first, "a limited agent is never restarted"
    assert "restart" not in events(project, "g") and "limit-lifted" in events(project, "g")
    holding(dog, lambda: record(project, "g")["state"] == "RUNNING")  # the quota message it resumed from is history


def test_real_gemini_s_permission_question_is_shown_and_never_typed_into(
        project: Project, mock_api: MockAPI, real_clis: dict[str, Path]) -> None:
    api = mock_api
    dog = started(project, api, real_clis["gemini"], yolo=False)
    api.mode = Mode.TOOL_USE
    assert project.cli("ping", "g", "create the marker").returncode == 0
    ticking(dog, lambda: record(project, "g")["state"] == "WAITING", timeout=60)
    row = project.cli_json("status")["agents"][0]
    assert "Allow execution" in row["detail"] or "Allow execution" in json.dumps(row), row
    typed = len(api.received())
    ping = project.cli("ping", "g", "do not type me into the question")
    for _ in range(10):
        dog.tick(SIGNAL)
    assert "do not type me" not in project.screen("t-g") and len(api.received()) == typed, ping.stdout
    assert not (project.root / "work" / "agentsup-mock-tool-ran").exists(), "nobody answered the question"
