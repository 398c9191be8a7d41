"""The watchdog's scenarios a user knows from the README, as whole ticks against a scripted tmux and
a manual clock (milliseconds, no sleeping): crash loops, usage limits, sleeping agents, stalls,
questions and wakes. What only a real terminal proves stays in test_watchdog.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentsup.store.journal import read_events
from agentsup.supervisor.reconcile.tick import HEAVY, POLL, SIGNAL

from ..conftest import answered, serving
from ..scripted import Fleet, agent

LIMIT = "You've hit your session limit · resets 10am (UTC)"  # the manual clock starts at 08:00 UTC


def reasons(f: Fleet, name: str, event: str) -> list[str]:
    return [str(e.get("reason")) for e in read_events(f.root / "logs" / "events.jsonl", agent=name)
            if e["event"] == event]


def test_a_crash_loop_goes_fatal_stays_down_and_reset_revives_it(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.crash_until_fatal("a")
    rec = f.record("a")
    assert rec["state"] == "FATAL" and rec["last_exit"] == 3 and "4 restarts within 3600s" in rec["detail"]
    assert rec["last_lines"], "the screen lines that explain it are kept"
    started = len(f.tmux.started)
    f.advance(600, POLL)
    assert len(f.tmux.started) == started and f.events("a").count("fatal") == 1, "FATAL: nothing more starts"
    from agentsup.supervisor.requests.protocol import Request, carry_out

    carry_out(f.dog.reconciler, Request("reset", "a"), f.dog.cfg.agents["a"])  # what `agentsup reset a` asks for
    f.advance(1, POLL)
    assert len(f.tmux.started) == started + 1 and "reset" in f.events("a")
    f.advance(30, SIGNAL)
    assert f.record("a")["state"] == "RUNNING"


def test_a_limit_is_held_then_nudged_and_a_queued_ping_arrives_once_after(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    pane = f.tmux.sessions["t-a"]
    f.tmux.show("t-a", LIMIT)
    f.advance(1)
    assert f.record("a")["state"] == "LIMITED" and f.record("a")["reset_at"].startswith("2027-01-15T10:00:00")
    assert f.dog.reconciler.messages.deliver_or_queue("a", "handoff: review gate 2", reason="test") == "queued"
    for _ in range(119):  # to 09:59:31, idle far past stall_idle, still held
        f.advance(60)
    assert pane.received == [] and "restart" not in f.events("a") and "limit-nudge" not in f.events("a")
    f.advance(120)  # 10:01:31, past the reset and the slack: nudged once
    assert len(pane.received) == 1 and pane.received[0].startswith("watchdog probe")
    f.tmux.show("t-a", "resuming the loop\nesc to interrupt")  # the agent works again
    f.advance(30)
    f.tmux.show("t-a", "done for now")
    f.advance(30)
    assert pane.received[1:] == ["handoff: review gate 2"], "the queued ping, after the nudge, once"
    assert "limit-lifted" in f.events("a") and f.tmux.started == ["t-a"], "never rebooted"
    f.advance(600)
    assert len(pane.received) == 2 and f.events("a").count("limit-nudge") == 1


def test_an_agent_still_limited_is_probed_again_and_never_restarted(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    banner = "You’ve hit your usage limit. try again at Jan 1st, 2099 6:44 PM"  # decades away
    pane = f.tmux.sessions["t-a"]
    f.tmux.show("t-a", banner)
    answered = 0
    for _ in range(60):
        f.advance(60)
        if len(pane.received) > answered:  # each nudge is answered with the banner again
            answered = len(pane.received)
            f.tmux.show("t-a", pane.output + "\n" + banner)
    assert f.record("a")["reset_at"] is None, "a reset decades away is not trusted: probed instead"
    assert f.events("a").count("limit-nudge") >= 2 and f.record("a")["state"] == "LIMITED"
    assert f.tmux.started == ["t-a"], "never restarted"


def test_an_agent_sleeping_on_purpose_is_left_alone_then_restarted_past_grace(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    f.tmux.show("t-a", "nothing to do until the nightly build\nWAITING-UNTIL: 2027-01-15T08:30:00Z")
    f.advance(30)
    assert f.record("a")["state"] == "SLEEPING"
    for _ in range(30):  # until 08:31, much longer than stall_idle: it sleeps on purpose
        f.advance(60)
    assert f.tmux.started == ["t-a"]
    for _ in range(4):  # past the deadline plus stall_grace (3 min), still idle
        f.advance(60)
    assert f.tmux.started == ["t-a", "t-a"]
    assert "past its WAITING-UNTIL" in reasons(f, "a", "restart")[0]


def test_a_silent_agent_is_restarted_after_stall_idle_and_a_working_one_is_not(fleet_of: Any) -> None:
    f = fleet_of(agent("quiet"), agent("busy"))
    f.dog.tick(HEAVY)
    f.tmux.show("t-busy", "compiling\nesc to interrupt")
    for _ in range(12):
        f.advance(30)
    assert f.tmux.started.count("t-busy") == 1, "working: never a stall"
    assert f.tmux.started.count("t-quiet") == 2
    assert "stalled: no activity" in reasons(f, "quiet", "restart")[0]


def test_a_question_is_never_stall_killed_and_shows_what_is_asked(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.tmux.show("t-a", "● Bash(rm -rf build/)\nBash command: rm -rf build/\nDo you want to proceed?\n❯ 1. Yes  2. No")
    for _ in range(30):
        f.advance(60)
    assert f.tmux.started == ["t-a"] and f.events("a").count("waiting-input") == 1
    rec = f.record("a")
    assert rec["state"] == "WAITING"
    assert rec["detail"].endswith("Bash command: rm -rf build/ · Do you want to proceed?")


def test_a_wake_pings_an_idle_agent_on_schedule_and_never_a_busy_one(fleet_of: Any) -> None:
    f = fleet_of(agent("o", watch="heal", wake={"interval": 600, "prompt": "supervision pass"}))
    f.dog.tick(HEAVY)
    pane = f.tmux.sessions["t-o"]
    f.tmux.show("t-o", "working\nesc to interrupt")
    for _ in range(25):
        f.advance(30)
    assert pane.received == [], "busy for the whole interval: no wake"
    f.tmux.show("t-o", "idle")
    for _ in range(15):  # less than an interval of idleness: the wake that came due is sent, once
        f.advance(30)
    assert pane.received == ["supervision pass"] and "wake-delivered" in f.events("o")


def test_a_wake_reads_its_prompt_file_when_it_fires(fleet_of: Any, tmp_path: Path) -> None:
    wake = tmp_path / "wake.md"
    wake.write_text("first text\n")
    f = fleet_of(agent("o", watch="heal", wake={"interval": 600, "prompt_file": "wake.md"}))
    f.dog.tick(HEAVY)
    pane = f.tmux.sessions["t-o"]
    wake.write_text("edited   after\nstart\n")  # no config reload: the edit applies at the next wake
    for _ in range(25):
        f.advance(30)
    assert pane.received == ["edited after start"]
    wake.unlink()
    for _ in range(25):
        f.advance(30)
    assert "wake-skipped" in f.events("o") and pane.received == ["edited after start"]


def test_a_fatal_screen_restarts_the_agent(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    f.tmux.show("t-a", "FATAL: session corrupted")
    f.advance(30)
    assert f.tmux.started == ["t-a", "t-a"] and "fatal pattern" in reasons(f, "a", "restart")[0]


def test_a_config_broken_mid_run_keeps_the_last_good_one_and_is_reported_once(fleet_of: Any) -> None:
    f = fleet_of(agent("a"), agent("b"))
    f.dog.tick(HEAVY)
    good = f.config.read_text()
    f.config.write_text(good + "\n[[agent]]\nname = 'c'\nbakend = 1\n")
    for _ in range(3):
        f.advance(30, HEAVY)
    assert f.events().count("config-error") == 1 and f.tmux.started == ["t-a", "t-b"]
    status = json.loads((f.root / "logs" / "state" / "watchdog.json").read_text())
    assert "did you mean 'backend'" in status["config_error"]
    f.config.write_text(good)
    f.advance(30)
    assert f.events()[-2:] == ["config-ok", "config-reloaded"] and f.dog.config_error is None


def test_a_run_with_vars_handed_to_the_running_watchdog_fills_its_template(fleet_of: Any) -> None:
    from agentsup.supervisor.operator.operate import run_task

    f = fleet_of('[template.t]\nkind = "task"\nbackend = "sim"\nprompt = "check {{target}}"\n'
                 'vars = { target = "staging" }\n\n', agent("job", template="t", watch="none"))
    with serving(f.dog):  # as while the watchdog runs: the CLI asks it over its control socket
        done = answered(f.dog, lambda: run_task(f.dog.cfg, "job", {"target": "production"}))
        assert done.results[0].action == "started"
    kickoff = f.root / "logs" / "state" / "kickoff-t-job.txt"
    assert kickoff.read_text() == "check production" and f.record("job")["run_vars"] == {"target": "production"}


def test_a_limit_one_agent_hits_holds_its_account_and_both_resume_after_the_reset(fleet_of: Any) -> None:
    f = fleet_of(agent("a"), agent("b"), agent("c", account="other", watch="heal"))
    f.dog.tick(HEAVY)
    f.advance(30)
    f.tmux.show("t-a", LIMIT)
    f.advance(1)
    assert [f.record(n)["state"] for n in ("a", "b", "c")] == ["LIMITED", "LIMITED", "RUNNING"]
    assert f.record("b")["shared_hold"] == "a" and f.record("b")["reset_at"] == f.record("a")["reset_at"]
    assert f.dog.reconciler.messages.deliver_or_queue("b", "handoff for b", reason="test") == "queued"
    b = f.tmux.sessions["t-b"]
    for _ in range(121):  # to 10:01:31: past the reset and the slack, idle far past stall_idle
        f.advance(60)
    assert b.received[:1] and b.received[0].startswith("watchdog probe"), "each agent is nudged after the reset"
    assert f.tmux.sessions["t-a"].received[0].startswith("watchdog probe")
    f.tmux.show("t-a", "back to work\nesc to interrupt")
    f.tmux.show("t-b", "back to work\nesc to interrupt")
    for _ in range(3):  # a probe's echo is not yet an answer: working for a few ticks is
        f.advance(2)
    assert [f.record(n)["state"] for n in ("a", "b")] == ["RUNNING", "RUNNING"]
    f.tmux.show("t-b", "done for now")
    f.advance(30)
    assert b.received[1:] == ["handoff for b"], "the ping held for b goes out once it resumed"
    assert f.tmux.started == ["t-a", "t-b", "t-c"], "nobody was restarted, nor stall-killed while held"
    held = [e for e in read_events(f.root / "logs" / "events.jsonl", agent="b") if e["event"] == "limit-hold"]
    assert held[0]["shared_with"] == "a" and held[0]["account"] == "sim"


ERROR_529 = ("● API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.\n"
             "✻ Brewed for 0s\n> ")


def test_a_server_error_is_retried_after_a_backoff_once_per_error_and_never_held(fleet_of: Any) -> None:
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    pane = f.tmux.sessions["t-a"]
    f.tmux.show("t-a", "› next step\n" + ERROR_529)
    f.advance(1)
    assert f.record("a")["state"] == "RUNNING" and "retry in" in f.record("a")["detail"]
    assert pane.received == [] and "limit-hold" not in f.events("a")
    f.advance(5)  # backoff_initial
    assert len(pane.received) == 1 and "temporary server error" in pane.received[0]
    f.tmux.show("t-a", "› next step\n" + ERROR_529 + "\n› retry\n● Done.\n> ")  # it got through
    for _ in range(5):
        f.advance(30)
    assert len(pane.received) == 1, "the error it got past is history"
    f.tmux.show("t-a", "› next step\n" + ERROR_529 + "\n› retry\n" + ERROR_529)  # after that success, a new error
    f.advance(1)
    f.advance(3)
    assert len(pane.received) == 1, "a new error after a success is retried after the first backoff"
    f.advance(2)
    assert len(pane.received) == 2 and f.events("a").count("transient-retry") == 2
    f.tmux.show("t-a", pane.output + "\n" + ERROR_529)  # the retry failed too: errors in a row
    f.advance(1)
    f.advance(8)
    assert len(pane.received) == 2, "the next retry in a row waits twice as long"
    f.advance(2)
    assert len(pane.received) == 3 and f.events("a").count("transient-retry") == 3


def test_a_watchdog_ping_to_an_agent_that_is_down_waits_for_it_and_arrives_once(fleet_of: Any) -> None:
    """Found by the soak: a handoff ping while the peer's session was gone (its tmux server killed,
    a restart under way) was dropped as no-session."""
    f = fleet_of(agent("a"), agent("b"))
    f.dog.tick(HEAVY)
    f.advance(30)
    f.tmux.die("t-a")
    f.advance(0, POLL)
    assert f.record("a")["state"] == "STARTING" and not f.record("a")["ready"]  # healed, not up yet
    assert f.dog.reconciler.messages.deliver_or_queue("a", "watchdog ping: claim(gate-3)", reason="claim") == "queued"
    del f.tmux.sessions["t-b"]  # gone under the watchdog's feet: the delivery finds no session
    messages = f.dog.reconciler.messages
    assert messages.deliver_or_queue("b", "watchdog ping: review(gate-4)", reason="review") == "no-session"
    for _ in range(4):
        f.advance(30)
    got_a, got_b = f.tmux.sessions["t-a"].received, f.tmux.sessions["t-b"].received
    assert got_a == ["watchdog ping: claim(gate-3)"] and got_b == ["watchdog ping: review(gate-4)"]
    for _ in range(4):
        f.advance(30)
    assert len(f.tmux.sessions["t-a"].received) == 1 and len(f.tmux.sessions["t-b"].received) == 1


def test_a_ping_that_meets_a_frozen_tmux_waits_in_the_queue_and_arrives_once(fleet_of: Any) -> None:
    """Found by the soak (seed 23): a review push while the tmux server was SIGSTOPped; the handoff
    ping raised inside the tick and was lost, its push already recorded as seen."""
    f = fleet_of(agent("a"), agent("b"))
    f.dog.tick(HEAVY)
    f.advance(30)
    f.tmux.frozen = True
    messages = f.dog.reconciler.messages
    assert messages.deliver_or_queue("a", "watchdog ping: review(gate-29)", reason="review") == "queued"
    assert f.record("a")["queue"] == ["watchdog ping: review(gate-29)"]
    f.dog.safe_tick(SIGNAL)  # ticks fail while it is frozen; the queue is kept
    f.tmux.frozen = False
    for _ in range(4):
        f.advance(30)
    assert f.tmux.sessions["t-a"].received == ["watchdog ping: review(gate-29)"]
    assert f.tmux.sessions["t-b"].received == []


def test_queued_messages_the_tick_could_not_type_stay_queued(fleet_of: Any) -> None:
    """Queued pings handed to a tick whose tmux froze mid-delivery go back to the queue, all of them."""
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    from agentsup.supervisor.decide.decision import Decision, Deliver
    from agentsup.supervisor.reconcile.tick import TickStats

    rec = f.dog.reconciler.record("a")
    decision = Decision(rec.copy(), actions=[Deliver("first", "queued"), Deliver("second", "queued")])
    f.tmux.frozen = True
    f.dog.reconciler.act(f.dog.cfg.agents["a"], None, decision, TickStats("signal"))
    assert f.record("a")["queue"] == ["first", "second"]
    f.tmux.frozen = False
    for _ in range(3):
        f.advance(30)
    assert f.tmux.sessions["t-a"].received == ["first", "second"]
