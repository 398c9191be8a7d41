"""Worktrees and lifecycle hooks on real tmux, sim agents and a real git repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agentsup.store.journal import read_events
from agentsup.supervisor.processes.proctree import program_pid
from agentsup.supervisor.reconcile.tick import HEAVY, POLL

from ..conftest import Project, git, wait_for
from ..scripted import Fleet, agent

RECORDER = "import json, os, sys; open(sys.argv[1], 'a').write(json.dumps({k: v for k, v in os.environ.items() " \
           "if k.startswith('AGENTSUP_')}) + '\\n')"


@pytest.fixture
def repo(project: Project, git_identity: None) -> Path:
    path = project.root / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "README").write_text("project\n")
    git(path, "add", "README")
    git(path, "commit", "-qm", "initial")
    return path


def pane_cwd(project: Project, session: str) -> Path:
    pane = int(project.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_pid}").stdout)
    program = wait_for(lambda: program_pid(pane))
    return Path(os.readlink(f"/proc/{program}/cwd"))


def hook_runs(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_agent_runs_in_its_own_worktree_kept_across_restarts_and_removed_only_when_clean(
        project: Project, repo: Path) -> None:
    project.write('[[agent]]\nname = "w"\nbackend = "sim"\ndir = "repo"\nworktree = true\n')
    assert project.cli("up", "w", "--no-watchdog").returncode == 0
    tree = project.log_dir / "state" / "worktrees" / "w"
    wait_for(lambda: "t-w" in project.sessions())
    assert pane_cwd(project, "t-w") == tree, "the agent runs inside its worktree"
    assert git(tree, "rev-parse", "--abbrev-ref", "HEAD").strip() == "agents/w"
    shown = project.cli_json("status")["agents"][0]
    assert (shown["worktree"], shown["branch"]) == (str(tree), "agents/w")

    (tree / "notes.txt").write_text("half done\n")  # the agent's uncommitted work
    assert project.cli("restart", "w").returncode == 0
    wait_for(lambda: "t-w" in project.sessions())
    assert pane_cwd(project, "t-w") == tree and (tree / "notes.txt").read_text() == "half done\n", "kept"
    assert [e["event"] for e in read_events(project.log_dir / "events.jsonl")].count("worktree-created") == 1

    refused = project.cli("down", "w", "--remove-worktree")
    assert refused.returncode == 1 and "uncommitted changes" in refused.stderr and "notes.txt" in refused.stderr
    assert tree.exists() and "t-w" in project.sessions(), "refused before anything was stopped"
    git(tree, "add", "notes.txt")
    git(tree, "commit", "-qm", "notes")
    removed = project.cli("down", "w", "--remove-worktree")
    assert removed.returncode == 0, removed.stderr
    assert "worktree-removed" in removed.stdout and not tree.exists() and "t-w" not in project.sessions()
    assert "agents/w" in git(repo, "branch", "--list", "agents/w"), "its branch, and the work on it, stay"


def test_force_removes_a_dirty_worktree_and_a_worktree_outside_git_is_a_clear_error(
        project: Project, repo: Path) -> None:
    project.write('[[agent]]\nname = "w"\nbackend = "sim"\ndir = "repo"\n'
                  'worktree = { branch = "feature/{name}", path = "trees/w" }\n\n'
                  '[[agent]]\nname = "x"\nbackend = "sim"\ndir = "not-a-repo"\nworktree = true\n')
    assert project.cli("up", "w", "--no-watchdog").returncode == 0
    tree = project.root / "trees" / "w"
    wait_for(lambda: (tree / "README").exists())
    assert git(tree, "rev-parse", "--abbrev-ref", "HEAD").strip() == "feature/w"
    (tree / "scratch").write_text("x\n")
    assert project.cli("down", "w", "--remove-worktree", "--force").returncode == 0 and not tree.exists()
    (project.root / "not-a-repo").mkdir()
    failed = project.cli("up", "--no-watchdog")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "failed          x" in failed.stdout and "is not a git repository" in failed.stdout
    assert "started         w" in failed.stdout, "one agent that cannot start keeps no other from it"


def test_each_hook_runs_at_its_edge_with_its_environment(project: Project, repo: Path) -> None:
    runs = project.root / "hooks.jsonl"
    hook = json.dumps([sys.executable, "-c", RECORDER, str(runs)])
    project.write('[watchdog]\npoll_interval = 0.2\nstart_grace = 0.2\nbackoff_initial = 0.1\n\n'
                  f'[[agent]]\nname = "w"\nbackend = "sim"\ndir = "repo"\nworktree = true\nwatch = "heal"\n'
                  'args = ["--exit-after", "1", "--exit-code", "3"]\n'
                  f'hooks = {{ after_create = {hook}, before_start = {hook}, after_exit = {hook}, '
                  f'before_remove = {hook} }}\n')
    from agentsup.supervisor.watch.watchdog import Watchdog

    dog = Watchdog(project.config_path)
    dog.tick(HEAVY)
    wait_for(lambda: (dog.tick(POLL), any(r["AGENTSUP_HOOK"] == "after_exit" for r in hook_runs(runs)))[1],
             timeout=20, interval=0.2)
    wait_for(lambda: [r["AGENTSUP_HOOK"] for r in hook_runs(runs)].count("before_start") >= 2)
    kinds = [r["AGENTSUP_HOOK"] for r in hook_runs(runs)]
    assert kinds[:2] == ["after_create", "before_start"] and kinds.count("after_create") == 1
    exited = next(r for r in hook_runs(runs) if r["AGENTSUP_HOOK"] == "after_exit")
    tree = str(project.log_dir / "state" / "worktrees" / "w")
    assert exited == {"AGENTSUP_AGENT": "w", "AGENTSUP_DIR": tree, "AGENTSUP_HOOK": "after_exit",
                      "AGENTSUP_EXIT_CODE": "3"}
    assert project.cli("down", "w", "--remove-worktree").returncode == 0
    assert hook_runs(runs)[-1]["AGENTSUP_HOOK"] == "before_remove"
    journal = [e for e in read_events(project.log_dir / "events.jsonl") if e["event"] in ("hook", "hook-failed")]
    assert {e["hook"] for e in journal} == {"after_create", "before_start", "after_exit", "before_remove"}


def test_a_failing_before_start_fails_the_start_and_counts_in_the_budget(fleet_of: Any) -> None:
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('not today'); raise SystemExit(2)"]
    f: Fleet = fleet_of(agent("a", hooks={"before_start": failing}))
    f.dog.tick(HEAVY)
    for _ in range(12):
        f.advance(60, POLL)
    events = read_events(f.root / "logs" / "events.jsonl", agent="a")
    failed = [e for e in events if e["event"] == "start-failed"]
    assert failed and "before_start hook failed: exit 2: not today" in failed[0]["error"]
    assert f.tmux.started == [], "nothing ever started"
    assert f.record("a")["state"] == "FATAL", "each failed start spent the budget"
    assert any(e["event"] == "hook-failed" and e["hook"] == "before_start" for e in events)


def test_after_exit_runs_once_for_each_death_however_many_ticks_see_it_dead(fleet_of: Any, tmp_path: Path) -> None:
    runs = tmp_path / "exits.jsonl"
    f: Fleet = fleet_of(agent("a", hooks={"after_exit": [sys.executable, "-c", RECORDER, str(runs)]}))
    f.dog.tick(HEAVY)
    for code in (3, 4, 5):
        f.advance(1, POLL)
        f.tmux.die("t-a", code)  # a quick death: it backs off, seen dead by several ticks meanwhile
        for _ in range(4):
            f.advance(0.5, POLL)
            assert f.record("a")["state"] == "BACKOFF"
        f.advance(f.record("a").get("backoff_delay") or 0, POLL)
        assert f.record("a")["state"] in ("STARTING", "RUNNING"), "restarted"
    wait_for(lambda: not any(t.name == "agentsup-hook-a" for t in threading.enumerate()))
    assert sorted(r["AGENTSUP_EXIT_CODE"] for r in hook_runs(runs)) == ["3", "4", "5"]
