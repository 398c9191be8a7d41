"""Whole watchdog ticks against a scripted tmux and a manual clock: the scenarios of the fault
list that are about decisions, not about terminals, in milliseconds and without sleeping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentsup.store.journal import read_events
from agentsup.supervisor.reconcile.tick import HEAVY, POLL, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..scripted import agent


def test_a_crash_loop_reaches_fatal_in_milliseconds(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    delays = []
    for _ in range(6):
        f.advance(1, POLL)  # runs one second, then dies
        f.tmux.die("t-a", 3)
        f.advance(0, POLL)
        rec = f.record("a")
        if rec["state"] == "FATAL":
            break
        delays.append(rec["backoff_delay"])
        f.advance(rec["backoff_delay"], POLL)
    assert delays == [5, 10, 20]
    assert f.record("a")["state"] == "FATAL" and f.record("a")["last_exit"] == 3
    assert f.tmux.started == ["t-a"] * 4


def test_a_wall_clock_step_back_neither_freezes_a_backoff(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.into_backoff("a")
    f.clock.step_wall(-86400)  # the wall clock jumps a day back
    f.advance(5, POLL)
    assert f.record("a")["state"] == "STARTING" and len(f.tmux.started) == 2


def test_a_wall_clock_step_forward_fires_no_stall(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    f.clock.step_wall(86400)  # a day forward: nothing was idle for a day
    f.advance(30)
    f.advance(30)
    assert "restart" not in f.events("a") and f.tmux.started == ["t-a"]
    f.advance(300)  # idle for real, on the monotonic clock
    assert "restart" in f.events("a")


def test_records_persisted_by_one_watchdog_stay_right_for_the_next(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.into_backoff("a")
    until = f.record("a")["backoff_until"]
    f.dog = Watchdog(f.config, clock=f.clock, tmux=f.tmux)  # a restarted watchdog, same boot
    f.advance(4, POLL)
    assert f.record("a")["state"] == "BACKOFF" and f.record("a")["backoff_until"] == until
    f.advance(1, POLL)
    assert f.record("a")["state"] == "STARTING"


def test_a_frozen_tmux_touches_nothing_and_heals_what_died_meanwhile(fleet_of: Any) -> None:
    f = fleet_of(agent("a"), agent("b"))
    f.dog.tick(HEAVY)
    f.advance(60)
    f.tmux.frozen = True
    for _ in range(5):
        assert not f.dog.safe_tick(SIGNAL)
    assert f.events().count("tmux-unreachable") == 1
    assert "tmux" in f.dog.degraded
    status = json.loads((f.root / "logs" / "state" / "watchdog.json").read_text())
    assert status["ok"] is False and "did not answer" in status["degraded"]["tmux"]
    f.tmux.die("t-a")  # died while tmux could not tell us
    f.tmux.frozen = False
    assert f.dog.safe_tick(POLL)
    assert f.events()[-4:] == ["tmux-reachable", "exited", "restart", "watchdog-healthy"]
    assert f.events().count("watchdog-degraded") == 1
    assert f.tmux.started == ["t-a", "t-b", "t-a"]
    assert f.dog.degraded == {}


def test_a_tick_that_raises_is_journaled_once_and_the_loop_goes_on(fleet_of: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("handoff exploded")

    monkeypatch.setattr(f.dog.loop, "check_handoff", broken)
    assert not f.dog.safe_tick(SIGNAL)
    assert not f.dog.safe_tick(SIGNAL)
    errors = [e for e in read_events(f.root / "logs" / "events.jsonl") if e["event"] == "tick-error"]
    assert len(errors) == 1 and "handoff exploded" in errors[0]["error"] and "test_ticks.py" in errors[0]["where"]
    monkeypatch.undo()
    assert f.dog.safe_tick(SIGNAL)
    assert f.events()[-1] == "tick-ok" and f.dog.degraded == {}


def test_a_changed_launch_restarts_only_that_agent_and_only_between_turns(fleet_of: Any) -> None:
    f = fleet_of(agent("a", model="one"), agent("b", model="one"), agent("c"))
    f.dog.tick(HEAVY)
    f.tmux.show("t-a", "thinking... (esc to interrupt)")  # a is mid-turn
    f.write(agent("a", model="two"), agent("b", model="one", watch="heal"))
    f.advance(1)
    assert f.tmux.started == ["t-a", "t-b", "t-c"], "busy a waits, b's policy change needs no restart"
    assert "restart pending: config changed" in f.record("a")["detail"]
    assert "removed" in f.events("c") and "t-c" not in f.tmux.sessions
    f.tmux.show("t-a", "done. what next?")  # the turn ended
    f.advance(1)
    assert f.tmux.started == ["t-a", "t-b", "t-c", "t-a"]
    assert "two" in f.tmux.sessions["t-a"].argv
    reasons = [e.get("reason") for e in read_events(f.root / "logs" / "events.jsonl", agent="a")]
    assert "restart: config changed" in reasons and not f.record("a")["pending"]


def test_an_agent_the_operator_started_is_adopted_not_killed_by_an_old_backoff(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.into_backoff("a")
    f.tmux.sessions.pop("t-a")  # the operator's `up a` replaces the dead pane with a new program
    f.tmux.new_session("t-a", ["sim"], cwd=f.root, env={}, width=80, height=24)
    f.advance(10, SIGNAL)  # past the old backoff
    assert "adopted" in f.events("a")
    assert f.tmux.started == ["t-a", "t-a"], "nothing killed or started by the watchdog"
    assert f.record("a")["state"] == "RUNNING"


def test_a_blank_screen_past_start_timeout_is_restarted(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.tmux.sessions["t-a"].output = ""  # the program never draws anything
    f.tmux.sessions["t-a"].input = ""
    f.advance(30)
    assert f.tmux.started == ["t-a"]
    f.advance(31)
    assert f.tmux.started == ["t-a", "t-a"]
    restart = [e for e in read_events(f.root / "logs" / "events.jsonl", agent="a") if e["event"] == "restart"]
    assert "not ready" in restart[0]["reason"]


def test_a_limit_on_a_frozen_wall_clock_still_ends_on_time(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    f.tmux.show("t-a", "You've hit your session limit · resets 10am (UTC)")  # two hours from now
    f.advance(1)
    rec = f.record("a")
    assert rec["state"] == "LIMITED"
    f.clock.step_wall(-86400)  # wall time steps back a day while held
    f.advance(2 * 3600 + 50)
    assert any(e["event"] == "limit-nudge" for e in read_events(f.root / "logs" / "events.jsonl", agent="a"))
    assert f.tmux.sessions["t-a"].received, "the nudge was typed and submitted"
    assert f.tmux.started == ["t-a"], "a limited agent is never restarted"


def test_a_watchdog_ping_waits_behind_a_person_s_draft(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    pane = f.tmux.sessions["t-a"]
    pane.input, pane.activity = "half typed", int(f.tmux.wall)  # a person is typing in the pane
    assert f.dog.reconciler.messages.deliver_or_queue("a", "claim: x", reason="claim") == "stranded"
    assert pane.input == "half typed" and f.record("a")["queue"] == ["claim: x"]
    f.advance(30)
    assert pane.received == [], "still typing: the ping waits"
    pane.input, pane.activity = "", int(f.tmux.wall)  # sent or cleared
    f.advance(30)
    assert pane.received == ["claim: x"] and f.record("a")["queue"] == []
