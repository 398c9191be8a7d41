"""The journal: one way to open it, rotation under a lock while two processes append, nothing it
held back lost when a reload replaces it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentsup.journal import Journal, read_events

WRITER = """
import sys
from pathlib import Path
from agentsup.journal import Journal
j = Journal(Path(sys.argv[1]), 30_000, rotate_lock=Path(sys.argv[2]))
for n in range(400):
    j.write("line", who=sys.argv[3], n=n, pad="x" * 40)
"""


def test_two_processes_appending_through_rotations_lose_no_line(tmp_path: Path) -> None:
    path, lock = tmp_path / "events.jsonl", tmp_path / "locks" / "journal.lock"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(lock), who]) for who in ("dog", "cli")]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    events = read_events(path)
    assert len(list(tmp_path.glob("events.jsonl.*"))) >= 2, "it rotated"
    for who in ("dog", "cli"):  # 800 lines of ~110 bytes fit the file and its 3 backups (4 x 30 kB): none may go
        assert sorted(e["n"] for e in events if e["who"] == who) == list(range(400))


def test_a_reload_keeps_what_the_old_journal_held_back(tmp_path: Path) -> None:
    (tmp_path / "full").write_text("")
    old = Journal(tmp_path / "full" / "x" / "events.jsonl")  # a file where its folder belongs: refused
    old.write("held", n=1)
    assert old.failing and len(old.held) == 1
    new = Journal(tmp_path / "events.jsonl")
    new.take_over(old)
    new.write("after", n=2)
    assert [e["event"] for e in read_events(tmp_path / "events.jsonl")] == ["held", "after"]
