"""The request protocol: enumerated kinds, one handler each, enumerated answers with their reason
(scripted tmux: no process)."""

from __future__ import annotations

from pathlib import Path

from agentsup.supervisor.reconcile.tick import HEAVY
from agentsup.supervisor.requests.protocol import Handled, Outcome, Request, RequestKind, carry_out

from ..scripted import Fleet, agent


def test_each_kind_has_its_handler_and_every_answer_is_one_of_the_outcomes(tmp_path: Path) -> None:
    f = Fleet(tmp_path, agent("a"), agent("t", kind="task", watch="heal"))
    f.dog.tick(HEAVY)
    a, t = f.dog.cfg.agents["a"], f.dog.cfg.agents["t"]
    rec = f.dog.reconciler
    f.advance(30)
    pinged = carry_out(rec, Request(RequestKind.PING, "a", "hello"), a)  # no limit holds it: typed now
    assert pinged.outcome is Outcome.DELIVERED and pinged.attempts == 1 and "hello" in f.tmux.sessions["t-a"].received
    empty = carry_out(rec, Request(RequestKind.PING, "a"), a)
    assert (empty.outcome, empty.detail) == (Outcome.STRANDED, "nothing to deliver: the message is empty")
    assert carry_out(rec, Request(RequestKind.RESET, "a"), a).outcome is Outcome.RESET
    refused = carry_out(rec, Request(RequestKind.RESTART, "t"), t)
    assert refused.outcome is Outcome.REFUSED and refused.detail == "t is a task"
    assert carry_out(rec, Request(RequestKind.QUEUE, "a"), a).outcome is Outcome.REFUSED
    assert carry_out(rec, Request("explode", "a"), a).outcome is Outcome.REFUSED
    assert carry_out(rec, Request(RequestKind.RESTART, "a"), a).to_json() == {"result": "restarted", "detail": ""}


def test_a_request_read_from_the_channel_keeps_its_flags_and_defaults_the_rest() -> None:
    sent = Request(RequestKind.PING, "a", "hi", "web", force=True, now=True)
    assert Request.of_json(sent.to_json()) == sent
    assert Request.of_json({"kind": "ping", "name": "a", "payload": 7, "by": "root", "force": "yes"}) == \
        Request("ping", "a", None, "cli", False, False)


def test_an_answer_from_the_channel_is_read_as_an_outcome_with_its_reason() -> None:
    assert Handled.of_answer({"result": "start-failed", "detail": "no such program"}) == \
        Handled(Outcome.START_FAILED, True, "no such program")
    assert Handled.of_answer({"result": "start-failed: no such program"}).detail == "no such program"  # older
    assert Handled.of_answer({"error": "no agent named 'x'"}) == Handled(Outcome.FAILED, True, "no agent named 'x'")
    assert Handled.of_answer({"result": "bogus"}).outcome is Outcome.FAILED


def test_a_task_run_again_by_hand_that_cannot_start_is_failed_not_refused(tmp_path: Path) -> None:
    """Found by the 30-minute soak (seed 29): `agentsup run t1` of a DONE task while tmux did not
    answer was refused as an illegal change DONE -> FAILED."""
    from agentsup.supervisor.reconcile.tick import POLL

    f = Fleet(tmp_path, agent("t", kind="task", watch="heal"))
    f.dog.tick(HEAVY)
    run = Request(RequestKind.START, "t")
    assert carry_out(f.dog.reconciler, run, f.dog.cfg.agents["t"]).outcome is Outcome.STARTED
    f.dog.rt.state.exit_file("t-t").parent.mkdir(parents=True, exist_ok=True)
    f.dog.rt.state.exit_file("t-t").write_text("0")  # what the launch wrapper writes as it ends
    f.tmux.die("t-t", 0)
    f.advance(1, POLL)
    assert f.record("t")["state"] == "DONE"
    f.tmux.frozen = True  # the next start cannot reach tmux
    answer = carry_out(f.dog.reconciler, run, f.dog.cfg.agents["t"])
    f.tmux.frozen = False
    assert answer.outcome is Outcome.STARTED  # the request was carried out; the attempt failed
    assert f.record("t")["state"] == "FAILED" and "could not start" in f.record("t")["detail"]
    assert "illegal-transition" not in f.events("t") and "task-failed" in f.events("t")
