"""Usage limits in the state machine (pure): hold the agent until its reset, answer the program's
own limit menu, nudge it once the limit has lifted (or verify its own continuation), and hold every
agent of the same account when one of them hits the shared limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from agentsup.agents.detect import Observation, is_history
from agentsup.store.record import LIMITED, RUNNING, Record
from agentsup.supervisor.decide.decision import Decision, Deliver, Keys, Now, Policy

EXACT_SLACK = 5.0  # seconds past an exact reset epoch before a held agent is nudged
# claude's status line gives a spent window's reset as an epoch: a week's is days away, and no
# misreading of a screen, so it is trusted beyond limit_max_hold (up to the week and a margin).
EXACT_MAX_HOLD = 7 * 86400 + 3600
# An agent that continues by itself at the reset (claude 2.1.234+) is given this long to show it
# did before agentsup nudges it, once. Against the mock, claude 2.1.332 resumed by itself 1.4 s
# after the reset in one run and had not after 8 s in others (then the one nudge resumed it).
AUTO_CONTINUE_GRACE = 8.0
# A menu just answered may still be on screen at the next tick (watcher-driven ticks come within
# milliseconds): answered again, gemini 0.61 took the second "2" into its input box. For this long
# the menu is not answered again, and the screen between the menu and what follows lifts no hold.
MENU_SETTLE = 3.0
# A probe's own echo changes the screen before the program's answer to it is drawn: gemini 0.61
# under load drew its quota message again a few seconds after a probe that the screen's change
# had already lifted (and the queue had gone out into the still-limited agent). A blind probe (no
# reset time to trust) is taken up only when the agent has looked resumed for this long with no
# new banner or menu meanwhile; after a trusted reset has passed, resuming lifts the hold at once.
PROBE_CONFIRM = 4.0


def nudge_text(kind: str) -> str:
    """The probe typed into a held agent once its reset has passed (a loop agent also pulls)."""
    if kind == "loop":
        return ("watchdog probe: if your usage limit has reset, resume your loop now: pull the latest, "
                "re-read this phase's status and review files, and continue where you stopped.")
    return ("watchdog probe: if your usage limit has reset, resume now: re-check your status and continue "
            "where you stopped.")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _answer_menu(d: Decision, obs: Observation, now: float) -> None:
    """The program's own limit menu owns the keyboard: every nudge would strand. Answer it, once."""
    rec = d.record
    if obs.menu_keys and not _settling(rec, now):
        d.actions.append(Keys(obs.menu_keys, "limit-menu"))
        d.note("limit-menu-answered", keys=list(obs.menu_keys))
        rec.menu_answered = now


def _settling(rec: Record, now: float) -> bool:
    return rec.menu_answered is not None and 0 <= now - rec.menu_answered < MENU_SETTLE


@dataclass(frozen=True)
class Promise:
    """The reset a banner promises (wall clock; None when there is none to trust), and the slack
    after it."""

    at: float | None
    slack: float

    @property
    def trusted(self) -> bool:
        """Is there a reset time to trust?"""
        return self.at is not None

    @classmethod
    def of(cls, obs: Observation, clock: Now, pol: Policy) -> Promise:
        """The promise of the reset `obs` shows, and its slack; untrusted when stale or too far away."""
        at = obs.reset_at.timestamp() if obs.reset_at is not None else None
        # Banners say the minute only: a promise up to a minute old is the minute that is ending.
        # An exact reset (claude's status line: an epoch, or a screen's time to the second) needs
        # seconds of slack; a screen's minute more.
        exact = obs.reset_exact or 0 < obs.reset_grain <= 1
        slack = min(pol.limit_slack, EXACT_SLACK) if exact else pol.limit_slack
        longest = max(pol.limit_max_hold, EXACT_MAX_HOLD) if obs.reset_exact else pol.limit_max_hold
        trusted = (at is not None and at > clock.wall - max(pol.limit_slack, 60.0)
                   and at - clock.wall <= longest)
        return cls(at if trusted else None, slack)


