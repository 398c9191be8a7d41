"""Usage and cost from the records the real CLIs wrote (tests/realcli/samples, captured by
tests/realcli/capture_records.py: three prompts each, every answer of the mock reporting 1200
uncached input, 450 output, 30000 cache-read and 2000 cache-write tokens), checked against totals
computed by hand."""

from __future__ import annotations

import json
from datetime import datetime

from agentsup.agents import usage
from agentsup.cli.render import live_frame

from ..conftest import ROOT, Project

SAMPLES = ROOT / "tests" / "realcli" / "samples"
TRANSCRIPT = SAMPLES / "claude-2.1.197-transcript.jsonl"
CODEX = SAMPLES / "codex-0.169.0-session.jsonl"
STATUS_LINE = SAMPLES / "claude-2.1.197-statusline-usage.json"
# sonnet at list price, per answer: 1200*3 + 450*15 + 30000*0.30 + 2000*3.75 = 26850 (per million) USD
CLAUDE_COST = round(3 * 26850 / 1e6, 6)
# gpt-5 at list price, per answer: 1200*1.25 + 450*10 + 30000*0.125 = 9750 (per million) USD
CODEX_COST = round(3 * 9750 / 1e6, 6)


def test_claude_transcript_totals_match_the_hand_count() -> None:
    tokens, by_model = usage.claude_transcript(usage.read_lines(TRANSCRIPT))
    assert (tokens.turns, tokens.input, tokens.output, tokens.cache_read, tokens.cache_write) == (
        3, 3600, 1350, 90000, 6000)
    assert list(by_model) == ["claude-sonnet-5"] and usage.cost(by_model) == CLAUDE_COST == 0.08055


def test_a_message_written_twice_counts_once_and_since_counts_from_then() -> None:
    lines = usage.read_lines(TRANSCRIPT)
    doubled = lines + [line for line in lines if '"type":"assistant"' in line.replace(" ", "")][:1]
    assert usage.claude_transcript(doubled)[0].output == 1350
    second = next(json.loads(line)["timestamp"] for line in lines if '"second task"' in line)
    since = datetime.fromisoformat(second.replace("Z", "+00:00")).timestamp()
    tokens, _ = usage.claude_transcript(lines, since)
    assert (tokens.turns, tokens.output) == (2, 900)


def test_codex_session_totals_match_the_hand_count() -> None:
    tokens, by_model = usage.codex_session(usage.read_lines(CODEX))
    assert (tokens.turns, tokens.input, tokens.output, tokens.cache_read, tokens.reasoning) == (3, 3600, 1350, 90000, 0)
    assert list(by_model) == ["gpt-5"] and usage.cost(by_model) == CODEX_COST == 0.02925


def test_an_unknown_model_has_no_cost_rather_than_a_guess() -> None:
    assert usage.cost({"mystery-model": usage.Tokens(input=10, output=10)}) is None


def test_the_five_hour_window_forecast() -> None:
    now = 1_800_000_000.0
    # 42 % used, 2 hours into the window (3 hours left): 21 %/h, so the 58 % left last 2.76 hours
    cast = usage.forecast(42, now + 3 * 3600, now)
    assert cast.exhausted_at is not None and round(cast.exhausted_at - now) == round(58 / 21 * 3600)
    assert usage.forecast(10, now + 3600, now).exhausted_at is None, "at 2.5 %/h it lasts past the reset"
    assert usage.forecast(100, now + 60, now).exhausted_at == now


def plant(project: Project) -> None:
    """The records where the real CLIs keep them, for a claude agent and a codex agent."""
    home = project.root / "home"
    sid = "3f1c5a1e-0000-4000-8000-000000000001"  # the session id agentsup chose
    (home / ".claude" / "projects" / "-work").mkdir(parents=True)
    (home / ".claude" / "projects" / "-work" / f"{sid}.jsonl").write_text(TRANSCRIPT.read_text())
    state = project.root / "logs" / "state"
    (state / "sessions").mkdir(parents=True)
    (state / "sessions" / "c.id").write_text(sid + "\n")
    (state / "signals").mkdir(parents=True, exist_ok=True)
    status = json.loads(STATUS_LINE.read_text())
    status["rate_limits"]["five_hour"]["resets_at"] = int(datetime.now().timestamp()) + 3 * 3600
    # where a status line gives the week per model (the 2.1.197 one recorded gives 5h and 7d), and null ones
    status["rate_limits"]["seven_day_opus"] = {"used_percentage": 100,
                                               "resets_at": int(datetime.now().timestamp()) + 2 * 86400}
    status["rate_limits"]["seven_day_sonnet"] = None
    (state / "signals" / "c.statusline.json").write_text(json.dumps(status))
    codex_day = home / ".codex" / "sessions" / "2026" / "11" / "30"
    codex_day.mkdir(parents=True)
    lines = usage.read_lines(CODEX)
    meta = json.loads(lines[0])
    meta["payload"]["cwd"] = str((project.root / "xwork").resolve())
    (codex_day / "rollout-2026-11-30T10-56-50-x.jsonl").write_text("\n".join([json.dumps(meta), *lines[1:]]) + "\n")
    (project.root / "xwork").mkdir()


