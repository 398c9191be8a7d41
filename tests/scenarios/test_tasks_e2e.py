"""Task agents with dependencies, end to end: real sim programs, real exit codes."""

from __future__ import annotations

from agentsup.store.journal import read_events
from agentsup.supervisor.reconcile.tick import POLL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, wait_for

FAST = "[watchdog]\npoll_interval = 0.2\n"


def task(name: str, *, code: int = 0, after: tuple[str, ...] = (), enabled: bool = True) -> str:
    deps = ", ".join(f'"{d}"' for d in after)
    return (f'[[agent]]\nname = "{name}"\nkind = "task"\nbackend = "sim"\nenabled = {str(enabled).lower()}\n'
            f'prompt = "do {name}"\nafter = [{deps}]\n'
            f'args = ["--record", "{name}.jsonl", "--exit-after", "0.6", "--exit-code", "{code}"]\n\n')


def task_events(project: Project) -> list[tuple[str, str]]:
    return [(e["agent"], e["event"]) for e in read_events(project.log_dir / "events.jsonl")
            if e.get("agent") and e["event"].startswith("task-")]


def states(project: Project) -> dict[str, str]:
    return {a["name"]: a["state"] for a in project.cli_json("status")["agents"]}


def run_until(dog: Watchdog, project: Project, done: set[str], timeout: float = 30) -> None:
    def step() -> bool:
        dog.tick(POLL)
        finished = {a for a, e in task_events(project) if e in ("task-done", "task-failed", "task-cancelled")}
        return done <= finished

    wait_for(step, timeout=timeout, interval=0.2)


def test_success_chain_runs_in_order(project: Project) -> None:
    project.write(FAST + task("build") + task("test", after=("build",)) + task("package", after=("test",))
                  + task("manual", enabled=False))
    up = project.cli("up", "--no-watchdog")
    assert up.returncode == 0 and up.stdout.count("queued") == 3  # disabled tasks are not queued
    assert states(project) == {"build": "PENDING", "test": "PENDING", "package": "PENDING", "manual": "STOPPED"}
    dog = Watchdog(project.config_path)
    run_until(dog, project, {"build", "test", "package"})
    assert task_events(project) == [
        ("build", "task-start"), ("build", "task-done"),
        ("test", "task-start"), ("test", "task-done"),
        ("package", "task-start"), ("package", "task-done"),
    ]
    for name in ("build", "test", "package"):
        assert project.records(name)[0]["text"] == f"do {name}"  # each ran, once
        assert len(project.records(name)) == 1
    status = project.cli_json("status")["agents"]
    assert [(a["name"], a["state"], a["exit_code"]) for a in status[:3]] == [
        ("build", "DONE", 0), ("test", "DONE", 0), ("package", "DONE", 0)]
    for _ in range(5):  # done tasks are never run again
        dog.tick(POLL)
    assert len(project.records("build")) == 1


def test_failure_cancels_exactly_the_dependents(project: Project) -> None:
    project.write(FAST + task("fetch", code=4) + task("compile", after=("fetch",))
                  + task("deploy", after=("compile",)) + task("lint") + task("report", after=("lint",)))
    assert project.cli("up", "--no-watchdog").returncode == 0
    dog = Watchdog(project.config_path)
    run_until(dog, project, {"fetch", "compile", "deploy", "lint", "report"})
    final = states(project)
    assert final == {"fetch": "FAILED", "compile": "CANCELLED", "deploy": "CANCELLED", "lint": "DONE",
                     "report": "DONE"}
    assert not project.records("compile") and not project.records("deploy"), "cancelled tasks never started"
    cancelled = {e["agent"]: e["reason"] for e in read_events(project.log_dir / "events.jsonl")
                 if e["event"] == "task-cancelled"}
    assert cancelled == {"compile": "dependency fetch failed", "deploy": "dependency compile cancelled"}
    failed = next(e for e in read_events(project.log_dir / "events.jsonl") if e["event"] == "task-failed")
    assert failed["exit_code"] == 4


def test_run_starts_a_task_by_hand(project: Project) -> None:
    project.write(FAST + task("once", enabled=False) + '[[agent]]\nname = "p"\nbackend = "sim"\n')
    proc = project.cli("run", "once")
    assert proc.returncode == 0 and "started" in proc.stdout
    assert wait_for(lambda: project.records("once"))[0]["text"] == "do once"
    bad = project.cli("run", "p")
    assert bad.returncode == 1 and "not a task" in bad.stderr
    dog = Watchdog(project.config_path)
    run_until(dog, project, {"once"})
    assert states(project)["once"] == "DONE"


