"""Real-CLI tests: the pinned Claude Code and Codex from the npm registry, run in tmux against the
mock API on 127.0.0.1, in a network namespace with nothing but loopback (so no CLI can reach
beyond it, whatever it tries), and driven by agentsup."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .clis import CLAUDE, CLAUDE_NEWEST, CODEX, CODEX_NEWEST, GEMINI, OPENCODE
from .mockapi import MockAPI
from .netns import enter_loopback_only, outside_reachable


@pytest.fixture(scope="session")
def real_clis() -> dict[str, Path]:
    if os.geteuid() != 0:
        pytest.skip("real-CLI tests need root for a loopback-only network namespace (CI runs as root)")
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: .ci/run installs nodejs and npm for the real-CLI tests")
    # before the namespace: npm needs the registry
    paths = {cli.command: cli.install() for cli in (CLAUDE, CODEX, GEMINI, OPENCODE)}
    paths["claude-newest"] = CLAUDE_NEWEST.install()
    paths["codex-newest"] = CODEX_NEWEST.install()
    enter_loopback_only()
    assert not outside_reachable(), "the test namespace must not reach beyond loopback"
    return paths


@pytest.fixture
def mock_api(real_clis: dict[str, Path]) -> Iterator[MockAPI]:
    api = MockAPI().start()
    yield api
    api.stop()
    tried = [attempt for attempt in api.outside() if attempt not in api.known_attempts]
    assert tried == [], f"an agent tried to reach beyond loopback: {tried}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "realcli" in str(item.fspath):
            item.add_marker(pytest.mark.realcli)
