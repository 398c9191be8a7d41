"""The per-agent state machine (pure): transition(record, view, now, policy) → decision.

States follow supervisord (STARTING, RUNNING, BACKOFF, FATAL) plus what agents need: LIMITED
(held until a usage limit resets), WAITING (a question for a human), SLEEPING (its own
WAITING-UNTIL), STALLED. Restarts share one budget: exponential backoff for programs that die
soon after starting, and a sliding window that leads to FATAL. A limited agent is never
restarted, stall-killed or pinged; pings for it queue and are delivered after the limit lifts.
"""

from __future__ import annotations

from agentsup.agents.detect import Observation
from agentsup.store.record import (
    BACKOFF,
    EXITED,
    FATAL,
    LIMITED,
    RUNNING,
    SLEEPING,
    STALLED,
    STARTING,
    STOPPED,
    WAITING,
    Record,
)
from agentsup.supervisor.decide.decision import Decision, Deliver, Now, Policy, Start, View
from agentsup.supervisor.decide.limits import under_limit


def transition(record: Record, view: View, now: float, pol: Policy, *, wall: float | None = None) -> Decision:
    """Decide one agent's next state. `now` is monotonic; `wall` the wall clock at the same instant
    (defaults to `now`, for callers whose two clocks agree)."""
    clock = Now(now, now if wall is None else wall)
    d = Decision(record.copy())
    rec = d.record
    if not view.present or view.dead:
        if pol.watch == "none":
            rec.change_state(EXITED if view.dead else STOPPED, "")
            rec.limit_until = None
            return d
        _not_running(d, view, now, pol)
        return d
    if _settled_alive(d, view, clock, pol):
        return d
    obs = view.obs
    if obs is None:  # alive, screen not looked at this tick: only settle STARTING/adopted states
        if rec.state in (STOPPED, EXITED) or (rec.state == STARTING and not _starting(rec, now, pol)):
            rec.settle(RUNNING, "")
        return d
    _judge_screen(d, view, obs, clock, pol)
    return d


def _settled_alive(d: Decision, view: View, clock: Now, pol: Policy) -> bool:
    """A live pane: adopt what someone else started, sit out FATAL and BACKOFF, date an adopted
    start, and replace a wrong program. True when that decided the tick."""
    rec, now = d.record, clock.mono
    if view.pane_key and rec.pane and view.pane_key != rec.pane and rec.state in (BACKOFF, FATAL):
        # Someone (the operator's `up`) started it since we decided: theirs wins over our old record.
        d.note("adopted", previous_state=rec.state, detail="started outside the watchdog")
        rec.change_state(RUNNING)
        rec.backoff_until, rec.backoff_delay, rec.fatal_since = None, 0.0, None
        rec.started_at, rec.ready = None, True
    if view.pane_key:
        rec.pane = view.pane_key
    if rec.state == FATAL:
        if rec.fatal_since is not None and now < rec.fatal_since + pol.fatal_cooldown:
            return True  # alive but out of budget: leave it alone until the cooldown ends
        _end_fatal(d, now)
    if rec.state == BACKOFF:
        if rec.backoff_until is None or now >= rec.backoff_until:
            _start(d, now, rec.last_reason or "backoff over", kill=True)
        return True
    if rec.started_at is None or rec.state in (STOPPED, EXITED):
        # adopted (started by `up`): how long ago tmux created it, on our monotonic scale
        age = max(0.0, clock.wall - view.created) if view.created is not None else 0.0
        rec.started_at = now - age
    if rec.state == STARTING and now - (rec.started_at or now) >= pol.start_grace:
        rec.backoff_delay, rec.fatal_retry = 0.0, False  # it survived its start: a good start resets backoff
    if view.foreign and pol.watch != "none":
        _schedule_start(d, now, pol, f"wrong program in the pane: {view.foreign}", kill=True, view=view)
        return True
    return False


