"""The build loop end to end: a real git repo with a bare origin, sim builder and adversary, two phases."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentsup.store.journal import read_events
from agentsup.supervisor.reconcile.tick import HEAVY, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, git, wait_for, watching

CONFIG = """
[watchdog]
signal_interval = {signal}
heavy_interval = {heavy}
poll_interval = 0.2
start_grace = 1
backoff_initial = 0.2

[loop]
docs_dir = "machine-docs"
phases = [
  {{ id = "p1", plan = "plan-p1.md", status = "STATUS-p1.md", models = {{ builder = "model-one" }} }},
  {{ id = "p2", plan = "plan-p2.md", status = "STATUS-p2.md" }},
]

[loop.handoff]
repo = "work"
branch = "main"
inboxes = ["ADVERSARY-INBOX.md", "BUILDER-INBOX.md"]

[loop.on_complete]
run = "upgrader"

[[agent]]
name = "builder"
kind = "loop"
role = "builder"
backend = "sim"
watch = "heal"
args = ["--record", "builder.jsonl", "--reply-work", "0.5"]

[[agent]]
name = "adversary"
kind = "loop"
role = "adversary"
backend = "sim"
watch = "heal"
args = ["--record", "adversary.jsonl", "--reply-work", "0.5"]

[[agent]]
name = "upgrader"
kind = "task"
backend = "sim"
enabled = false
prompt = "upgrade everything"
args = ["--record", "upgrader.jsonl", "--exit-after", "1"]
"""


@pytest.fixture
def loop_project(project: Project, git_identity: None) -> Project:
    root = project.root
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(root / "origin.git")], check=True)
    for clone in ("pusher", "work"):
        subprocess.run(["git", "clone", "-q", str(root / "origin.git"), str(root / clone)], check=True,
                       capture_output=True)
    (root / "pusher" / "README").write_text("project\n")
    git(root / "pusher", "add", "README")
    git(root / "pusher", "commit", "-qm", "initial")
    git(root / "pusher", "push", "-q", "origin", "HEAD:main")
    git(root / "work", "pull", "-q", "origin", "main")
    project.file("prompts/builder.md", "ROLE builder\n")
    project.file("prompts/adversary.md", "ROLE adversary\n")
    project.file("plan-p1.md", "plan one\n")
    project.file("plan-p2.md", "plan two\n")
    return project


def push(project: Project, subject: str, files: dict[str, str] | None = None) -> None:
    pusher = project.root / "pusher"
    for rel, text in (files or {}).items():
        (pusher / rel).parent.mkdir(parents=True, exist_ok=True)
        (pusher / rel).write_text(text)
        git(pusher, "add", rel)
    git(pusher, "commit", "-q", "--allow-empty", "-m", subject)
    git(pusher, "push", "-q", "origin", "HEAD:main")


def messages(project: Project, name: str) -> list[str]:
    return [r["text"] for r in project.records(name) if r["kind"] == "message"]


def prompts(project: Project, name: str) -> list[str]:
    return [r["text"] for r in project.records(name) if r["kind"] == "prompt"]


def status_file(project: Project, name: str, text: str) -> None:
    path = project.root / "work" / "machine-docs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def idle(project: Project, session: str) -> bool:
    screen = project.screen(session)
    return "agentsup sim" in screen and "esc to interrupt" not in screen


def test_build_loop_end_to_end(loop_project: Project) -> None:
    project = loop_project
    project.write(CONFIG.format(signal=0.3, heavy=1))
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 1.0
    dog.tick(HEAVY)  # starts the loop agents; the first look at origin only sets the baseline
    for name in ("builder", "adversary"):
        wait_for(lambda n=name: prompts(project, n))  # type: ignore[misc]
        wait_for(lambda n=name: idle(project, f"t-{n}"))  # type: ignore[misc]
    builder_kickoff = prompts(project, "builder")[0]
    assert "PHASE p1 (1 of 2)" in builder_kickoff and builder_kickoff.rstrip().endswith("ROLE builder")
    assert "model=model-one" in project.screen("t-builder")  # per-phase model override
    assert (project.log_dir / "state" / "kickoff-t-builder.txt").read_text() == builder_kickoff

    # a claim pings the adversary exactly once; a review pings the builder exactly once
    push(project, "claim(gate-1): the parser handles wrapped banners")
    dog.tick(SIGNAL)
    dog.tick(SIGNAL)
    assert len(messages(project, "adversary")) == 1 and "claim(gate-1)" in messages(project, "adversary")[0]
    assert messages(project, "builder") == []
    push(project, "review(gate-1): PASS")
    dog.tick(SIGNAL)
    dog.tick(SIGNAL)
    assert len(messages(project, "builder")) == 1 and "review(gate-1): PASS" in messages(project, "builder")[0]
    assert len(messages(project, "adversary")) == 1

    # an inbox file pings its target once, and again only when its content changes
    push(project, "note for the adversary", {"machine-docs/ADVERSARY-INBOX.md": "look at the lexer\n"})
    dog.tick(SIGNAL)
    dog.tick(SIGNAL)
    assert len(messages(project, "adversary")) == 2 and "ADVERSARY-INBOX.md" in messages(project, "adversary")[1]
    push(project, "unrelated work", {"src.txt": "x\n"})
    dog.tick(SIGNAL)
    assert len(messages(project, "adversary")) == 2
    push(project, "more for the adversary", {"machine-docs/ADVERSARY-INBOX.md": "and the parser\n"})
    dog.tick(SIGNAL)
    assert len(messages(project, "adversary")) == 3

    # a watchdog restart in between loses no ping and repeats none
    del dog
    push(project, "claim(gate-2): lexer done")
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 1.0
    dog.tick(SIGNAL)
    dog.tick(SIGNAL)
    adversary = messages(project, "adversary")
    assert len(adversary) == 4 and "claim(gate-2)" in adversary[3]
    assert len(messages(project, "builder")) == 1

    # a placeholder under the done marker does not advance; a real body does
    status_file(project, "STATUS-p1.md", "# p1\n\n## DONE\n(written here only when every gate passed)\n")
    dog.tick(SIGNAL)
    assert "phase-advance" not in [e["event"] for e in read_events(project.log_dir / "events.jsonl")]
    status_file(project, "STATUS-p1.md", "# p1\n\n## DONE\nAll gates PASS (REVIEW-p1.md, 2026-06-10)\n")
    dog.tick(SIGNAL)
    assert (project.log_dir / "state" / "phase-idx").read_text().strip() == "1"
    wait_for(lambda: len(prompts(project, "builder")) == 2 and len(prompts(project, "adversary")) == 2)
    assert "PHASE p2 (2 of 2)" in prompts(project, "builder")[1]
    assert "model=model-one" not in wait_for(lambda: (s := project.screen("t-builder")) and "model=" in s and s)
    status = project.cli_json("status")
    assert status["phase"]["id"] == "p2" and status["phase"]["index"] == 1

    # finishing the last phase: completion marker once, loops stopped, on_complete task started
    (project.log_dir / ".run-upgrade-on-complete").write_text("")
    status_file(project, "STATUS-p2.md", "## DONE\nshipped\n")
    for _ in range(4):
        dog.tick(SIGNAL)
    events = [e["event"] for e in read_events(project.log_dir / "events.jsonl")]
    assert events.count("sequence-complete") == 1 and events.count("on-complete") == 1
    assert (project.log_dir / "SEQUENCE-COMPLETE").exists()
    assert not (project.log_dir / ".run-upgrade-on-complete").exists()
    assert wait_for(lambda: prompts(project, "upgrader")) == ["upgrade everything"]
    assert "t-builder" not in project.sessions() and "t-adversary" not in project.sessions()
    wait_for(lambda: (dog.tick(SIGNAL), project.cli_json("status")["agents"][2]["state"])[1] == "DONE", timeout=15)
    dog.tick(HEAVY)
    assert "t-builder" not in project.sessions(), "finished loops are not healed back"
    events = [e["event"] for e in read_events(project.log_dir / "events.jsonl")]
    assert events.count("sequence-complete") == 1


def test_done_marker_advances_through_the_file_watcher_with_no_timer_due(loop_project: Project) -> None:
    project = loop_project
    project.write(CONFIG.format(signal=600, heavy=600).replace("poll_interval = 0.2", "poll_interval = 600"))
    status_file(project, "STATUS-p1.md", "## DONE\nnot yet\n")
    dog = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "watchdog"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project.root)
    try:
        wait_for(lambda: len(prompts(project, "builder")) == 1, timeout=15)
        watching(project)
        status_file(project, "STATUS-p1.md", "## DONE\nall gates passed\n")
        wait_for(lambda: len(prompts(project, "builder")) == 2, timeout=20, interval=0.05)
        assert "PHASE p2" in prompts(project, "builder")[1]
    finally:
        dog.send_signal(signal.SIGTERM)
        dog.wait(timeout=10)


def test_a_push_to_a_local_origin_pings_with_no_timer_due(loop_project: Project) -> None:
    project = loop_project
    project.write(CONFIG.format(signal=600, heavy=600).replace("poll_interval = 0.2", "poll_interval = 600"))
    from agentsup.supervisor.reconcile.loopdriver import handoff_refs

    assert handoff_refs(project.cfg()) == [project.root / "origin.git" / "refs" / "heads" / "main",
                                           project.root / "origin.git" / "packed-refs"]
    dog = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "watchdog"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project.root)
    try:
        wait_for(lambda: idle(project, "t-adversary") and (project.log_dir / "state" / "handoff.json").exists(),
                 timeout=20)
        watching(project)
        push(project, "claim(gate-1): pushed to the origin on this machine")
        wait_for(lambda: messages(project, "adversary"), timeout=20, interval=0.05)
        assert "claim(gate-1)" in messages(project, "adversary")[0], "only the ref watch can have looked"
    finally:
        dog.send_signal(signal.SIGTERM)
        dog.wait(timeout=10)


@pytest.mark.tmux  # starts real processes
def test_a_remote_elsewhere_is_not_watched(tmp_path: Path) -> None:
    from agentsup.buildloop.git import local_git_dir

    for url in ("https://example.invalid/x.git", "git@example.invalid:x.git", "ssh://host/x.git"):
        assert local_git_dir(url, tmp_path) is None
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "o.git")], check=True)
    assert local_git_dir(f"file://{tmp_path / 'o.git'}", tmp_path) == tmp_path / "o.git"
    assert local_git_dir("o.git", tmp_path) == tmp_path / "o.git"


def test_phase_command(loop_project: Project) -> None:
    project = loop_project
    project.write(CONFIG.format(signal=1, heavy=1))
    show = project.cli("phase")
    assert show.returncode == 0 and "phase p1 [1/2] sequence: p1 p2" in show.stdout
    assert project.cli("phase", "next").returncode == 0
    assert project.cli_json("phase")["id"] == "p2"
    nxt = project.cli("phase", "next")
    assert nxt.returncode == 2 and "already at the last phase" in nxt.stderr
    bad = project.cli("phase", "set", "5")
    assert bad.returncode == 2 and "out of range" in bad.stderr
    assert project.cli("phase", "set", "p1").returncode == 0
    listing = project.cli("phase", "list").stdout
    assert "> 0  p1" in listing and "  1  p2" in listing
    assert json.loads(project.cli("status", "--json").stdout)["phase"]["id"] == "p1"
    status_file(project, "STATUS-p1.md", "## DONE\nok\n")
    assert "(DONE)" in project.cli("phase", "list").stdout


def test_a_loop_agent_in_its_own_worktree_hands_off_through_the_same_origin(loop_project: Project) -> None:
    project = loop_project
    config = CONFIG.format(signal=0.3, heavy=1).replace(
        'name = "builder"\nkind = "loop"\nrole = "builder"\n',
        'name = "builder"\nkind = "loop"\nrole = "builder"\ndir = "work"\nworktree = true\n')
    project.write(config)
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 1.0
    dog.tick(HEAVY)
    tree = project.log_dir / "state" / "worktrees" / "builder"
    wait_for(lambda: idle(project, "t-builder") and idle(project, "t-adversary"))
    assert git(tree, "remote", "get-url", "origin").strip() == str(project.root / "origin.git")
    kickoff = (project.log_dir / "state" / "kickoff-t-builder.txt").read_text()
    assert str(project.root / "work" / "machine-docs" / "STATUS-p1.md") in kickoff, "the status file, by its path"
    git(tree, "commit", "-q", "--allow-empty", "-m", "claim(gate-1): made in the builder's own worktree")
    git(tree, "push", "-q", "origin", "HEAD:main")
    dog.tick(SIGNAL)
    dog.tick(SIGNAL)
    got = messages(project, "adversary")
    assert len(got) == 1 and "claim(gate-1)" in got[0]


@pytest.mark.parametrize("delay", [0.0, 4.0])
def test_a_claim_right_after_a_phase_advance_is_pinged_once(loop_project: Project, delay: float) -> None:
    """At the default timers (the signal tick every 30 s): the claim comes as the new phase starts."""
    import time

    project = loop_project
    config = CONFIG.format(signal=30, heavy=300).replace("poll_interval = 0.2\n", "")
    project.write(config.replace("start_grace = 1\nbackoff_initial = 0.2\n", ""))
    status_file(project, "STATUS-p1.md", "not yet\n")
    dog = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "watchdog", "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=project.root)
    try:
        wait_for(lambda: idle(project, "t-adversary") and (project.log_dir / "state" / "handoff.json").exists(),
                 timeout=20)
        watching(project)
        status_file(project, "STATUS-p1.md", "## DONE\nall gates passed\n")
        wait_for(lambda: any(e["event"] == "phase-advance" for e in read_events(project.log_dir / "events.jsonl")),
                 timeout=20, interval=0.05)
        time.sleep(delay)
        push(project, "claim(gate-1): the first gate of p2")
        wait_for(lambda: any("claim(gate-1)" in m for m in messages(project, "adversary")), timeout=20, interval=0.1)
        time.sleep(1.0)
        assert sum("claim(gate-1)" in m for m in messages(project, "adversary")) == 1
        handoffs = [e for e in read_events(project.log_dir / "events.jsonl") if e["event"] == "handoff"]
        assert [e["agent"] for e in handoffs] == ["adversary"]
    finally:
        dog.send_signal(signal.SIGTERM)
        dog.wait(timeout=10)


def test_a_ping_queued_for_a_starting_loop_agent_survives_the_phase_advance_that_restarts_it(
        loop_project: Project) -> None:
    """Soak seed 83: a review pushed while the builder was still starting was queued for it, the
    same tick's DONE restarted the loops for the next phase with fresh records, and the ping was
    gone. It now reaches the new phase's builder, once."""
    project = loop_project
    project.write(CONFIG.format(signal=30, heavy=300))
    status_file(project, "STATUS-p1.md", "not yet\n")
    dog = Watchdog(project.config_path)
    dog.tick(HEAVY)  # starts both loops (not up yet) and takes the origin's head as the baseline
    push(project, "review(gate-1): PASS")
    status_file(project, "STATUS-p1.md", "## DONE\nall gates passed\n")
    dog.tick(SIGNAL)  # the handoff queues the ping (the builder is starting), then the phase advances
    kinds = [e["event"] for e in read_events(project.log_dir / "events.jsonl")]
    assert "ping-queued" in kinds and "phase-advance" in kinds
    wait_for(lambda: dog.tick(SIGNAL) and any("review(gate-1)" in m for m in messages(project, "builder")),
             timeout=20, interval=0.3)
    assert any("plan two" in p or "p2" in p for p in prompts(project, "builder")), "the new phase's builder"
    for _ in range(5):
        dog.tick(SIGNAL)
    assert sum("review(gate-1)" in m for m in messages(project, "builder")) == 1