def under_limit(d: Decision, obs: Observation, clock: Now, pol: Policy, changed: bool) -> bool:
    """Usage-limit hold. True while the agent is held (the caller does nothing else). The reset time
    is a wall-clock promise; the hold itself is a monotonic deadline. A limit is an edge: a banner
    the agent already resumed from does not hold it again; only a new one does."""
    rec, now = d.record, clock.mono
    if obs.self_retry:  # it waits out its limit by itself: held, never nudged, never restarted
        _retrying_by_itself(d, obs, now, pol)
        return True
    shows_limit = (obs.limited or obs.auto_continue) and not obs.active
    if shows_limit and rec.limit_until is None and is_history(obs.limit_mark, rec.limit_seen or None):
        shows_limit = False  # the old banner, still on screen
    if rec.limit_until is not None and rec.limit_nudges and not rec.shared_hold:
        if rec.reset_at is None:  # probed blind (no reset time to trust): the limit may well still be on
            resumed = _probe_taken(rec, obs, now, changed or not shows_limit)
            if resumed is None:
                return True  # held while it is confirmed
            shows_limit = not resumed
        elif shows_limit and changed and not obs.menu_keys and is_history(obs.limit_mark, rec.limit_mark or None):
            shows_limit = False  # past its reset, nudged, it answered, and no new banner came: it resumed
    if rec.shared_hold and rec.limit_until is not None and not shows_limit:
        return _shared(d, obs, now, pol, changed)
    promise = Promise.of(obs, clock, pol)
    if rec.limit_until is None:
        if shows_limit:
            _hold(d, obs, clock, pol, promise)
        return shows_limit
    if not shows_limit:
        if not _settling(rec, now):  # (a menu closing: what it leads to is not on screen yet)
            _lift(d, obs, now)
        return True
    if obs.limit_mark and obs.limit_mark != rec.limit_mark:
        rec.limit_mark = obs.limit_mark  # a new banner (a nudge came too early): hold on it
    if obs.auto_continue and not rec.detail.startswith("continues by itself"):
        # its own continuation drawn after the hold began (claude's failure hook comes first)
        rec.settle(LIMITED, _hold_detail(obs, promise.trusted, clock.wall))
    if obs.menu_keys:
        _answer_menu(d, obs, now)
        return True  # nudge once the input is free, on a later tick
    grace = max(promise.slack, AUTO_CONTINUE_GRACE)
    if obs.auto_continue and promise.at is not None and clock.wall < promise.at + grace:
        # it resumes by itself: no nudge before then, and then only if it has not
        rec.limit_until = max(rec.limit_until, clock.mono_of(promise.at) + grace)
    if now >= rec.limit_until and not _settling(rec, now):  # a nudge typed as the menu closes is lost
        _nudge(d, obs, clock, pol, promise)
    return True


def _retrying_by_itself(d: Decision, obs: Observation, now: float, pol: Policy) -> None:
    rec = d.record
    reset = obs.reset_at.isoformat() if obs.reset_at is not None else None
    if rec.limit_until is None:
        d.note("limit-hold", until=None, reset_at=reset, parsed=reset is not None, self_retry=True, source=obs.source)
    rec.limit_until = max(rec.limit_until or now, now + pol.limit_fallback)
    rec.reset_at = reset or rec.reset_at
    rec.settle(LIMITED, "retrying by itself" + (f" at {reset}" if reset else ""))


def _hold(d: Decision, obs: Observation, clock: Now, pol: Policy, promise: Promise) -> None:
    rec = d.record
    rec.limit_until = (clock.mono_of(promise.at) + promise.slack if promise.at is not None
                       else clock.mono + pol.limit_fallback)
    rec.limit_nudges, rec.limit_probe = 0, pol.limit_fallback
    rec.reset_at = obs.reset_at.isoformat() if promise.trusted and obs.reset_at else None
    rec.reset_grain = obs.reset_grain if rec.reset_at else 0.0
    rec.limit_mark = obs.limit_mark or ""
    rec.settle(LIMITED, _hold_detail(obs, promise.trusted, clock.wall))
    d.note("limit-hold", until=_iso(clock.wall_of(rec.limit_until)), reset_at=rec.reset_at, parsed=promise.trusted,
           auto_continue=obs.auto_continue, source=obs.source, **({"window": obs.limit_window}
                                                                  if obs.limit_window else {}))
    _answer_menu(d, obs, clock.mono)


def _lift(d: Decision, obs: Observation, now: float, *, shared_with: str = "") -> None:
    """It works again: the hold ends and what was queued while it was held goes out, in order (the
    one place a hold is lifted, its own or its account's)."""
    rec = d.record
    rec.menu_answered = rec.probe_taken = None
    if shared_with:
        d.note("limit-lifted", nudges=rec.limit_nudges, queued=len(rec.queue), shared_with=shared_with)
    else:
        d.note("limit-lifted", nudges=rec.limit_nudges, queued=len(rec.queue),
               resumed="by itself" if rec.limit_nudges == 0 else "after agentsup's nudge")
        rec.limit_seen, rec.limit_mark = rec.limit_mark, ""
    rec.limit_until, rec.reset_at, rec.limit_nudges, rec.idle_since, rec.shared_hold = None, None, 0, now, ""
    d.drain_queue()
    rec.settle(RUNNING, "working" if obs.active else "idle")


