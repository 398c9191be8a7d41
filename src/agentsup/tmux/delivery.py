"""Verified delivery of a message into an agent's input box.

Paste the text as one bracketed paste, press the submit key on its own, and check that the text
left the input box. The input box is found relative to the cursor: after the paste, the row that
holds the text's tail sits `offset` rows above the cursor; after a submit that row must no longer
hold it. TUIs that collapse a long paste into a placeholder never show the tail: for them a screen
change after the submit key counts. Deliveries to one pane are serialised by a file lock, so two
processes (the watchdog and a user's `agentsup ping`) never interleave keystrokes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agentsup.store.state import FileLock
from agentsup.tmux.client import NoSessionError, TmuxSeam

PROBE_CHARS = 24
# ESC, every C0 control but tab and newline, DEL and the C1 controls: typed into a pane they are
# keystrokes, not text (ESC[201~ would end the bracketed paste and the rest would run as keys).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def as_text(text: str) -> str:
    """What may be typed into an agent: `text` with every terminal control removed. Carriage
    returns become newlines; what a control sequence leaves behind ("[201~") stays visible text."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


class DeliveryResult(StrEnum):
    """How a delivery ended."""

    DELIVERED = "delivered"
    STRANDED = "stranded"
    NO_SESSION = "no-session"


@dataclass(frozen=True)
class Delivery:
    """How one delivery went: its result, the submit-key presses it took, and why."""

    result: DeliveryResult
    attempts: int  # submit-key presses
    detail: str
    draft: bool = False  # stranded because a person's text sits in the input box

    @property
    def ok(self) -> bool:
        """Did the text leave the input box?"""
        return self.result is DeliveryResult.DELIVERED


@dataclass(frozen=True)
class InputBox:
    """How to read a program's input box: the last row `row` matches holds it (group 1 is the text
    typed there); text that `idle` matches is the program's own (a placeholder, a menu's cursor)."""

    row: re.Pattern[str]
    idle: re.Pattern[str] | None = None

    def draft(self, rows: list[str]) -> str:
        """What a person has typed into the input box and not sent ("" when it is empty)."""
        for line in reversed(rows):
            m = self.row.match(line)
            if m:
                typed = (m.group(1) if m.groups() else "").strip()
                return "" if not typed or (self.idle is not None and self.idle.match(typed)) else typed
        return ""


def _norm(text: str) -> str:
    return " ".join(text.split())


def _unsent(draft: str, text: str) -> bool:
    """The input box holds `text` (its start, where the row is narrower), not sent: one test for
    "still ours after Enter" and "ours from an earlier try", never a person's few characters."""
    shown, whole = _norm(draft), _norm(text)
    return len(shown) >= min(8, len(whole)) > 0 and whole.startswith(shown)


def probe_of(text: str) -> str:
    """The tail of `text` as it would appear on screen (whitespace folded), to find it there."""
    return _norm(text)[-PROBE_CHARS:]


def _rows_with_probe(rows: list[str], probe: str) -> list[int]:
    """Rows holding the probe: on the row itself, or across the wrap from the row above (then the
    lower row counts, where the text ends)."""
    hits = []
    for i, row in enumerate(rows):
        above = rows[i - 1] if i else ""
        if probe in _norm(row) or (probe in _norm(above + row) and probe not in _norm(above)):
            hits.append(i)
    return hits


def seen_sent(screen: list[str], history: list[str], text: str, box: InputBox | None) -> bool:
    """Was `text` submitted: not unsent in the input box of the visible `screen`, and its tail in
    `history` (the screen and the lines above it)? How a watchdog that died while typing it tells
    whether to type it again. (Old frames in the history hold old input boxes: only the screen's counts.)"""
    if box is not None and _unsent(box.draft(screen), text):
        return False
    return bool(_rows_with_probe(history, probe_of(text)))


