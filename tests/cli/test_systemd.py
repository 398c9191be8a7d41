"""The shipped systemd unit keeps agents alive across unit restarts and runs the watchdog."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from ..conftest import ROOT

UNIT = ROOT / "systemd" / "agentsup-watchdog.service"


def load() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_restarts_the_watchdog_but_never_kills_the_agents() -> None:
    service = load()["Service"]
    assert service["Restart"] == "always"
    assert service["KillMode"] == "process", "control-group would kill the tmux server and every agent"
    assert service["ExecReload"].endswith("-HUP $MAINPID"), "SIGHUP reloads agents.toml"


def test_unit_runs_the_watchdog_command() -> None:
    argv = shlex.split(load()["Service"]["ExecStart"])
    assert Path(argv[0]).name == "agentsup" and argv[-1] == "watchdog"
    assert load()["Install"]["WantedBy"] == "default.target"  # a user unit


def test_the_web_unit_serves_loopback_read_only_beside_the_watchdog() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string((ROOT / "systemd" / "agentsup-web.service").read_text())
    argv = shlex.split(parser["Service"]["ExecStart"])
    assert Path(argv[0]).name == "agentsup" and argv[1] == "web"
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and "--actions" not in argv
    assert parser["Service"]["KillSignal"] == "SIGTERM" and parser["Install"]["WantedBy"] == "default.target"
