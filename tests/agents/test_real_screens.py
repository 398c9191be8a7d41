"""`detect` on screens captured from the real Claude Code and Codex CLIs (tests/realcli/capture.py),
each with its CLI version, pane size, capture time and what it truly shows (index.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentsup.agents.backends import resolve_backend
from agentsup.agents.detect import Observation, classify

from ..conftest import ROOT

SCREENS = ROOT / "tests" / "realcli" / "screens"
INDEX: list[dict[str, Any]] = json.loads((SCREENS / "index.json").read_text(encoding="utf-8"))
OFFSETS = {"+1h": timedelta(hours=1), "+3d": timedelta(days=3)}


def observe(entry: dict[str, Any]) -> Observation:
    screen = (SCREENS / entry["file"]).read_text(encoding="utf-8")
    now = datetime.fromisoformat(entry["captured_at"])
    return classify(screen, resolve_backend(entry["backend"], None), now, UTC)  # captured in UTC


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_real_screen_is_classified_as_it_truly_is(entry: dict[str, Any]) -> None:
    assert entry["width"] == 120 and entry["height"] == 40 and entry["version"]
    truth, obs = entry["truth"], observe(entry)
    assert obs.active == truth.get("active", False), obs
    assert obs.limited == truth.get("limited", False), obs
    assert obs.waiting_input == truth.get("waiting_input", False), obs
    assert obs.fatal == truth.get("fatal", False), obs
    assert bool(obs.menu_keys) == truth.get("menu", False), obs
    if truth.get("waiting_input"):
        assert obs.question, "status shows the question"
    if "auto_continue" in truth:  # it continues by itself at the reset: nothing is typed before
        assert obs.auto_continue == truth["auto_continue"]
    if truth.get("transient"):
        assert obs.transient and not obs.fatal
    if "reset" in truth:
        if truth["reset"] is None:
            assert obs.reset_at is None, "no time on screen: probed, never guessed"
        else:
            expected = datetime.fromisoformat(entry["captured_at"]) + OFFSETS[truth["reset"]]
            assert obs.reset_at is not None
            assert abs((obs.reset_at - expected).total_seconds()) <= 120, (obs.reset_at, expected)


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_only_a_person_s_unsent_text_is_a_draft(entry: dict[str, Any]) -> None:
    """A ping never mixes with a draft; placeholders and a menu's cursor are not drafts."""
    box = resolve_backend(entry["backend"], None).input_box()
    if box is None:  # opencode names no input box: no screen of it may claim a draft
        assert "draft" not in entry["truth"]
        return
    rows = (SCREENS / entry["file"]).read_text(encoding="utf-8").splitlines()
    assert box.draft(rows) == entry["truth"].get("draft", "")


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_a_program_that_came_up_shows_its_prompt(entry: dict[str, Any]) -> None:
    """Readiness (the start timeout) is the input box on screen; a program that only printed an
    error before its prompt (claude refusing root, codex's bad config) has not come up."""
    never_up = ("root-refusal" in entry["file"] or "bad-config" in entry["file"])
    assert observe(entry).prompt is not never_up


def test_every_case_of_the_real_wording_is_covered() -> None:
    names = {e["file"] for e in INDEX}
    for needed in ("claude-2.1.197/limit-menu.txt", "claude-2.1.197/api-key-429.txt",
                   "claude-2.1.197/trust-dialog.txt", "claude-2.1.197/api-key-question.txt",
                   "claude-2.1.197/bypass-warning.txt", "claude-2.1.197/root-refusal.txt",
                   "codex-0.169.0/limit.txt", "codex-0.169.0/working.txt", "codex-0.169.0/idle.txt",
                   "codex-0.169.0/stream-disconnected.txt", "codex-0.169.0/bad-config.txt",
                   "claude-2.1.197/draft.txt", "codex-0.169.0/draft.txt",
                   "gemini-0.61.0/limit.txt", "gemini-0.61.0/limit-stopped.txt", "gemini-0.61.0/capacity-wait.txt",
                   "gemini-0.61.0/permission-question.txt", "opencode-1.18.33/limit-retry.txt",
                   "opencode-1.18.33/working.txt", "opencode-1.18.33/permission-question.txt"):
        assert needed in names


def test_codex_writes_its_apostrophe_curly() -> None:
    screen = (SCREENS / "codex-0.169.0/limit.txt").read_text(encoding="utf-8")
    assert "You’ve hit your usage limit" in screen and "You've" not in screen


def test_an_old_transient_error_on_screen_is_never_fatal() -> None:
    entry = next(e for e in INDEX if e["file"] == "codex-0.169.0/stream-disconnected.txt")
    obs = observe(entry)
    assert obs.transient and not obs.fatal and not obs.limited