def _judge_screen(d: Decision, view: View, obs: Observation, clock: Now, pol: Policy) -> None:
    """What the screen says decides: a limit, queued pings, a pending restart, a start that never
    got ready, a question, a transient error, a fatal pattern; else working, idle, asleep or stalled."""
    rec, now = d.record, clock.mono
    if _shows_life(obs, view):
        rec.ready = True
    rec.source = obs.source
    if pol.watch == "none":  # observed only: never restarted, never nudged
        limited = (obs.limited or obs.auto_continue) and not obs.active
        rec.settle(LIMITED if limited else RUNNING, "usage limit" if limited else "")
        if not limited:
            _wake(d, obs, now, pol)
        return
    if under_limit(d, obs, clock, pol, view.screen_changed):
        return
    if rec.queue and rec.ready and not obs.active and not obs.waiting_input:
        # pings queued while it was held, and it restarted before the limit lifted: they go now
        d.note("queue-delivered", queued=d.drain_queue())
    if rec.pending and (obs.waiting_input or not obs.active):
        _start(d, now, f"restart: {rec.pending}", kill=True, budget=False)
        return
    if not rec.ready and pol.start_timeout and now - (rec.started_at or now) >= pol.start_timeout:
        _schedule_start(d, now, pol, f"not ready: no prompt or activity {int(pol.start_timeout)}s after start",
                        kill=True, view=view)
        return
    if obs.waiting_input:
        if rec.state != WAITING:
            d.note("waiting-input", detail=obs.question or "a question or permission prompt waits for a human",
                   question=obs.question or "")
        rec.settle(WAITING, _pending_detail(rec, f"waiting for input: {obs.question}" if obs.question
                                           else "waiting for input"), obs.question or "")
        rec.idle_since = None
        return
    if _transient(d, obs, now, pol):
        return
    if obs.fatal:
        _schedule_start(d, now, pol, f"fatal pattern on screen ({obs.rule})", kill=True, view=view)
        return
    _busy_idle_or_asleep(d, view, obs, clock, pol)


def _busy_idle_or_asleep(d: Decision, view: View, obs: Observation, clock: Now, pol: Policy) -> None:
    """Working, idle, asleep until its WAITING-UNTIL, or stalled (and restarted)."""
    rec, now = d.record, clock.mono
    busy = obs.active or view.screen_changed
    if busy or rec.idle_since is None:
        rec.idle_since = now
    idle_for = now - rec.idle_since
    if obs.waiting_until is not None and not obs.active:
        until = obs.waiting_until.timestamp()  # a wall-clock promise: compared on the wall clock
        if clock.wall <= until + pol.stall_grace:
            if rec.state != SLEEPING:
                d.note("sleeping", until=obs.waiting_until.isoformat())
            rec.settle(SLEEPING, f"until {obs.waiting_until.isoformat()}")
            return
        if pol.watch == "heal+stall" and not busy:
            _schedule_start(d, now, pol, f"past its WAITING-UNTIL by {int(clock.wall - until)}s", kill=True,
                            view=view)
            return
    elif pol.watch == "heal+stall" and not busy and idle_for >= pol.stall_idle:
        rec.change_state(STALLED)
        _schedule_start(d, now, pol, f"stalled: no activity for {int(idle_for)}s", kill=True, view=view)
        return
    rec.settle(STARTING if _starting(rec, now, pol) else RUNNING,
         _pending_detail(rec, "working" if busy else "idle"))
    _wake(d, obs, now, pol)


RETRY_TEXT = ("watchdog: your last request ended on a temporary server error (the API's, not yours). "
              "Continue where you stopped.")


SERVER_ERRORS_NOTIFIED = 3  # retries of server errors in a row after which a person is told


def _transient(d: Decision, obs: Observation, now: float, pol: Policy) -> bool:
    """A turn that ended on a server error (claude's 500 or 529 after its own retries) is retried
    after a backoff, never held as a limit. An edge: an error already retried, or one the agent got
    past by itself, is history while it stays on screen. True while a retry is pending."""
    rec = d.record
    if not obs.transient:
        rec.transient_tries, rec.transient_due = 0, None
        return False
    if obs.active or not obs.transient_mark or obs.transient_mark == rec.transient_seen:
        if obs.active and obs.transient_mark:  # it is working again: that error is behind it
            rec.transient_seen, rec.transient_due = obs.transient_mark, None
        return False
    if rec.transient_due is None:
        delay = min(pol.backoff_initial * 2 ** min(rec.transient_tries, 16), pol.backoff_max)
        rec.transient_due = now + delay
        d.note("transient-error", retry_in_s=delay, detail=obs.transient_mark.partition("|")[2][:200])
    if now < rec.transient_due:
        rec.settle(RUNNING, f"server error: retry in {max(1, int(rec.transient_due - now))}s")
        return True
    rec.transient_seen, rec.transient_due = obs.transient_mark, None
    rec.transient_tries += 1
    d.actions.append(Deliver(RETRY_TEXT, "retry"))
    d.note("transient-retry", attempt=rec.transient_tries)
    if rec.transient_tries == SERVER_ERRORS_NOTIFIED:  # a person hears of it once per run of failures
        d.note("transient-failing", attempts=rec.transient_tries,
               detail=f"{rec.transient_tries} server errors in a row: {obs.transient_mark.partition('|')[2][:160]}")
    rec.settle(RUNNING, "retrying after a server error")
    return True


def _shows_life(obs: Observation, view: View) -> bool:
    """Has the program come up? Its input box, work, a question or a limit on screen, or a screen
    that moves. A program that printed a line and froze before its prompt has not (where the
    backend names its input box; otherwise any output counts). Where it names its ready screen
    (`ready_re`), only that screen (or work, a question, a limit) counts: a splash spinner moves too."""
    if obs.active or obs.waiting_input or obs.limited or obs.auto_continue:
        return True
    if obs.self_retry or obs.fatal or obs.waiting_until is not None:
        return True
    if obs.ready is not None:
        return obs.ready
    if view.screen_changed:
        return True
    return obs.prompt if obs.prompt is not None else not view.blank


