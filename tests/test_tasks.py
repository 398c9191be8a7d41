"""Task dependencies (pure): order, the failure cascade, idempotence."""

from __future__ import annotations

from agentsup.tasks import CANCELLED, DONE, FAILED, PENDING, RUNNING, TaskView, plan

DEPS = {"build": (), "test": ("build",), "package": ("test",), "docs": ("build",), "lint": ()}


def views(**states: str) -> dict[str, TaskView]:
    return {name: TaskView(states.get(name, PENDING)) for name in DEPS}


def test_only_tasks_without_pending_dependencies_start() -> None:
    p = plan(DEPS, views())
    assert sorted(p.start) == ["build", "lint"]
    assert p.states == {"build": RUNNING, "lint": RUNNING}


def test_success_chain_runs_in_order() -> None:
    state = {n: PENDING for n in DEPS}
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
