"""Notifications: a command (argv, event in AGENTSUP_* variables) and a webhook (JSON POST to a
local HTTP server on 127.0.0.1), one per transition, from a worker that never delays a tick, with
bounded, journaled retries; `agentsup notify test`."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agentsup.config.schema import NotifySpec
from agentsup.store.journal import read_events
from agentsup.supervisor.reconcile.notify import Notice, Notifier, send
from agentsup.supervisor.reconcile.tick import HEAVY, POLL, SIGNAL

from ..conftest import Project, wait_for
from ..scripted import Fleet, agent

RECORDER = "import json, os, sys; open(sys.argv[1], 'a').write(json.dumps({k: v for k, v in os.environ.items() " \
           "if k.startswith('AGENTSUP_')}) + '\\n')"


class Hook:
    """A webhook endpoint on 127.0.0.1 that records what it is sent. `failures` answers that many
    requests with HTTP 500 first; `gate`, when set, holds every request until it is opened."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = 0
        self.gate: threading.Event | None = None
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if hook.gate is not None:
                    hook.gate.wait(30)
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(500)
                else:
                    hook.bodies.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def kinds(self) -> list[str]:
        return [b["event"] for b in self.bodies]


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    if server.gate is not None:
        server.gate.set()
    server.server.shutdown()


def notify_table(hook: Hook, out: Path, **extra: Any) -> str:
    keys = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items())
    return (f"[notify]\ncommand = {json.dumps([sys.executable, '-c', RECORDER, str(out)])}\n"
            f'webhook = "{hook.url}"\n' + keys + "\n")


