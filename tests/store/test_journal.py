"""The journal: one way to open it, rotation under a lock while two processes append, nothing it
held back lost when a reload replaces it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentsup.store.journal import Journal, read_events

WRITER = """
import sys
from pathlib import Path
from agentsup.store.journal import Journal
j = Journal(Path(sys.argv[1]), 30_000, rotate_lock=Path(sys.argv[2]))
for n in range(400):
    j.write("line", who=sys.argv[3], n=n, pad="x" * 40)
"""


@pytest.mark.tmux  # starts real processes
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


@pytest.mark.tmux  # starts real processes
def test_an_agent_s_log_rotates_at_its_size_through_the_same_rotation(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    writer = subprocess.Popen([sys.executable, "-m", "agentsup.tmux.logpipe", str(log), "1024", "2"],
                              stdin=subprocess.PIPE)
    assert writer.stdin is not None
    writer.stdin.write(b"".join(b"line %04d\n" % n for n in range(400)))  # 4000 bytes: three rotations
    writer.stdin.close()
    assert writer.wait(timeout=20) == 0
    kept = [tmp_path / "a.log.2", tmp_path / "a.log.1", log]
    assert all(p.exists() for p in kept) and not (tmp_path / "a.log.3").exists()
    text = b"".join(p.read_bytes() for p in kept)
    assert text.endswith(b"line 0399\n") and all(p.stat().st_size <= 1024 for p in kept)
