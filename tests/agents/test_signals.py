"""Claude's structured signals, folded from hook payloads and a status-line input recorded from the
real Claude Code 2.1.197 (tests/realcli/samples/), merged with what the screen shows."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentsup.agents.detect import Observation
from agentsup.agents.resettime import parse_reset
from agentsup.agents.signals import ClaudeSignals, claude_settings, merge, read_hooks, read_status_line

from ..conftest import ROOT

SAMPLES = ROOT / "tests" / "realcli" / "samples"
HOOKS = (SAMPLES / "claude-2.1.197-hooks.jsonl").read_text().splitlines()
STATUS = SAMPLES / "claude-2.1.197-statusline.json"
NOW = datetime(2026, 11, 22, 3, 50, 0, tzinfo=UTC)  # when the samples were recorded
BANNER_SCREEN = Observation(limited=True, reset_at=datetime(2026, 11, 22, 4, 50, tzinfo=UTC), rule="limit_re",
                            limit_mark="1|⎿ You've hit your session limit · resets 4:50am (UTC)",
                            menu_keys=("Enter",))


def folded(lines: list[str], tmp: Path) -> ClaudeSignals:
    path = tmp / "hooks.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return read_hooks(path, ClaudeSignals())


def test_turn_edges_say_busy_then_idle(tmp_path: Path) -> None:
    assert folded(HOOKS[:2], tmp_path).turn == "busy"  # SessionStart, UserPromptSubmit
    sig = folded(HOOKS[:3], tmp_path)  # ... Stop
    assert sig.turn == "idle" and sig.limit_text is None and sig.session_id


def test_a_rate_limit_failure_is_a_limit_edge_with_its_banner(tmp_path: Path) -> None:
    sig = folded(HOOKS, tmp_path)
    assert sig.limits == 1 and sig.limit_text == "You've hit your session limit · resets 4:50am (UTC)"
    obs = merge(Observation(), sig, {}, parse_reset(sig.limit_text, NOW, UTC), UTC)
    assert obs.limited and obs.source == "hooks" and obs.limit_mark == "1|hooks"
    assert obs.reset_at == datetime(2026, 11, 22, 4, 50, tzinfo=UTC)


def test_the_status_line_gives_the_exact_epoch_when_it_agrees_with_the_banner(tmp_path: Path) -> None:
    sig = folded(HOOKS, tmp_path)
    read_status_line(STATUS, sig)  # as recorded: its five-hour window resets an hour later than the banner
    parsed = parse_reset(sig.limit_text or "", NOW, UTC)
    banner = merge(Observation(), sig, {}, parsed, UTC)
    assert banner.reset_at == parsed and not banner.reset_exact, "disagreeing: the banner's own time"
    exact = int(datetime(2026, 11, 22, 4, 50, 37, tzinfo=UTC).timestamp())
    sig.rate_limits["five_hour"]["resets_at"] = exact
    epoch = merge(Observation(), sig, {}, parsed, UTC)
    assert epoch.reset_at == datetime.fromtimestamp(exact, UTC) and epoch.reset_exact


def test_a_spent_weekly_window_of_one_model_holds_the_agent_until_its_exact_reset_days_away(tmp_path: Path) -> None:
    from datetime import timedelta

    from agentsup.store.record import Record
    from agentsup.supervisor.decide.decision import Policy, View
    from agentsup.supervisor.decide.policy import transition

    sig = folded(HOOKS, tmp_path)
    sig.limit_text = "You've hit your Opus limit"  # no time on the banner: the status line says which and when
    monday = int((NOW + timedelta(days=3, hours=5)).timestamp())
    sig.rate_limits = {"five_hour": {"used_percentage": 30, "resets_at": int(NOW.timestamp()) + 3600},
                       "seven_day": {"used_percentage": 60, "resets_at": monday},
                       "seven_day_opus": {"used_percentage": 100, "resets_at": monday},
                       "seven_day_sonnet": None}
    obs = merge(Observation(), sig, {}, None, UTC)
    assert obs.limited and obs.reset_exact and obs.limit_window == "7d opus"
    assert obs.reset_at == datetime.fromtimestamp(monday, UTC)
    rec = Record(state="RUNNING", ready=True, started_at=0.0)
    d = transition(rec, View(present=True, obs=obs), 1000.0, Policy(watch="heal+stall"), wall=NOW.timestamp())
    held = next(e for e in d.events if e.event == "limit-hold")
    assert d.record.state == "LIMITED" and held.fields["window"] == "7d opus" and held.fields["parsed"]
    assert d.record.limit_until == pytest.approx(1000.0 + monday - NOW.timestamp() + 5.0)  # not probed for days
    assert d.record.detail == f"agentsup resumes at {obs.reset_at.strftime('%a %H:%M')} (7d opus window)"


def test_a_new_prompt_ends_the_limit_and_the_old_banner_on_screen_is_history(tmp_path: Path) -> None:
    resumed = json.loads(HOOKS[1]) | {"prompt": "watchdog probe: resume"}
    sig = folded([*HOOKS, json.dumps(resumed)], tmp_path)
    obs = merge(BANNER_SCREEN, sig, {}, None, UTC)
    assert not obs.limited and obs.active and obs.menu_keys == ()
    again = folded([*HOOKS, json.dumps(resumed), HOOKS[-1]], tmp_path)  # limited once more: a new edge
    assert merge(BANNER_SCREEN, again, {}, None, UTC).limit_mark == "2|hooks"


def test_the_limit_menu_is_answered_and_a_permission_wait_is_a_question(tmp_path: Path) -> None:
    sig = folded(HOOKS, tmp_path)
    assert merge(BANNER_SCREEN, sig, {"status": "waiting", "waitingFor": "dialog open"}, None, UTC).menu_keys == (
        "Enter",)
    asking = ClaudeSignals(events=3, turn="busy", waiting="Claude needs your permission to use Bash")
    obs = merge(Observation(), asking, {"status": "waiting", "waitingFor": "permission prompt"}, None, UTC)
    assert obs.waiting_input and obs.question == "Claude needs your permission to use Bash"


def test_without_any_hook_event_the_screen_decides(tmp_path: Path) -> None:
    obs = merge(BANNER_SCREEN, ClaudeSignals(), {}, None, UTC)
    assert obs == BANNER_SCREEN
    busy = merge(Observation(), ClaudeSignals(), {"status": "busy"}, None, UTC)
    assert busy == replace(Observation(), active=True, source="session-file")


def test_a_hook_line_still_being_written_waits_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "hooks.jsonl"
    path.write_text(HOOKS[0] + "\n" + HOOKS[1][:40])
    sig = read_hooks(path, ClaudeSignals())
    assert sig.events == 1
    path.write_text(HOOKS[0] + "\n" + HOOKS[1] + "\n")
    assert read_hooks(path, sig).turn == "busy"


@pytest.mark.tmux  # starts real processes
def test_the_settings_commands_write_privately_and_keep_the_users_status_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"statusLine": {"command": "echo USER-LINE"}}))
    settings = json.loads(claude_settings(tmp_path / "hooks.jsonl", tmp_path / "status.json", home))
    hook = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    subprocess.run(shlex.split(hook), input='{"hook_event_name":\n"Stop"}', text=True, check=True)
    assert json.loads((tmp_path / "hooks.jsonl").read_text()) == {"hook_event_name": "Stop"}
    assert (tmp_path / "hooks.jsonl").stat().st_mode & 0o777 == 0o600
    line = subprocess.run(shlex.split(settings["statusLine"]["command"]), input=STATUS.read_text(), text=True,
                          capture_output=True, check=True)
    assert line.stdout.strip() == "USER-LINE", "the user's own status line still prints"
    assert json.loads((tmp_path / "status.json").read_text())["rate_limits"]["five_hour"]["used_percentage"] == 42


def test_a_turn_claude_continued_by_itself_ends_the_limit_though_its_continuation_line_stays(
        tmp_path: Path) -> None:
    """Claude 2.1.234+ continues at the reset with no prompt (no UserPromptSubmit): the Stop of that
    turn ends the limit, and the transcript's "set to continue automatically" line is history."""
    stopped = json.loads(HOOKS[2])  # a Stop: a turn that ended well
    sig = folded([*HOOKS, json.dumps(stopped)], tmp_path)
    screen = replace(BANNER_SCREEN, menu_keys=(), auto_continue=True)  # the line is still on screen
    obs = merge(screen, sig, {}, None, UTC)
    assert not obs.limited and not obs.auto_continue
    held = merge(screen, folded(HOOKS, tmp_path), {}, None, UTC)  # before that turn: held, continuing
    assert held.limited and held.auto_continue


