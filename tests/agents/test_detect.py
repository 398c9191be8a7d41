"""Screen classification, table-driven over real-looking screens of each backend."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agentsup.agents.backends import resolve_backend
from agentsup.agents.detect import classify

NOW = datetime(2026, 6, 10, 11, 0, tzinfo=UTC)
DUBLIN = ZoneInfo("Europe/Dublin")
CHICAGO = ZoneInfo("America/Chicago")

CLAUDE_BUSY = """
● Reading src/parser.py
✻ Cogitating… (12s · ↑ 1.2k tokens · esc to interrupt)
╭──────────────────────────────────────────╮
│ >                                        │
╰──────────────────────────────────────────╯
"""
CLAUDE_IDLE = """
● Done. All 42 tests pass.
╭──────────────────────────────────────────╮
│ >                                        │
╰──────────────────────────────────────────╯
  ? for shortcuts
"""
CLAUDE_LIMIT = """
● Working on the parser
  ⎿  You've hit your session limit · resets 3pm (Europe/Dublin)
     /upgrade to increase your usage limit.
╭──────────────────────────────────────────╮
│ >                                        │
╰──────────────────────────────────────────╯
"""
CLAUDE_AUTO = """
  ⎿  Usage limit reached · set to continue automatically at 4pm (Europe/Dublin)
     Continuing automatically at 4pm · Esc to cancel
"""
CLAUDE_QUESTION = """
 Bash command
   rm -rf build/
 Do you want to proceed?
 ❯ 1. Yes
   2. No, and tell Claude what to do differently (esc)
"""
CLAUDE_FATAL = """
  ⎿  API Error: Unable to connect to Anthropic services
     Failed to connect to api.anthropic.com: ERR_NETWORK
"""
CODEX_LIMIT = """
■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again
at 6:44 PM.
› Ask Codex to do anything
"""
GEMINI_LIMIT = """
✕ Usage limit reached for gemini-2.5-pro.
  Access resets at 6:44 PM PDT.
> Type your message
"""
OPENCODE_LIMIT = """
  Usage limit reached. It will reset in 3 hours 5 minutes.
  ▣ Build · GPT-5.4 · 2m 19s
"""
OPENCODE_IDLE = "\n ▣ Build · GPT-5.4 · 2m 19s\n 178.4K (17%) ctrl+p commands\n"
OPENCODE_ACTIVE = "\n ~ Preparing patch...\n ⬝⬝⬝■■ esc interrupt 137.6K\n"
FALSE_FRIEND = """
● I added retry logic: on HTTP 429 or a rate limit response we back off.
● The usage limit of the free tier is documented in docs/limits.md.
  Tests: test_rate_limit_retry PASSED
╭──────────────────────────────────────────╮
│ >                                        │
╰──────────────────────────────────────────╯
"""
STALE_BANNER = "You've hit your session limit · resets 3pm (Europe/Dublin)\n" + "\n".join(
    f"● step {i} done" for i in range(20)) + "\n│ >   │"
WRAPPED = """
  ⎿  You've hit your weekly limit · resets Jun