@dataclass
class Deliverer:
    """Pastes, submits and verifies messages through the tmux seam."""

    tmux: TmuxSeam
    lock_of: Callable[[str], Path]  # a session's delivery lock (StateDir.delivery_lock)
    retries: int = 3
    wait: float = 2.0  # seconds to wait for each visible effect
    poll: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def deliver(self, session: str, text: str, *, submit_key: str = "Enter", box: InputBox | None = None,
                force: bool = False) -> Delivery:
        """Type `text` and submit it. A draft a person left in the input box (`box` tells how to
        read it) strands the message, so the two never mix; `force` clears the draft first."""
        text = as_text(text)  # the one way into a pane: nothing typed here is ever a control
        if not text.strip():
            return Delivery(DeliveryResult.STRANDED, 0, "nothing to deliver: the message is empty")
        lock = FileLock(self.lock_of(session), record_pid=False)
        lock.acquire(blocking=True)
        try:
            if box is not None:
                refused = self._clear_draft(session, box, force, text)
                if refused is not None:
                    return refused
            return self._deliver(session, text, submit_key, box)
        except NoSessionError:
            return Delivery(DeliveryResult.NO_SESSION, 0, f"session {session!r} went away")
        finally:
            lock.release()

    def _clear_draft(self, session: str, box: InputBox, force: bool, text: str) -> Delivery | None:
        shot = self._screen(session)
        draft = box.draft(shot[0]) if shot is not None else ""
        if not draft:
            return None
        shown = draft if len(draft) <= 40 else draft[:37] + "..."
        if not force and not _unsent(draft, text):  # our own text, left by an earlier try, is cleared
            return Delivery(DeliveryResult.STRANDED, 0, f"input box holds a draft ({shown!r}); --force clears it",
                            draft=True)
        pane = self.tmux.pane(session)
        if pane is None:
            raise NoSessionError(session)
        if pane.in_mode:
            self.tmux.leave_mode(pane.pane_id)
        self.tmux.send_keys(pane.pane_id, ["BSpace"] * (len(draft) + 4))
        shot = self._wait_for(session, lambda rows, cursor: not box.draft(rows))
        if shot is not None and box.draft(shot[0]):
            return Delivery(DeliveryResult.STRANDED, 0, f"could not clear the draft ({shown!r})", draft=True)
        return None

    def _screen(self, session: str) -> tuple[list[str], int] | None:
        pane = self.tmux.pane(session)
        if pane is None or pane.dead:
            return None
        raw = self.tmux.screen(pane.pane_id)
        return [line.rstrip() for line in raw.split("\n")], pane.cursor_y

    def _wait_for(self, session: str, done: Callable[[list[str], int], bool]) -> tuple[list[str], int] | None:
        deadline = self.monotonic() + self.wait
        while True:
            shot = self._screen(session)
            if shot is None or done(*shot) or self.monotonic() >= deadline:
                return shot
            self.sleep(self.poll)

    def _deliver(self, session: str, text: str, submit_key: str, box: InputBox | None = None) -> Delivery:
        pane = self.tmux.pane(session)
        if pane is None or pane.dead:
            return Delivery(DeliveryResult.NO_SESSION, 0, f"no live session {session!r}")
        if pane.in_mode:
            self.tmux.leave_mode(pane.pane_id)  # keys sent in copy mode never reach the program
        before = self._screen(session)
        if before is None:
            return Delivery(DeliveryResult.NO_SESSION, 0, f"no live session {session!r}")
        probe = probe_of(text)
        self.tmux.paste(pane.pane_id, text)

        def pasted(rows: list[str], cursor: int) -> bool:
            return bool(_rows_with_probe(rows, probe)) or rows != before[0]

        shot = self._wait_for(session, pasted)
        if shot is None:
            return Delivery(DeliveryResult.NO_SESSION, 0, "session ended during delivery")
        if shot[0] == before[0] and not _rows_with_probe(*shot[:1], probe):
            return Delivery(DeliveryResult.STRANDED, 0, "the pasted text never appeared; the program is not reading")
        hits = [i for i in _rows_with_probe(shot[0], probe) if i <= shot[1]]
        offset = shot[1] - hits[-1] if hits else None
        after_paste = shot[0]

        def submitted(rows: list[str], cursor: int) -> bool:
            if box is not None and _unsent(box.draft(rows), text):
                return False  # still in the input box, wherever a redraw moved it (gemini, busy)
            if offset is None:
                return rows != after_paste
            row = cursor - offset
            return not (0 <= row < len(rows) and row in _rows_with_probe(rows, probe))

        for attempt in range(1, self.retries + 1):
            self.tmux.send_keys(pane.pane_id, [submit_key])
            shot = self._wait_for(session, submitted)
            if shot is None:
                return Delivery(DeliveryResult.NO_SESSION, attempt, "session ended during delivery")
            if submitted(*shot):
                return Delivery(DeliveryResult.DELIVERED, attempt, "submitted")
        return Delivery(
            DeliveryResult.STRANDED, self.retries,
            f"text still in the input box after {self.retries} presses of {submit_key}",
        )
