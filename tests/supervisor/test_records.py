"""The records' one owner: each change of state noted with its reason, fresh records that keep
what must outlive them, and no other module that assigns a record or a queue."""

from __future__ import annotations

import ast
from pathlib import Path

from agentsup.store.record import Record, State
from agentsup.store.state import StateDir
from agentsup.supervisor.reconcile.records import Change, Records

from ..conftest import ROOT


def owner(tmp_path: Path) -> tuple[Records, list[tuple[str, str]]]:
    logged: list[tuple[str, str]] = []
    state = StateDir(tmp_path / "state")
    state.ensure()
    return Records(state, "boot-1", lambda event, agent=None, **_: logged.append((event, agent))), logged


def test_who_changed_a_state_and_why_is_noted_and_a_fresh_record_keeps_queue_and_wake(tmp_path: Path) -> None:
    records, _ = owner(tmp_path)
    running = Record(state=State.RUNNING, detail="idle", boot="boot-1")
    records.put("a", running, "healed")
    assert records.changes["a"] == Change("STOPPED", "RUNNING", "healed")
    assert records.enqueue("a", "first") == 1 and records.enqueue("a", "second") == 2
    records.get("a").wake_due = 42.0
    fresh = records.fresh("a", state=State.STARTING, detail="restarted by hand", started_at=7.0)
    assert fresh.queue == ["first", "second"] and fresh.wake_due == 42.0 and fresh.restarts == []
    assert records.changes["a"] == Change("RUNNING", "STARTING", "restarted by hand")
    records.persist("a")
    again, _ = owner(tmp_path)
    assert again.get("a").queue == ["first", "second"] and again.get("a").state == "STARTING"


def test_a_write_that_fails_is_kept_in_memory_and_said(tmp_path: Path) -> None:
    records, _ = owner(tmp_path)
    records.put("a", Record(state=State.RUNNING, boot="boot-1"))
    (tmp_path / "state" / "agents").mkdir(parents=True, exist_ok=True)
    records.state.record_file("a").mkdir()  # a folder where the file goes: the rename fails
    records.persist_all()
    assert records.write_error and records.get("a").state == "RUNNING"


def test_messages_being_typed_leave_one_by_one_and_a_dead_typist_s_rest_go_back_first(tmp_path: Path) -> None:
    records, _ = owner(tmp_path)
    records.put("a", Record(state=State.RUNNING, boot="boot-1", sending=["one", "two", "three"]))
    records.sent("a", "one", again=False)
    records.sent("a", "two", again=True)  # a person's draft was in the way: it waits for another try
    assert (records.get("a").sending, records.get("a").queue) == (["three"], ["two"])
    records.persist("a")
    again, _ = owner(tmp_path)  # the watchdog died while it typed "three"
    again.enqueue("a", "four")  # a ping that came meanwhile
    assert again.resume_sending("a", first_arrived=False) == ["three"]
    assert (again.get("a").queue, again.get("a").sending) == (["three", "two", "four"], [])
    again.put("a", Record(state=State.RUNNING, boot="boot-1", sending=["x", "y"]))
    assert again.resume_sending("a", first_arrived=True) == ["y"] and again.get("a").queue == ["y"]


def test_no_module_but_the_owner_assigns_a_record_or_a_queue() -> None:
    src = ROOT / "src" / "agentsup"
    found = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                targets = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
                for target in targets:
                    if (isinstance(target, ast.Subscript) and ast.unparse(target.value).endswith("records")
                            and rel != "supervisor/reconcile/records.py"):
                        found.append(f"{rel}:{node.lineno}: {ast.unparse(target)} =")
                    if isinstance(target, ast.Attribute) and target.attr in ("queue", "sending") and rel not in (
                            "supervisor/reconcile/records.py", "supervisor/decide/decision.py"):  # (its own copy)
                        found.append(f"{rel}:{node.lineno}: {ast.unparse(target)} =")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("queue.append"):
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node.func)}()")
            if (isinstance(node, ast.Call) and ast.unparse(node.func) == "Record"
                    and any(k.arg == "state" for k in node.keywords) and rel != "supervisor/reconcile/records.py"):
                found.append(f"{rel}:{node.lineno}: Record(state=...)")
    assert found == []
