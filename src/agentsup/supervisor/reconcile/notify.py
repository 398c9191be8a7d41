"""Notifications (`[notify]`): one per transition, never one per tick, delivered from a worker thread
so a slow endpoint never delays a tick. Each event goes to the command (an argv, no shell; the event
in AGENTSUP_* variables) and/or the webhook (a JSON POST), with bounded retries; every attempt and
failure is journaled."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from agentsup.config.schema import NotifySpec

# Journal events that are notification kinds (one journal line per transition already).
KIND_OF_EVENT = {
    "fatal": "fatal", "limit-hold": "limited", "waiting-input": "waiting-input", "task-failed": "task-failed",
    "phase-advance": "phase-advance", "sequence-complete": "sequence-complete",
    "watchdog-degraded": "watchdog-degraded",  # one per change of health, whatever is failing
    "transient-failing": "server-errors",  # retried server errors in a row: once per run of them
}
BACKOFF = (0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Notice:
    """One notification: the event, the agent, its state change and what it says."""

    event: str  # a notification kind
    agent: str = ""
    old_state: str = ""
    new_state: str = ""
    detail: str = ""
    ts: str = ""

    def env(self) -> dict[str, str]:
        """The environment the notify command gets."""
        return {"AGENTSUP_EVENT": self.event, "AGENTSUP_AGENT": self.agent, "AGENTSUP_OLD_STATE": self.old_state,
                "AGENTSUP_NEW_STATE": self.new_state, "AGENTSUP_DETAIL": self.detail}


@dataclass(frozen=True)
class Sent:
    """One channel's outcome for one notice."""

    channel: str  # command | webhook
    ok: bool
    attempts: int
    error: str = ""


def send(spec: NotifySpec, notice: Notice, journal: Callable[..., Any], *,
         sleep: Callable[[float], None] = time.sleep) -> list[Sent]:
    """Deliver one notice on every configured channel, retrying each a bounded number of times."""
    results = []
    if spec.command:
        results.append(_attempts(spec, "command", notice, journal, sleep, lambda: _run(spec, notice)))
    if spec.webhook:
        results.append(_attempts(spec, "webhook", notice, journal, sleep, lambda: _post(spec, notice)))
    return results


def _attempts(spec: NotifySpec, channel: str, notice: Notice, journal: Callable[..., Any],
              sleep: Callable[[float], None], attempt: Callable[[], str | None]) -> Sent:
    problem = ""
    for number in range(1, spec.retries + 1):
        problem = attempt() or ""
        if not problem:
            journal("notify-sent", notice.agent or None, channel=channel, kind=notice.event, attempt=number)
            return Sent(channel, True, number)
        journal("notify-failed", notice.agent or None, channel=channel, kind=notice.event, attempt=number,
                error=problem)
        if number < spec.retries:
            sleep(BACKOFF[min(number - 1, len(BACKOFF) - 1)])
    return Sent(channel, False, spec.retries, problem)


def _run(spec: NotifySpec, notice: Notice) -> str | None:
    try:
        done = subprocess.run(spec.command, env={**os.environ, **notice.env()}, capture_output=True, text=True,
                              timeout=spec.timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[:200]}"


def _post(spec: NotifySpec, notice: Notice) -> str | None:
    assert spec.webhook is not None
    body = json.dumps(asdict(notice)).encode()
    # the schema admits http(s) URLs only
    request = urllib.request.Request(spec.webhook, data=body, method="POST",  # noqa: S310
                                     headers={"content-type": "application/json", "user-agent": "agentsup"})
    try:
        with urllib.request.urlopen(request, timeout=spec.timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def notice_detail(fields: dict[str, Any]) -> str:
    """One line a person reads in a notification: why, or until when."""
    for key in ("question", "reason", "error", "detail"):
        if fields.get(key):
            return str(fields[key])[:500]
    if fields.get("until"):
        return f"held until {fields['until']}" + (" (its reset time)" if fields.get("parsed") else " (probing)")
    if "next" in fields:
        return f"{fields.get('done')} done; now {fields['next']}"
    if "last" in fields:
        return f"the last phase, {fields['last']}, is done"
    if "exit_code" in fields:
        return f"exit code {fields['exit_code']}"
    return ""


class Notifier:
    """Queues notices; a daemon worker sends them in order. `spec` is read per notice, so a reload
    that changes [notify] applies to the next one."""

    def __init__(self, spec: Callable[[], NotifySpec], journal: Callable[..., Any], *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.spec = spec
        self.journal = journal
        self.sleep = sleep
        self.queue: queue.Queue[Notice] = queue.Queue(maxsize=1000)
        self.thread: threading.Thread | None = None
        self.last_failure: str | None = None  # the last notification that never got through, and why

    def notify(self, notice: Notice) -> None:
        """Queue `notice` for every channel, when its kind is in [notify].on."""
        spec = self.spec()
        if notice.event not in spec.on or not (spec.command or spec.webhook):
            return
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._work, name="agentsup-notify", daemon=True)
            self.thread.start()
        try:
            self.queue.put_nowait(notice)
        except queue.Full:
            self.journal("notify-dropped", notice.agent or None, kind=notice.event, detail="notification queue full")

    def _work(self) -> None:
        while True:
            notice = self.queue.get()
            try:
                for sent in send(self.spec(), notice, self.journal, sleep=self.sleep):
                    if not sent.ok:
                        self.last_failure = f"{_now()} {notice.event} via {sent.channel}: {sent.error}"
            except Exception as exc:  # a notifier bug must not end the worker: the next notice still goes
                self.journal("notify-failed", notice.agent or None, kind=notice.event, error=repr(exc))
                self.last_failure = f"{_now()} {notice.event}: {exc!r}"
            finally:
                self.queue.task_done()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until the queued notices went out (tests, and a watchdog stopping)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