def test_timeout_retries_and_the_running_dependent_cascade_on_real_processes(project: Project) -> None:
    from agentsup.supervisor.processes.proctree import tagged

    hang = ('[[agent]]\nname = "hang"\nkind = "task"\nbackend = "sim"\nprompt = "wait"\ntimeout = 1\nretries = 1\n'
            'args = ["--record", "hang.jsonl", "--work", "600"]\n\n')
    waits = ('[[agent]]\nname = "follower"\nkind = "task"\nbackend = "sim"\nprompt = "follow"\nenabled = false\n'
             'args = ["--record", "follower.jsonl", "--work", "600"]\nafter = ["hang"]\n\n')
    project.write(FAST + "task_retry_backoff = 0.2\n" + hang + waits)
    dog = Watchdog(project.config_path)
    assert project.cli("up", "hang", "--no-watchdog").returncode == 0
    assert project.cli("run", "follower").returncode == 0  # run by hand: it runs while hang still does
    wait_for(lambda: (dog.tick(POLL), len(project.records("follower")) == 1)[1], timeout=20, interval=0.2)
    run_until(dog, project, {"hang", "follower"})
    events = task_events(project)
    assert events.count(("hang", "task-retry")) == 1 and ("hang", "task-failed") in events
    assert len(project.records("hang")) == 2, "tried twice, each attempt stopped at its timeout"
    assert ("follower", "task-cancelled") in events
    assert states(project) == {"hang": "FAILED", "follower": "CANCELLED"}
    cancelled = next(e for e in read_events(project.log_dir / "events.jsonl", agent="follower")
                     if e["event"] == "task-cancelled")
    assert cancelled["reason"] == "dependency hang failed"
    socket = project.socket
    assert tagged(f"{socket}:t-follower") == set() and tagged(f"{socket}:t-hang") == set(), "nothing survives"
    for _ in range(5):  # final states never change
        dog.tick(POLL)
    assert states(project) == {"hang": "FAILED", "follower": "CANCELLED"}


def test_max_running_tasks_keeps_the_others_pending(project: Project) -> None:
    project.write(FAST + "max_running_tasks = 1\n" + task("one") + task("two") + task("three"))
    assert project.cli("up", "--no-watchdog").returncode == 0
    dog = Watchdog(project.config_path)
    dog.tick(POLL)
    seen = sorted(states(project).values())  # read once: the started task may finish (0.6 s) meanwhile
    started = [s for s in seen if s != "PENDING"]
    assert seen.count("PENDING") == 2 and started in (["RUNNING"], ["EXITED"]), seen
    run_until(dog, project, {"one", "two", "three"})
    starts = [a for a, e in task_events(project) if e == "task-start"]
    ends = [a for a, e in task_events(project) if e == "task-done"]
    assert len(starts) == 3 and len(ends) == 3
    order = [e for e in task_events(project) if e[1] in ("task-start", "task-done")]
    assert all(order[i][1] == "task-start" and order[i + 1] == (order[i][0], "task-done")
               for i in range(0, 6, 2)), "one at a time"


def test_run_with_vars_fills_the_template_for_that_run(project: Project) -> None:
    project.write(FAST + '[template.deploy]\nkind = "task"\nbackend = "sim"\nenabled = false\n'
                  'prompt = "deploy {{service}} to {{target}}"\nargs = ["--record", "{{name}}.jsonl", "--exit-after", '
                  '"0.3"]\nvars = { target = "staging" }\n\n'
                  '[[agent]]\nname = "ship"\ntemplate = "deploy"\nvars = { service = "api" }\n')
    proc = project.cli("run", "ship", "--var", "target=production")
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: project.records("ship"))
    assert project.records("ship")[0]["text"] == "deploy api to production"
    bad = project.cli("run", "ship", "--var", "oops")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr


def test_the_watchdog_wakes_for_a_task_timeout_and_retry_with_no_timer_due(project: Project) -> None:
    hang = ('[[agent]]\nname = "hang"\nkind = "task"\nbackend = "sim"\nprompt = "wait"\ntimeout = 1\nretries = 1\n'
            'args = ["--record", "hang.jsonl", "--work", "600"]\n\n')
    project.write("[watchdog]\npoll_interval = 600\nsignal_interval = 600\nheavy_interval = 600\n"
                  "task_retry_backoff = 0.5\n" + hang)
    assert project.cli("up").returncode == 0  # queues the task and starts the watchdog
    try:
        wait_for(lambda: ("hang", "task-failed") in task_events(project), timeout=20, interval=0.1)
        assert [e for _, e in task_events(project)] == ["task-start", "task-stopped", "task-retry", "task-start",
                                                        "task-stopped", "task-failed"]
        assert len(project.records("hang")) == 2, "stopped at its timeout, retried after its backoff"
    finally:
        assert project.cli("down").returncode == 0
