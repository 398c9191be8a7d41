"""A watchdog over a scripted tmux (tests/fakes.py), driven by a manual clock: whole ticks in
milliseconds, for the scenarios that are about decisions rather than terminals."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from agentsup.store.journal import read_events
from agentsup.supervisor.decide.clock import ManualClock
from agentsup.supervisor.reconcile.tick import HEAVY, POLL, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from .fakes import FakeTmux

TIMERS = """
[watchdog]
signal_interval = 30
heavy_interval = 300
start_grace = 20
start_timeout = 60
backoff_initial = 5
backoff_max = 40
restart_max = 4
restart_window = 3600
fatal_cooldown = 1800
limit_reset_slack = 45
reload_settle = 0

[backend.sim]
stall_idle = 300
"""


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def agent(name: str, **keys: Any) -> str:
    keys = {"backend": "sim", "watch": "heal+stall", **keys}
    lines = [f'[[agent]]\nname = "{name}"'] + [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n\n"


class Fleet:
    """A watchdog over a scripted tmux, driven by a manual clock."""

    def __init__(self, root: Path, *agents: str) -> None:
        self.root = root
        self.clock = ManualClock()
        self.tmux = FakeTmux(wall=self.clock.wall())
        self.write(*agents)
        self.dog = Watchdog(self.config, clock=self.clock, tmux=self.tmux)
        self.dog.rt.deliverer.wait = 0.05

    @property
    def config(self) -> Path:
        return self.root / "agents.toml"

    def write(self, *agents: str, timers: str = TIMERS) -> None:
        head = '[defaults]\nlog_dir = "logs"\nsession_prefix = "t-"\n'
        self.config.write_text(head + textwrap.dedent(timers) + "".join(agents), encoding="utf-8")

    def advance(self, seconds: float, kind: str = SIGNAL) -> None:
        self.clock.advance(seconds)
        self.tmux.wall = self.clock.wall()
        self.dog.tick(kind)

    def into_backoff(self, name: str) -> None:
        """Start the fleet; `name` runs a second and dies: a quick death, so it backs off."""
        self.dog.tick(HEAVY)
        self.advance(1, POLL)
        self.tmux.die(f"t-{name}")
        self.advance(0, POLL)
        assert self.record(name)["state"] == "BACKOFF"

    def crash_until_fatal(self, name: str, *, code: int = 3, tries: int = 8) -> None:
        """`name` dies a second after every start, and after every backoff, until it is FATAL."""
        for _ in range(tries):
            self.advance(1, POLL)
            if self.record(name)["state"] == "FATAL":
                return
            self.tmux.die(f"t-{name}", code)
            self.advance(0, POLL)
            self.advance(self.record(name).get("backoff_delay") or 0, POLL)
        assert self.record(name)["state"] == "FATAL"

    def events(self, name: str | None = None) -> list[str]:
        return [e["event"] for e in read_events(self.root / "logs" / "events.jsonl", agent=name)]

    def record(self, name: str) -> dict[str, Any]:
        data = json.loads((self.root / "logs" / "state" / "agents" / f"{name}.json").read_text())
        assert isinstance(data, dict)
        return data


def resume_delay(root: Path, banner: str, lifts_at: float, *, limit: float = 7200) -> tuple[float, list[str]]:
    """A scripted agent shows `banner`, and its limit truly lifts at wall time `lifts_at`: each
    probe before then meets the limit again (the banner once more, after the probe), one after it
    gets the agent working. Ticks every second of the manual clock. (Seconds from the true lift
    until the watchdog lifted the hold, what the agent received.)"""
    f = Fleet(root, agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    pane = f.tmux.sessions["t-a"]
    f.tmux.show("t-a", banner)
    f.advance(1)
    assert f.record("a")["state"] == "LIMITED", f.record("a")
    assert f.dog.reconciler.messages.deliver_or_queue("a", "queued note", reason="test") == "queued"
    answered = 0
    while f.clock.wall() < lifts_at + limit:
        f.advance(1)
        if len(pane.received) > answered:  # a probe came in
            answered = len(pane.received)
            if f.clock.wall() >= lifts_at:
                f.tmux.show("t-a", pane.output + "\nresuming after the usage limit\nesc to interrupt")
            else:
                f.tmux.show("t-a", pane.output + "\n" + banner)
        lifted = [e for e in read_events(f.root / "logs" / "events.jsonl", agent="a") if e["event"] == "limit-lifted"]
        if lifted:
            from datetime import datetime

            return datetime.fromisoformat(lifted[0]["ts"]).timestamp() - lifts_at, pane.received
    raise AssertionError(f"still held {limit} s after the lift: {f.record('a')}")
