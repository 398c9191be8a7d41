"""What is typed into agents on the watchdog's side, and what is owed to them: pings, queued
messages, nudges and wakes. A message that must arrive (a ping, a queued one) is never lost and
never typed twice: one that cannot be typed now waits in the agent's queue, and a queued one is on
disk as `sending` before a key is typed, so a watchdog killed mid-delivery is followed by one that
looks at the screen and goes on from there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentsup.config.load import Agent
from agentsup.errors import TmuxUnreachableError
from agentsup.store.record import BACKOFF, FATAL, STOPPED
from agentsup.supervisor.decide.clock import Clock
from agentsup.supervisor.decide.decision import Deliver
from agentsup.supervisor.processes import start_stop
from agentsup.supervisor.reconcile.records import Records
from agentsup.tmux.client import NoSessionError, PaneInfo
from agentsup.tmux.delivery import Delivery, DeliveryResult, seen_sent

KEPT = ("ping", "queued")  # messages that must arrive: queued when tmux cannot take them now
LOOK_AGAIN = 3.0  # seconds after a nudge before its answer is read
HISTORY = 200  # lines above the screen searched for a message a dead watchdog was typing


class Messages:
    """Types messages into agents for the records' owner, and keeps what is owed to them there."""

    def __init__(self, rt: start_stop.Runtime, records: Records, log: Callable[..., None],
                 persist: Callable[[str], None], clock: Clock, *, dry_run: bool = False) -> None:
        self.rt = rt
        self.records = records
        self.log = log
        self.persist = persist
        self.clock = clock
        self.dry_run = dry_run
        self.look_again: list[float] = []  # moments to read screens again (Reconciler.signal_due)

    def send(self, agent: Agent, action: Deliver, text: str, unreachable: str) -> str:
        """Carry out one Deliver of a decision; `unreachable` (why tmux stopped answering, this
        tick) is returned, set once it did: the rest of the messages then wait in the queue."""
        kept = action.purpose in KEPT
        again = bool(unreachable) and kept
        why = unreachable
        if not again:
            try:
                result = self.deliver(agent, text, action.purpose)
                again = kept and (result.draft or result.result == DeliveryResult.NO_SESSION)
                why = result.detail
            except TmuxUnreachableError as exc:  # a frozen server: messages wait, none is lost
                unreachable = why = f"tmux unreachable: {exc}"
                again = kept
                if not kept:
                    self.log(f"{action.purpose}-failed", agent.name, error=unreachable)
        if action.purpose == "queued":
            self.records.sent(agent.name, text, again=again)  # out of `sending` and, if again, queued: one write
        elif again:
            self.records.enqueue(agent.name, text)
        if again:
            self.log("ping-queued", agent.name, queued=len(self.records.get(agent.name).queue), detail=why)
        self.persist(agent.name)
        return unreachable

    def deliver(self, agent: Agent, text: str, purpose: str, *, force: bool = False, **fields: Any) -> Delivery:
        """Type `text` into the agent, verified (`force` clears a person's draft first), and journal
        what became of it."""
        result = start_stop.deliver(self.rt, agent, text, force=force)
        if purpose in ("nudge", "queued", "retry"):
            self.look_again = [*self.look_again[-7:], self.clock.monotonic() + LOOK_AGAIN]
        self.log(f"{purpose}-{result.result.value}", agent.name, attempts=result.attempts, detail=result.detail,
                 text=text[:200], **fields)
        return result

    def answer_ping(self, agent: Agent, text: str, *, by: str, force: bool = False,
                    hold: bool = True) -> tuple[str, int, str]:
        """An operator's ping, the one rule whichever process owns the records: queued while a usage
        limit holds the agent (`hold`), else typed now, verified, and told as it went: stranded by a
        person's draft (`force` clears it), no-session without a live one. (result, attempts, why)"""
        if hold and text.strip() and self.queue_if_held(agent.name, text, reason=by) == "queued":
            return "queued", 0, "held by a usage limit: delivered once it lifts"
        result = self.deliver(agent, text, "ping", force=force, by=by)
        return result.result.value, result.attempts, result.detail

    def resume_sending(self, agent: Agent, pane: PaneInfo | None) -> None:
        """A watchdog died while it typed the agent's queued messages: the one it was typing counts
        as arrived when the screen shows it sent; it and the rest go back to the queue otherwise."""
        sending = self.records.get(agent.name).sending
        arrived = False
        if pane is not None and not pane.dead:
            try:
                screen = [r.rstrip() for r in self.rt.tmux.screen(pane.pane_id).split("\n")]
                history = self.rt.tmux.capture(pane.pane_id, history=HISTORY).split("\n")
                arrived = seen_sent(screen, history, sending[0], self.rt.cfg.backend_of(agent).input_box())
            except TmuxUnreachableError:
                return  # asked again next tick
            except NoSessionError:
                pass  # gone: its next program gets them all
        back = self.records.resume_sending(agent.name, first_arrived=arrived)
        self.log("sending-resumed", agent.name, arrived=sending[0][:200] if arrived else "", queued=len(back),
                 detail="the watchdog stopped while typing queued messages")
        self.persist(agent.name)

    def queue_if_held(self, name: str, text: str, *, reason: str) -> str:
        """Queue `text` for agent `name` while a usage limit holds it ("queued", delivered once
        after the limit lifts); "not-held" otherwise, and the asker delivers it now."""
        if self.records.get(name).limit_until is None:
            return "not-held"
        return self.enqueue(name, text, reason=reason)

    def enqueue(self, name: str, text: str, **fields: Any) -> str:
        """Owe `text` to agent `name`, on disk before the answer; "queued"."""
        queued = self.records.enqueue(name, text)
        self.persist(name)
        self.log("ping-queued", name, queued=queued, **fields)
        return "queued"

    def deliver_or_queue(self, name: str, text: str, *, reason: str) -> str:
        """Deliver `text` to agent `name` now, or queue it while the agent is held by a usage limit,
        not up, or tmux does not answer; what became of it."""
        agent = self.rt.cfg.agents.get(name)
        if agent is None:
            self.log("ping-dropped", name, reason=reason, detail="no such agent")
            return "no-agent"
        if self.queue_if_held(name, text, reason=reason) == "queued":
            return "queued"
        rec = self.records.get(name)
        if rec.state in (BACKOFF, FATAL, STOPPED) or not rec.ready:  # not up: it gets it once it is
            return self.enqueue(name, text, reason=reason, detail=f"{rec.state}: not up yet")
        if self.dry_run:
            self.log("ping-would-deliver", name, reason=reason)
            return "dry-run"
        try:
            result = self.deliver(agent, text, "ping")
        except TmuxUnreachableError as exc:  # tmux frozen: the ping waits for the agent, as for a held one
            return self.enqueue(name, text, detail=f"tmux unreachable: {exc}")
        if result.draft or result.result == DeliveryResult.NO_SESSION:
            # A person is typing, or the session is gone (the server was killed, a restart is under
            # way): it goes once the agent is back at its prompt, never lost.
            self.enqueue(name, text, detail=result.detail)
        return result.result.value