def commands(out: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


@pytest.mark.tmux  # starts real processes
def test_each_transition_notifies_once_by_command_and_webhook(tmp_path: Path, hook: Hook) -> None:
    out = tmp_path / "notified.jsonl"
    f = Fleet(tmp_path, agent("lim"), agent("ask", account="a2"), agent("crash", account="a3"), notify_table(hook, out))
    f.dog.reconciler.notifier.sleep = lambda s: None  # type: ignore[union-attr]
    f.dog.tick(HEAVY)
    f.advance(30)
    f.tmux.show("t-lim", "You've hit your session limit · resets 10am (UTC)")
    f.tmux.show("t-ask", "Edit main.py?\nDo you want to proceed?\n❯ 1. Yes  2. No")
    for _ in range(5):  # the states hold over many ticks: still one notification each
        f.advance(30)
    f.crash_until_fatal("crash")
    f.tmux.frozen = True  # the watchdog's own health
    for _ in range(3):
        f.dog.safe_tick(SIGNAL)
    f.tmux.frozen = False
    f.dog.safe_tick(SIGNAL)
    f.dog.reconciler.notifier.drain()  # type: ignore[union-attr]

    assert sorted(hook.kinds()) == ["fatal", "limited", "waiting-input", "watchdog-degraded"]
    by_kind = {b["event"]: b for b in hook.bodies}
    assert by_kind["limited"]["agent"] == "lim" and by_kind["limited"]["new_state"] == "LIMITED"
    assert "held until" in by_kind["limited"]["detail"]
    assert by_kind["waiting-input"]["agent"] == "ask" and "Edit main.py?" in by_kind["waiting-input"]["detail"]
    assert by_kind["fatal"]["agent"] == "crash" and by_kind["fatal"]["new_state"] == "FATAL"
    assert by_kind["fatal"]["old_state"] in ("STARTING", "RUNNING", "BACKOFF")
    assert "did not answer" in by_kind["watchdog-degraded"]["detail"]
    ran = commands(out)
    assert sorted(r["AGENTSUP_EVENT"] for r in ran) == sorted(hook.kinds())
    fatal = next(r for r in ran if r["AGENTSUP_EVENT"] == "fatal")
    assert fatal["AGENTSUP_AGENT"] == "crash" and fatal["AGENTSUP_NEW_STATE"] == "FATAL" and fatal["AGENTSUP_DETAIL"]
    sent = [e for e in read_events(tmp_path / "logs" / "events.jsonl") if e["event"] == "notify-sent"]
    assert len(sent) == 8 and {e["channel"] for e in sent} == {"command", "webhook"}


@pytest.mark.tmux  # starts real processes
def test_only_the_kinds_in_on_are_sent(tmp_path: Path, hook: Hook) -> None:
    out = tmp_path / "notified.jsonl"
    f = Fleet(tmp_path, agent("lim"), agent("ask", account="a2"), notify_table(hook, out, on=["waiting-input"]))
    f.dog.tick(HEAVY)
    f.tmux.show("t-lim", "You've hit your session limit · resets 10am (UTC)")
    f.tmux.show("t-ask", "Do you want to proceed?")
    f.advance(30)
    f.dog.reconciler.notifier.drain()  # type: ignore[union-attr]
    assert hook.kinds() == ["waiting-input"] and [r["AGENTSUP_EVENT"] for r in commands(out)] == ["waiting-input"]


def test_a_slow_endpoint_never_holds_up_a_tick(tmp_path: Path, hook: Hook) -> None:
    hook.gate = threading.Event()  # the endpoint answers nothing until the test says so
    f = Fleet(tmp_path, agent("ask"), agent("b"), f'[notify]\nwebhook = "{hook.url}"\n')
    f.dog.tick(HEAVY)
    f.tmux.show("t-ask", "Do you want to proceed?")
    f.advance(30)  # notices the question: the notification is now stuck at the endpoint
    f.tmux.die("t-b")
    f.advance(1, POLL)  # ticks go on meanwhile: b is healed while the request still hangs
    assert f.tmux.started.count("t-b") == 2 and hook.bodies == []
    hook.gate.set()
    f.dog.reconciler.notifier.drain()  # type: ignore[union-attr]
    assert hook.kinds() == ["waiting-input"]


@pytest.mark.tmux  # starts real processes
def test_failed_attempts_are_retried_a_bounded_number_of_times_and_journaled(tmp_path: Path, hook: Hook) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def journal(event: str, agent: str | None = None, **fields: Any) -> None:
        events.append((event, fields))

    spec = NotifySpec(webhook=hook.url, retries=3)
    hook.failures = 2
    [result] = send(spec, Notice("fatal", "a"), journal, sleep=lambda s: None)
    assert result.ok and result.attempts == 3 and hook.kinds() == ["fatal"]
    assert [(e, f["attempt"]) for e, f in events] == [("notify-failed", 1), ("notify-failed", 2),
                                                      ("notify-sent", 3)]
    assert events[0][1]["error"] == "HTTP 500"

    events.clear()
    hook.failures = 10
    spec = NotifySpec(command=[sys.executable, "-c", "raise SystemExit(7)"], webhook=hook.url, retries=2)
    results = send(spec, Notice("limited", "a"), journal, sleep=lambda s: None)
    assert [(r.channel, r.ok, r.attempts) for r in results] == [("command", False, 2), ("webhook", False, 2)]
    assert [e for e, _ in events] == ["notify-failed"] * 4
    assert events[0][1]["error"].startswith("exit 7")


def test_a_worker_outlives_a_notifier_bug(tmp_path: Path, hook: Hook) -> None:
    journaled: list[str] = []
    specs = iter([NotifySpec(webhook=hook.url)] * 2 + [None] + [NotifySpec(webhook=hook.url)] * 10)

    def spec() -> NotifySpec:
        value = next(specs)
        if value is None:
            raise RuntimeError("a broken spec")
        return value

    notifier = Notifier(spec, lambda event, agent=None, **f: journaled.append(event))
    notifier.notify(Notice("fatal", "a"))  # the worker's read of the spec raises for this one
    notifier.notify(Notice("limited", "b"))
    notifier.drain()
    assert hook.kinds() == ["limited"] and "notify-failed" in journaled


def test_notify_test_sends_to_both_channels_and_fails_loudly(project: Project, hook: Hook) -> None:
    out = project.root / "notified.jsonl"
    project.write('[[agent]]\nname = "a"\nbackend = "sim"\n\n' + notify_table(hook, out))
    done = project.cli("notify", "test")
    assert done.returncode == 0, done.stderr
    assert "sent    command" in done.stdout and "sent    webhook" in done.stdout
    assert hook.kinds() == ["test"] and commands(out)[0]["AGENTSUP_EVENT"] == "test"
    assert [e["event"] for e in read_events(project.log_dir / "events.jsonl")] == ["notify-sent"] * 2

    project.write('[[agent]]\nname = "a"\nbackend = "sim"\n\n[notify]\nretries = 1\n'
                  f'command = {json.dumps([sys.executable, "-c", "raise SystemExit(3)"])}\n')
    failed = project.cli("notify", "test", "--json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout) == [{"channel": "command", "ok": False, "attempts": 1, "error": "exit 3: "}]

    project.write('[[agent]]\nname = "a"\nbackend = "sim"\n')
    none = project.cli("notify", "test")
    assert none.returncode == 2 and "neither a command nor a webhook" in none.stderr
    assert "Traceback" not in none.stderr


def test_a_webhook_that_is_not_http_is_a_config_error(project: Project) -> None:
    project.write('[notify]\nwebhook = "file:///etc/passwd"\n')
    checked = project.cli("check")
    assert checked.returncode == 2 and "notify.webhook" in checked.stderr and "http(s)" in checked.stderr


def test_tasks_and_phases_notify_on_real_tmux(project: Project, hook: Hook) -> None:
    project.file("prompts/kickoff.md", "phase ${phase_id}: read ${status_path}\n")
    project.file("prompts/builder.md", "build\n")
    project.write(
        "[watchdog]\nsignal_interval = 0.3\npoll_interval = 0.2\nstart_grace = 0.5\nreload_settle = 0\n\n"
        '[loop]\nphases = [{ id = "p1", plan = "plan-p1.md", status = "STATUS-p1.md" },\n'
        '          { id = "p2", plan = "plan-p2.md", status = "STATUS-p2.md" }]\n\n'
        '[[agent]]\nname = "builder"\nkind = "loop"\nrole = "builder"\nbackend = "sim"\n\n'
        '[[agent]]\nname = "job"\nkind = "task"\nbackend = "sim"\nprompt = "do it"\n'
        'args = ["--exit-after", "0.3", "--exit-code", "4"]\n\n'
        f'[notify]\nwebhook = "{hook.url}"\n')
    from agentsup.supervisor.watch.watchdog import Watchdog

    assert project.cli("up", "--no-watchdog").returncode == 0
    dog = Watchdog(project.config_path)
    wait_for(lambda: (dog.tick(SIGNAL), "task-failed" in hook.kinds())[1], timeout=15, interval=0.2)
    project.file("STATUS-p1.md", "## DONE\nPASS: the adversary agreed\n")
    wait_for(lambda: (dog.tick(SIGNAL), "phase-advance" in hook.kinds())[1], timeout=15, interval=0.2)
    project.file("STATUS-p2.md", "## DONE\nPASS: the adversary agreed\n")
    wait_for(lambda: (dog.tick(SIGNAL), "sequence-complete" in hook.kinds())[1], timeout=15, interval=0.2)
    for _ in range(3):
        dog.tick(SIGNAL)
    assert dog.reconciler.notifier is not None
    dog.reconciler.notifier.drain()
    assert sorted(hook.kinds()) == ["phase-advance", "sequence-complete", "task-failed"]
    advanced = next(b for b in hook.bodies if b["event"] == "phase-advance")
    assert advanced["detail"] == "p1 done; now p2"
    failed = next(b for b in hook.bodies if b["event"] == "task-failed")
    assert failed["agent"] == "job" and failed["new_state"] == "FAILED" and failed["detail"] == "exit code 4"


def test_the_last_notification_that_never_got_through_shows_in_status(project: Project) -> None:
    project.write(
        "[watchdog]\npoll_interval = 0.2\nstart_grace = 0.5\n\n"
        '[[agent]]\nname = "job"\nkind = "task"\nbackend = "sim"\nprompt = "do it"\n'
        'args = ["--exit-after", "0.3", "--exit-code", "4"]\n\n'
        '[notify]\ncommand = ["sh", "-c", "echo mail server down >&2; exit 3"]\nretries = 1\n')
    from agentsup.supervisor.watch.watchdog import Watchdog

    assert project.cli("up", "--no-watchdog").returncode == 0
    dog = Watchdog(project.config_path)
    wait_for(lambda: (dog.tick(SIGNAL), "task-failed" in [e["event"] for e in read_events(
        project.log_dir / "events.jsonl")])[1], timeout=15, interval=0.2)
    assert dog.reconciler.notifier is not None
    dog.reconciler.notifier.drain()
    dog.tick(SIGNAL)
    shown = project.cli_json("status")["watchdog"]["notify_error"]
    assert "task-failed via command: exit 3: mail server down" in shown


def test_three_server_errors_in_a_row_notify_once(fleet_of: Any) -> None:
    from agentsup.supervisor.reconcile.tick import HEAVY

    burst = "● API Error: Server is temporarily limiting requests (not your usage limit) · slow down (mock)"
    f = fleet_of(agent("a"))
    f.dog.tick(HEAVY)
    f.advance(30)
    pane = f.tmux.sessions["t-a"]
    f.tmux.show("t-a", "› next step\n" + burst)
    answered = 0
    for _ in range(600):
        f.advance(1)
        if len(pane.received) > answered:  # each retry fails the same way
            answered = len(pane.received)
            f.tmux.show("t-a", pane.output + "\n" + burst)
        if f.events("a").count("transient-retry") >= 5:
            break
    assert f.record("a")["state"] == "RUNNING" and "limit-hold" not in f.events("a"), "a burst is no usage limit"
    assert f.events("a").count("transient-failing") == 1
