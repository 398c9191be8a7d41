"""up/down/status/ping/logs against a real tmux server with sim agents."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from agentsup.errors import TmuxNotFoundError, TmuxUnreachableError, UnknownNameError
from agentsup.supervisor.processes import start_stop
from agentsup.tmux.client import Tmux
from agentsup.tmux.delivery import DeliveryResult

from ..conftest import Project, sim_agent, wait_for

HOSTILE = "it's; rm -rf ~ # $(touch pwned) `touch pwned2` \"quoted\" ;"


def idle_screen(project: Project, session: str) -> bool:
    screen = project.screen(session)
    return "agentsup sim" in screen and "esc to interrupt" not in screen


def test_up_is_idempotent_and_leaves_running_agents_alone(project: Project) -> None:
    project.write(sim_agent("a") + sim_agent("b"))
    rt = project.rt()
    first = start_stop.up(rt, [], with_watchdog=False)
    assert [(r.name, r.action) for r in first] == [("a", "started"), ("b", "started")]
    panes = wait_for(lambda: (s := rt.tmux.snapshot()) and len(s) == 2 and s)
    second = start_stop.up(rt, [], with_watchdog=False)
    assert [r.action for r in second] == ["already-running", "already-running"]
    again = rt.tmux.snapshot()
    assert {k: v.pane_pid for k, v in again.items()} == {k: v.pane_pid for k, v in panes.items()}


def test_up_of_one_name_starts_only_that_agent(project: Project) -> None:
    project.write(sim_agent("a") + sim_agent("b"))
    results = start_stop.up(project.rt(), ["b"])
    assert [(r.name, r.action) for r in results] == [("b", "started")]
    assert project.sessions() == {"t-b"}


def test_down_of_agent_does_not_touch_agent2(project: Project) -> None:
    project.write(sim_agent("agent") + sim_agent("agent2"))
    rt = project.rt()
    start_stop.up(rt, [], with_watchdog=False)
    wait_for(lambda: project.sessions() == {"t-agent", "t-agent2"})
    results = start_stop.down(rt, ["agent"])
    assert [(r.name, r.action) for r in results] == [("agent", "stopped")]
    assert project.sessions() == {"t-agent2"}
    # a second down of the same name is harmless and says so
    assert [r.action for r in start_stop.down(rt, ["agent"])] == ["not-running"]
    assert project.sessions() == {"t-agent2"}


def test_unknown_name_is_a_clear_error(project: Project) -> None:
    project.write(sim_agent("builder"))
    with pytest.raises(UnknownNameError, match=r"unknown agent or service 'buidler'.*did you mean 'builder'"):
        start_stop.up(project.rt(), ["buidler"])
    proc = project.cli("down", "buidler")
    assert proc.returncode == 3 and "did you mean 'builder'" in proc.stderr


def test_hostile_prompt_arrives_verbatim_and_runs_nothing(project: Project) -> None:
    project.write(sim_agent("a", extra=f"prompt = {json.dumps(HOSTILE)}\nmodel = {json.dumps(HOSTILE)}\n"))
    start_stop.up(project.rt(), ["a"])
    records = wait_for(lambda: project.records("a"))
    assert records[0] == {**records[0], "kind": "prompt", "text": HOSTILE}
    assert f"model={HOSTILE}" in wait_for(lambda: (s := project.screen("t-a")) and "model=" in s and s)
    home = Path(os.environ["HOME"])
    for canary in ("pwned", "pwned2"):
        assert not (project.root / canary).exists() and not (home / canary).exists()
    assert home.exists() and any(project.root.iterdir())


def test_hostile_message_is_delivered_verbatim(project: Project) -> None:
    project.write(sim_agent("a"))
    rt = project.rt()
    start_stop.up(rt, ["a"])
    wait_for(lambda: idle_screen(project, "t-a"))
    result = rt.deliverer.deliver("t-a", HOSTILE)
    assert result.result is DeliveryResult.DELIVERED
    assert [r["text"] for r in project.records("a") if r["kind"] == "message"] == [HOSTILE]
    assert not (project.root / "pwned").exists()


def test_ping_idle_agent_is_delivered_exactly_once(project: Project) -> None:
    project.write(sim_agent("a"))
    start_stop.up(project.rt(), ["a"])
    wait_for(lambda: idle_screen(project, "t-a"))
    proc = project.cli("ping", "a", "please review gate 3")
    assert proc.returncode == 0, proc.stderr
    assert "delivered" in proc.stdout
    messages = [r["text"] for r in project.records("a") if r["kind"] == "message"]
    assert messages == ["please review gate 3"]


def test_ping_busy_agent_is_delivered_exactly_once(project: Project) -> None:
    project.write(sim_agent("a", "--work", "30"))
    start_stop.up(project.rt(), ["a"])
    wait_for(lambda: "esc to interrupt" in project.screen("t-a"))
    out = project.cli_json("ping", "a", "queued while busy")
    assert out["result"] == "delivered" and out["attempts"] == 1
    assert "esc to interrupt" in project.screen("t-a")  # still working, message accepted
    messages = [r["text"] for r in project.records("a") if r["kind"] == "message"]
    assert messages == ["queued while busy"]


def test_multiline_message_is_one_submission(project: Project) -> None:
    project.write(sim_agent("a"))
    rt = project.rt()
    start_stop.up(rt, ["a"])
    wait_for(lambda: idle_screen(project, "t-a"))
    assert rt.deliverer.deliver("t-a", "line one\nline two\nEnter").ok
    assert [r["text"] for r in project.records("a") if r["kind"] == "message"] == ["line one\nline two\nEnter"]


def test_message_that_cannot_be_submitted_is_stranded(project: Project) -> None:
    project.write("[watchdog]\ndelivery_retries = 1\n" + sim_agent("a", "--deaf"))
    start_stop.up(project.rt(), ["a"])
    wait_for(lambda: idle_screen(project, "t-a"))
    proc = project.cli("ping", "a", "nobody hears this")
    assert proc.returncode == 1
    assert "stranded" in proc.stdout
    assert not [r for r in project.records("a") if r["kind"] == "message"]
    assert "nobody hears this" in project.screen("t-a"), "the text is still in the input box"


def test_ping_to_a_hung_program_is_stranded(project: Project) -> None:
    project.write(sim_agent("a", "--hang-after", "0.5"))
    rt = project.rt()
    start_stop.up(rt, ["a"])
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    import time

    time.sleep(1.0)
    result = rt.deliverer.deliver("t-a", "are you there?")
    assert result.result is DeliveryResult.STRANDED and result.attempts == 0


def test_ping_to_a_stopped_agent_is_no_session(project: Project) -> None:
    project.write(sim_agent("a"))
    result = project.rt().deliverer.deliver("t-a", "hello")
    assert result.result is DeliveryResult.NO_SESSION
    assert project.cli("ping", "a", "hello").returncode == 1


def test_ping_leaves_copy_mode_first(project: Project) -> None:
    project.write(sim_agent("a"))
    rt = project.rt()
    start_stop.up(rt, ["a"])
    wait_for(lambda: idle_screen(project, "t-a"))
    project.tmux("copy-mode", "-t", "=t-a:")
    assert rt.tmux.pane("t-a").in_mode  # type: ignore[union-attr]
    assert rt.deliverer.deliver("t-a", "after copy mode").ok
    assert [r["text"] for r in project.records("a") if r["kind"] == "message"] == ["after copy mode"]


def test_exit_code_is_recorded_and_shown(project: Project) -> None:
    project.write(sim_agent("a", "--exit-after", "0.3", "--exit-code", "7"))
    rt = project.rt()
    start_stop.up(rt, ["a"])
    wait_for(lambda: rt.state.read_exit_code("t-a") == 7)
    status = project.cli_json("status")
    agent = status["agents"][0]
    assert (agent["state"], agent["exit_code"], agent["pid"]) == ("EXITED", 7, None)
    # up replaces the dead pane with a fresh start
    assert [r.action for r in start_stop.up(rt, ["a"])] == ["restarted"]


def test_logs_capture_output_and_stop_growing_past_the_cap(project: Project) -> None:
    cap = 20_000
    project.write(f'[defaults]\nlog_dir = "logs"\nsession_prefix = "t-"\nlog_max_bytes = {cap}\nlog_backups = 2\n'
                  + sim_agent("a", "--spam", "2000"))
    start_stop.up(project.rt(), ["a"])
    log = project.log_dir / "t-a.log"
    wait_for(lambda: (project.log_dir / "t-a.log.2").exists(), timeout=20)
    wait_for(lambda: "printed 2000 lines" in project.screen("t-a"))
    import time

    time.sleep(0.5)
    assert log.stat().st_size <= cap
    assert (project.log_dir / "t-a.log.1").stat().st_size <= cap
    assert not (project.log_dir / "t-a.log.3").exists(), "only log_backups files are kept"
    text = project.cli("logs", "a", "-n", "400").stdout
    assert "spam line 001999" in text or "printed 2000 lines" in text
    assert "\x1b[" not in log.read_text(errors="replace"), "terminal escapes are stripped"


def test_logs_of_unknown_name_fails(project: Project) -> None:
    project.write(sim_agent("a"))
    assert project.cli("logs", "nope").returncode == 3


def test_status_json_has_its_documented_shape(project: Project) -> None:
    project.write(sim_agent("a") + sim_agent("b", extra="enabled = false") +
                  '[[service]]\nname = "svc"\ncommand = ["sleep", "30"]\n')
    start_stop.up(project.rt(), [], with_watchdog=False)
    wait_for(lambda: "t-a" in project.sessions() and "t-svc" in project.sessions())
    data = project.cli_json("status")
    assert set(data) == {"version", "config", "socket", "phase", "watchdog", "agents", "services", "config_error",
                         "tmux_error"}
    assert data["version"] == 1 and data["socket"] == project.socket and data["phase"] is None
    assert set(data["watchdog"]) == {"running", "pid", "last_tick", "tick_ms", "tick_cpu_ms", "tmux_calls",
                                     "config_error", "degraded", "notify_error"}
    agent_keys = {"name", "kind", "backend", "model", "watch", "enabled", "session", "state", "detail", "pid",
                  "uptime_s", "exit_code", "reset_at", "restarts", "session_id", "source", "worktree", "branch",
                  "account", "question", "last_lines", "limits"}
    a, b = data["agents"]
    assert set(a) == agent_keys and set(b) == agent_keys
    assert (a["name"], a["state"], a["backend"], a["model"]) == ("a", "RUNNING", "sim", "default")
    assert isinstance(a["pid"], int) and isinstance(a["uptime_s"], int)
    assert Path(f"/proc/{a['pid']}/comm").read_text().strip() == "agentsup-sim"
    assert (b["state"], b["detail"], b["enabled"]) == ("STOPPED", "disabled", False)
    svc = data["services"][0]
    assert set(svc) == {"name", "session", "enabled", "state", "pid", "uptime_s", "exit_code"}
    assert (svc["name"], svc["state"]) == ("svc", "RUNNING")
    human = project.cli("status").stdout
    assert "AGENT" in human and "RUNNING" in human and "disabled" in human


def test_check_exit_codes(project: Project) -> None:
    project.write(sim_agent("a"))
    ok = project.cli("check")
    assert ok.returncode == 0 and "agents:   1" in ok.stdout
    project.write('[[agent]]\nname = "a"\nbackend = "nope"\n')
    bad = project.cli("check")
    assert bad.returncode == 2 and "agent[0] (a).backend" in bad.stderr


def test_missing_tmux_binary_is_reported(project: Project) -> None:
    tmux = Tmux(project.socket, binary="/nonexistent/tmux")
    with pytest.raises(TmuxNotFoundError, match="not found"):
        tmux.snapshot()
    project.write('[tmux]\nbin = "/nonexistent/tmux"\n' + sim_agent("a"))
    proc = project.cli("status")
    assert proc.returncode == 4 and "tmux binary" in proc.stderr


def test_wedged_tmux_server_times_out_instead_of_hanging(project: Project) -> None:
    project.write(sim_agent("a"))
    rt = project.rt()
    start_stop.up(rt, ["a"])
    server_pid = int(project.tmux("display-message", "-p", "#{pid}").stdout)
    os.kill(server_pid, signal.SIGSTOP)
    try:
        wedged = Tmux(project.socket, timeout=0.5)
        with pytest.raises(TmuxUnreachableError, match="did not answer"):
            wedged.snapshot()
    finally:
        os.kill(server_pid, signal.SIGCONT)
    assert "t-a" in rt.tmux.snapshot()


def test_kickoff_prompt_is_saved_for_the_user(project: Project) -> None:
    project.write(sim_agent("a", extra='prompt = "do the thing"'))
    start_stop.up(project.rt(), ["a"])
    assert (project.log_dir / "state" / "kickoff-t-a.txt").read_text() == "do the thing"


def test_attach_refuses_a_stopped_agent(project: Project) -> None:
    project.write(sim_agent("a"))
    proc = project.cli("attach", "a")
    assert proc.returncode == 1 and "not running" in proc.stderr


def test_commands_never_touch_the_default_tmux_server(project: Project) -> None:
    project.write(sim_agent("a"))
    start_stop.up(project.rt(), ["a"])
    assert project.rt().tmux.attach_argv("t-a")[1:3] == ["-S", project.socket]
    default = subprocess.run(["tmux", "-L", "agentsup", "has-session", "-t", "=t-a"], capture_output=True)
    assert default.returncode != 0


def test_capture_many_reads_every_screen_in_one_tmux_call(project: Project) -> None:
    # five panes, so pane ids reach %3 and %4 (tmux runs display-message text through strftime)
    project.write(sim_agent("a", "--work", "30") + sim_agent("b") + sim_agent("c", "--question")
                  + sim_agent("d") + sim_agent("e", "--fatal", "disk on fire"))
    rt = project.rt()
    start_stop.up(rt, [], with_watchdog=False)
    panes = wait_for(lambda: (s := rt.tmux.snapshot()) and len(s) == 5 and s)
    wait_for(lambda: all("agentsup sim" in project.screen(f"t-{n}") for n in "abcde"))
    calls = rt.tmux.calls
    screens = rt.tmux.capture_many([panes[f"t-{n}"].pane_id for n in "abcde"])
    assert rt.tmux.calls == calls + 1
    assert len(screens) == 5
    assert "FATAL: disk on fire" in screens[panes["t-e"].pane_id]
    assert "esc to interrupt" in screens[panes["t-a"].pane_id]
    assert "Do you want to proceed?" in screens[panes["t-c"].pane_id]
    assert "Do you want to proceed?" not in screens[panes["t-b"].pane_id]
    for n in "bcde":  # still screens read the same either way (a's spinner moves)
        assert screens[panes[f"t-{n}"].pane_id] == rt.tmux.capture(panes[f"t-{n}"].pane_id)
    # a pane that vanished meanwhile costs only its own screen
    project.tmux("kill-session", "-t", "=t-b")
    screens = rt.tmux.capture_many([panes[f"t-{n}"].pane_id for n in "abc"])
    assert set(screens) == {panes["t-a"].pane_id, panes["t-c"].pane_id}


def test_prompt_arrives_byte_for_byte_with_trailing_newlines(project: Project) -> None:
    text = "line one\n\n  indented $HOME `x` \\ backslash\n\n\n"
    project.write(sim_agent("a", extra=f"prompt = {json.dumps(text)}"))
    start_stop.up(project.rt(), ["a"])
    assert wait_for(lambda: project.records("a"))[0]["text"] == text


def test_preamble_runs_before_the_program(project: Project) -> None:
    project.write('[backend.shell]\nbin = "sh -c \'echo value=$AGENT_VALUE; sleep 30\'"\n'
                  'preamble = "export AGENT_VALUE=from-preamble"\n'
                  '[[agent]]\nname = "a"\nbackend = "shell"\n')
    start_stop.up(project.rt(), ["a"])
    wait_for(lambda: "value=from-preamble" in project.screen("t-a"))


def test_typed_prompt_is_delivered_after_connect_delay(project: Project) -> None:
    project.write('[backend.sim]\nprompt_mode = "type"\nconnect_delay = 1\n'
                  + sim_agent("a", extra='prompt = "the long kickoff"'))
    rt = project.rt()
    result = start_stop.up(rt, ["a"])[0]
    assert result.typed_prompt is not None and result.typed_prompt.ok
    records = project.records("a")
    assert [r["kind"] for r in records] == ["message"]  # not passed as an argument
    kickoff = project.log_dir / "state" / "kickoff-t-a.txt"
    assert str(kickoff) in records[0]["text"] and kickoff.read_text() == "the long kickoff"


def test_starting_right_after_the_last_session_ended_survives_the_exiting_server(project: Project) -> None:
    # Killing the last session makes tmux exit; a start racing that exit must not fail.
    project.write(sim_agent("a") + sim_agent("b"))
    rt = project.rt()
    for _ in range(15):
        start_stop.up(rt, ["a", "b"])
        project.tmux("kill-session", "-t", "=t-a")
        project.tmux("kill-session", "-t", "=t-b")  # the server is now on its way out
        results = start_stop.up(rt, ["a", "b"])
        assert [r.action for r in results] == ["started", "started"]
        assert wait_for(lambda: project.sessions() == {"t-a", "t-b"})
        start_stop.down(rt, ["a", "b"])
