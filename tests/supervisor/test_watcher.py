"""The file watcher: a change to a watched file, or anything new in a watched folder, wakes the
watchdog; watchfiles by inotify where it can be had, else by its polling."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from agentsup.supervisor.watch.watcher import FileWatcher


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polling"])
def test_changes_wake_and_are_told_apart_from_unrelated_files(tmp_path: Path, inotify: bool) -> None:
    (tmp_path / "requests").mkdir()
    config = tmp_path / "agents.toml"
    config.write_text("one")
    wake = threading.Event()
    watcher = FileWatcher([config], wake, folders=[tmp_path / "requests"])
    watcher.start(inotify=inotify)
    try:
        time.sleep(1)  # watchfiles sets its watch up in its thread, a moment after start
        assert watcher.backend == ("inotify" if inotify else "polling")
        (tmp_path / "unrelated.txt").write_text("x")  # beside the config, but not watched
        config.write_text("two")  # an editor's save
        assert wake.wait(10)
        seen = set()
        for _ in range(20):
            seen |= watcher.take()
            if config in seen:
                break
            wake.clear()
            wake.wait(1)
        assert config.absolute() in seen and (tmp_path / "unrelated.txt") not in seen
        wake.clear()
        watcher.take()
        (tmp_path / "requests" / "reset-a").write_text("")  # a request from the CLI
        assert wake.wait(10)
        assert (tmp_path / "requests" / "reset-a").absolute() in watcher.take() | watcher.take()
    finally:
        watcher.stop()
    assert watcher._thread is not None and not watcher._thread.is_alive(), "stop ends the thread"


def test_a_refs_file_under_a_git_directory_is_seen(tmp_path: Path) -> None:
    """A handoff remote that is a clone's .git: watchfiles' default filter would drop it."""
    refs = tmp_path / "repo" / ".git" / "refs" / "heads"
    refs.mkdir(parents=True)
    wake = threading.Event()
    watcher = FileWatcher([refs / "main"], wake)
    watcher.start()
    try:
        time.sleep(0.5)
        (refs / "main").write_text("abc\n")
        assert wake.wait(10) and (refs / "main").absolute() in watcher.take()
    finally:
        watcher.stop()
