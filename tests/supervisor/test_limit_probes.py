"""Probing after a shown reset has passed: on the shown time's granularity, so a limit that lifts a
little later than its screen said costs seconds, not a whole probe period (scripted tmux, manual
clock, default timers)."""

from __future__ import annotations

from pathlib import Path

from agentsup.supervisor.decide.limits import fast_probe

from ..scripted import resume_delay

EIGHT = 1_800_000_000.0  # the manual clock's start: 2027-01-15 08:00:00 UTC


def test_a_reset_shown_to_the_minute_that_lifts_48s_late_resumes_within_20s(tmp_path: Path) -> None:
    shown = EIGHT + 20 * 60  # "resets 8:20am": the true lift 48 s after that minute began
    delay, received = resume_delay(tmp_path, "You've hit your session limit · resets 8:20am (UTC)", shown + 48)
    assert 0 <= delay <= 20, f"resumed {delay:.0f} s after the true lift"
    assert received[-1] == "queued note" and received.count("queued note") == 1, "the queued ping, once, after"
    assert all(r.startswith("watchdog probe") for r in received[:-1])


def test_a_reset_shown_to_the_second_is_probed_every_few_seconds() -> None:
    assert fast_probe("2027-01-15T08:20:24+00:00", 1.0, EIGHT + 20 * 60 + 30) == 5.0
    assert fast_probe("2027-01-15T08:20:00+00:00", 60.0, EIGHT + 20 * 60 + 100) == 15.0
    assert fast_probe("2027-01-15T08:00:00+00:00", 3600.0, EIGHT + 1800) == 60.0
    assert fast_probe("2027-01-15T08:20:00+00:00", 60.0, EIGHT + 20 * 60 + 300) is None, "then the usual backoff"
    assert fast_probe(None, 60.0, EIGHT) is None and fast_probe("2027-01-15T08:20:00+00:00", 0.0, EIGHT) is None


def test_status_says_when_the_next_probe_is(tmp_path: Path) -> None:
    from ..scripted import Fleet, agent

    f = Fleet(tmp_path, agent("a"))
    from agentsup.supervisor.reconcile.tick import HEAVY

    f.dog.tick(HEAVY)
    f.advance(30)
    pane = f.tmux.sessions["t-a"]
    f.tmux.show("t-a", "You've hit your session limit · resets 8:01am (UTC)")
    f.advance(1)
    while not pane.received:
        f.advance(1)
    f.tmux.show("t-a", pane.output + "\nYou've hit your session limit · resets 8:01am (UTC)")
    f.advance(1)
    assert f.record("a")["detail"].startswith("still limited past its reset: next probe at 08:0"), f.record("a")