def _pending_detail(rec: Record, detail: str) -> str:
    return f"{detail}; restart pending: {rec.pending}" if rec.pending else detail


def _starting(rec: Record, now: float, pol: Policy) -> bool:
    return rec.state == STARTING and now - (rec.started_at or now) < pol.start_grace


def _end_fatal(d: Decision, now: float) -> None:
    rec = d.record
    rec.change_state(RUNNING)
    rec.fatal_since, rec.restarts, rec.fatal_retry = None, [], True
    d.note("fatal-cooldown-over", detail="retrying once with a fresh budget")


def _not_running(d: Decision, view: View, now: float, pol: Policy) -> None:
    rec = d.record
    rec.limit_until, rec.reset_at, rec.idle_since = None, None, None  # a dead agent is not held
    if rec.state == FATAL:
        if rec.fatal_since is not None and now < rec.fatal_since + pol.fatal_cooldown:
            return
        _end_fatal(d, now)
        _start(d, now, "FATAL cooldown over", kill=view.present)
        return
    if rec.state == BACKOFF:
        if rec.backoff_until is not None and now < rec.backoff_until:
            return
        _start(d, now, rec.last_reason or "backoff over", kill=view.present)
        return
    if view.dead or rec.started_at is not None:
        rec.last_exit = view.exit_code
        ran = now - rec.started_at if rec.started_at is not None else None
        d.note("exited", exit_code=view.exit_code, ran_s=None if ran is None else round(ran, 1))
        reason = f"exited with code {view.exit_code}" if view.dead else "session gone"
    else:
        reason = "not running"
    # A program that ran and ended is resumed where it was; one that died at once starts over
    # (a resume that fails is what makes it die at once: the loop-breaker).
    _schedule_start(d, now, pol, reason, kill=view.present, view=view, resume=rec.started_at is not None)


def _schedule_start(d: Decision, now: float, pol: Policy, reason: str, *, kill: bool, view: View,
                    resume: bool = False) -> None:
    """Restart now, after a backoff, or not at all (FATAL), as the restart budget allows. The screen's
    last lines are kept: they say why."""
    rec = d.record
    rec.last_reason = reason
    if view.last_lines:
        rec.last_lines = list(view.last_lines)
    quick = rec.started_at is not None and now - rec.started_at < pol.start_grace
    rec.restarts = [t for t in rec.restarts if now - t < pol.window]
    if (rec.fatal_retry and quick) or len(rec.restarts) >= pol.restart_max:
        why = "still failing after the FATAL cooldown" if rec.fatal_retry and quick else (
            f"{len(rec.restarts)} restarts within {int(pol.window)}s")
        rec.change_state(FATAL, f"{why}; last: {reason}")
        rec.fatal_since, rec.backoff_until = now, None
        d.note("fatal", reason=rec.detail, exit_code=rec.last_exit, last_lines=rec.last_lines[-5:])
        return
    if quick:
        rec.backoff_delay = pol.backoff_initial if rec.backoff_delay <= 0 else min(rec.backoff_delay * 2,
                                                                                   pol.backoff_max)
    else:
        rec.backoff_delay = 0.0
    if rec.backoff_delay > 0:
        rec.change_state(BACKOFF, f"retry in {rec.backoff_delay:g}s: {reason}")
        rec.backoff_until = now + rec.backoff_delay
        d.note("backoff", delay_s=rec.backoff_delay, reason=reason)
        return
    _start(d, now, reason, kill=kill, resume=resume)


def _start(d: Decision, now: float, reason: str, *, kill: bool, budget: bool = True, resume: bool = False) -> None:
    rec = d.record
    if budget:
        rec.restarts.append(now)
    rec.started_at, rec.backoff_until, rec.idle_since = now, None, None
    rec.limit_until, rec.reset_at, rec.limit_nudges = None, None, 0
    rec.pane, rec.ready, rec.pending = "", False, ""
    rec.change_state(STARTING, reason)
    d.actions.append(Start(reason, kill, resume))
    d.note("restart" if kill else "start", reason=reason, **({"resume": True} if resume else {}))


def _wake(d: Decision, obs: Observation, now: float, pol: Policy) -> None:
    rec = d.record
    if pol.wake_interval is None or not pol.wakes_enabled:
        return
    if rec.wake_due is None:
        rec.wake_due = now + pol.wake_interval
    elif now >= rec.wake_due and not obs.active:
        rec.wake_due = now + pol.wake_interval
        d.actions.append(Deliver(pol.wake_text, "wake"))
        d.note("wake")
