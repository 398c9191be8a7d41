"""Task dependencies (pure): order, the failure cascade, idempotence."""

from __future__ import annotations

from agentsup.buildloop.tasks import CANCELLED, DONE, FAILED, PENDING, RUNNING, TaskView, plan

DEPS = {"build": (), "test": ("build",), "package": ("test",), "docs": ("build",), "lint": ()}


def views(**states: str) -> dict[str, TaskView]:
    return {name: TaskView(states.get(name, PENDING)) for name in DEPS}


def test_only_tasks_without_pending_dependencies_start() -> None:
    p = plan(DEPS, views())
    assert sorted(p.start) == ["build", "lint"]
    assert p.states == {"build": RUNNING, "lint": RUNNING}


def test_success_chain_runs_in_order() -> None:
    state: dict[str, str] = {n: PENDING for n in DEPS}
    order: list[list[str]] = []
    for _ in range(5):
        v = {n: TaskView(s, alive=False, exit_code=0) for n, s in state.items()}
        p = plan(DEPS, v)
        state.update(p.states)
        if p.start:
            order.append(sorted(p.start))
    assert order == [["build", "lint"], ["docs", "test"], ["package"]]
    assert set(state.values()) == {DONE}


def test_failure_cancels_exactly_the_dependents() -> None:
    v = views(build=DONE, lint=DONE, test=RUNNING, docs=RUNNING)
    v["test"] = TaskView(RUNNING, alive=False, exit_code=2)
    v["docs"] = TaskView(RUNNING, alive=True)
    p = plan(DEPS, v)
    assert p.states == {"test": FAILED, "package": CANCELLED}
    assert ("package", "task-cancelled", {"reason": "dependency test failed"}) in p.events
    assert ("test", "task-failed", {"exit_code": 2}) in p.events
    assert p.start == []


def test_cascade_goes_through_cancelled_tasks() -> None:
    deps = {"a": (), "b": ("a",), "c": ("b",), "d": ("c",)}
    v = {"a": TaskView(FAILED), "b": TaskView(PENDING), "c": TaskView(PENDING), "d": TaskView(PENDING)}
    p = plan(deps, v)
    assert p.states == {"b": CANCELLED, "c": CANCELLED, "d": CANCELLED}
    assert dict((n, f["reason"]) for n, _, f in p.events)["d"] == "dependency c cancelled"


def test_plan_is_idempotent_and_terminal_states_never_change() -> None:
    v = views(build=FAILED, lint=DONE, test=CANCELLED, package=CANCELLED, docs=CANCELLED)
    p = plan(DEPS, v)
    assert p.states == {} and p.start == [] and p.events == []


def test_unrequested_tasks_are_left_alone_and_unknown_deps_do_not_raise() -> None:
    deps = {"a": ("ghost",), "b": ()}
    p = plan(deps, {"a": TaskView(PENDING), "b": TaskView("STOPPED")})
    assert p.start == [] and p.states == {}


def test_a_task_past_its_timeout_is_stopped_and_retried_then_failed() -> None:
    deps = {"slow": ()}
    running = TaskView(RUNNING, alive=True, started_at=100.0, attempts=1, timeout=60, retries=1)
    assert plan(deps, {"slow": running}, now=150).states == {}, "within its timeout: left alone"
    p = plan(deps, {"slow": running}, now=160)
    assert p.stop == ["slow"] and p.states == {"slow": PENDING} and p.retry_at == {"slow": 165.0}
    assert p.events == [("slow", "task-retry", {"reason": "timed out after 60s", "attempt": 1, "retry_in": 5.0})]
    waiting = TaskView(PENDING, retry_at=165.0, attempts=1, timeout=60, retries=1)
    assert plan(deps, {"slow": waiting}, now=164).start == [], "the backoff is kept"
    assert plan(deps, {"slow": waiting}, now=165).start == ["slow"]
    second = TaskView(RUNNING, alive=True, started_at=165.0, attempts=2, timeout=60, retries=1)
    p = plan(deps, {"slow": second}, now=226)
    assert p.stop == ["slow"] and p.states == {"slow": FAILED}
    assert p.events == [("slow", "task-failed", {"reason": "timed out after 60s"})]


def test_retries_back_off_doubling_and_a_success_ends_them() -> None:
    deps = {"flaky": ()}
    delays = []
    for attempt in (1, 2, 3):
        p = plan(deps, {"flaky": TaskView(RUNNING, exit_code=1, attempts=attempt, retries=3)}, now=0)
        delays.append(p.retry_at["flaky"])
    assert delays == [5.0, 10.0, 20.0]
    assert plan(deps, {"flaky": TaskView(RUNNING, exit_code=1, attempts=4, retries=3)}).states == {"flaky": FAILED}
    assert plan(deps, {"flaky": TaskView(RUNNING, exit_code=0, attempts=2, retries=3)}).states == {"flaky": DONE}


def test_no_more_than_max_running_tasks_run_at_once() -> None:
    deps = {name: () for name in ("a", "b", "c", "d")}
    p = plan(deps, {n: TaskView(PENDING) for n in deps}, max_running=2)
    assert p.start == ["a", "b"] and "c" not in p.states, "the others wait as PENDING"
    v = {"a": TaskView(DONE), "b": TaskView(RUNNING, alive=True), "c": TaskView(PENDING), "d": TaskView(PENDING)}
    assert plan(deps, v, max_running=2).start == ["c"]


def test_a_failure_stops_and_cancels_dependents_that_already_run() -> None:
    deps = {"build": (), "test": ("build",), "deploy": ("test",)}
    v = {"build": TaskView(RUNNING, exit_code=2, attempts=1), "test": TaskView(RUNNING, alive=True),
         "deploy": TaskView(PENDING)}
    p = plan(deps, v)
    assert p.states == {"build": FAILED, "test": CANCELLED, "deploy": CANCELLED}
    assert p.stop == ["test"], "a dependent that already runs is stopped, not left running"
    assert ("test", "task-cancelled", {"reason": "dependency build failed"}) in p.events
