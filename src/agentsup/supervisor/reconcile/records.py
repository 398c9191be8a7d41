"""The one owner of the agents' records while a process holds the watchdog's lock (the watchdog,
or the CLI carrying out a request in its place): every record and queue is read, replaced,
queued to and written here, and each change of state is noted with its reason, so the question
"who changed this agent's state, and why?" has one answer: `Records.changes`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agentsup.store.record import Record, State
from agentsup.store.state import StateDir, move_aside, read_state, write_json

Log = Callable[..., None]


@dataclass(frozen=True)
class Change:
    """One change of an agent's state in this tick: from, to, and why."""

    old: str
    new: str
    why: str = ""


class Records:
    """The agents' records: loaded on first use (a damaged file is set aside), replaced whole by
    the named operations below, written atomically when they changed."""

    def __init__(self, state: StateDir, boot: str, log: Log, *, dry_run: bool = False) -> None:
        self.state = state
        self.boot = boot
        self.log = log
        self.dry_run = dry_run
        self._records: dict[str, Record] = {}
        self._saved: dict[str, dict[str, Any]] = {}
        self.changes: dict[str, Change] = {}  # per agent: its last change of state (notifications read it)
        self.write_error: str | None = None  # why the last write failed (a full disk), or None

    # ── reading ─────────────────────────────────────────────────────────────────────────────

    def get(self, name: str) -> Record:
        """The agent's record: in memory, else read back from its file (a damaged one is set aside)."""
        if name not in self._records:
            data, problem = read_state(self.state.record_file(name))
            if problem:
                self.log("state-corrupt", name, detail=problem)
            try:
                rec = Record.from_json(data) if data is not None else Record(boot=self.boot)
            except (TypeError, ValueError) as exc:
                path = self.state.record_file(name)
                try:
                    detail = f"{path}: {exc}; moved aside to {move_aside(path).name}"
                except OSError as err:
                    detail = f"{path}: {exc}; could not move it aside: {err.strerror}"
                self.log("state-corrupt", name, detail=detail)
                rec = Record(boot=self.boot)
            self._records[name] = rec.rebased(self.boot)
            self._saved[name] = rec.to_json()
        return self._records[name]

    def __contains__(self, name: object) -> bool:
        return name in self._records

    def items(self) -> Iterator[tuple[str, Record]]:
        """(name, record) of every record loaded."""
        return iter(list(self._records.items()))

    def values(self) -> Iterator[Record]:
        """Every record loaded."""
        return iter(list(self._records.values()))

    # ── the named changes ───────────────────────────────────────────────────────────────────

    def put(self, name: str, rec: Record, why: str = "") -> Record:
        """`rec` is now the agent's record (a tick's decision, a hold for its account); its change
        of state, if any, is noted with `why`."""
        old = self.get(name).state
        self._records[name] = rec
        self.noted(name, old, rec.state, why or rec.detail)
        return rec

    def noted(self, name: str, old: str, new: str, why: str = "") -> None:
        """Note a change of state made on the record in place (a task's plan applies its own)."""
        if old != new:
            self.changes[name] = Change(str(old), str(new), why)

    def fresh(self, name: str, *, state: State = State.STOPPED, detail: str = "", started_at: float | None = None,
              restarts: list[float] | None = None, why: str = "") -> Record:
        """A new record for the agent (a reset, a restart by hand, a new phase) that keeps what must
        outlive it: its queue (pings owed to it) and its next wake."""
        old = self.get(name)
        return self.put(name, Record(state=state, detail=detail, started_at=started_at, restarts=restarts or [],
                                     queue=list(old.queue), sending=list(old.sending), wake_due=old.wake_due,
                                     boot=self.boot), why or detail)

    def enqueue(self, name: str, text: str) -> int:
        """Owe `text` to the agent (delivered once, in order, when it can take it); the queue's length."""
        rec = self.get(name)
        rec.queue = [*rec.queue, text]
        return len(rec.queue)

    def sent(self, name: str, text: str, *, again: bool) -> None:
        """A message of `sending` went out (or, `again`, waits at the queue's end for another try)."""
        rec = self.get(name)
        if text in rec.sending:
            rec.sending = rec.sending[:]
            rec.sending.remove(text)
        if again:
            rec.queue = [*rec.queue, text]

    def resume_sending(self, name: str, *, first_arrived: bool) -> list[str]:
        """After a watchdog died while typing: the message it was typing arrived or not (its screen
        says), and the rest go back to the queue's front, ahead of what came since; what goes back."""
        rec = self.get(name)
        back = rec.sending[1:] if first_arrived else rec.sending
        rec.queue, rec.sending = [*back, *rec.queue], []
        return back

    def forget(self, name: str) -> None:
        """An agent gone from the config: its record leaves memory (its file stays, for history)."""
        self._records.pop(name, None)
        self._saved.pop(name, None)
        self.changes.pop(name, None)

    # ── writing ─────────────────────────────────────────────────────────────────────────────

    def persist(self, name: str) -> None:
        """Write the agent's record if it changed, whole (a temporary file, then a rename); a write
        that fails (a full disk) is kept in memory and tried again at the next tick."""
        data = self.get(name).to_json()
        if data == self._saved.get(name) or self.dry_run:
            return
        try:
            write_json(self.state.record_file(name), data)
        except OSError as exc:
            self.write_error = f"cannot write agent records: {exc.strerror or exc}"
            return
        self._saved[name] = data

    def persist_all(self) -> None:
        """Write every record that changed."""
        self.write_error = None
        for name in list(self._records):
            self.persist(name)
