"""The real opencode against the mock Anthropic API: its kickoff typed and received; a usage limit
it waits out by itself ("[retrying in 24s attempt #1]") held as LIMITED with that reset, nothing
typed into it meanwhile, and working again on its own retry, in the same process."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

from agentsup.supervisor.reconcile.tick import HEAVY
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project
from .drive import events, pane_pid, record, ticking
from .mockapi import MockAPI, Mode
from .test_claude import TIMERS


def opencode_config(project: Project, api: MockAPI, opencode: Path) -> None:
    conf = Path(os.environ["HOME"]) / ".config" / "opencode" / "opencode.json"  # what its user would have set
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(json.dumps({
        "autoupdate": False, "share": "disabled", "model": "anthropic/claude-sonnet-4-5",
        "provider": {"anthropic": {"options": {"baseURL": f"{api.url}/v1", "apiKey": "mock-key"}}}}))
    # Language servers and default plugins are downloaded unless turned off. (It still asks the npm
    # registry for something at start whatever these say; the test below lists that attempt as known.)
    env = {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
           "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
           "HTTPS_PROXY": api.url, "HTTP_PROXY": api.url, "NO_PROXY": "127.0.0.1,localhost"}
    project.write(TIMERS + f'[backend.opencode]\nbin = "{opencode}"\n\n'
                  f'[[agent]]\nname = "o"\nbackend = "opencode"\nwatch = "heal"\ndir = "work"\n'
                  f'prompt = "say hello"\nenv = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())} }}\n')


def user_texts(api: MockAPI) -> list[str]:
    """What was typed into it: the user texts it sent, less its own title requests."""
    return [t for t in api.received() if not t.startswith("Generate a title for this conversation")]


def test_real_opencode_s_own_retry_at_a_limit_is_held_untouched_and_it_resumes_by_itself(
        project: Project, mock_api: MockAPI, real_clis: dict[str, Path]) -> None:
    api = mock_api
    api.known_attempts = {"CONNECT registry.npmjs.org:443"}  # opencode 1.18.33 at start; blocked
    opencode_config(project, api, real_clis["opencode"])
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 3.0
    dog.tick(HEAVY)
    # typed after its connect delay: a pointer to the kickoff file, which it reads
    ticking(dog, lambda: any("kickoff-t-o.txt" in t for t in api.received()), timeout=90)
    assert (project.log_dir / "state" / "kickoff-t-o.txt").read_text().strip() == "say hello"
    # (it shows "working" for its log_grace after any output: its idle screen shows no sign of work)
    ticking(dog, lambda: record(project, "o").get("state") == "RUNNING" and "Done. Waiting" in project.screen("t-o"))
    first = pane_pid(project, "t-o")

    reset = int(time.time()) + 25
    api.reset_epoch, api.mode = reset, Mode.LIMITED  # a 429 with retry-after: it waits that long itself
    assert project.cli("ping", "o", "next step").returncode == 0
    ticking(dog, lambda: record(project, "o")["state"] == "LIMITED", timeout=60)
    assert "retrying in" in project.screen("t-o")
    held = datetime.fromisoformat(record(project, "o")["reset_at"]).timestamp()
    assert abs(held - reset) <= 3, f"its own retry time is the reset: {held - reset:+.1f}s"
    assert "retrying by itself" in project.cli_json("status")["agents"][0]["detail"]
    typed = user_texts(api)

    ticking(dog, lambda: record(project, "o")["state"] == "RUNNING", timeout=60)
    assert time.time() - reset <= 15, f"RUNNING {time.time() - reset:.1f}s after the reset"
    # (its ping may reach the model only now: under load the 429 that held it answered its title request)
    more = [t for t in user_texts(api) if t not in typed and t != "next step"]
    assert more == [], "nothing typed into it: it retried by itself"
    assert pane_pid(project, "t-o") == first and "restart" not in events(project, "o")
    assert events(project, "o").count("limit-hold") == 1 and "limit-nudge" not in events(project, "o")
