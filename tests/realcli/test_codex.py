"""The real Codex CLI against the mock OpenAI Responses API: idle, working (streaming without a
Working line), a transient stream error that must not restart it, a usage limit with its reset
time held and resumed, and a heal that resumes the session codex chose."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from agentsup.supervisor.processes.proctree import program_pid, tagged
from agentsup.supervisor.reconcile.tick import HEAVY, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, wait_for
from .drive import events, pane_pid, record, ticking
from .mockapi import MockAPI, Mode
from .test_claude import TIMERS


def codex_config(project: Project, api: MockAPI, codex: Path) -> Path:
    codex_home = project.root / "home" / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "gpt-5"\nmodel_provider = "mock"\ncheck_for_update_on_startup = false\n'
        f'[analytics]\nenabled = false\n[feedback]\nenabled = false\n'
        f'[features]\nplugins = false\nremote_plugin = false\napps = false\n'
        f'[tui]\nshow_tooltips = false\n'
        f'[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{api.url}/v1"\nwire_api = "responses"\nenv_key = "MOCK_API_KEY"\n')
    env = {"CODEX_HOME": str(codex_home), "MOCK_API_KEY": "mock-key", "HTTPS_PROXY": api.url,
           "HTTP_PROXY": api.url, "NO_PROXY": "127.0.0.1,localhost"}
    project.write(TIMERS + f'[backend.codex]\nbin = "{codex}"\n\n'
                  f'[[agent]]\nname = "x"\nbackend = "codex"\nwatch = "heal"\ndir = "work"\nunattended = true\n'
                  f'prompt = "say hello"\nenv = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())} }}\n')
    return codex_home


def started(project: Project, api: MockAPI, codex: Path) -> tuple[Watchdog, Path, int]:
    # codex 0.169 fetches a start-up tip from raw.githubusercontent.com whatever its config says
    # (update check, analytics, feedback, plugins and tooltips are off below); it is blocked.
    api.known_attempts = {"CONNECT raw.githubusercontent.com:443"}
    codex_home = codex_config(project, api, codex)
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 3.0
    dog.tick(HEAVY)
    assert f'[projects."{(project.root / "work").resolve()}"]' in (codex_home / "config.toml").read_text()
    wait_for(lambda: "say hello" in api.received(), timeout=60)
    ticking(dog, lambda: record(project, "x").get("state") == "RUNNING" and record(project, "x")["detail"] == "idle")
    return dog, codex_home, pane_pid(project, "t-x")


@pytest.fixture(params=["codex", "codex-newest"], ids=["oldest", "newest"])
def codex(request: pytest.FixtureRequest, real_clis: dict[str, Path]) -> Path:
    """Each codex in the verified range: the oldest supported and the newest checked."""
    return real_clis[request.param]


def test_real_codex_working_idle_and_a_transient_error_are_classified(
        project: Project, mock_api: MockAPI, codex: Path) -> None:
    api = mock_api
    dog, _, first = started(project, api, codex)

    # working: a slow stream shows text but no Working line
    api.mode, api.slow_seconds = Mode.SLOW, 6
    assert project.cli("ping", "x", "long task").returncode == 0
    ticking(dog, lambda: record(project, "x")["detail"] == "working", timeout=12)
    api.mode = Mode.NORMAL
    ticking(dog, lambda: record(project, "x")["detail"] == "idle", timeout=60)

    # a dropped stream is transient: shown, never a restart
    api.mode = Mode.DISCONNECT
    assert project.cli("ping", "x", "next step").returncode == 0
    ticking(dog, lambda: "stream disconnected" in project.screen("t-x"), timeout=60)
    api.mode = Mode.NORMAL
    for _ in range(8):
        dog.tick(SIGNAL)
        time.sleep(0.3)
    assert pane_pid(project, "t-x") == first and "restart" not in events(project, "x")


def test_real_codex_limit_is_held_and_resumed_and_a_kill_resumes_its_session(
        project: Project, mock_api: MockAPI, codex: Path) -> None:
    api = mock_api
    dog, codex_home, first = started(project, api, codex)

    # the usage limit: held with its reset time, then nudged and running again
    # 20 s out: the ping (a CLI process of its own) must meet the limit on a loaded machine too
    api.reset_epoch = int(time.time()) + 20
    api.mode = Mode.LIMITED
    assert project.cli("ping", "x", "limit me").returncode == 0
    ticking(dog, lambda: record(project, "x")["state"] == "LIMITED", timeout=60)
    assert record(project, "x")["reset_at"] is not None, "codex's 'try again at' time is read"
    ticking(dog, lambda: any("watchdog probe" in t for t in api.received()), timeout=90)
    ticking(dog, lambda: record(project, "x")["state"] == "RUNNING", timeout=60)
    assert pane_pid(project, "t-x") == first, "a limited agent is never restarted"

    # kill -9: healed by resuming the session codex chose
    session = project.cli_json("status")["agents"][0]["session_id"]
    assert session and session in {p.stem[-36:] for p in codex_home.glob("sessions/*/*/*/rollout-*.jsonl")}
    time.sleep(2)  # past start_grace
    program = program_pid(first)
    assert program is not None
    os.kill(program, signal.SIGKILL)
    ticking(dog, lambda: "restart" in events(project, "x"), timeout=60)
    new = wait_for(lambda: program_pid(pane_pid(project, "t-x")))
    cmdline = Path(f"/proc/{new}/cmdline").read_bytes().split(b"\0")
    assert b"resume" in cmdline and session.encode() in cmdline

    # down: nothing of it is left, the app-server daemon codex starts on its own (setsid) included
    assert project.cli("down", "x").returncode == 0
    assert tagged(f"{project.socket}:t-x") == set()
