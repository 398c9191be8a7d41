"""Handoff pings (pure): claim/review subjects and inbox content changes."""

from __future__ import annotations

from agentsup.buildloop.handoff import HandoffState, commit_pings, inbox_pings
from agentsup.config.schema import HandoffSpec

SPEC = HandoffSpec(repo=".", inboxes=["ADVERSARY-INBOX.md", "BUILDER-INBOX.md"])


def test_claim_pings_adversary_and_review_pings_builder_once_per_batch() -> None:
    pings = commit_pings(SPEC, ["claim(g1): parser", "wip", "Claim(g2): lexer", "review(g0): PASS"])
    assert [(p.target, p.reason) for p in pings] == [("adversary", "claim"), ("builder", "review")]
    assert "claim(g1): parser; Claim(g2): lexer" in pings[0].text


def test_other_commits_ping_nobody() -> None:
    assert commit_pings(SPEC, ["fix: reclaim memory", "docs: review guide", "wip"]) == []


def test_role_names_are_configurable() -> None:
    spec = HandoffSpec(repo=".", claim_pings="critic", review_pings="maker")
    assert [p.target for p in commit_pings(spec, ["claim(x)", "review(y)"])] == ["critic", "maker"]


def test_inbox_pings_once_per_content_and_again_after_recreation() -> None:
    state = HandoffState()
    first = inbox_pings(SPEC, state, {"ADVERSARY-INBOX.md": "please look at X", "BUILDER-INBOX.md": None})
    assert [(p.target, p.reason) for p in first] == [("adversary", "inbox")]
    assert inbox_pings(SPEC, state, {"ADVERSARY-INBOX.md": "please look at X"}) == []
    assert [p.target for p in inbox_pings(SPEC, state, {"ADVERSARY-INBOX.md": "and Y"})] == ["adversary"]
    assert inbox_pings(SPEC, state, {"ADVERSARY-INBOX.md": None}) == []  # consumed (deleted)
    assert [p.target for p in inbox_pings(SPEC, state, {"ADVERSARY-INBOX.md": "and Y"})] == ["adversary"]


def test_state_round_trips() -> None:
    state = HandoffState(head="abc", inboxes={"A": "d1"})
    assert HandoffState.from_json(state.to_json()) == state
    assert HandoffState.from_json(None) == HandoffState()