16, 10pm (America/Chicago)
│ >   │
"""


@pytest.mark.parametrize(
    ("backend", "screen", "expected"),
    [
        ("claude", CLAUDE_BUSY, {"active": True, "limited": False, "rule": "active_re"}),
        ("claude", CLAUDE_IDLE, {"active": False, "limited": False, "waiting_input": False, "rule": None}),
        ("claude", CLAUDE_LIMIT, {"limited": True, "reset_at": datetime(2026, 6, 10, 15, tzinfo=DUBLIN),
                                  "rule": "limit_re"}),
        ("claude", CLAUDE_AUTO, {"limited": True, "auto_continue": True,
                                 "reset_at": datetime(2026, 6, 10, 16, tzinfo=DUBLIN)}),
        ("claude", CLAUDE_QUESTION, {"waiting_input": True, "active": False, "rule": "waiting_input_re"}),
        ("claude", CLAUDE_FATAL, {"fatal": True, "rule": "fatal_re"}),
        ("claude", CLAUDE_IDLE + "\nWAITING-UNTIL: 2026-06-10T14:00:00Z\n",
         {"waiting_until": datetime(2026, 6, 10, 14, tzinfo=UTC), "rule": "waiting_until"}),
        ("codex", CODEX_LIMIT, {"limited": True, "reset_at": datetime(2026, 6, 10, 18, 44, tzinfo=DUBLIN)}),
        ("gemini", GEMINI_LIMIT, {"limited": True, "reset_at": datetime(2026, 6, 11, 1, 44, tzinfo=UTC)}),
        ("opencode", OPENCODE_LIMIT, {"limited": True, "reset_at": datetime(2026, 6, 10, 14, 5, tzinfo=UTC)}),
        ("opencode", OPENCODE_IDLE, {"active": False, "limited": False}),
        ("opencode", OPENCODE_ACTIVE, {"active": True}),
        ("opencode", OPENCODE_IDLE + "\nYou've hit your weekly limit · resets Jun 16, 10pm\n", {"active": False}),
        ("claude", FALSE_FRIEND, {"limited": False, "fatal": False, "active": False}),
        ("claude", STALE_BANNER, {"limited": False}),
        ("claude", WRAPPED, {"limited": True, "reset_at": datetime(2026, 6, 16, 22, tzinfo=CHICAGO)}),
        ("claude", CLAUDE_BUSY + "\n  ⎿  You've hit your session limit · resets 3pm\n✻ Working (esc to interrupt)",
         {"active": True, "limited": False}),
        ("claude", "\x1b[1m✻ Working…\x1b[0m (esc to interrupt)\n", {"active": True}),
    ],
)
def test_classify(backend: str, screen: str, expected: dict[str, object]) -> None:
    obs = classify(screen, resolve_backend(backend, None), NOW, DUBLIN)
    got = {key: getattr(obs, key) for key in expected}
    assert got == expected


def test_opencode_retrying_its_limit_by_itself() -> None:
    from datetime import UTC, datetime

    from agentsup.agents.backends import resolve_backend
    from agentsup.agents.detect import classify

    screen = "Usage limit reached. It will reset in 3 hours 5 minutes.\n[retrying in 2h attempt #1]\n> "
    obs = classify(screen, resolve_backend("opencode", None), datetime(2026, 6, 1, tzinfo=UTC), UTC)
    assert obs.self_retry and obs.rule == "self_retry_re"


def test_gemini_quota_error_after_choosing_stop_is_a_limit() -> None:
    from datetime import UTC, datetime

    from agentsup.agents.backends import resolve_backend
    from agentsup.agents.detect import classify

    screen = "✕ [API Error: You exceeded your current quota, please check your plan and billing details.]\n> "
    obs = classify(screen, resolve_backend("gemini", None), datetime(2026, 6, 1, tzinfo=UTC), UTC)
    assert obs.limited and obs.reset_at is None and obs.rule == "limit_re"


def test_gemini_s_capacity_wording_is_a_limit_with_its_reset() -> None:
    """The wording gemini-cli 0.61's fallback handler builds (its source; not a capture)."""
    from datetime import UTC, datetime

    from agentsup.agents.backends import resolve_backend
    from agentsup.agents.detect import classify

    screen = ("✕ We are currently experiencing high demand for all Pro models.\nWe apologize and appreciate your "
              "patience.\nAccess resets at 4:00 PM UTC.\n/model to switch models.\n *   Type your message or "
              "@path/to/file\n")
    obs = classify(screen, resolve_backend("gemini", None), datetime(2026, 12, 3, 10, 0, tzinfo=UTC), UTC)
    assert obs.limited and obs.reset_at == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


def test_opencode_s_own_retry_with_an_absolute_reset_is_a_limit_with_that_reset() -> None:
    """opencode's retry line (the real 1.18.33 format, tests/realcli/screens) after a provider
    message that names the reset as a time of day."""
    from datetime import UTC, datetime

    from agentsup.agents.backends import resolve_backend
    from agentsup.agents.detect import classify

    screen = "⬝⬝⬝⬝ Usage limit reached. It will reset at 3:05 PM UTC. [retrying in 5h 5m attempt #2]   esc interrupt\n"
    obs = classify(screen, resolve_backend("opencode", None), datetime(2026, 12, 3, 10, 0, tzinfo=UTC), UTC)
    assert obs.self_retry and obs.limited and not obs.active
    assert obs.reset_at == datetime(2026, 12, 3, 15, 5, tzinfo=UTC)


