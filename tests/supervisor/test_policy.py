"""The per-agent state machine, transition by transition, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentsup.agents.detect import Observation
from agentsup.store.record import BACKOFF, FATAL, LIMITED, RUNNING, SLEEPING, STARTING, WAITING, Record
from agentsup.supervisor.decide.decision import Decision, Deliver, Policy, Start, View
from agentsup.supervisor.decide.policy import transition

T0 = 1_800_000_000.0
POL = Policy(stall_idle=300, stall_grace=180, limit_fallback=300, limit_slack=45, backoff_initial=5,
             backoff_max=40, window=3600, restart_max=4, fatal_cooldown=1800, start_grace=20)
IDLE = Observation()
BUSY = Observation(active=True)


def at(offset: float) -> datetime:
    return datetime.fromtimestamp(T0 + offset, UTC)


def alive(obs: Observation = IDLE, changed: bool = False, **kw: object) -> View:
    return View(present=True, obs=obs, screen_changed=changed, **kw)  # type: ignore[arg-type]


def running(started: float = -1000) -> Record:
    return Record(state=RUNNING, started_at=T0 + started)


def starts(d: Decision) -> list[Start]:
    return [a for a in d.actions if isinstance(a, Start)]


def delivers(d: Decision) -> list[Deliver]:
    return [a for a in d.actions if isinstance(a, Deliver)]


def events(d: Decision) -> list[str]:
    return [e.event for e in d.events]


# ── heal ───────────────────────────────────────────────────────────────────────────────────────

def test_gone_session_is_started_at_once() -> None:
    d = transition(running(), View(present=False), T0, POL)
    assert starts(d) == [Start("session gone", kill=False, resume=True)]  # a heal continues its session
    assert d.record.state == STARTING and d.record.restarts == [T0]
    assert events(d) == ["exited", "start"]


def test_never_started_agent_is_started() -> None:
    d = transition(Record(), View(present=False), T0, POL)
    assert starts(d) == [Start("not running", kill=False)]


def test_dead_pane_after_a_long_run_restarts_without_backoff() -> None:
    d = transition(running(), View(present=True, dead=True, exit_code=1, last_lines=("boom",)), T0, POL)
    assert starts(d) == [Start("exited with code 1", kill=True, resume=True)]
    assert d.record.last_exit == 1 and d.record.last_lines == ["boom"]


def test_starting_becomes_running_after_start_grace() -> None:
    rec = transition(Record(), View(present=False), T0, POL).record
    d = transition(rec, alive(BUSY, changed=True), T0 + 5, POL)
    assert d.record.state == STARTING
    d = transition(d.record, alive(BUSY, changed=True), T0 + 21, POL)
    assert d.record.state == RUNNING and d.record.detail == "working"


def test_agent_started_by_hand_is_adopted() -> None:
    d = transition(Record(), alive(BUSY, changed=True), T0, POL)
    assert d.record.state == RUNNING and d.record.started_at == T0 and not d.actions


def test_foreign_program_is_replaced() -> None:
    d = transition(running(), alive(foreign="codex"), T0, POL)
    assert starts(d) == [Start("wrong program in the pane: codex", kill=True)]


def test_fatal_pattern_restarts() -> None:
    d = transition(running(), alive(Observation(fatal=True, rule="fatal_re")), T0, POL)
    assert len(starts(d)) == 1 and "fatal pattern" in starts(d)[0].reason


# ── restart budget ─────────────────────────────────────────────────────────────────────────────

def test_crash_loop_backs_off_exponentially_then_goes_fatal() -> None:
    rec, now, delays = Record(), T0, []
    rec = transition(rec, View(present=False), now, POL).record  # first start
    for _ in range(10):
        now += 1  # dies one second after each start
        d = transition(rec, View(present=True, dead=True, exit_code=1), now, POL)
        rec = d.record
        if rec.state == FATAL:
            break
        assert rec.state == BACKOFF and not d.actions
        delays.append(rec.backoff_delay)
        assert transition(rec, View(present=True, dead=True), now + rec.backoff_delay - 0.5, POL).actions == []
        now += rec.backoff_delay
        d = transition(rec, View(present=True, dead=True, exit_code=1), now, POL)
        assert starts(d) and d.record.state == STARTING
        rec = d.record
    assert delays == [5, 10, 20]  # doubling
    assert rec.state == FATAL and "4 restarts within 3600s" in rec.detail and rec.last_exit == 1
    # FATAL holds through the cooldown, then retries once with a fresh budget
    assert transition(rec, View(present=True, dead=True), now + 1799, POL).actions == []
    d = transition(rec, View(present=True, dead=True), now + 1800, POL)
    assert starts(d) and d.record.fatal_retry and d.record.restarts == [now + 1800]
    # ... and a quick death after that retry is FATAL again at once
    d2 = transition(d.record, View(present=True, dead=True, exit_code=1), now + 1801, POL)
    assert d2.record.state == FATAL and "after the FATAL cooldown" in d2.record.detail


def test_backoff_caps_at_backoff_max() -> None:
    rec = Record(state=STARTING, started_at=T0, backoff_delay=40)
    d = transition(rec, View(present=False), T0 + 1, POL)
    assert d.record.backoff_delay == 40


def test_window_slides() -> None:
    old = [T0 - 4000, T0 - 3900, T0 - 3800, T0 - 3700]  # all outside the hour
    d = transition(Record(state=RUNNING, started_at=T0 - 3000, restarts=old), View(present=False), T0, POL)
    assert starts(d) and d.record.restarts == [T0]


def test_a_good_start_resets_the_backoff() -> None:
    rec = Record(state=STARTING, started_at=T0, backoff_delay=20)
    d = transition(rec, alive(BUSY, changed=True), T0 + 25, POL)
    assert d.record.backoff_delay == 0 and d.record.state == RUNNING


# ── stall and WAITING-UNTIL ────────────────────────────────────────────────────────────────────

def test_silent_agent_is_restarted_after_stall_idle() -> None:
    rec = transition(running(), alive(), T0, POL).record
    assert rec.idle_since == T0
    assert transition(rec, alive(), T0 + 299, POL).actions == []
    d = transition(rec, alive(), T0 + 300, POL)
    assert starts(d) and "stalled: no activity for 300s" in starts(d)[0].reason


def test_activity_or_screen_change_resets_the_idle_timer() -> None:
    rec = transition(running(), alive(), T0, POL).record
    rec = transition(rec, alive(changed=True), T0 + 250, POL).record
    assert transition(rec, alive(), T0 + 400, POL).actions == []
    rec = transition(rec, alive(BUSY), T0 + 500, POL).record
    assert rec.idle_since == T0 + 500


def test_heal_only_agents_are_never_stall_killed() -> None:
    pol = Policy(watch="heal", stall_idle=10)
    rec = transition(running(), alive(), T0, pol).record
    assert transition(rec, alive(), T0 + 10_000, pol).actions == []


def test_waiting_until_in_the_future_is_respected_then_restarted_past_grace() -> None:
    wake = Observation(waiting_until=at(3600), rule="waiting_until")
    rec = transition(running(), alive(wake), T0, POL).record
    assert rec.state == SLEEPING
    assert transition(rec, alive(wake), T0 + 3600 + 180, POL).actions == []  # inside the grace
    d = transition(rec, alive(wake), T0 + 3600 + 181, POL)
    assert starts(d) and "past its WAITING-UNTIL by 181s" in starts(d)[0].reason


def test_waiting_until_past_but_still_working_is_left_alone() -> None:
    stale = Observation(waiting_until=at(-10_000))
    rec = transition(running(), alive(stale, changed=True), T0, POL).record
    assert transition(rec, alive(stale, changed=True), T0 + 10, POL).actions == []


def test_question_on_screen_is_never_stall_killed() -> None:
    ask = Observation(waiting_input=True, rule="waiting_input_re")
    d = transition(running(), alive(ask), T0, POL)
    assert d.record.state == WAITING and events(d) == ["waiting-input"]
    d2 = transition(d.record, alive(ask), T0 + 100_000, POL)
    assert d2.actions == [] and d2.events == []  # reported once, never killed


# ── usage limits ───────────────────────────────────────────────────────────────────────────────

def limited(reset_offset: float | None, **kw: object) -> Observation:
    return Observation(limited=True, reset_at=at(reset_offset) if reset_offset is not None else None,
                       rule="limit_re", **kw)  # type: ignore[arg-type]


def test_limit_with_reset_time_holds_until_reset_plus_slack_then_nudges() -> None:
    d = transition(running(), alive(limited(3600)), T0, POL)
    rec = d.record
    assert rec.state == LIMITED and rec.limit_until == T0 + 3645 and not d.actions
    assert rec.reset_at == at(3600).isoformat()
    for t in (60, 1000, 3644):  # held: no restart, no stall, no nudge
        assert transition(rec, alive(limited(3600)), T0 + t, POL).actions == []
    d = transition(rec, alive(limited(3600)), T0 + 3645, POL)
    assert delivers(d) and delivers(d)[0].purpose == "nudge" and not starts(d)
    assert d.record.limit_nudges == 1 and d.record.limit_until == T0 + 3645 + 300


def test_still_limited_after_nudges_probes_with_backoff_and_never_restarts() -> None:
    rec = transition(running(), alive(limited(None)), T0, POL).record
    assert rec.limit_until == T0 + 300  # no time parsed: flat probe period
    now, gaps = T0, []
    for _ in range(4):
        now = rec.limit_until  # type: ignore[assignment]
        d = transition(rec, alive(limited(None)), now, POL)
        assert [a.purpose for a in delivers(d)] == ["nudge"] and not starts(d)
        rec = d.record
        gaps.append(rec.limit_until - now)  # type: ignore[operator]
    assert gaps == [300, 600, 1200, 1800]  # doubling up to limit_probe_max


def test_a_limit_menu_is_answered_once_while_it_closes_and_its_closing_lifts_no_hold() -> None:
    """gemini 0.61 live: two ticks 13 ms apart both saw its menu, and the second "2" landed in its
    input box (then every nudge stranded on that draft)."""
    from agentsup.supervisor.decide.decision import Keys

    menu = Observation(limited=True, menu_keys=("2",), limit_mark="1|Usage limit reached for all Pro models.")
    d = transition(running(), alive(menu), T0, POL)
    assert [a.keys for a in d.actions if isinstance(a, Keys)] == [("2",)] and d.record.state == LIMITED
    d = transition(d.record, alive(menu), T0 + 0.013, POL)  # the menu not yet redrawn
    assert not [a for a in d.actions if isinstance(a, Keys)] and d.record.state == LIMITED
    d = transition(d.record, alive(IDLE, changed=True), T0 + 0.5, POL)  # the menu gone, its message not yet
    assert d.record.state == LIMITED and "limit-lifted" not in events(d)
    d = transition(d.record, alive(menu), T0 + 5, POL)  # the menu again (a probe met the limit): answered again
    assert [a.keys for a in d.actions if isinstance(a, Keys)] == [("2",)]


def test_a_probe_that_meets_the_limit_again_lifts_nothing_and_types_no_queued_ping() -> None:
    """gemini 0.61 under CI's load: the probe's echo changed the screen before its quota message
    came back; that change lifted the hold, the queue went into the still-limited agent, and it
    was LIMITED again a moment later. Probed blind (no reset time), it is lifted only after it has
    looked resumed for a while."""
    from agentsup.supervisor.decide.limits import PROBE_CONFIRM

    def banner(copies: int) -> Observation:
        return Observation(limited=True, limit_mark=f"{copies}|You have exhausted your daily quota")

    rec = transition(running(), alive(banner(1)), T0, POL).record
    rec.queue = ["a ping"]
    d = transition(rec, alive(banner(1)), T0 + 300, POL)
    assert [a.purpose for a in delivers(d)] == ["nudge"]
    d = transition(d.record, alive(banner(1), changed=True), T0 + 300.5, POL)  # the probe's echo
    assert d.record.state == LIMITED and not delivers(d) and "limit-lifted" not in events(d)
    d = transition(d.record, alive(BUSY, changed=True), T0 + 301, POL)  # it sends the probe
    assert d.record.state == LIMITED and not delivers(d)
    d = transition(d.record, alive(banner(2), changed=True), T0 + 303, POL)  # and meets the limit again
    d = transition(d.record, alive(banner(2)), T0 + 310, POL)
    assert d.record.state == LIMITED and not delivers(d) and "limit-lifted" not in events(d)

    # the next probe is answered: the same two banners stay on screen, as history
    probe = d.record.limit_until
    assert probe is not None
    d = transition(d.record, alive(banner(2)), probe, POL)
    assert [a.purpose for a in delivers(d)] == ["nudge"]
    d = transition(d.record, alive(banner(2), changed=True), probe + 0.5, POL)
    assert d.record.state == LIMITED
    d = transition(d.record, alive(banner(2)), probe + 0.5 + PROBE_CONFIRM, POL)
    assert d.record.state == RUNNING and "limit-lifted" in events(d)
    assert [(a.text, a.purpose) for a in delivers(d)] == [("a ping", "queued")]


def test_after_a_trusted_reset_the_nudge_answered_lifts_the_hold_at_once() -> None:
    banner = limited(600, limit_mark="1|You've hit your session limit · resets 3pm")
    rec = transition(running(), alive(banner), T0, POL).record
    rec.queue = ["a ping"]
    d = transition(rec, alive(banner), T0 + 645, POL)
    assert [a.purpose for a in delivers(d)] == ["nudge"]
    d = transition(d.record, alive(banner, changed=True), T0 + 646, POL)  # it answered; the banner is history
    assert d.record.state == RUNNING and [(a.text, a.purpose) for a in delivers(d)] == [("a ping", "queued")]


def test_distant_reset_time_is_distrusted() -> None:
    rec = transition(running(), alive(limited(7 * 3600)), T0, POL).record
    assert rec.limit_until == T0 + 300 and rec.reset_at is None


def test_limit_lifts_when_agent_works_and_queued_pings_go_out_in_order() -> None:
    rec = transition(running(), alive(limited(600)), T0, POL).record
    rec.queue = ["first ping", "second ping"]
    d = transition(rec, alive(BUSY, changed=True), T0 + 700, POL)
    assert [(a.text, a.purpose) for a in delivers(d)] == [("first ping", "queued"), ("second ping", "queued")]
    assert d.record.queue == [] and d.record.state == RUNNING and d.record.limit_until is None
    assert d.record.sending == ["first ping", "second ping"]  # on disk before a key is typed
    assert transition(d.record, alive(BUSY, changed=True), T0 + 701, POL).actions == []  # once


def test_auto_continue_is_not_nudged_before_its_time() -> None:
    auto = Observation(limited=True, auto_continue=True, reset_at=at(1800))
    rec = transition(running(), alive(auto), T0, POL).record
    assert rec.detail == f"continues by itself at {at(1800).strftime('%H:%M')}" and rec.limit_until == T0 + 1845
    assert transition(rec, alive(auto), T0 + 1844, POL).actions == []
    # it did not resume by itself: now it gets nudged
    assert delivers(transition(rec, alive(auto), T0 + 1845, POL))


def test_limited_agent_that_dies_is_healed_and_no_longer_held() -> None:
    rec = transition(running(), alive(limited(3600)), T0, POL).record
    d = transition(rec, View(present=False), T0 + 10, POL)
    assert starts(d) and d.record.limit_until is None


def test_limit_beats_stall_and_fatal() -> None:
    rec = transition(running(), alive(limited(3000, fatal=True)), T0, POL).record
    assert transition(rec, alive(limited(3000, fatal=True)), T0 + 2000, POL).actions == []


# ── wakes ──────────────────────────────────────────────────────────────────────────────────────

def test_wake_fires_on_schedule_only_when_idle() -> None:
    pol = Policy(watch="heal", wake_interval=3600, wake_text="supervise")
    rec = transition(running(), alive(), T0, pol).record
    assert rec.wake_due == T0 + 3600
    assert transition(rec, alive(BUSY, changed=True), T0 + 3600, pol).actions == []  # busy: later
    d = transition(rec, alive(), T0 + 3601, pol)
    assert [(a.text, a.purpose) for a in delivers(d)] == [("supervise", "wake")]
    assert d.record.wake_due == T0 + 3601 + 3600


def test_wakes_suppressed_when_disabled() -> None:
    pol = Policy(watch="heal", wake_interval=10, wake_text="x", wakes_enabled=False)
    rec = transition(running(), alive(), T0, pol).record
    assert transition(rec, alive(), T0 + 100, pol).actions == []


def test_unwatched_agent_is_observed_but_never_restarted() -> None:
    pol = Policy(watch="none")
    assert transition(running(), View(present=False), T0, pol).actions == []
    assert transition(running(), alive(limited(60)), T0 + 10_000, pol).actions == []


def test_record_round_trips_without_volatile_fields() -> None:
    rec = Record(state=LIMITED, limit_until=T0, queue=["a"], idle_since=T0)
    data = rec.to_json()
    assert "idle_since" not in data
    assert Record.from_json({**data, "unknown_future_key": 1}) == Record(state=LIMITED, limit_until=T0, queue=["a"])


def test_waiting_until_grace_uses_timedelta_semantics() -> None:
    wake = Observation(waiting_until=at(0) + timedelta(seconds=10))
    rec = transition(running(), alive(wake), T0, POL).record
    assert rec.state == SLEEPING


def test_a_tick_without_a_screen_keeps_held_states() -> None:
    for state in (LIMITED, WAITING, SLEEPING):
        rec = Record(state=state, started_at=T0 - 1000, limit_until=T0 + 100 if state == LIMITED else None)
        d = transition(rec, View(present=True), T0, POL)
        assert d.record.state == state and not d.actions
    d = transition(Record(state=STARTING, started_at=T0), View(present=True), T0 + 30, POL)
    assert d.record.state == RUNNING


# ── one clock: monotonic durations, wall-clock promises ───────────────────────────────────────

def test_a_wall_step_does_not_move_a_monotonic_backoff() -> None:
    rec = Record(state=BACKOFF, started_at=T0, backoff_until=T0 + 10, backoff_delay=10)
    assert transition(rec, View(present=False), T0 + 9, POL, wall=T0 - 86400).actions == []
    assert starts(transition(rec, View(present=False), T0 + 10, POL, wall=T0 + 86400))


def test_a_reset_promise_is_read_on_the_wall_and_held_on_the_monotonic_clock() -> None:
    mono = 5000.0  # the monotonic clock has nothing to do with the epoch
    d = transition(running(), alive(limited(3600)), mono, POL, wall=T0)
    assert d.record.limit_until == mono + 3645 and d.record.reset_at == at(3600).isoformat()
    assert [e.fields["until"] for e in d.events if e.event == "limit-hold"] == [
        datetime.fromtimestamp(T0 + 3645, UTC).isoformat(timespec="seconds")]


def test_waiting_until_is_a_wall_clock_promise() -> None:
    wake = Observation(waiting_until=at(3600))
    rec = transition(Record(state=RUNNING, started_at=-1000.0), alive(wake), 10.0, POL, wall=T0).record
    assert rec.state == SLEEPING
    d = transition(rec, alive(wake), 20.0, POL, wall=T0 + 3600 + 181)  # the wall reached it
    assert starts(d)


def test_a_record_from_another_boot_drops_its_monotonic_times() -> None:
    rec = Record(state=BACKOFF, backoff_until=123.0, restarts=[1.0, 2.0], started_at=1.0, queue=["q"], boot="old")
    new = rec.rebased("new")
    assert (new.backoff_until, new.restarts, new.started_at, new.queue) == (None, [], None, ["q"])
    assert rec.rebased("old") is rec


def test_a_record_with_wrongly_typed_values_is_refused() -> None:
    for bad in ({"restarts": "abc"}, {"state": 5}, {"started_at": "yesterday"}, {"queue": [1]}):
        try:
            Record.from_json(bad)
        except ValueError as exc:
            assert next(iter(bad)) in str(exc)
        else:
            raise AssertionError(f"accepted {bad}")


# ── the operator, config edits, start timeout ─────────────────────────────────────────────────

def test_a_pane_started_by_someone_else_is_adopted_over_an_old_backoff() -> None:
    rec = Record(state=BACKOFF, started_at=T0, backoff_until=T0 + 100, pane="%1/100")
    d = transition(rec, alive(pane_key="%2/200"), T0 + 200, POL)
    assert d.record.state == RUNNING and not starts(d) and events(d)[0] == "adopted"
    d = transition(rec, alive(pane_key="%1/100"), T0 + 200, POL)  # the same pane: the backoff stands
    assert starts(d)


def test_a_pending_restart_waits_for_the_turn_to_end_and_spends_no_budget() -> None:
    rec = Record(state=RUNNING, started_at=T0 - 1000, pending="config changed")
    d = transition(rec, alive(BUSY, changed=True), T0, POL)
    assert not starts(d) and "restart pending: config changed" in d.record.detail
    d = transition(d.record, alive(IDLE), T0 + 1, POL)
    assert starts(d) == [Start("restart: config changed", kill=True)]
    assert d.record.restarts == [] and d.record.pending == ""


def test_a_limited_agent_keeps_its_pending_restart_until_the_limit_lifts() -> None:
    rec = transition(running(), alive(limited(600)), T0, POL).record
    rec.pending = "config changed"
    assert not starts(transition(rec, alive(limited(600)), T0 + 10, POL))


def test_an_agent_that_never_draws_is_restarted_after_start_timeout() -> None:
    pol = Policy(start_timeout=60, start_grace=20)
    rec = transition(Record(), View(present=False), T0, pol).record
    blank = View(present=True, obs=IDLE, blank=True)
    assert not starts(transition(rec, blank, T0 + 59, pol))
    d = transition(rec, blank, T0 + 60, pol)
    assert starts(d) and "not ready" in starts(d)[0].reason
    drew = transition(rec, alive(), T0 + 5, pol).record  # anything on screen: ready, never again
    assert drew.ready and not starts(transition(drew, blank, T0 + 200, pol))


def test_every_restart_keeps_the_screen_lines_that_explain_it() -> None:
    d = transition(running(), alive(Observation(fatal=True, rule="fatal_re"), last_lines=("Error: boom",)), T0, POL)
    assert starts(d) and d.record.last_lines == ["Error: boom"]


def test_pings_queued_for_a_held_agent_survive_its_restart_and_go_out_once() -> None:
    rec = transition(running(), alive(limited(3600)), T0, POL).record
    rec.queue = ["review(gate-2): PASS"]
    rec = transition(rec, View(present=False), T0 + 10, POL).record  # died while held: healed
    assert rec.queue == ["review(gate-2): PASS"] and rec.limit_until is None
    d = transition(rec, alive(IDLE), T0 + 15, POL)
    assert [(a.text, a.purpose) for a in delivers(d)] == [("review(gate-2): PASS", "queued")]
    assert not delivers(transition(d.record, alive(IDLE), T0 + 16, POL))


def test_a_resume_that_dies_at_once_is_followed_by_a_fresh_start() -> None:
    rec = Record(state=STARTING, started_at=T0)  # a resumed start...
    d = transition(rec, View(present=True, dead=True, exit_code=1), T0 + 1, POL)  # ...that died at once
    assert d.record.state == BACKOFF
    d = transition(d.record, View(present=True, dead=True, exit_code=1), T0 + 1 + d.record.backoff_delay, POL)
    assert starts(d) and not starts(d)[0].resume, "after a failed resume the next start starts over"


def test_stalls_fatal_screens_and_config_changes_start_over() -> None:
    stalled = transition(transition(running(), alive(), T0, POL).record, alive(), T0 + 300, POL)
    fatal = transition(running(), alive(Observation(fatal=True, rule="fatal_re")), T0, POL)
    pending = transition(Record(state=RUNNING, started_at=T0 - 1000, pending="config changed"), alive(), T0, POL)
    for d in (stalled, fatal, pending):
        assert starts(d) and not starts(d)[0].resume


def test_a_program_that_retries_its_limit_by_itself_is_held_and_never_nudged() -> None:
    retrying = Observation(limited=True, self_retry=True, active=True)
    rec = transition(running(), alive(retrying), T0, POL).record
    assert rec.state == LIMITED and rec.detail == "retrying by itself"
    for t in (300, 3000, 30_000):  # far past any probe period
        d = transition(rec, alive(retrying), T0 + t, POL)
        assert not d.actions, "never nudged, never restarted"
        rec = d.record
    d = transition(rec, alive(BUSY, changed=True), T0 + 30_001, POL)
    assert d.record.state == RUNNING and events(d) == ["limit-lifted"]


def test_status_says_who_gets_a_limited_agent_working_again_and_when() -> None:
    auto = Observation(limited=True, auto_continue=True, reset_at=at(1800))
    plain = Observation(limited=True, reset_at=at(1800))
    unknown = Observation(limited=True)
    hhmm = at(1800).strftime("%H:%M")
    assert transition(running(), alive(auto), T0, POL).record.detail == f"continues by itself at {hhmm}"
    assert transition(running(), alive(plain), T0, POL).record.detail == f"agentsup resumes at {hhmm}"
    assert transition(running(), alive(unknown), T0, POL).record.detail == "usage limit: agentsup probes until it lifts"
    # claude's failure hook came before its "continue automatically" line: the detail follows it
    held = transition(running(), alive(plain), T0, POL).record
    assert transition(held, alive(auto), T0 + 1, POL).record.detail == f"continues by itself at {hhmm}"


def test_an_exact_reset_is_waited_out_by_seconds_not_the_screen_s_slack() -> None:
    """claude's status line gives the reset as an epoch: nudged 5 s after it, not 45 s."""
    exact = Observation(limited=True, reset_at=at(1800), reset_exact=True)
    minute = Observation(limited=True, reset_at=at(1800))
    assert transition(running(), alive(exact), T0, POL).record.limit_until == T0 + 1805
    assert transition(running(), alive(minute), T0, POL).record.limit_until == T0 + 1845


def test_every_state_change_goes_through_the_table_and_an_illegal_one_is_refused() -> None:
    from agentsup.store.record import TRANSITIONS, IllegalTransition, Record, State

    assert set(TRANSITIONS) == set(State), "every state has its exits named"
    rec = Record()
    for step in (State.STARTING, State.RUNNING, State.LIMITED, State.RUNNING, State.EXITED, State.BACKOFF,
                 State.STARTING, State.RUNNING, State.FATAL, State.STARTING):
        rec.change_state(step, f"to {step}")
        assert rec.state == step and rec.detail == f"to {step}"
    for old, new in ((State.FATAL, State.LIMITED), (State.DONE, State.FAILED), (State.PENDING, State.DONE),
                     (State.CANCELLED, State.DONE), (State.BACKOFF, State.WAITING)):
        held = Record(state=old, detail="as it was")
        with pytest.raises(IllegalTransition) as refused:
            held.change_state(new, "never")
        assert (refused.value.old, refused.value.new) == (old, new)
        assert (held.state, held.detail) == (old, "as it was"), "a refused change leaves the record alone"