def _nudge(d: Decision, obs: Observation, clock: Now, pol: Policy, promise: Promise) -> None:
    """A probe: typed once the reset has passed, then again with backoff while the limit lasts."""
    rec, now = d.record, clock.mono
    rec.limit_nudges += 1
    rec.probe_taken = None
    d.actions.append(Deliver(nudge_text(pol.kind), "nudge"))
    fast = fast_probe(rec.reset_at, rec.reset_grain, clock.wall)
    if promise.at is not None and promise.at > clock.wall:
        rec.limit_until = clock.mono_of(promise.at) + promise.slack
    elif fast is not None:  # just past a reset shown to the minute (or hour, or second): look again soon
        rec.limit_until = now + fast
    else:
        rec.limit_probe = pol.limit_fallback if rec.limit_nudges == 1 else min(rec.limit_probe * 2,
                                                                               pol.limit_probe_max)
        rec.limit_until = now + rec.limit_probe
    rec.reset_at = obs.reset_at.isoformat() if promise.trusted and obs.reset_at else rec.reset_at
    next_probe = _iso(clock.wall_of(rec.limit_until))
    if rec.state == LIMITED and not obs.auto_continue and (promise.at is None or promise.at <= clock.wall):
        rec.settle(LIMITED, f"still limited past its reset: next probe at {next_probe[11:19]}")
    d.note("limit-nudge", nudge=rec.limit_nudges, next_probe=next_probe)


def fast_probe(reset_at: str | None, grain: float, wall: float) -> float | None:
    """How soon to probe again after a probe met the limit, while the shown reset has only just
    passed: a time shown to the minute may lift any moment within that minute or a little after,
    so every 15 s for three minutes (to the hour: every minute for an hour; to the second: every
    5 s for a minute); None once that window is over (the ordinary backoff then)."""
    if not reset_at or grain <= 0:
        return None
    try:
        shown = datetime.fromisoformat(reset_at).timestamp()
    except ValueError:
        return None
    window = min(3600.0, max(60.0, 3 * grain))
    if not shown <= wall < shown + grain + window:
        return None
    return min(60.0, max(5.0, grain / 4))


def _probe_taken(rec: Record, obs: Observation, now: float, looks_resumed: bool) -> bool | None:
    """After a probe: has the agent resumed? True once it has looked resumed (work, a changed
    screen, the banner gone) for PROBE_CONFIRM with no new banner or menu; None while that is
    being confirmed; False otherwise. A new banner means the probe met the limit again."""
    new_banner = bool(obs.menu_keys) or (obs.limited and not is_history(obs.limit_mark, rec.limit_mark or None))
    if new_banner or (not looks_resumed and rec.probe_taken is None):
        rec.probe_taken = None
        return False
    if rec.probe_taken is None:
        rec.probe_taken = now
    return True if now - rec.probe_taken >= PROBE_CONFIRM else None


def _hold_detail(obs: Observation, trusted: bool, wall: float) -> str:
    """Who gets it working again, and when: `continues by itself at 11:38` (claude's own
    continuation: nothing is typed before then) or `agentsup resumes at 11:38` (a nudge), the
    weekday too when the reset is a day or more away, and the window that ran out where known."""
    when = None
    if trusted and obs.reset_at is not None:
        when = obs.reset_at.strftime("%a %H:%M" if obs.reset_at.timestamp() - wall >= 20 * 3600 else "%H:%M")
    window = f" ({obs.limit_window} window)" if obs.limit_window else ""
    if obs.auto_continue:
        return (f"continues by itself at {when}" if when else "continues by itself") + window
    return (f"agentsup resumes at {when}" if when else "usage limit: agentsup probes until it lifts") + window


def _shared(d: Decision, obs: Observation, now: float, pol: Policy, changed: bool) -> bool:
    """Held because another agent of its account hit the limit (it shows no banner of its own):
    held until the same reset, then nudged; working, or answering a nudge, lifts the hold."""
    rec = d.record
    until = rec.limit_until
    assert until is not None  # the caller holds it
    resumed = obs.active or (rec.limit_nudges > 0 and changed)
    if not resumed and now < until:
        return True
    if not resumed:
        rec.limit_nudges += 1
        rec.limit_probe = pol.limit_fallback if rec.limit_nudges == 1 else min(rec.limit_probe * 2,
                                                                               pol.limit_probe_max)
        rec.limit_until = now + rec.limit_probe
        d.actions.append(Deliver(nudge_text(pol.kind), "nudge"))
        d.note("limit-nudge", nudge=rec.limit_nudges, shared_with=rec.shared_hold)
        return True
    _lift(d, obs, now, shared_with=rec.shared_hold)
    return True


def hold_for_account(rec: Record, by: str, until: float, reset_at: str | None) -> Record:
    """`rec` held by the usage limit agent `by` of its account hit: until the same reset."""
    held = rec.copy()
    held.limit_until, held.reset_at, held.shared_hold = until, reset_at, by
    held.limit_nudges, held.limit_mark = 0, ""
    held.settle(LIMITED, f"held: {by} hit this account's usage limit")
    return held