def test_claude_2_1_332_s_footer_after_the_reset_is_its_own_continuation_pending() -> None:
    """Seen against the mock: past the reset the footer reads "Continuing shortly" and claude sends
    nothing until a message is typed (agentsup's one nudge after the grace)."""
    from datetime import UTC, datetime

    from agentsup.agents.backends import resolve_backend
    from agentsup.agents.detect import classify

    screen = ("❯ next step\n" + "─" * 70 + "\n❯\n" + "─" * 70 + "\n  ⚠ Usage limit reached · limit resets 11:28am\n"
              "    Continuing shortly · Esc to cancel\n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n")
    obs = classify(screen, resolve_backend("claude", None), datetime(2026, 12, 3, 11, 29, tzinfo=UTC), UTC)
    assert obs.limited and obs.auto_continue and not obs.active


def test_claude_2_1_332_with_auto_continue_off_opens_a_menu_under_its_five_hour_banner() -> None:
    """Seen live (2.1.332 against the mock, `autoContinueAtUsageLimit: false`, a 200-column pane):
    the banner says "5-hour limit" and a three-choice menu opens; agentsup answers it (option 1)."""
    screen = ("❯ next step\n  ⎿  You've hit your 5-hour limit · resets 1:44pm (UTC)\n" + "▔" * 40 + "\n"
              "  What do you want to do?\n  ❯ 1. Stop and wait for limit to reset\n"
              "    2. Wait here, then continue automatically shortly\n    3. Upgrade your plan\n"
              "  Enter to confirm · Esc to cancel\n")
    obs = classify(screen, resolve_backend("claude", None), datetime(2026, 12, 3, 13, 43, 50, tzinfo=UTC), UTC)
    assert obs.limited and obs.menu_keys == ("Enter",) and not obs.auto_continue
    assert obs.reset_at == datetime(2026, 12, 3, 13, 44, tzinfo=UTC)


def test_opencodes_absolute_reset_is_a_limit_it_waits_out_itself_to_the_second() -> None:
    screen = ("  ┃  next step\n     ▣  Build · Claude Sonnet 4.5\n"
              "   ⬝⬝⬝ Your limit will reset at 2026-11-21 20:30:24 [retrying in 2m 22s #8]        esc interrupt\n")
    obs = classify(screen, resolve_backend("opencode", None), datetime(2026, 11, 21, 20, 28, 2, tzinfo=UTC), UTC)
    assert obs.limited and obs.self_retry and not obs.active
    assert obs.reset_at == datetime(2026, 11, 21, 20, 30, 24, tzinfo=UTC) and obs.reset_grain == 1.0


def test_a_limit_line_above_a_later_prompt_is_history_for_every_backend() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    claude = ("❯ next step\n  ⎿  You've hit your session limit · resets 4:57am (UTC)\n❯ resume now\n"
              "● Done.\n" + "─" * 40 + "\n❯\n" + "─" * 40 + "\n")
    gemini = (" > next step\n✕ [API Error: You have exhausted your daily quota on this model.]\n"
              " > resume now\n✦ Done.\n *   Type your message or @path/to/file\n")
    sim = ("› next\nYou've hit your session limit · resets 3pm\n› watchdog probe: resume\n"
           "resuming after the usage limit\n> ")
    for name, screen in (("claude", claude), ("gemini", gemini), ("sim", sim)):
        obs = classify(screen, resolve_backend(name, None), now, UTC)
        assert not obs.limited, (name, obs)
        again = screen.replace("Done.", "You've hit your session limit · resets 3pm (UTC)") if name != "sim" else \
            sim + "\nYou've hit your session limit · resets 3pm"
        if name != "gemini":  # a limit after the latest prompt is the current one
            assert classify(again, resolve_backend(name, None), now, UTC).limited, name