def test_usage_command_reads_each_agent_s_records(project: Project) -> None:
    project.write('[[agent]]\nname = "c"\nbackend = "claude"\n\n'
                  '[[agent]]\nname = "x"\nbackend = "codex"\ndir = "xwork"\n\n'
                  '[[agent]]\nname = "s"\nbackend = "sim"\n')
    plant(project)
    from agentsup.supervisor.processes.start_stop import make_runtime

    assert make_runtime(project.cfg()).state.status_line_file("c") == (
        project.root / "logs" / "state" / "signals" / "c.statusline.json"), "planted where agentsup keeps it"
    shown = project.cli_json("usage")
    rows = {r["agent"]: r for r in shown["agents"]}
    assert set(rows) == {"c", "x", "s"}, "every configured agent has a row"
    assert (rows["s"]["turns"], rows["s"]["cost_usd"], rows["s"]["records"]) == (0, None, []), "nothing guessed"
    assert "keeps no usage records" in rows["s"]["note"] and rows["c"]["note"] == rows["x"]["note"] == ""
    c, x = rows["c"], rows["x"]
    assert (c["turns"], c["input_tokens"], c["output_tokens"], c["cache_read_tokens"], c["cache_write_tokens"]) == (
        3, 3600, 1350, 90000, 6000)
    assert c["cost_usd"] == CLAUDE_COST and round(c["reported_cost_usd"], 6) == 0.1611  # six answers: three
    # are claude's own side requests (every answer of the mock reports the same tokens)
    assert c["window_used_pct"] == 42 and c["window_runs_out_at"] is not None
    assert (x["turns"], x["input_tokens"], x["cache_read_tokens"], x["cost_usd"]) == (3, 3600, 90000, CODEX_COST)
    assert [(w["window"], w["used_pct"]) for w in c["windows"]] == [("5h", 42), ("7d", 10), ("7d opus", 100)]
    text = project.cli("usage").stdout
    assert "5h window 42%" in text and "runs out" in text and "$0.08" in text
    assert "7d window 10%" in text and "7d opus window 100% (spent: resets" in text
    limits = {r["name"]: r["limits"] for r in project.cli_json("status")["agents"]}
    assert [w["window"] for w in limits["c"]] == ["5h", "7d", "7d opus"] and limits["x"] == limits["s"] == []
    assert project.cli_json("usage", "--since", "1m")["agents"][0]["turns"] == 0, "the samples are older"
    bad = project.cli("usage", "--since", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr


def test_a_new_fleet_lists_every_agent_with_no_records_yet(project: Project) -> None:
    project.write('[[agent]]\nname = "c"\nbackend = "claude"\n\n[[agent]]\nname = "x"\nbackend = "codex"\n')
    shown = project.cli_json("usage")
    assert [(r["agent"], r["note"]) for r in shown["agents"]] == [("c", "no records yet"), ("x", "no records yet")]
    text = project.cli("usage").stdout
    assert "c: no records yet" in text and "x: no records yet" in text


def test_the_live_view_shows_usage(project: Project) -> None:
    project.write('[[agent]]\nname = "c"\nbackend = "claude"\n')
    plant(project)
    from agentsup.supervisor.operator.accounting import collect
    from agentsup.supervisor.operator.status import collect as status
    from agentsup.supervisor.processes.start_stop import make_runtime

    rt = make_runtime(project.cfg())
    frame = live_frame(status(rt), [], width=120, colour=False, usage=collect(rt))
    assert "c: 3 turns · 3.6k in · 1.4k out · $0.08 · 5h window 42%" in frame