def test_a_turn_its_hooks_say_failed_is_over_while_the_screen_still_spins() -> None:
    """Under load claude's spinner was still on screen when its StopFailure (a 500) was already in:
    read as working, the error was taken as behind it and never retried."""
    failed = ClaudeSignals(events=3, turn="idle", failure="server_error", failures=1)
    obs = merge(Observation(active=True, rule="active_re"), failed, {}, None, UTC)
    assert obs.transient and obs.transient_mark == "1|hooks" and not obs.active
    working = ClaudeSignals(events=4, turn="busy", failures=1)  # a new prompt: its own turn
    assert merge(Observation(active=True, rule="active_re"), working, {}, None, UTC).active


def hook(name: str, **fields: str) -> str:
    return json.dumps({"hook_event_name": name, "session_id": "s1", **fields})


def test_a_burst_429_stopfailure_is_a_transient_failure_never_a_usage_limit(tmp_path: Path) -> None:
    burst = "API Error: Server is temporarily limiting requests (not your usage limit) · Number of requests exceeded"
    sig = folded([hook("UserPromptSubmit"), hook("StopFailure", error="rate_limit", last_assistant_message=burst)],
                 tmp_path)
    assert sig.limits == 0 and sig.limit_text is None and sig.failures == 1 and sig.failure == burst
    obs = merge(Observation(), sig, {}, None, UTC)
    assert not obs.limited


def test_a_turn_ended_by_stopfailure_ends_a_held_limit_as_stop_does(tmp_path: Path) -> None:
    limit = "You've hit your session limit · resets 4:50am (UTC)"
    lines = [hook("UserPromptSubmit"), hook("StopFailure", error="rate_limit", last_assistant_message=limit)]
    assert folded(lines, tmp_path).limit_text == limit
    # claude continued by itself at the reset (no prompt), and that turn ended on another API error
    ended = folded([*lines, hook("StopFailure", error="invalid_request", last_assistant_message="API Error: 400")],
                   tmp_path)
    assert ended.limit_text is None and ended.turn == "idle"
    stopped = folded([*lines, hook("Stop")], tmp_path)
    assert (ended.limit_text, ended.turn, ended.waiting) == (stopped.limit_text, stopped.turn, stopped.waiting)
